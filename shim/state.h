/* Persistent container state under <root>/<id>/ (state.json, lock, exec.fifo). */
#ifndef SHIM_STATE_H
#define SHIM_STATE_H

#include <samepage/container.h>
#include <samepage/error.h>
#include <stdbool.h>
#include <sys/types.h>

struct sp_state
{
  char *id;
  pid_t pid; /* init's host pid; 0 before it exists */
  unsigned long long pid_start; /* /proc/PID/stat starttime, to detect pid reuse */
  char *bundle;
  char *rootfs; /* absolute */
  char *created; /* RFC 3339 */
  char *cgroup; /* sp_cgroup_serialize() output, or NULL */
  bool creating; /* create has not finished yet */
  bool started; /* `start` has released init */
  bool systemd_cgroup;
  char *cgroup_manager;
  char *casfs; /* casfs_rootfs bookkeeping (NULL when not used) */
  uid_t owner;
  char **annotations; /* key, value, key, value, ..., NULL */
};

/* <root>/<id> (caller frees). */
char *sp_state_dir (struct sp_runtime *rt, const char *id);
/* Validates a container id: [A-Za-z0-9][A-Za-z0-9_.+-]{0,1023}. */
int sp_state_check_id (const char *id, sp_error_t *err);
/* Takes the container's lock (flock on <dir>/lock); returns the fd. */
int sp_state_lock (struct sp_runtime *rt, const char *id, sp_error_t *err);
/* Creates <root>/<id> exclusively ("container already exists"). */
int sp_state_create_dir (struct sp_runtime *rt, const char *id, sp_error_t *err);
int sp_state_save (struct sp_runtime *rt, const struct sp_state *st, sp_error_t *err);
/* "container `ID` does not exist" with status ENOENT when missing. */
int sp_state_load (struct sp_runtime *rt, const char *id, struct sp_state **out, sp_error_t *err);
int sp_state_remove (struct sp_runtime *rt, const char *id, sp_error_t *err);
void sp_state_free (struct sp_state *st);
/* Status now: running/created/paused/stopped from the pid, fifo and cgroup. */
enum sp_status sp_state_status (struct sp_runtime *rt, const struct sp_state *st);
/* Whether the init process still exists (not a zombie, same start time). */
bool sp_state_pid_alive (const struct sp_state *st);
/* The OCI state JSON (runtime-spec "state") for hooks and `state`. */
char *sp_state_oci_json (const struct sp_state *st, enum sp_status status);
/* starttime field of /proc/PID/stat; 0 if unreadable. */
unsigned long long sp_pid_start_time (pid_t pid);

static inline void
sp_state_freep (struct sp_state **s)
{
  if (*s)
    sp_state_free (*s);
  *s = NULL;
}
#define cleanup_state __attribute__ ((cleanup (sp_state_freep)))

#endif
