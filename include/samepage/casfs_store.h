/* The casfs content-addressed store (docs/store-format.md).
 *
 *   STORE/objects/ab/cdef...   one immutable file (0444) per unique content, named by SHA-256
 *   STORE/trees/ab/cdef...     one immutable tree object (casfs_tree.h) per directory
 *   STORE/refs/<escaped name>  text file: "<tree digest hex>\n" of an image's merged tree
 *   STORE/images/<digest>.json image metadata kept for bundle creation (config, layers)
 *   STORE/tmp/                 temp files of writes in progress (same filesystem)
 *   STORE/lock                 flock: shared by importers, exclusive by gc
 *
 * Every write goes to tmp/, is fsync'd, renamed into place, and the directory
 * fsync'd: a crash leaves either nothing or a complete object. */
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

/* "ab/cdef..." relative to objects/ or trees/ (caller frees). */
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
