/* Setup-time messages between the runtime and its children. */
#include "sync.h"

#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
sp_sync_send (int fd, int type, int value, const char *msg)
{
  struct sp_sync_msg m = { .type = type, .value = value };
  ssize_t n;
  if (msg)
    snprintf (m.msg, sizeof m.msg, "%s", msg);
  do
    n = send (fd, &m, sizeof m, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t) sizeof m ? 0 : -1;
}

int
sp_sync_recv (int fd, struct sp_sync_msg *m, sp_error_t *err)
{
  ssize_t n;
  do
    n = recv (fd, m, sizeof *m, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return sp_error_errno (err, "read from setup process");
  if (n != (ssize_t) sizeof *m)
    return sp_error_make (err, EPIPE, "container setup process exited unexpectedly");
  m->msg[sizeof m->msg - 1] = '\0';
  return 0;
}

int
sp_sync_expect (int fd, int type, struct sp_sync_msg *m, sp_error_t *err)
{
  if (sp_sync_recv (fd, m, err) < 0)
    return -1;
  if (m->type == SYNC_ERROR)
    {
      /* The child's message is complete already (it carries strerror). */
      sp_error_make (err, 0, "%s", m->msg);
      (*err)->status = m->value;
      return -1;
    }
  if (m->type != type)
    return sp_error_make (err, EPROTO, "setup protocol: got message %d, want %d", m->type, type);
  return 0;
}

void
sp_sync_fail (int fd, sp_error_t *err)
{
  sp_sync_send (fd, SYNC_ERROR, err && *err ? (*err)->status : 0,
                err && *err ? (*err)->msg : "unknown error");
  _exit (1);
}

int
sp_send_fd (int sock, int fd, sp_error_t *err)
{
  char dummy = 'F';
  struct iovec iov = { .iov_base = &dummy, .iov_len = 1 };
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } u;
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  struct cmsghdr *c = CMSG_FIRSTHDR (&mh);

  memset (u.buf, 0, sizeof u.buf);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (c), &fd, sizeof (int));
  while (sendmsg (sock, &mh, MSG_NOSIGNAL) < 0)
    if (errno != EINTR)
      return sp_error_errno (err, "send file descriptor");
  return 0;
}

int
sp_recv_fd (int sock, sp_error_t *err)
{
  char dummy;
  struct iovec iov = { .iov_base = &dummy, .iov_len = 1 };
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } u;
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  struct cmsghdr *c;
  int fd;
  ssize_t n;

  do
    n = recvmsg (sock, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return sp_error_errno (err, "receive file descriptor");
  c = CMSG_FIRSTHDR (&mh);
  if (n == 0 || c == NULL || c->cmsg_type != SCM_RIGHTS)
    return sp_error_make (err, EPROTO, "no file descriptor received");
  memcpy (&fd, CMSG_DATA (c), sizeof (int));
  return fd;
}
