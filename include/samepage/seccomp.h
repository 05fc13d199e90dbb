/* Seccomp: the OCI `linux.seccomp` section compiled to a BPF program with
 * libseccomp, loaded into the container init right before execve.
 *
 * The runtime calls, in order:
 *   1. sp_seccomp_compile() early, before pivot_root (it needs nothing from
 *      the host's filesystem), so a bad profile fails the container before
 *      anything is set up.
 *   2. sp_seccomp_load() as late as possible.  With process.noNewPrivileges
 *      the load may happen after capabilities were dropped (the kernel then
 *      accepts the filter because no_new_privs is set); without it the caller
 *      must still hold CAP_SYS_ADMIN, i.e. load before sp_caps_apply().  The
 *      load never sets no_new_privs itself: that is the config's decision.
 *   3. When *notify_fd >= 0: sp_seccomp_send_notify_fd() to hand it to the
 *      seccomp agent at linux.seccomp.listenerPath, then close it. */
#ifndef SAMEPAGE_SECCOMP_H
#define SAMEPAGE_SECCOMP_H

#include <samepage/error.h>
#include <samepage/oci_config.h>
#include <stdbool.h>

struct sp_seccomp; /* opaque: a compiled filter (BPF program + load flags) */

/* Compiles the OCI seccomp section.  Unknown syscall names are skipped (debug
 * line), as runc and crun do, since profiles list syscalls of newer kernels;
 * unknown actions, operators, architectures and flags are errors naming the
 * field: `linux.seccomp.syscalls[3].action: unknown action "X"`. */
int sp_seccomp_compile (const struct oci_seccomp *s, struct sp_seccomp **out, sp_error_t *err);

/* Whether the filter has a SCMP_ACT_NOTIFY rule (it then creates a listener fd). */
bool sp_seccomp_uses_notify (const struct sp_seccomp *f);

/* Loads the filter into the calling thread with one seccomp(2) call (all
 * threads with SECCOMP_FILTER_FLAG_TSYNC).  Returns 0 on success and sets
 * *notify_fd to the listener fd (close-on-exec) when the filter uses
 * SCMP_ACT_NOTIFY, to -1 otherwise.  notify_fd may be NULL only for filters
 * without NOTIFY rules. */
int sp_seccomp_load (const struct sp_seccomp *f, int *notify_fd, sp_error_t *err);

/* Connects to the unix stream socket listener_path and sends state_json as
 * the message body with notify_fd attached (SCM_RIGHTS), as runc and crun do.
 * state_json is the runtime-spec "container process state": {"ociVersion",
 * "fds": ["seccompFd"], "pid", "metadata": listenerMetadata, "state": {...}}. */
int sp_seccomp_send_notify_fd (const char *listener_path, int notify_fd, const char *state_json, sp_error_t *err);

void sp_seccomp_free (struct sp_seccomp *f);

/* Names accepted by the compiler, NULL-terminated, for `features`; built from
 * the very tables sp_seccomp_compile() uses. */
const char *const *sp_seccomp_known_actions (void);
const char *const *sp_seccomp_known_operators (void);
const char *const *sp_seccomp_known_archs (void);
const char *const *sp_seccomp_known_flags (void);

static inline void
sp_seccomp_freep (struct sp_seccomp **f)
{
  if (*f)
    sp_seccomp_free (*f);
  *f = NULL;
}
#define cleanup_seccomp __attribute__ ((cleanup (sp_seccomp_freep)))

#endif
