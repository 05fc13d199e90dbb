/* casfs import: layer tarballs, OCI image layouts (directory or tar),
 * `docker save` archives and plain (overlay-style) layer directories into
 * the store, one tree per layer and one merged tree per image.
 *
 * Hostile input never escapes or corrupts: nothing is ever created on the
 * host outside the store (entries only go into an in-memory tree), every
 * rejected entry is an error naming the archive and the entry, and a failed
 * import writes no ref (objects it stored stay unreferenced until gc).
 *
 * Rules for archive entries (errors unless marked "normalised"):
 *   - absolute paths, ".." components, components > 255 bytes, paths > 4096
 *     bytes or deeper than 1024: error.  "./", "//", trailing "/" and "."
 *     components: normalised away.  "./" itself (the root): skipped.
 *   - a path through an entry that is not a directory (a symlink, a file):
 *     error.  Missing parents: created implicitly, 0755 root:root, mtime 0.
 *   - a path seen twice: error, except a directory entry for a directory
 *     created implicitly before (it sets the metadata; normalised).
 *   - hardlinks must name an earlier non-directory entry of the same archive
 *     (checked by the same path rules): else error.  They share content and
 *     get canonical link ids.
 *   - device nodes, fifos: kept as metadata only.  setuid/setgid/sticky:
 *     kept in the mode, never applied to the host.
 *   - regular files > 1 TiB, symlink targets empty or > 4095 bytes, xattr
 *     values > 64 KiB, uid/gid >= 2^32-1, more than 2^24 entries: error.
 *   - truncated or corrupt compressed streams, short or corrupt tar: error.
 *   - whiteouts: ".wh.NAME" and 0/0 character devices both become the overlay
 *     form (c 0 0, mode 0, root, mtime 0: normalised); ".wh..wh..opq" and
 *     trusted/user.overlay.opaque=y become trusted.overlay.opaque=y on the
 *     directory; a whiteout of a name the same layer also holds is dropped
 *     (OCI: it hides lower layers only; a directory then becomes opaque).
 *     Other ".wh..wh.*" names: error.
 *   - implicit parents are marked trusted.casfs.implicit=y in the layer
 *     tree, so stacking keeps a lower directory's metadata for them.
 *   - xattrs: trusted.overlay.*, user.overlay.*, trusted.casfs.* and security.selinux are
 *     dropped (normalised): a layer must never inject an overlay redirect or
 *     metacopy, and SELinux labels belong to the host that built the layer.
 *   - image blobs are named only by validated sha256 digests and opened
 *     beneath the layout (RESOLVE_BENEATH); every blob, layer and config is
 *     verified against its digest (and size, when the manifest gives one). */
#ifndef SAMEPAGE_CASFS_IMPORT_H
#define SAMEPAGE_CASFS_IMPORT_H

#include <samepage/casfs_store.h>
#include <samepage/error.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits on hostile input (bigger is an error naming the entry). */
#define CASFS_IMPORT_PATH_MAX 4096 /* bytes of a normalized entry path */
#define CASFS_IMPORT_DEPTH_MAX 1024 /* components of one path */
#define CASFS_IMPORT_FILE_MAX (1ull << 40) /* 1 TiB: one regular file */
#define CASFS_IMPORT_ENTRIES_MAX (1u << 24) /* entries of one layer */
#define CASFS_IMPORT_JSON_MAX (4u << 20) /* manifest, index, config blobs */
#define CASFS_IMPORT_LAYERS_MAX 512

enum casfs_import_kind
{
  CASFS_IMPORT_AUTO, /* directory with oci-layout: OCI; other directory: DIR; file: sniffed */
  CASFS_IMPORT_LAYER, /* one layer tarball: plain, gzip, zstd, xz, bzip2 */
  CASFS_IMPORT_OCI, /* OCI image layout, directory or tar */
  CASFS_IMPORT_DOCKER, /* `docker save` / docker-archive tar */
  CASFS_IMPORT_DIR, /* an extracted layer directory (overlay whiteouts) */
};

struct casfs_import_options
{
  enum casfs_import_kind kind;
  const char *ref; /* ref to set on success; NULL: the image's own name, if any */
  const char *platform; /* "os/arch[/variant]"; NULL: linux/amd64 */
  bool progress; /* draw a progress bar on stderr */
  unsigned workers; /* hash+write threads; 0: default */
};

struct casfs_import_stats
{
  uint64_t entries; /* archive or directory entries read */
  uint64_t files; /* regular files stored */
  uint64_t bytes; /* content bytes of those files */
  uint64_t new_bytes; /* bytes of objects that were not in the store */
  uint64_t input_bytes; /* bytes read from the input (compressed) */
  double seconds;
};

struct casfs_import_result
{
  struct casfs_digest merged; /* the image's merged tree */
  struct casfs_digest *layers; /* one tree per layer, bottom first */
  size_t n_layers;
  char *ref; /* the ref set, or NULL */
  char *config_json; /* the image config (OCI/docker), or NULL */
  struct casfs_import_stats stats;
};

/* Imports `path` (any kind above).  Takes the store lock shared
 * (casfs_store_lock) and leaves it held: the caller releases it with
 * casfs_store_unlock or casfs_store_close.  On success with a ref (opts->ref
 * or the image's own name) the image record (casfs_images.h: source,
 * manifest and config digests, per layer digest, diff_id, media type, size
 * and tree) and the ref are committed last with casfs_image_commit. */
int casfs_import (struct casfs_store *s, const char *path, const struct casfs_import_options *opts,
                  struct casfs_import_result *out, sp_error_t *err);
void casfs_import_result_clear (struct casfs_import_result *r);

/* These two take the store lock shared like casfs_import.
 * One extracted layer directory -> one layer tree (whiteouts kept in overlay
 * form: 0/0 character devices, trusted.overlay.opaque=y).  Sets no ref. */
int casfs_import_dir (struct casfs_store *s, const char *dir, struct casfs_digest *tree_out, sp_error_t *err);
/* One layer tarball -> one layer tree.  Sets no ref. */
int casfs_import_layer_archive (struct casfs_store *s, const char *path, struct casfs_digest *tree_out,
                                sp_error_t *err);

/* Stacks layer trees (bottom first) into one merged tree: overlay whiteouts
 * remove what lies below, opaque directories hide lower contents, and neither
 * appears in the result; hardlink ids are renumbered canonically. */
int casfs_layers_merge (struct casfs_store *s, const struct casfs_digest *layers, size_t n,
                        struct casfs_digest *merged_out, sp_error_t *err);

/* Path rules for archive entries: strips "./" and repeated or trailing
 * slashes and "." components (normalisations); rejects absolute paths, ".."
 * components, empty or over-long components and paths.  *out is "" for the
 * archive root, else "a/b/c" (malloc'd). */
int casfs_path_normalize (const char *path, char **out, sp_error_t *err);
/* Whether an xattr of an imported entry is kept (see the rules above). */
bool casfs_import_keep_xattr (const char *name);

#endif
