/* The runtime's half of a casfs rootfs (include/samepage/casfs_plan.h):
 * decides whether a container gets one, asks `casfs runtime-prepare` for
 * it, mounts layer B in the container, and `casfs runtime-release`s it. */
#ifndef SHIM_CASFS_ROOTFS_H
#define SHIM_CASFS_ROOTFS_H

#include <samepage/casfs_plan.h>
#include <samepage/container.h>
#include <samepage/error.h>
#include <samepage/oci_config.h>

#define SP_CASFS_TREE_ANNOTATION "org.samepage.casfs.tree"
#define SP_CASFS_STORE_ANNOTATION "org.samepage.casfs.store"
#define SP_CASFS_SWITCH_ANNOTATION "org.samepage.casfs"

/* Bundle mode errors fail the container; drop-in errors only disable casfs
 * (with a warning in the log): deduplication is never a new way to fail. */
int sp_casfs_prepare (struct sp_runtime *rt, const char *id, struct oci_config *c, const char *bundle,
                      const char *rootfs, struct sp_casfs_plan *plan, sp_error_t *err);
/* In init, in the container's mount namespace, before any other mount. */
int sp_casfs_mount_layer_b (const struct sp_casfs_plan *plan, const char *rootfs, sp_error_t *err);
int sp_casfs_release (const char *id, const struct sp_casfs_plan *plan, sp_error_t *err);
/* `samepage casfs warm`: runs `casfs runtime-warm`; returns its exit status. */
int sp_casfs_warm (const char *store, char **dirs, sp_error_t *err);

#endif
