/* How a container's rootfs comes from casfs (docs/how-it-works.md):
 *   layer A  overlay ro,metacopy=on: lowerdir=<casfs view of the tree>::<store>/objects
 *            mounted once per tree on the host, shared by its containers
 *   layer B  overlay rw: lowerdir=<layer A>, upperdir, workdir; mounted over
 *            the rootfs inside the container's mount namespace only
 * The runtime keeps the plan in the container's state; the heavy work
 * (import, FUSE daemon, layer A) happens in `casfs runtime-prepare` and
 * `casfs runtime-release`, so the runtime itself links none of it. */
#ifndef SAMEPAGE_CASFS_PLAN_H
#define SAMEPAGE_CASFS_PLAN_H

#include <samepage/error.h>
#include <stdbool.h>

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
  char *own_dirs; /* removed on delete (bundle: upper+work parent; drop-in: our workdir) */
};

/* Newline-separated text, for the state file and between processes. */
char *sp_casfs_plan_serialize (const struct sp_casfs_plan *plan);
int sp_casfs_plan_parse (const char *text, struct sp_casfs_plan *plan, sp_error_t *err);
void sp_casfs_plan_clear (struct sp_casfs_plan *plan);

/* casfs side (casfs/runtime_rootfs.c), behind `casfs runtime-*`: */
struct casfs_runtime_request
{
  const char *id;
  const char *store;
  const char *view; /* FUSE view mountpoint for this store */
  const char *tree; /* bundle mode: ref or digest; NULL in drop-in mode */
  const char *bundle; /* bundle mode: where upper/work go */
  const char *rootfs; /* drop-in: the engine's overlay mountpoint */
  const char *engine_options; /* drop-in: its overlay options from mountinfo */
};
int casfs_runtime_prepare (const struct casfs_runtime_request *rq, struct sp_casfs_plan *plan, sp_error_t *err);
int casfs_runtime_release (const char *id, const struct sp_casfs_plan *plan, sp_error_t *err);
/* Imports an engine layer directory into the layer cache; 1 if imported now, 0 if cached. */
int casfs_runtime_warm (const char *store, const char *dir, sp_error_t *err);

#endif
