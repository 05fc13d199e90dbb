/* The casfs content-addressed store (docs/store-format.md).
 *
 *   STORE/objects/ab/cdef...   one immutable file (0444) per unique content, named by SHA-256
 *   STORE/trees/ab/cdef...     one immutable tree object (casfs_tree.h) per directory
 *   STORE/refs/<escaped name>  text file: "<tree digest hex>\n" of an image's merged tree,
 *                              optionally followed by "image <record hex>\n"
 *   STORE/images/<hex>.json    image records (casfs_images.h)
 *   STORE/roots/<name>         trees in use by running containers: gc roots
 *   STORE/tmp/                 temp files of writes in progress (same filesystem)
 *   STORE/lock                 flock: shared by importers, exclusive by gc
 *   STORE/quarantine/          objects and trees fsck --repair found corrupt
 *
 * Every write goes to tmp/, is made durable (fsync, or one syncfs per batch)
 * before it gets its name: a crash leaves either nothing or a complete object. */
#ifndef SAMEPAGE_CASFS_STORE_H
#define SAMEPAGE_CASFS_STORE_H

#include <samepage/casfs_tree.h>
#include <samepage/error.h>
#include <stdbool.h>
#include <stddef.h>

#define CASFS_DEFAULT_STORE "/var/lib/samepage/store"

struct casfs_store; /* opaque */

/* Opens STORE (creating the layout when `create`); holds dirfds for its parts. */
int casfs_store_open (const char *path, bool create, struct casfs_store **out, sp_error_t *err);
void casfs_store_close (struct casfs_store *s);
const char *casfs_store_path (const struct casfs_store *s);
/* dirfd of STORE/objects (for overlayfs' data-only lower and direct opens). */
int casfs_store_objects_fd (const struct casfs_store *s);

/* dirfds of STORE itself and of STORE/trees (for walkers: gc, fsck). */
int casfs_store_root_fd (const struct casfs_store *s);
int casfs_store_trees_fd (const struct casfs_store *s);

/* The store lock (STORE/lock, flock(2)).  Anything that adds to the store
 * (importers, the runtime registering roots) holds it shared for its whole
 * run; gc holds it exclusive, so it never sweeps an object that a writer has
 * just found present and is about to reference.  Blocks until granted.
 * Locking again converts the lock; unlock is idempotent. */
int casfs_store_lock (struct casfs_store *s, bool exclusive, sp_error_t *err);
void casfs_store_unlock (struct casfs_store *s);

/* "ab/cdef..." relative to objects/ or trees/: into a buffer (the view's
 * redirect xattr, on the hot path), or allocated (caller frees). */
#define CASFS_OBJECT_RELPATH_LEN (CASFS_DIGEST_HEX_LEN + 1)
void casfs_object_relpath_into (const struct casfs_digest *d, char out[CASFS_OBJECT_RELPATH_LEN + 1]);
char *casfs_object_relpath (const struct casfs_digest *d);

/* Opens an object read-only (flags are OR'd into O_RDONLY|O_CLOEXEC, e.g. O_DIRECT). */
int casfs_store_open_object (struct casfs_store *s, const struct casfs_digest *d, int flags, sp_error_t *err);
bool casfs_store_has_object (struct casfs_store *s, const struct casfs_digest *d);

/* Reads and decodes a tree; verifies that its encoding hashes to d. */
int casfs_store_read_tree (struct casfs_store *s, const struct casfs_digest *d, struct casfs_tree **out,
                           sp_error_t *err);
/* Canonicalizes, encodes and stores a tree (no-op if present); returns its digest. */
int casfs_store_write_tree (struct casfs_store *s, struct casfs_tree *t, struct casfs_digest *out, sp_error_t *err);

/* Streaming object writer: content goes to tmp/, is hashed as it is written,
 * and commit renames it to objects/<digest> (or drops it when the object
 * already exists: a file imported twice is stored once). */
struct casfs_object_writer;
int casfs_object_writer_new (struct casfs_store *s, struct casfs_object_writer **out, sp_error_t *err);
int casfs_object_writer_write (struct casfs_object_writer *w, const void *data, size_t len, sp_error_t *err);
/* Returns 1 when the object was new, 0 when it already existed. */
int casfs_object_writer_commit (struct casfs_object_writer *w, struct casfs_digest *out, sp_error_t *err);
/* Frees the writer; an uncommitted temp file is removed. */
void casfs_object_writer_free (struct casfs_object_writer *w);
/* Stores a whole buffer as an object. */
int casfs_store_write_object (struct casfs_store *s, const void *data, size_t len, struct casfs_digest *out,
                              sp_error_t *err);

/* Batch mode, for bulk writers (casfs import): new objects and trees are
 * not fsync'd one by one.  They stay anonymous temp files until a flush
 * (casfs_store_flush, casfs_store_batch_end, any ref write, or a full
 * batch) makes all their data durable with one syncfs and only then links
 * them under their names, so a crash never leaves a name with incomplete
 * content.  Until flushed they are invisible, also to casfs_store_read_tree
 * and casfs_store_has_object.  Writers may be threads. */
void casfs_store_batch_begin (struct casfs_store *s);
int casfs_store_flush (struct casfs_store *s, sp_error_t *err);
/* Leaves batch mode: keep flushes what is pending, !keep drops it. */
int casfs_store_batch_end (struct casfs_store *s, bool keep, sp_error_t *err);

/* A ref names a tree and, when it came from an image, its image record. */
struct casfs_ref
{
  struct casfs_digest tree;
  bool has_image;
  struct casfs_digest image; /* images/<hex>.json, when has_image */
};
int casfs_store_read_ref (struct casfs_store *s, const char *name, struct casfs_ref *out, sp_error_t *err);
/* Makes everything in the store durable (syncfs), then replaces the ref atomically. */
int casfs_store_write_ref (struct casfs_store *s, const char *name, const struct casfs_ref *ref, sp_error_t *err);
/* The on-disk file name of a ref under refs/ (escaped; caller frees). */
char *casfs_ref_escape (const char *name);
char *casfs_ref_unescape (const char *file);

/* GC roots.  STORE/roots/<name> holds tree digests (64 hex digits, one per
 * line) that are in use outside any ref, e.g. by a running container: the
 * runtime adds a root named after the container at create and removes it at
 * delete.  gc keeps every tree named there and everything below it.  Names:
 * 1..200 characters, no '/', not starting with '.'.  add takes the store
 * lock shared itself (on its own descriptor) while it writes. */
int casfs_store_add_root (struct casfs_store *s, const char *name, const struct casfs_digest *trees, size_t n,
                          sp_error_t *err);
/* ENOENT is not an error: removing a missing root succeeds. */
int casfs_store_remove_root (struct casfs_store *s, const char *name, sp_error_t *err);
/* Every digest named by any root file; a malformed root file is an error
 * naming it (gc must not guess what a running container uses). */
int casfs_store_read_roots (struct casfs_store *s, struct casfs_digest **out, size_t *n, sp_error_t *err);

/* Refs: names such as "localhost/zi-img1:latest" (escaped on disk). */
int casfs_store_resolve_ref (struct casfs_store *s, const char *name, struct casfs_digest *out, sp_error_t *err);
/* Resolves a ref name, or a tree digest (hex, optionally "sha256:"), to a tree digest. */
int casfs_store_resolve (struct casfs_store *s, const char *ref_or_digest, struct casfs_digest *out,
                         sp_error_t *err);
int casfs_store_set_ref (struct casfs_store *s, const char *name, const struct casfs_digest *d, sp_error_t *err);
int casfs_store_delete_ref (struct casfs_store *s, const char *name, sp_error_t *err);
/* NULL-terminated list of ref names (caller frees with sp_strvfreep). */
int casfs_store_list_refs (struct casfs_store *s, char ***names, sp_error_t *err);

static inline void
casfs_store_closep (struct casfs_store **s)
{
  if (*s)
    casfs_store_close (*s);
  *s = NULL;
}
#define cleanup_store __attribute__ ((cleanup (casfs_store_closep)))

#endif
