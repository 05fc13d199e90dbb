/* Batched durability for bulk writers (casfs import).
 *
 * An object's name must never be visible with incomplete content after a
 * crash.  Linking an O_TMPFILE whose data is not yet on disk breaks that
 * (on ext4 with delayed allocation the link can reach the journal before
 * the data blocks do, leaving a named, empty or short file after a power
 * loss), so outside a batch every object is fsync'd before it is linked.
 * In a batch, finished temp files stay anonymous and open; a flush makes all
 * of their data durable with one syncfs and only then links them.  A crash
 * before the links loses unnamed files only (the kernel frees them); a name
 * that exists was linked after its data was on disk. */
#include "store_internal.h"

#include <samepage/casfs_walk.h>
#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define BATCH_MAX 1024 /* temp files held open at once (bounded by RLIMIT_NOFILE too) */
#define BATCH_MIN 16

struct casfs_batch_item
{
  int fd;
  bool tree;
  char *rel;
};

void
casfs_store_batch_begin (struct casfs_store *s)
{
  struct rlimit rl;
  size_t max = BATCH_MAX;

  /* Leave most descriptors to the caller (import workers, archives). */
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 4 < max)
    max = rl.rlim_cur / 4;
  pthread_mutex_lock (&s->batch_lock);
  s->batch = true;
  s->max_items = max < BATCH_MIN ? BATCH_MIN : max;
  if (s->pending == NULL)
    s->pending = casfs_digest_map_new ();
  pthread_mutex_unlock (&s->batch_lock);
}

static void
drop_locked (struct casfs_store *s)
{
  for (size_t i = 0; i < s->n_items; i++)
    {
      sp_closep (&s->items[i].fd);
      free (s->items[i].rel);
    }
  s->n_items = 0;
  if (s->pending)
    {
      casfs_digest_map_free (s->pending, NULL);
      s->pending = casfs_digest_map_new ();
    }
}

void
store_batch_drop (struct casfs_store *s)
{
  pthread_mutex_lock (&s->batch_lock);
  drop_locked (s);
  free (s->items);
  s->items = NULL;
  s->cap_items = 0;
  casfs_digest_map_free (s->pending, NULL);
  s->pending = NULL;
  pthread_mutex_unlock (&s->batch_lock);
}

/* syncfs, then objects before trees: a tree never names an object that is
 * not linked yet. */
static int
flush_locked (struct casfs_store *s, sp_error_t *err)
{
  int ret = 0;

  if (s->n_items == 0)
    return 0;
  if (syncfs (s->root_fd) < 0)
    {
      sp_error_errno (err, "syncfs store `%s`", s->path);
      drop_locked (s);
      return -1;
    }
  for (int pass = 0; pass < 2 && ret >= 0; pass++)
    for (size_t i = 0; i < s->n_items && ret >= 0; i++)
      if (s->items[i].tree == (pass == 1))
        ret = store_link_tmpfile (s->items[i].fd, s->items[i].tree ? s->trees_fd : s->objects_fd,
                                  s->items[i].rel, s->items[i].tree ? "tree" : "object", err);
  drop_locked (s);
  return ret < 0 ? -1 : 0;
}

int
casfs_store_flush (struct casfs_store *s, sp_error_t *err)
{
  int ret;
  pthread_mutex_lock (&s->batch_lock);
  ret = flush_locked (s, err);
  pthread_mutex_unlock (&s->batch_lock);
  return ret;
}

int
casfs_store_batch_end (struct casfs_store *s, bool keep, sp_error_t *err)
{
  int ret = 0;
  pthread_mutex_lock (&s->batch_lock);
  if (keep)
    ret = flush_locked (s, err);
  else
    drop_locked (s);
  s->batch = false;
  pthread_mutex_unlock (&s->batch_lock);
  return ret;
}

int
store_publish (struct casfs_store *s, int *fd, bool tree, const struct casfs_digest *d, const char *rel,
               sp_error_t *err)
{
  bool added;
  int ret = 1;

  pthread_mutex_lock (&s->batch_lock);
  if (!s->batch)
    {
      pthread_mutex_unlock (&s->batch_lock);
      if (fsync (*fd) < 0)
        return sp_error_errno (err, "fsync new %s", tree ? "tree" : "object");
      return store_link_tmpfile (*fd, tree ? s->trees_fd : s->objects_fd, rel, tree ? "tree" : "object", err);
    }
  casfs_digest_map_insert (s->pending, d, &added);
  if (!added)
    ret = 0; /* the same content is pending already: this copy goes on close */
  else
    {
      if (s->n_items == s->cap_items)
        {
          s->cap_items = s->cap_items ? 2 * s->cap_items : 64;
          s->items = sp_xrealloc (s->items, s->cap_items * sizeof (*s->items));
        }
      s->items[s->n_items].fd = sp_steal_fd (fd);
      s->items[s->n_items].tree = tree;
      s->items[s->n_items].rel = sp_xstrdup (rel);
      s->n_items++;
      if (s->n_items >= s->max_items && flush_locked (s, err) < 0)
        ret = -1;
    }
  pthread_mutex_unlock (&s->batch_lock);
  return ret;
}
