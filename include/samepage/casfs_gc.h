/* casfs gc: mark everything reachable from refs (their trees and image
 * records) and from roots/ (trees in use by running containers), sweep the
 * rest.  Runs under the store lock held exclusive, so an import (holding it
 * shared) never loses an object it found present and is about to reference. */
#ifndef SAMEPAGE_CASFS_GC_H
#define SAMEPAGE_CASFS_GC_H

#include <samepage/casfs_store.h>
#include <samepage/casfs_walk.h>
#include <samepage/error.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What is reachable: sets of digests (values unused). */
struct casfs_gc_marks
{
  struct casfs_digest_map *trees;
  struct casfs_digest_map *objects;
  struct casfs_digest_map *images;
  size_t problems; /* missing or damaged trees/records met while marking (logged) */
};

/* Marks from every ref and root.  Fails on any I/O error or a malformed ref or
 * root file: a partial mark must never drive a sweep. */
int casfs_gc_mark (struct casfs_store *s, struct casfs_gc_marks *m, sp_error_t *err);
void casfs_gc_marks_clear (struct casfs_gc_marks *m);

struct casfs_gc_options
{
  bool dry_run; /* report what would be freed, remove nothing */
  /* Called for each file removed (or that would be): path relative to STORE. */
  void (*on_free) (const char *relpath, uint64_t bytes, void *data);
  void *data;
};

struct casfs_gc_result
{
  size_t trees_kept, objects_kept, images_kept;
  size_t trees_freed, objects_freed, images_freed, tmp_freed;
  uint64_t bytes_freed;
  size_t problems;
};

/* Takes the store lock exclusive for its whole run (waits for importers). */
int casfs_gc (struct casfs_store *s, const struct casfs_gc_options *opts, struct casfs_gc_result *res,
              sp_error_t *err);

#endif
