/* Shared by store.c and store_batch.c: the store handle and how a finished
 * temp file becomes a named object or tree. */
#ifndef SAMEPAGE_CASFS_STORE_INTERNAL_H
#define SAMEPAGE_CASFS_STORE_INTERNAL_H

#include <samepage/casfs_store.h>
#include <pthread.h>

struct casfs_batch_item;

struct casfs_store
{
  char *path;
  int root_fd;
  int objects_fd;
  int trees_fd;
  int refs_fd;
  int tmp_fd;
  int lock_fd; /* STORE/lock, opened on first casfs_store_lock */
  /* batch mode (casfs_store_batch_begin): written, unsynced, unnamed */
  pthread_mutex_t batch_lock;
  bool batch;
  struct casfs_batch_item *items;
  size_t n_items, cap_items, max_items;
  struct casfs_digest_map *pending; /* digest -> 1 (objects) / 2 (trees) */
};

/* Links the anonymous temp file fd as dirfd/rel (no sync).  Returns 1 if
 * linked, 0 if rel already existed (same content by name). */
int store_link_tmpfile (int fd, int dirfd, const char *rel, const char *what, sp_error_t *err);
/* A finished object or tree (its data written to *fd, an O_TMPFILE):
 * outside a batch fsync'd and linked now; in a batch, kept (the fd is taken)
 * until the next flush.  Returns 1 when new, 0 when stored or pending already. */
int store_publish (struct casfs_store *s, int *fd, bool tree, const struct casfs_digest *d, const char *rel,
                   sp_error_t *err);
/* Closes every pending temp file (their content is lost; nothing was named). */
void store_batch_drop (struct casfs_store *s);

#endif
