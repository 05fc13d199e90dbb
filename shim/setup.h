/* What the container's setup processes share (they are forked copies of the
 * runtime, so this is plain memory).  Implemented across shim/init.c,
 * shim/mounts.c, shim/rootfs.c, shim/devices.c, shim/process.c. */
#ifndef SHIM_SETUP_H
#define SHIM_SETUP_H

#include <samepage/container.h>
#include <samepage/oci_config.h>
#include <stdbool.h>

#include "casfs_rootfs.h"

struct sp_setup
{
  struct sp_runtime *rt;
  const char *id;
  struct oci_config *config;
  struct oci_process *process; /* config->process, or the exec'd one */
  struct sp_create_options *opts;
  char *bundle; /* absolute */
  char *rootfs; /* absolute, symlinks resolved */
  char *state_dir;
  char *state_json; /* OCI state for hooks run inside the container */
  int sync_fd; /* child end of the socketpair */
  int fifo_fd; /* O_PATH to exec.fifo, opened before pivot_root */
  bool new_userns; /* the container got its own user namespace */
  bool new_cgroupns;
  bool new_netns;
  bool new_ipcns;
  char *host_cgroups; /* /proc/self/cgroup as seen before the cgroup namespace */
  struct sp_casfs_plan casfs; /* layers A/B when the rootfs comes from casfs */
  int *idmap_fds; /* per config mount: a prepared idmapped mount, or -1 */
  /* exec only: */
  pid_t target_pid;
};

/* Runs in stage 1 (a child of the runtime): joins and creates namespaces,
 * forks the container init and never returns. */
void sp_setup_stage1 (struct sp_setup *s) __attribute__ ((noreturn));
/* Fast path (no user/time namespace, nothing joined by path): the runtime
 * clones init directly with these flags; -1 when not possible. */
int sp_setup_direct_clone_flags (struct oci_config *c);
void sp_setup_init_direct (struct sp_setup *s) __attribute__ ((noreturn));

/* mounts.c: the config's mounts below the rootfs (before pivot_root). */
int sp_mounts_apply (struct sp_setup *s, sp_error_t *err);
/* Opens (creating as asked) a path inside root without leaving it. */
int sp_open_in_root (int root_fd, const char *path, int mode_kind /* 0 none, 'd' dir, 'f' file */,
                     sp_error_t *err);
/* Mount flag table shared with `features`. */
struct sp_mount_flag
{
  const char *name;
  bool clear;
  unsigned long flag; /* MS_* */
  unsigned long propagation; /* MS_SHARED, ... */
  unsigned long long attr; /* MOUNT_ATTR_* for recursive variants */
};
extern const struct sp_mount_flag sp_mount_flags[];

/* idmap.c: idmapped bind mounts, prepared by the runtime, moved by init. */
int sp_idmap_prepare (struct sp_setup *s, sp_error_t *err);
int sp_idmap_move (int tree_fd, int target_fd, sp_error_t *err);
void sp_idmap_release (struct sp_setup *s);

/* cgroup_mount.c: the cgroup filesystem at dest inside the container. */
int sp_mount_cgroups (struct sp_setup *s, int root_fd, const char *dest, unsigned long flags, sp_error_t *err);

/* rootfs.c */
int sp_rootfs_prepare (struct sp_setup *s, sp_error_t *err); /* propagation + self-bind */
int sp_rootfs_pivot (struct sp_setup *s, sp_error_t *err);
int sp_rootfs_finalize (struct sp_setup *s, sp_error_t *err); /* masked, readonly, ro root */

/* devices.c */
int sp_devices_create (struct sp_setup *s, bool default_devices, sp_error_t *err);

/* process.c: the last steps before execve (also used by exec). */
int sp_process_prepare (struct sp_setup *s, sp_error_t *err); /* rlimits, oom, keyring, sched */
int sp_process_find_executable (struct oci_process *p, char **path_out, sp_error_t *err);
/* Terminal (console_fd >= 0), limits, cwd and the executable: everything
 * that can fail before the process is reported ready. */
int sp_process_ready (struct sp_setup *s, int console_fd, char **exe, sp_error_t *err);
void sp_process_exec (struct sp_setup *s, const char *exe, int notify_sock) __attribute__ ((noreturn));

/* terminal.c */
int sp_console_connect (const char *path, sp_error_t *err);
int sp_terminal_setup_fd (struct oci_process *p, int console_fd, sp_error_t *err);

/* namespaces.c */
int sp_namespaces_join_paths (struct oci_linux *l, bool user_too, sp_error_t *err);
bool sp_namespace_wanted (struct oci_linux *l, enum oci_namespace_type t, const char **path);
int sp_write_id_maps (pid_t pid, struct oci_linux *l, sp_error_t *err);
int sp_write_time_offsets (struct oci_linux *l, sp_error_t *err);

/* hooks.c */
int sp_hooks_run (struct oci_hooks *h, enum oci_hook_stage stage, const char *state_json, sp_error_t *err);

#endif
