/* Helpers for code that walks a whole store (gc, fsck, stats, export):
 * a hash map keyed by digest, and a cache of decoded trees so a tree shared
 * by many images (or many directories) is read and decoded once per walk. */
#ifndef SAMEPAGE_CASFS_WALK_H
#define SAMEPAGE_CASFS_WALK_H

#include <samepage/casfs_store.h>
#include <samepage/casfs_tree.h>
#include <samepage/error.h>
#include <stdbool.h>
#include <stddef.h>

struct casfs_digest_map; /* digest -> void * (owned by the caller unless a free function is given) */

struct casfs_digest_map *casfs_digest_map_new (void);
/* Frees the map; free_value (may be NULL) is called on every non-NULL value. */
void casfs_digest_map_free (struct casfs_digest_map *m, void (*free_value) (void *));
/* The value slot for d, inserting it (value NULL) when absent; *added tells which. */
void **casfs_digest_map_insert (struct casfs_digest_map *m, const struct casfs_digest *d, bool *added);
/* The value slot for d, or NULL when absent. */
void **casfs_digest_map_find (const struct casfs_digest_map *m, const struct casfs_digest *d);
size_t casfs_digest_map_size (const struct casfs_digest_map *m);
/* Iteration: start with *pos = 0; returns false at the end.  Order is unspecified. */
bool casfs_digest_map_next (const struct casfs_digest_map *m, size_t *pos, const struct casfs_digest **d,
                            void ***value);

/* Loads a tree for a walker.  Returns 0 with *out set, or 0 with *out NULL and
 * *problem set (malloc'd) when the tree is missing, does not match its digest
 * or does not decode: damage the walker reports and steps over.  Returns < 0
 * only for operational failures (I/O errors other than a missing file), on
 * which a walker must stop: gc must never sweep from a partial mark. */
int casfs_walk_load_tree (struct casfs_store *s, const struct casfs_digest *d, struct casfs_tree **out,
                          char **problem, sp_error_t *err);

/* Calls fn for every entry of STORE/<part>/00..ff/ (part: "objects" or
 * "trees").  dirfd is the fan-out directory, rel "part/ab/cdef...", d the
 * digest the name spells or NULL when it spells none.  fn returns < 0 to stop. */
typedef int (*casfs_fanout_fn) (int dirfd, const char *name, const char *rel, const struct casfs_digest *d,
                                void *data, sp_error_t *err);
int casfs_walk_fanout (struct casfs_store *s, const char *part, casfs_fanout_fn fn, void *data, sp_error_t *err);

/* Resolves PATH ("/", "/usr/bin/sh", "etc/passwd") inside the tree `root`.
 * Symlinks met on the way are followed inside the tree only, as if it were
 * chroot'ed: absolute targets start again at the root and ".." stops there.
 * The final component is followed only when follow_final.  *entry is NULL for
 * the root itself; *tree is the directory's tree when the result is one. */
struct casfs_tree_cache;
int casfs_walk_resolve (struct casfs_tree_cache *c, const struct casfs_digest *root, const char *path,
                        bool follow_final, const struct casfs_entry **entry, struct casfs_digest *tree,
                        sp_error_t *err);

/* Decoded trees by digest; trees stay valid until the cache is freed. */
struct casfs_tree_cache;
struct casfs_tree_cache *casfs_tree_cache_new (struct casfs_store *s);
void casfs_tree_cache_free (struct casfs_tree_cache *c);
/* As casfs_walk_load_tree, cached (a damaged tree's problem is cached too). */
int casfs_tree_cache_get (struct casfs_tree_cache *c, const struct casfs_digest *d, const struct casfs_tree **out,
                          const char **problem, sp_error_t *err);

/* Number of distinct trees asked for so far. */
size_t casfs_tree_cache_size (const struct casfs_tree_cache *c);

static inline void
casfs_tree_cache_freep (struct casfs_tree_cache **c)
{
  if (*c)
    casfs_tree_cache_free (*c);
  *c = NULL;
}
#define cleanup_tree_cache __attribute__ ((cleanup (casfs_tree_cache_freep)))

#endif
