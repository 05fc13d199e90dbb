/* Shared by the importers (import*.c) and layer stacking (layers.c): the
 * in-memory tree a layer is built in, and the hash+write pipeline. */
#ifndef SAMEPAGE_CASFS_IMPORT_INTERNAL_H
#define SAMEPAGE_CASFS_IMPORT_INTERNAL_H

#include <samepage/casfs_images.h>
#include <samepage/casfs_import.h>
#include <samepage/casfs_store.h>
#include <samepage/casfs_tree.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define OVERLAY_OPAQUE_XATTR "trusted.overlay.opaque"
/* Layer trees only: a directory the layer did not describe (a missing
 * parent); stacking keeps the lower directory's metadata for it. */
#define IMPLICIT_DIR_XATTR "trusted.casfs.implicit"
#define OCI_WHITEOUT_PREFIX ".wh."
#define OCI_OPAQUE_NAME ".wh..wh..opq"

/* One entry of a tree under construction.  Directories index their
 * children in a hash table (entries arrive in any order). */
struct mnode
{
  struct casfs_entry e; /* e.name is the component; e.digest is filled in by the pipeline */
  struct mnode *parent;
  struct mnode **kids;
  size_t n_kids, cap_kids;
  uint32_t *index; /* open addressing: kid index + 1, 0 = empty */
  size_t index_cap;
  uint64_t link_group; /* 0, or one hardlink group of the build */
  struct mnode *link_primary; /* import: the entry holding the content of this hardlink */
  bool is_dir;
  bool is_implicit; /* a parent nobody described (0755 root:root, mtime 0) */
  bool is_whiteout; /* overlay whiteout: character device 0/0 */
  bool is_opaque; /* directory hides what lower layers hold at its path */
  bool in_layer; /* created by the layer being applied (merge) */
};

struct memtree
{
  struct mnode *root;
  uint64_t n_nodes;
  uint64_t next_group;
  struct mnode **links; /* import: hardlink entries to resolve after the pipeline */
  size_t n_links, cap_links;
};

struct memtree *memtree_new (void);
void memtree_free (struct memtree *t);
struct mnode *mnode_child (struct mnode *dir, const char *name);
/* Adds a child (the name must be absent). */
struct mnode *mnode_add (struct memtree *t, struct mnode *dir, const char *name);
void mnode_remove (struct mnode *dir, const char *name);
void mnode_clear_kids (struct mnode *dir);

/* Layer building rules shared by the archive and directory importers: puts
 * one entry (metadata in *meta, whose name/target/xattrs are moved out) at
 * name under dir, handling OCI whiteout names, overlay whiteouts, opaque
 * markers, implicit directories and duplicates.  *out is the node to receive
 * content (NULL when the entry was a whiteout or marker).  `what` names the
 * entry in errors. */
int memtree_put (struct memtree *t, struct mnode *dir, struct casfs_entry *meta, const char *what,
                 struct mnode **out, sp_error_t *err);
/* Walks "a/b/c" (normalized) from the root; creates implicit directories when
 * `create`.  A component that exists and is not a directory (a symlink, a
 * file, a whiteout in the same layer) is an error. */
int memtree_parent_of (struct memtree *t, const char *path, bool create, struct mnode **dir_out,
                       const char **base_out, const char *what, sp_error_t *err);

/* Writes the tree bottom-up; `merged` drops whiteouts and opaque markers.
 * Hardlink ids are assigned canonically (depth-first, name order). */
int memtree_write (struct casfs_store *s, struct memtree *t, bool merged, struct casfs_digest *out,
                   sp_error_t *err);
/* Copies content and metadata from each hardlink's primary entry. */
void memtree_resolve_links (struct memtree *t);

/* The hash+write pipeline: file contents are queued in bounded buffers and
 * hashed and written to the store by worker threads while the caller goes on
 * decompressing. */
struct import_pipe;
struct import_progress
{
  _Atomic uint64_t input_pos; /* bytes of the input consumed so far */
  uint64_t input_total; /* 0 when unknown */
  _Atomic uint64_t entries;
  bool enabled;
  uint64_t last_draw_ns, start_ns;
};

int import_pipe_new (struct casfs_store *s, unsigned workers, struct import_pipe **out, sp_error_t *err);
int import_pipe_begin (struct import_pipe *p, struct mnode *node, const char *what, sp_error_t *err);
int import_pipe_write (struct import_pipe *p, const void *data, size_t len, sp_error_t *err);
int import_pipe_end (struct import_pipe *p, sp_error_t *err);
/* Waits for every queued file; the first worker error, if any. */
int import_pipe_finish (struct import_pipe *p, sp_error_t *err);
void import_pipe_free (struct import_pipe *p);
void import_pipe_stats (struct import_pipe *p, struct casfs_import_stats *st);

/* What one import run shares between its parts. */
struct import_ctx
{
  struct casfs_store *store;
  struct import_pipe *pipe;
  struct import_progress progress;
  struct casfs_import_stats stats;
};

void import_progress_tick (struct import_progress *pr, bool final);

/* import_archive.c: reads every entry of an opened libarchive reader into t. */
struct archive;
int import_archive_entries (struct import_ctx *ctx, struct archive *a, const char *archive_name, struct memtree *t,
                            sp_error_t *err);
/* A layer tarball at fd (any compression) into t; the SHA-256 of the bytes
 * read (all of them) goes to *raw_digest and the count to *raw_size. */
struct archive_source;
int import_layer_fd (struct import_ctx *ctx, int fd, const char *name, struct memtree *t,
                     struct casfs_digest *raw_digest, uint64_t *raw_size, sp_error_t *err);
/* A layer stored as an entry of an outer archive (image tar). */
int import_layer_nested (struct import_ctx *ctx, struct archive *outer, const char *name, struct memtree *t,
                         struct casfs_digest *raw_digest, uint64_t *raw_size, sp_error_t *err);

/* import_dir.c */
int import_dir_into (struct import_ctx *ctx, const char *dir, struct memtree *t, sp_error_t *err);

/* import_oci.c: OCI layouts (dir or tar) and docker archives. */
struct image_import
{
  struct memtree **trees; /* distinct layers as read */
  size_t n_trees;
  size_t *layer_tree; /* layer i (bottom first) is trees[layer_tree[i]] */
  /* layer i as the manifest describes it (digest, diff_id, media type,
   * size); the driver fills in .tree once the layer trees are written */
  struct casfs_image_layer *layer_info;
  size_t n_layers;
  char *config_json; /* the config blob exactly as read (config_len bytes), or NULL */
  size_t config_len;
  char *manifest_digest; /* "sha256:..." of the manifest used, or NULL */
  const char *source_kind; /* "oci", "oci-archive", "docker-archive", "layer", "dir" */
  char *name; /* the image's own name (ref.name annotation or RepoTags[0]), or NULL */
};
int import_oci_dir (struct import_ctx *ctx, const char *dir, const char *platform, struct image_import *out,
                    sp_error_t *err);
/* Image tar: OCI layout or docker archive (kind AUTO picks by content). */
int import_image_tar (struct import_ctx *ctx, const char *path, enum casfs_import_kind kind, const char *platform,
                      const char *want_name, struct image_import *out, sp_error_t *err);
/* Whether a file is an image tar (uncompressed tar holding oci-layout/index.json or manifest.json). */
bool import_tar_is_image (const char *path);
void image_import_clear (struct image_import *im);

#endif
