/* PROVISIONAL copy of the cgroups API (replaced by the cgroups branch). */
#ifndef SAMEPAGE_CGROUPS_H
#define SAMEPAGE_CGROUPS_H
#include <samepage/error.h>
#include <samepage/oci_config.h>
#include <stdbool.h>
#include <sys/types.h>
enum sp_cgroup_manager { SP_CGROUP_CGROUPFS, SP_CGROUP_SYSTEMD, SP_CGROUP_DISABLED };
struct sp_cgroup;
int sp_cgroup_create (enum sp_cgroup_manager mgr, const char *cgroups_path, const char *container_id,
                      pid_t pid, const struct oci_resources *res, struct sp_cgroup **out, sp_error_t *err);
char *sp_cgroup_serialize (const struct sp_cgroup *cg);
int sp_cgroup_load (const char *serialized, struct sp_cgroup **out, sp_error_t *err);
int sp_cgroup_enter (const struct sp_cgroup *cg, pid_t pid, sp_error_t *err);
int sp_cgroup_update (struct sp_cgroup *cg, const struct oci_resources *res, sp_error_t *err);
int sp_cgroup_freeze (struct sp_cgroup *cg, bool frozen, sp_error_t *err);
int sp_cgroup_is_frozen (const struct sp_cgroup *cg, bool *frozen, sp_error_t *err);
int sp_cgroup_pids (const struct sp_cgroup *cg, pid_t **pids, size_t *n, sp_error_t *err);
int sp_cgroup_kill_all (struct sp_cgroup *cg, int signo, sp_error_t *err);
int sp_cgroup_destroy (struct sp_cgroup *cg, sp_error_t *err);
struct sp_cgroup_mount { char *name; char *fstype; char *host_path; };
int sp_cgroup_mounts (const struct sp_cgroup *cg, struct sp_cgroup_mount **out, size_t *n, sp_error_t *err);
void sp_cgroup_mounts_free (struct sp_cgroup_mount *m, size_t n);
void sp_cgroup_free (struct sp_cgroup *cg);
#endif
