/* casfs fsck: re-hash every object and tree, decode every tree and image
 * record, and check that everything a ref, an image record or a root names
 * exists and is intact.  --repair moves damaged objects and trees to
 * STORE/quarantine/ (a re-import then writes them afresh) and names the refs
 * affected.  Holds the store lock shared: gc cannot run meanwhile, imports can. */
#ifndef SAMEPAGE_CASFS_FSCK_H
#define SAMEPAGE_CASFS_FSCK_H

#include <samepage/casfs_store.h>
#include <samepage/error.h>
#include <stdbool.h>
#include <stddef.h>

struct casfs_fsck_options
{
  bool repair;
  /* Called once per problem found, with a one-line description. */
  void (*on_problem) (const char *msg, void *data);
  void *data;
};

struct casfs_fsck_result
{
  size_t objects_checked, trees_checked, images_checked, refs_checked;
  size_t problems;
  size_t quarantined;
  char **affected; /* NULL-terminated: "ref NAME" / "root NAME" that reach damage */
};

/* Returns 0 when the check ran (res->problems says what it found), < 0 when
 * it could not run (I/O errors other than damage). */
int casfs_fsck (struct casfs_store *s, const struct casfs_fsck_options *opts, struct casfs_fsck_result *res,
                sp_error_t *err);
void casfs_fsck_result_clear (struct casfs_fsck_result *res);

#endif
