/* For unit tests that change the process irreversibly (seccomp filters,
 * capabilities, uids): the check runs in a forked child, which reports its
 * verdict through its exit status and a message pipe, so a failure in the
 * child fails the test in the parent.  Include after <cmocka.h>. */
#ifndef SAMEPAGE_TEST_FORKED_CHILD_H
#define SAMEPAGE_TEST_FORKED_CHILD_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Returns 0 when every check passed; otherwise writes why into msg. */
typedef int (*child_fn) (void *arg, char *msg, size_t msg_len);

struct child_result
{
  int wstatus;
  char msg[1024];
  char output[16384]; /* the child's stderr, when captured */
};

/* In a child function: fail with the condition's text, file:line and errno. */
#define CHILD_CHECK(cond)                                                                          \
  do                                                                                               \
    {                                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          int e_ = errno;                                                                          \
          snprintf (msg, msg_len, "%s:%d: check failed: %s (errno %d: %s)", __FILE__, __LINE__,  \
                    #cond, e_, strerror (e_));                                                     \
          return 1;                                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

static inline void
child_read_all (int fd, char *buf, size_t size)
{
  size_t len = 0;
  ssize_t n;

  while (len + 1 < size && ((n = read (fd, buf + len, size - 1 - len)) > 0 || (n < 0 && errno == EINTR)))
    if (n > 0)
      len += (size_t) n;
  buf[len] = '\0';
}

/* Forks, runs fn in the child (30 s at most, no core dumps) and waits. */
static inline void
run_in_child (child_fn fn, void *arg, struct child_result *r, bool capture_stderr)
{
  int msg_pipe[2], err_pipe[2] = { -1, -1 };
  pid_t pid;

  memset (r, 0, sizeof *r);
  assert_int_equal (pipe2 (msg_pipe, O_CLOEXEC), 0);
  if (capture_stderr)
    assert_int_equal (pipe2 (err_pipe, O_CLOEXEC), 0);
  fflush (NULL);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      struct rlimit no_core = { 0, 0 };
      char msg[sizeof r->msg] = "";
      int ret;

      setrlimit (RLIMIT_CORE, &no_core);
      alarm (30);
      close (msg_pipe[0]);
      if (capture_stderr)
        {
          close (err_pipe[0]);
          dup2 (err_pipe[1], 2);
          close (err_pipe[1]);
        }
      ret = fn (arg, msg, sizeof msg);
      if (write (msg_pipe[1], msg, strlen (msg)) < 0)
        ret = 2;
      _exit (ret == 0 ? 0 : 1);
    }
  close (msg_pipe[1]);
  if (capture_stderr)
    {
      close (err_pipe[1]);
      child_read_all (err_pipe[0], r->output, sizeof r->output);
      close (err_pipe[0]);
    }
  child_read_all (msg_pipe[0], r->msg, sizeof r->msg);
  close (msg_pipe[0]);
  while (waitpid (pid, &r->wstatus, 0) < 0)
    assert_int_equal (errno, EINTR);
}

/* Runs fn in a child and fails the test unless it exited 0. */
static inline void
expect_child_ok (child_fn fn, void *arg)
{
  struct child_result r;

  run_in_child (fn, arg, &r, false);
  if (!WIFEXITED (r.wstatus) || WEXITSTATUS (r.wstatus) != 0)
    fail_msg ("child failed (wait status 0x%x): %s", r.wstatus, r.msg[0] ? r.msg : "(no message)");
}

#endif
