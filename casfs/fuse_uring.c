/* FUSE over io_uring (Linux 6.14+, fuse.enable_uring=1): one ring per CPU, so
 * a request is answered by a thread on the CPU that made it.  A cold walk
 * through overlayfs is ~4 requests per entry, and on the other CPU each one
 * waits for a cross-CPU wakeup; on the same CPU it does not.
 *
 * libfuse 3.14 knows nothing of it, so this sits under libfuse as its custom
 * I/O: requests that arrive on a ring are rebuilt into the /dev/fuse wire
 * format and handed to fuse_session_process_buf; the reply libfuse writes is
 * caught by the writev hook and committed to the ring entry instead.  The
 * INIT reply gets the FUSE_OVER_IO_URING flag added when the kernel offered
 * it; FORGET and INTERRUPT keep coming through /dev/fuse, served by the
 * usual libfuse loop. */
#include "fuse_internal.h"

#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* uAPI of Linux 6.14 (fuse 7.42), absent from older headers. */
#ifndef FUSE_OVER_IO_URING
#define FUSE_OVER_IO_URING (1ULL << 41)
#define FUSE_URING_IN_OUT_HEADER_SZ 128
#define FUSE_URING_OP_IN_OUT_SZ 128
struct fuse_uring_ent_in_out
{
  uint64_t flags;
  uint64_t commit_id;
  uint32_t payload_sz;
  uint32_t padding;
  uint64_t reserved;
};
struct fuse_uring_req_header
{
  char in_out[FUSE_URING_IN_OUT_HEADER_SZ];
  char op_in[FUSE_URING_OP_IN_OUT_SZ];
  struct fuse_uring_ent_in_out ring_ent_in_out;
};
enum fuse_uring_cmd
{
  FUSE_IO_URING_CMD_REGISTER = 1,
  FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2,
};
struct fuse_uring_cmd_req
{
  uint64_t flags;
  uint64_t commit_id;
  uint16_t qid;
  uint8_t padding[6];
};
#endif
#ifndef FUSE_INIT_EXT
#define FUSE_INIT_EXT (1 << 30)
#endif

#define ENTRIES_PER_QUEUE 4
#define ENABLE_PARAM "/sys/module/fuse/parameters/enable_uring"

struct ring_entry
{
  struct fuse_uring_req_header *hdr;
  char *payload;
  struct iovec iov[2];
  bool replied;
  int32_t error;
  uint32_t reply_len;
};

struct ring_queue
{
  struct cf_uring *u;
  unsigned qid;
  pthread_t thread;
  bool started;
  struct io_uring ring;
  bool ring_ok;
  struct ring_entry ent[ENTRIES_PER_QUEUE];
  char *req; /* the request rebuilt in /dev/fuse format */
};

struct cf_uring
{
  struct fuse_session *se;
  struct cf_fs *fs;
  int fd;
  uint64_t init_unique;
  bool kernel_offers;
  atomic_bool restore_param; /* we turned fuse.enable_uring on for this mount */
  atomic_uint registered; /* queues done registering (or failed to) */
  size_t payload_size;
  unsigned nq;
  struct ring_queue *q;
  atomic_bool stop;
};

/* The ring entry whose reply this thread is producing, if any. */
static __thread struct ring_entry *current_entry;

bool
casfs_uring_mode_parse (const char *s, enum casfs_uring_mode *out)
{
  static const char *const names[] = { [CASFS_URING_AUTO] = "auto", [CASFS_URING_ON] = "on",
                                       [CASFS_URING_OFF] = "off" };
  for (size_t i = 0; i < SP_ARRAY_SIZE (names); i++)
    if (strcmp (s, names[i]) == 0)
      {
        *out = (enum casfs_uring_mode) i;
        return true;
      }
  return false;
}

bool
cf_uring_enabled_in_kernel (void)
{
  char c = 0;
  int fd = open (ENABLE_PARAM, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  if (read (fd, &c, 1) != 1)
    c = 0;
  close (fd);
  return c == 'Y' || c == '1';
}

/* Whether the kernel offers rings to new mounts; true if the write took. */
bool
cf_uring_set_kernel (bool on)
{
  int fd = open (ENABLE_PARAM, O_WRONLY | O_CLOEXEC);
  bool ok;
  if (fd < 0)
    return false;
  ok = write (fd, on ? "Y" : "N", 1) == 1;
  close (fd);
  return ok;
}

/* Once, from whichever thread gets there first. */
static void
put_param_back (struct cf_uring *u)
{
  if (atomic_exchange (&u->restore_param, false))
    cf_uring_set_kernel (false);
}

static ssize_t
uring_read (int fd, void *buf, size_t len, void *userdata)
{
  struct cf_uring *u = ((struct cf_fs *) userdata)->uring;
  ssize_t n = read (fd, buf, len);

  if (n >= (ssize_t) (sizeof (struct fuse_in_header) + sizeof (struct fuse_init_in)))
    {
      const struct fuse_in_header *ih = buf;
      if (ih->opcode == FUSE_INIT)
        {
          const struct fuse_init_in *ii = (const void *) (ih + 1);
          uint64_t flags = ii->flags;
          if (flags & FUSE_INIT_EXT)
            flags |= (uint64_t) ii->flags2 << 32;
          u->init_unique = ih->unique;
          u->kernel_offers = (flags & FUSE_OVER_IO_URING) != 0;
          if (!u->kernel_offers)
            put_param_back (u); /* no rings will register */
        }
    }
  return n;
}

static void start_queues (struct cf_uring *u);

static ssize_t
uring_writev (int fd, struct iovec *iov, int count, void *userdata)
{
  struct cf_uring *u = ((struct cf_fs *) userdata)->uring;
  struct ring_entry *e = current_entry;
  const struct fuse_out_header *oh = iov[0].iov_base;

  if (e != NULL)
    {
      /* A reply to a ring request: arguments go to the payload buffer. */
      size_t len = 0;
      for (int i = 1; i < count; i++)
        {
          if (len + iov[i].iov_len > u->payload_size)
            {
              e->error = -EIO;
              e->reply_len = 0;
              e->replied = true;
              errno = EOVERFLOW;
              return -1;
            }
          memcpy (e->payload + len, iov[i].iov_base, iov[i].iov_len);
          len += iov[i].iov_len;
        }
      e->error = oh->error;
      e->reply_len = (uint32_t) len;
      e->replied = true;
      return (ssize_t) (sizeof (*oh) + len);
    }

  if (u->kernel_offers && u->init_unique != 0 && oh->unique == u->init_unique && oh->error == 0 && count >= 2
      && iov[1].iov_len >= offsetof (struct fuse_init_out, max_pages) + sizeof (uint16_t))
    {
      struct fuse_init_out *io = iov[1].iov_base;
      size_t pages = io->max_pages ? io->max_pages : 32;
      size_t need = pages * 4096;
      ssize_t r;

      io->flags |= FUSE_INIT_EXT;
      io->flags2 |= (uint32_t) (FUSE_OVER_IO_URING >> 32);
      u->payload_size = need > io->max_write ? need : io->max_write;
      if (u->payload_size < FUSE_MIN_READ_BUFFER)
        u->payload_size = FUSE_MIN_READ_BUFFER;
      u->init_unique = 0;
      r = writev (fd, iov, count);
      if (r >= 0)
        start_queues (u);
      return r;
    }
  return writev (fd, iov, count);
}

static int
submit_entry (struct ring_queue *q, struct ring_entry *e, bool commit)
{
  struct io_uring_sqe *sqe = io_uring_get_sqe (&q->ring);
  struct fuse_uring_cmd_req *cr;

  if (sqe == NULL)
    return -EBUSY;
  io_uring_prep_rw (IORING_OP_URING_CMD, sqe, q->u->fd, NULL, 0, 0);
  sqe->user_data = (uint64_t) (uintptr_t) e;
  cr = (struct fuse_uring_cmd_req *) sqe->cmd;
  memset (cr, 0, sizeof (*cr));
  cr->qid = (uint16_t) q->qid;
  if (commit)
    {
      struct fuse_out_header *oh = (struct fuse_out_header *) e->hdr->in_out;
      uint64_t id = e->hdr->ring_ent_in_out.commit_id;
      oh->len = sizeof (*oh);
      oh->error = e->error;
      oh->unique = id;
      e->hdr->ring_ent_in_out.payload_sz = e->error ? 0 : e->reply_len;
      sqe->cmd_op = FUSE_IO_URING_CMD_COMMIT_AND_FETCH;
      cr->commit_id = id;
    }
  else
    {
      sqe->cmd_op = FUSE_IO_URING_CMD_REGISTER;
      sqe->addr = (uint64_t) (uintptr_t) e->iov;
      sqe->len = 2;
    }
  return 0;
}

/* One request from a ring entry, through libfuse, and its reply back. */
static void
serve_entry (struct ring_queue *q, struct ring_entry *e)
{
  struct cf_uring *u = q->u;
  const struct fuse_in_header *ih = (const void *) e->hdr->in_out;
  uint32_t payload = e->hdr->ring_ent_in_out.payload_sz;
  size_t op = 0;

  /* The kernel split the request: its header, the per-op struct (whatever
   * ih->len leaves beside the payload) and the remaining arguments. */
  if (ih->len >= sizeof (*ih) + payload)
    op = ih->len - sizeof (*ih) - payload;
  e->replied = false;
  e->error = 0;
  e->reply_len = 0;
  if (op > FUSE_URING_OP_IN_OUT_SZ || payload > u->payload_size)
    e->error = -EIO;
  else
    {
      struct fuse_buf fbuf = { .size = sizeof (*ih) + op + payload, .mem = q->req };
      memcpy (q->req, ih, sizeof (*ih));
      memcpy (q->req + sizeof (*ih), e->hdr->op_in, op);
      memcpy (q->req + sizeof (*ih) + op, e->payload, payload);
      atomic_fetch_add (&u->fs->n.uring, 1);
      current_entry = e;
      fuse_session_process_buf (u->se, &fbuf);
      current_entry = NULL;
      if (!e->replied)
        e->error = -EIO; /* every request on a ring wants an answer */
    }
}

/* The kernel refuses registrations while fuse.enable_uring is off, so a
 * parameter turned on for this mount goes back off once every queue is in. */
static void
queue_registered (struct cf_uring *u)
{
  if (atomic_fetch_add (&u->registered, 1) + 1 == u->nq)
    put_param_back (u);
}

static void *
queue_thread (void *arg)
{
  struct ring_queue *q = arg;
  struct cf_uring *u = q->u;
  cpu_set_t set;
  int r0;

  CPU_ZERO (&set);
  CPU_SET (q->qid, &set);
  (void) pthread_setaffinity_np (pthread_self (), sizeof (set), &set);
  /* SCHED_IDLE keeps the caller on its CPU.  The reply wakes the caller from
   * this thread, on the caller's CPU; were this thread an ordinary one, the
   * scheduler would see that CPU busy and move the caller to an idle one, so
   * every request would cost a cross-CPU wakeup and the caller's cache (a
   * cold find: 1.5 s instead of 0.28 s here).  A CPU running only SCHED_IDLE
   * tasks counts as idle, so the caller stays and preempts us.  Only the
   * callers' requests wake this thread and each takes microseconds, so under
   * load it still gets its turn (EEVDF: measured with a busy loop on every
   * CPU, the cold find took 0.53 s, 0.49 s with ordinary threads). */
  {
    struct sched_param idle = { .sched_priority = 0 };
    int e = pthread_setschedparam (pthread_self (), SCHED_IDLE, &idle);
    if (e != 0)
      sp_warn ("FUSE io_uring: queue %u stays an ordinary thread (SCHED_IDLE: %s)", q->qid, strerror (e));
  }

  /* Made by the thread that uses it: one submitter, and completions run
   * only when it waits (no task-work interrupting a request in progress). */
  {
    struct io_uring_params p = { .flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER
                                          | IORING_SETUP_DEFER_TASKRUN };
    if (io_uring_queue_init_params (ENTRIES_PER_QUEUE * 2, &q->ring, &p) < 0)
      {
        struct io_uring_params plain = { .flags = IORING_SETUP_SQE128 };
        if (io_uring_queue_init_params (ENTRIES_PER_QUEUE * 2, &q->ring, &plain) < 0)
          {
            sp_warn ("FUSE io_uring: ring setup failed for queue %u; serving through /dev/fuse", q->qid);
            queue_registered (u);
            return NULL;
          }
      }
    q->ring_ok = true;
  }

  for (unsigned i = 0; i < ENTRIES_PER_QUEUE; i++)
    if (submit_entry (q, &q->ent[i], false) < 0)
      {
        queue_registered (u);
        return NULL;
      }
  r0 = io_uring_submit (&q->ring);
  queue_registered (u);
  if (r0 < 0)
    return NULL;

  /* One io_uring_enter per round: it submits the commits of the last round
   * and waits for the next request, so a request costs one syscall. */
  while (!atomic_load (&u->stop))
    {
      struct io_uring_cqe *cqe;
      struct __kernel_timespec ts = { .tv_sec = 1 };
      unsigned head, seen = 0;
      int r = io_uring_submit_and_wait_timeout (&q->ring, &cqe, 1, &ts, NULL);

      if (r == -ETIME || r == -EINTR)
        continue;
      if (r < 0)
        break;
      io_uring_for_each_cqe (&q->ring, head, cqe)
        {
          struct ring_entry *e = (void *) (uintptr_t) cqe->user_data;
          int res = cqe->res;
          seen++;
          if (res < 0)
            {
              if (res == -EINTR || res == -EAGAIN)
                continue;
              /* The connection went away (or the ring was refused). */
              if (res != -ENOTCONN && res != -ECONNABORTED && res != -ENODEV)
                sp_warn ("FUSE io_uring queue %u: %s", q->qid, strerror (-res));
              io_uring_cq_advance (&q->ring, seen);
              goto out;
            }
          serve_entry (q, e);
          if (submit_entry (q, e, true) < 0)
            {
              io_uring_cq_advance (&q->ring, seen);
              goto out;
            }
        }
      io_uring_cq_advance (&q->ring, seen);
    }
out:
  return NULL;
}

static void
start_queues (struct cf_uring *u)
{
  long n = sysconf (_SC_NPROCESSORS_CONF);

  /* The kernel routes requests to rings only once every possible CPU has a
   * queue; with any queue missing it keeps using /dev/fuse. */
  u->nq = n > 0 ? (unsigned) n : 1;
  u->q = sp_xmalloc0 (u->nq * sizeof (*u->q));
  for (unsigned i = 0; i < u->nq; i++)
    {
      struct ring_queue *q = &u->q[i];

      q->u = u;
      q->qid = i;
      q->req = sp_xmalloc0 (sizeof (struct fuse_in_header) + FUSE_URING_OP_IN_OUT_SZ + u->payload_size);
      for (unsigned j = 0; j < ENTRIES_PER_QUEUE; j++)
        {
          struct ring_entry *e = &q->ent[j];
          if (posix_memalign ((void **) &e->hdr, 4096, sizeof (*e->hdr)) != 0
              || posix_memalign ((void **) &e->payload, 4096, u->payload_size) != 0)
            abort (); /* as sp_xmalloc0 does */
          memset (e->hdr, 0, sizeof (*e->hdr));
          e->iov[0] = (struct iovec) { e->hdr, sizeof (*e->hdr) };
          e->iov[1] = (struct iovec) { e->payload, u->payload_size };
        }
      if (pthread_create (&q->thread, NULL, queue_thread, q) != 0)
        {
          sp_warn ("FUSE io_uring: no thread for queue %u; serving through /dev/fuse only", i);
          for (unsigned k = i; k < u->nq; k++)
            queue_registered (u);
          return;
        }
      q->started = true;
    }
  sp_info ("FUSE over io_uring: %u queues", u->nq);
}

struct cf_uring *
cf_uring_attach (struct fuse_session *se, struct cf_fs *fs, bool restore_param)
{
  static const struct fuse_custom_io io = { .read = uring_read, .writev = uring_writev };
  struct cf_uring *u = sp_xmalloc0 (sizeof (*u));

  u->se = se;
  u->fs = fs;
  u->fd = fuse_session_fd (se);
  atomic_init (&u->restore_param, restore_param);
  fs->uring = u; /* the hooks get the session's userdata: fs */
  if (fuse_session_custom_io (se, &io, u->fd) != 0)
    {
      if (restore_param)
        cf_uring_set_kernel (false);
      fs->uring = NULL;
      free (u);
      return NULL;
    }
  return u;
}

void
cf_uring_detach (struct cf_uring *u)
{
  if (u == NULL)
    return;
  put_param_back (u); /* if stopped before every queue registered */
  atomic_store (&u->stop, true);
  for (unsigned i = 0; i < u->nq && u->q; i++)
    {
      struct ring_queue *q = &u->q[i];
      if (q->started)
        pthread_join (q->thread, NULL);
      if (q->ring_ok)
        io_uring_queue_exit (&q->ring);
      for (unsigned j = 0; j < ENTRIES_PER_QUEUE; j++)
        {
          free (q->ent[j].hdr);
          free (q->ent[j].payload);
        }
      free (q->req);
    }
  free (u->q);
  free (u);
}
