/* The hash+write pipeline of imports.  The reading thread decompresses and
 * copies file contents into chunks; worker threads hash them and write them
 * into the store.  Each worker has a bounded queue (memory stays bounded when
 * the disk is slower than decompression), and every file goes whole to one
 * worker, so its chunks stay in order without further coordination. */
#include "import_internal.h"

#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_SIZE (1u << 20)
#define QUEUE_BYTES (8u << 20)
#define WORKERS_DEFAULT 3
#define WORKERS_MAX 16

struct chunk
{
  struct chunk *next;
  struct mnode *node; /* non-NULL on the first chunk of a file */
  char *what; /* first chunk: the entry's name for errors */
  uint8_t *data;
  size_t len;
  bool last;
};

struct worker
{
  struct import_pipe *pipe;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t changed;
  struct chunk *head, *tail;
  size_t queued_bytes;
  bool closing;
  bool started;
};

struct import_pipe
{
  struct casfs_store *store;
  struct worker *workers;
  unsigned n_workers, next_worker;
  /* the file being queued */
  struct worker *cur;
  struct chunk *pending;
  size_t pending_cap;
  /* results */
  pthread_mutex_t mu;
  sp_error_t error; /* first worker error */
  _Atomic bool failed;
  _Atomic uint64_t files, bytes, new_bytes;
};

static void
chunk_free (struct chunk *c)
{
  free (c->what);
  free (c->data);
  free (c);
}

static void
pipe_fail (struct import_pipe *p, sp_error_t *err)
{
  pthread_mutex_lock (&p->mu);
  if (p->error == NULL)
    p->error = steal_pointer (err);
  else
    sp_error_release (err);
  p->failed = true;
  pthread_mutex_unlock (&p->mu);
}

static void *
worker_main (void *arg)
{
  struct worker *w = arg;
  struct import_pipe *p = w->pipe;
  struct casfs_object_writer *ow = NULL;
  struct mnode *node = NULL;
  char *what = NULL;
  uint64_t size = 0;

  for (;;)
    {
      struct chunk *c;
      sp_error_t err = NULL;

      pthread_mutex_lock (&w->mu);
      while (w->head == NULL && !w->closing)
        pthread_cond_wait (&w->changed, &w->mu);
      c = w->head;
      if (c)
        {
          w->head = c->next;
          if (w->head == NULL)
            w->tail = NULL;
          w->queued_bytes -= c->len;
          pthread_cond_broadcast (&w->changed);
        }
      pthread_mutex_unlock (&w->mu);
      if (c == NULL)
        break;
      if (c->node)
        {
          casfs_object_writer_free (ow);
          ow = NULL;
          free (what);
          node = c->node;
          what = steal_pointer (&c->what);
          size = 0;
          if (!p->failed && casfs_object_writer_new (p->store, &ow, &err) < 0)
            {
              sp_error_wrap (&err, "entry `%s`", what);
              pipe_fail (p, &err);
            }
        }
      if (ow && c->len && casfs_object_writer_write (ow, c->data, c->len, &err) < 0)
        {
          sp_error_wrap (&err, "entry `%s`", what);
          pipe_fail (p, &err);
          casfs_object_writer_free (ow);
          ow = NULL;
        }
      size += c->len;
      if (c->last && ow)
        {
          int r = casfs_object_writer_commit (ow, &node->e.digest, &err);
          if (r < 0)
            {
              sp_error_wrap (&err, "entry `%s`", what);
              pipe_fail (p, &err);
            }
          else
            {
              p->files++;
              p->bytes += size;
              if (r == 1)
                p->new_bytes += size;
            }
          casfs_object_writer_free (ow);
          ow = NULL;
        }
      chunk_free (c);
    }
  casfs_object_writer_free (ow);
  free (what);
  return NULL;
}

int
import_pipe_new (struct casfs_store *s, unsigned workers, struct import_pipe **out, sp_error_t *err)
{
  struct import_pipe *p = sp_xmalloc0 (sizeof (*p));

  if (workers == 0)
    workers = WORKERS_DEFAULT;
  if (workers > WORKERS_MAX)
    workers = WORKERS_MAX;
  p->store = s;
  pthread_mutex_init (&p->mu, NULL);
  p->workers = sp_xmalloc0 (workers * sizeof (*p->workers));
  p->n_workers = workers;
  for (unsigned i = 0; i < workers; i++)
    {
      struct worker *w = &p->workers[i];
      int r;
      w->pipe = p;
      pthread_mutex_init (&w->mu, NULL);
      pthread_cond_init (&w->changed, NULL);
      r = pthread_create (&w->thread, NULL, worker_main, w);
      if (r != 0)
        {
          import_pipe_free (p);
          errno = r;
          return sp_error_errno (err, "start import worker thread");
        }
      w->started = true;
    }
  *out = p;
  return 0;
}

static int
pipe_error (struct import_pipe *p, sp_error_t *err)
{
  pthread_mutex_lock (&p->mu);
  sp_error_make (err, p->error ? p->error->status : 0, "%s", p->error ? p->error->msg : "import worker failed");
  pthread_mutex_unlock (&p->mu);
  return -1;
}

static int
push (struct import_pipe *p, struct chunk *c, sp_error_t *err)
{
  struct worker *w = p->cur;

  pthread_mutex_lock (&w->mu);
  while (w->queued_bytes > 0 && w->queued_bytes + c->len > QUEUE_BYTES && !p->failed)
    pthread_cond_wait (&w->changed, &w->mu);
  c->next = NULL;
  if (w->tail)
    w->tail->next = c;
  else
    w->head = c;
  w->tail = c;
  w->queued_bytes += c->len;
  pthread_cond_broadcast (&w->changed);
  pthread_mutex_unlock (&w->mu);
  if (p->failed)
    return pipe_error (p, err);
  return 0;
}

static struct chunk *
new_chunk (struct import_pipe *p)
{
  struct chunk *c = sp_xmalloc0 (sizeof (*c));
  (void) p;
  return c;
}

int
import_pipe_begin (struct import_pipe *p, struct mnode *node, const char *what, sp_error_t *err)
{
  if (p->failed)
    return pipe_error (p, err);
  p->cur = &p->workers[p->next_worker++ % p->n_workers];
  p->pending = new_chunk (p);
  p->pending->node = node;
  p->pending->what = sp_xstrdup (what);
  p->pending_cap = 0;
  return 0;
}

static int
flush (struct import_pipe *p, bool last, sp_error_t *err)
{
  struct chunk *c = steal_pointer (&p->pending);
  c->last = last;
  if (push (p, c, err) < 0)
    return -1;
  if (!last)
    {
      p->pending = new_chunk (p);
      p->pending_cap = 0;
    }
  return 0;
}

int
import_pipe_write (struct import_pipe *p, const void *data, size_t len, sp_error_t *err)
{
  const uint8_t *d = data;
  while (len > 0)
    {
      struct chunk *c = p->pending;
      size_t room, n;
      if (c->len == CHUNK_SIZE && flush (p, false, err) < 0)
        return -1;
      c = p->pending;
      if (c->len + len > p->pending_cap && p->pending_cap < CHUNK_SIZE)
        {
          size_t want = c->len + len;
          p->pending_cap = want < 4096 ? 4096 : want > CHUNK_SIZE ? CHUNK_SIZE : want;
          c->data = sp_xrealloc (c->data, p->pending_cap);
        }
      room = p->pending_cap - c->len;
      n = len < room ? len : room;
      memcpy (c->data + c->len, d, n);
      c->len += n;
      d += n;
      len -= n;
    }
  return 0;
}

int
import_pipe_end (struct import_pipe *p, sp_error_t *err)
{
  return flush (p, true, err);
}

int
import_pipe_finish (struct import_pipe *p, sp_error_t *err)
{
  for (unsigned i = 0; i < p->n_workers; i++)
    {
      struct worker *w = &p->workers[i];
      if (!w->started)
        continue;
      pthread_mutex_lock (&w->mu);
      w->closing = true;
      pthread_cond_broadcast (&w->changed);
      pthread_mutex_unlock (&w->mu);
      pthread_join (w->thread, NULL);
      w->started = false;
    }
  if (p->failed)
    return pipe_error (p, err);
  return 0;
}

void
import_pipe_stats (struct import_pipe *p, struct casfs_import_stats *st)
{
  st->files = p->files;
  st->bytes = p->bytes;
  st->new_bytes = p->new_bytes;
}

void
import_pipe_free (struct import_pipe *p)
{
  if (p == NULL)
    return;
  p->failed = true; /* workers drop what is still queued */
  for (unsigned i = 0; i < p->n_workers; i++)
    {
      struct worker *w = &p->workers[i];
      if (w->started)
        {
          pthread_mutex_lock (&w->mu);
          w->closing = true;
          pthread_cond_broadcast (&w->changed);
          pthread_mutex_unlock (&w->mu);
          pthread_join (w->thread, NULL);
        }
      pthread_mutex_destroy (&w->mu);
      pthread_cond_destroy (&w->changed);
    }
  if (p->pending)
    chunk_free (p->pending);
  free (p->workers);
  sp_error_release (&p->error);
  pthread_mutex_destroy (&p->mu);
  free (p);
}
