/* Container root filesystems from casfs (docs/how-it-works.md):
 *   layer A  overlay ro,metacopy=on: lowerdir=<casfs view of the tree>::<store>/objects
 *            mounted once per tree on the host, shared by its containers
 *   layer B  overlay rw: lowerdir=<layer A>, upperdir, workdir; mounted over
 *            the rootfs inside the container's mount namespace only
 * Bundle mode: config annotations name the tree.  Drop-in mode: root.path
 * is an engine's overlay; its lower layers are imported (once) and its
 * upperdir kept. */
#ifndef SHIM_CASFS_ROOTFS_H
#define SHIM_CASFS_ROOTFS_H

#include <samepage/container.h>
#include <samepage/error.h>
#include <samepage/oci_config.h>
#include <stdbool.h>

#define SP_CASFS_TREE_ANNOTATION "org.samepage.casfs.tree"
#define SP_CASFS_STORE_ANNOTATION "org.samepage.casfs.store"
#define SP_CASFS_SWITCH_ANNOTATION "org.samepage.casfs"
#define SP_LAYERS_DIR "/run/samepage/layers"

struct sp_casfs_plan
{
  bool active;
  bool dropin;
  char *store;
  char *tree_hex; /* merged tree */
  char *view; /* mountpoint of the store's FUSE view */
  char *layer_a; /* host mountpoint of layer A */
  char *upper;
  char *work;
  char *own_dirs; /* dir to remove on delete (bundle mode upper+work parent, or drop-in workdir) */
};

/* Runs in the runtime before the container's processes exist.  Bundle mode
 * errors fail the container; drop-in errors only disable casfs (logged). */
int sp_casfs_prepare (struct sp_runtime *rt, const char *id, struct oci_config *c, const char *bundle,
                      const char *rootfs, struct sp_casfs_plan *plan, sp_error_t *err);
/* Runs in init, in the container's mount namespace, before the other mounts. */
int sp_casfs_mount_layer_b (const struct sp_casfs_plan *plan, const char *rootfs, sp_error_t *err);
/* One line for the state file, and back. */
char *sp_casfs_plan_serialize (const struct sp_casfs_plan *plan);
int sp_casfs_plan_parse (const char *line, struct sp_casfs_plan *plan, sp_error_t *err);
/* delete: drops the container's use of layer A, its gc root and own dirs. */
int sp_casfs_release (const char *id, const struct sp_casfs_plan *plan, sp_error_t *err);
void sp_casfs_plan_clear (struct sp_casfs_plan *plan);
/* `samepage casfs warm`: imports one engine layer directory ahead of time
 * (into the same cache a container start uses).  Returns 1 if it was
 * imported now, 0 if it was cached already. */
int sp_casfs_warm_layer (const char *store, const char *dir, sp_error_t *err);

#endif
