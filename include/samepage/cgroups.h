/* Control groups for containers: cgroup v1, v2 and hybrid hosts, the
 * cgroupfs and systemd managers.
 *
 * The runtime creates the container's cgroup before the init process runs
 * (sp_cgroup_create), saves sp_cgroup_serialize() in the container state, and
 * later commands (pause, resume, update, ps, kill --all, delete) rebuild it with
 * sp_cgroup_load().  The host layout comes from /proc/self/mountinfo.
 *
 * Files: shim/cgroups.c (host layout, lifecycle), shim/cgroups_v1.c,
 * shim/cgroups_v2.c (per-version files, freezer, eBPF device filter),
 * shim/cgroups_resources.c (value conversions shared by both),
 * shim/cgroups_systemd.c (slice paths, transient scopes over D-Bus). */
#ifndef SAMEPAGE_CGROUPS_H
#define SAMEPAGE_CGROUPS_H

#include <samepage/error.h>
#include <samepage/oci_config.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum sp_cgroup_manager
{
  SP_CGROUP_CGROUPFS,
  SP_CGROUP_SYSTEMD,
  SP_CGROUP_DISABLED,
};

struct sp_cgroup; /* opaque to the runtime */

/* Creates the container's cgroup(s) from linux.cgroupsPath (NULL: /samepage/<id>
 * with cgroupfs, "system.slice:samepage:<id>" with systemd; a relative path is
 * taken relative to the caller's own cgroup), applies res (may be NULL), then
 * moves pid in.  With SP_CGROUP_DISABLED *out is a handle on which every
 * operation that needs a cgroup fails with a clear message. */
int sp_cgroup_create (enum sp_cgroup_manager mgr, const char *cgroups_path, const char *container_id, pid_t pid,
                      const struct oci_resources *res, struct sp_cgroup **out, sp_error_t *err);
/* One line (no newline) for the state file; caller frees. */
char *sp_cgroup_serialize (const struct sp_cgroup *cg);
int sp_cgroup_load (const char *serialized, struct sp_cgroup **out, sp_error_t *err);
/* Moves pid (an exec'd process) into every hierarchy of the container. */
int sp_cgroup_enter (const struct sp_cgroup *cg, pid_t pid, sp_error_t *err);
int sp_cgroup_update (struct sp_cgroup *cg, const struct oci_resources *res, sp_error_t *err);
/* Freezes or thaws, and waits until the kernel reports FROZEN/THAWED. */
int sp_cgroup_freeze (struct sp_cgroup *cg, bool frozen, sp_error_t *err);
int sp_cgroup_is_frozen (const struct sp_cgroup *cg, bool *frozen, sp_error_t *err);
/* Every process of the container, including nested cgroups; caller frees *pids. */
int sp_cgroup_pids (const struct sp_cgroup *cg, pid_t **pids, size_t *n, sp_error_t *err);
/* Signals every process: cgroup.kill for SIGKILL on v2, else freeze, kill, thaw. */
int sp_cgroup_kill_all (struct sp_cgroup *cg, int signo, sp_error_t *err);
/* Removes every directory it created (nested cgroups first, EBUSY retried
 * briefly) and stops the systemd scope; idempotent. */
int sp_cgroup_destroy (struct sp_cgroup *cg, sp_error_t *err);

/* What to show inside the container at /sys/fs/cgroup: one entry per hierarchy. */
struct sp_cgroup_mount
{
  char *name; /* "memory", "cpu,cpuacct", "unified", "systemd", or "" on pure v2 */
  char *fstype; /* "cgroup" or "cgroup2" */
  char *host_path; /* the container's own directory */
};
int sp_cgroup_mounts (const struct sp_cgroup *cg, struct sp_cgroup_mount **out, size_t *n, sp_error_t *err);
void sp_cgroup_mounts_free (struct sp_cgroup_mount *m, size_t n);
void sp_cgroup_free (struct sp_cgroup *cg);

/* The container's cgroup path as the kernel shows it in /proc/PID/cgroup
 * (for the state and `ps`); NULL when disabled.  Not owned by the caller. */
const char *sp_cgroup_path (const struct sp_cgroup *cg);

enum sp_cgroup_layout
{
  SP_CGROUP_LAYOUT_NONE, /* no cgroup filesystem mounted */
  SP_CGROUP_LAYOUT_V1,
  SP_CGROUP_LAYOUT_HYBRID, /* v1 controllers plus a cgroup2 mount without them */
  SP_CGROUP_LAYOUT_V2,
};

/* For the `features` command: the host's layout, the controllers usable by
 * containers (NULL-terminated, sorted, caller frees with the strv cleanup),
 * and whether systemd runs (the systemd manager then uses transient scopes). */
struct sp_cgroup_features
{
  enum sp_cgroup_layout layout;
  char **controllers;
  bool systemd_running;
};
int sp_cgroup_features (struct sp_cgroup_features *out, sp_error_t *err);
void sp_cgroup_features_clear (struct sp_cgroup_features *f);

/* ---- Internal: shared by shim/cgroups*.c and the unit tests. ---- */

/* One mounted hierarchy as /proc/self/mountinfo shows it. */
struct sp_cgroup_hierarchy
{
  bool v2;
  char *controllers; /* v1: "cpu,cpuacct", "name=systemd"; v2: "" */
  char *mountpoint;
};

struct sp_cgroup_host
{
  enum sp_cgroup_layout layout;
  struct sp_cgroup_hierarchy *hier;
  size_t n_hier;
};

/* Parses mountinfo text; hierarchies mounted twice are listed once. */
int sp_cgroup_parse_mountinfo (const char *text, struct sp_cgroup_host *out, sp_error_t *err);
int sp_cgroup_host_detect (struct sp_cgroup_host *out, sp_error_t *err);
void sp_cgroup_host_clear (struct sp_cgroup_host *h);
/* Whether a v1 controllers list ("cpu,cpuacct") names controller. */
bool sp_cgroup_has_controller (const char *controllers, const char *controller);

/* The container's directory in one hierarchy. */
struct sp_cgroup_dir
{
  bool v2;
  char *controllers; /* as in struct sp_cgroup_hierarchy */
  char *mountpoint;
  char *path; /* absolute directory of the container's cgroup */
  char *created_top; /* shallowest directory this cgroup created, NULL if none */
};

struct sp_cgroup
{
  enum sp_cgroup_manager manager;
  enum sp_cgroup_layout layout;
  char *cgroup_path; /* "/samepage/<id>" relative to the hierarchy roots */
  char *unit; /* systemd scope started for it, NULL otherwise */
  struct sp_cgroup_dir *dirs;
  size_t n_dirs;
};

/* The container's directory in the v1 hierarchy holding controller, or NULL. */
const char *sp_cgroup_v1_dir (const struct sp_cgroup *cg, const char *controller);
/* The container's cgroup2 directory (pure v2, or the hybrid unified mount), or NULL. */
const struct sp_cgroup_dir *sp_cgroup_v2_dir (const struct sp_cgroup *cg);
/* Whether the cgroup2 root of dir offers controller (its cgroup.controllers). */
bool sp_cgroup_v2_root_has (const struct sp_cgroup_dir *dir, const char *controller);

/* Writes value to dir/file; the error names both. */
int sp_cgroup_write (const char *dir, const char *file, const char *value, sp_error_t *err);
/* Reads dir/file with the trailing newline removed. */
int sp_cgroup_read (const char *dir, const char *file, char **out, sp_error_t *err);
bool sp_cgroup_file_exists (const char *dir, const char *file);

/* Value conversions (shim/cgroups_resources.c). */
uint64_t sp_cgroup_shares_to_weight (uint64_t shares); /* cpu.shares -> cpu.weight */
uint64_t sp_cgroup_blkio_weight_to_io_weight (uint64_t weight); /* 10..1000 -> 1..10000 */
/* v1 devices.allow/deny line for one OCI rule: "c 1:3 rwm", "a *:* rwm". */
char *sp_cgroup_device_rule_v1 (const struct oci_device_cgroup *rule);
/* Validates an access string ("rwm" subset); NULL means "rwm". */
bool sp_cgroup_device_access_valid (const char *access);
/* memory.swap.max from the OCI memory+swap total: "max", or swap - limit. */
int sp_cgroup_swap_v2 (const struct oci_memory *m, char **out, sp_error_t *err);
/* Checks a hugepage size such as "2MB", "1GB", "64KB". */
bool sp_cgroup_hugepage_size_valid (const char *size);

/* cgroup v1 (shim/cgroups_v1.c). */
/* Gives each newly created cpuset directory, from top to leaf, its parent's cpus and mems. */
int sp_cgroup_v1_cpuset_init (const char *mountpoint, const char *leaf, sp_error_t *err);
int sp_cgroup_v1_apply (struct sp_cgroup *cg, const struct oci_resources *res, sp_error_t *err);
int sp_cgroup_v1_freeze (const char *dir, bool frozen, sp_error_t *err);
int sp_cgroup_v1_is_frozen (const char *dir, bool *frozen, sp_error_t *err);

/* cgroup v2 (shim/cgroups_v2.c). */
/* Enables every available controller in cgroup.subtree_control from the root down to leaf's parent. */
int sp_cgroup_v2_enable_controllers (const char *mountpoint, const char *leaf, sp_error_t *err);
/* With hybrid set (a hybrid host), resources whose controller is on a v1
 * hierarchy of hybrid are left to sp_cgroup_v1_apply. */
int sp_cgroup_v2_apply (const char *dir, const struct oci_resources *res, const struct sp_cgroup *hybrid,
                        sp_error_t *err);
int sp_cgroup_v2_freeze (const char *dir, bool frozen, sp_error_t *err);
int sp_cgroup_v2_is_frozen (const char *dir, bool *frozen, sp_error_t *err);
/* Replaces the device filter of dir by one built from rules (applied in order). */
int sp_cgroup_v2_set_devices (const char *dir, const struct oci_device_cgroup *rules, size_t n, sp_error_t *err);
/* Builds the BPF_PROG_TYPE_CGROUP_DEVICE program; *insns holds struct bpf_insn. */
int sp_cgroup_v2_devices_program (const struct oci_device_cgroup *rules, size_t n, void **insns, size_t *n_insns,
                                  sp_error_t *err);

/* systemd (shim/cgroups_systemd.c). */
bool sp_cgroup_systemd_running (void);
/* "a-b.slice" -> "/a.slice/a-b.slice"; "" or "-.slice" -> "". */
int sp_cgroup_systemd_expand_slice (const char *slice, char **out, sp_error_t *err);
/* "slice:prefix:name" -> the cgroup path and the unit name. */
int sp_cgroup_systemd_parse_path (const char *spec, char **cgroup_path, char **slice, char **unit,
                                  sp_error_t *err);
int sp_cgroup_systemd_start_scope (const char *unit, const char *slice, pid_t pid, sp_error_t *err);
int sp_cgroup_systemd_stop_scope (const char *unit, sp_error_t *err);

#endif
