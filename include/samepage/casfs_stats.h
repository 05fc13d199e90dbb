/* casfs du / stats: how much the store deduplicates.
 *
 * logical bytes: the sum of regular file sizes as each image sees them (a
 *   hardlink group counts once per image);
 * unique bytes:  the size of each object referenced, counted once;
 * dedup ratio:   logical / unique;
 * shared:        objects used by more than one image (ref).
 * Trees are decoded once per run however many images share them. */
#ifndef SAMEPAGE_CASFS_STATS_H
#define SAMEPAGE_CASFS_STATS_H

#include <samepage/casfs_store.h>
#include <samepage/error.h>
#include <stddef.h>
#include <stdint.h>

struct casfs_image_stats
{
  char *ref;
  struct casfs_digest tree;
  uint64_t files; /* regular files (hardlink groups once) */
  uint64_t logical_bytes;
  uint64_t unique_objects, unique_bytes; /* objects this image uses, once each */
  uint64_t shared_objects, shared_bytes; /* of those, the ones another image uses too */
  size_t problems; /* missing or damaged trees met (the numbers then undercount) */
};

struct casfs_store_stats
{
  struct casfs_image_stats *images; /* one per ref, sorted by ref name */
  size_t n_images;
  uint64_t trees; /* distinct trees reachable from refs */
  uint64_t files, logical_bytes; /* sums over the images */
  uint64_t unique_objects, unique_bytes; /* objects referenced by any image, once each */
  uint64_t shared_objects, shared_bytes; /* objects referenced by more than one image */
  uint64_t disk_objects, disk_bytes; /* everything in objects/, referenced or not */
  size_t problems;
};

int casfs_stats_compute (struct casfs_store *s, struct casfs_store_stats *out, sp_error_t *err);
void casfs_stats_clear (struct casfs_store_stats *st);
/* logical / unique, or 0 when nothing is stored. */
double casfs_stats_ratio (uint64_t logical, uint64_t unique);
/* "1.5K", "12.0M", "3.2G" (IEC units) into buf; returns buf. */
const char *casfs_stats_human (uint64_t bytes, char buf[16]);
/* JSON with stable keys (docs/casfs.8); *json is malloc'd.  only_refs (NULL
 * for all) limits the "images" array to those refs. */
int casfs_stats_to_json (const struct casfs_store_stats *st, char *const *only_refs, char **json,
                         sp_error_t *err);

#endif
