/* OCI hooks: each stage's hooks run in order with the state JSON on stdin;
 * a hook that exceeds its timeout is killed. */
#include "setup.h"

#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>


static int
run_hook (struct oci_hook *h, const char *stage, const char *state_json, sp_error_t *err)
{
  int in[2];
  pid_t pid;
  int status;
  cleanup_close int pidfd = -1;

  if (pipe2 (in, O_CLOEXEC) < 0)
    return sp_error_errno (err, "pipe");
  pid = fork ();
  if (pid < 0)
    {
      close (in[0]);
      close (in[1]);
      return sp_error_errno (err, "fork hook");
    }
  if (pid == 0)
    {
      char *default_args[] = { h->path, NULL };
      dup2 (in[0], 0);
      /* Hooks' output must not reach the container's stdout (it may be a pipe podman reads). */
      dup2 (2, 1);
      execve (h->path, h->args ? h->args : default_args, h->env ? h->env : (char *[]){ NULL });
      _exit (127);
    }
  close (in[0]);
  /* A hook that doesn't read stdin must not make us fail: ignore EPIPE. */
  signal (SIGPIPE, SIG_IGN);
  (void) sp_write_all (in[1], state_json, strlen (state_json));
  close (in[1]);

  pidfd = (int) syscall (SYS_pidfd_open, pid, 0);
  if (h->has_timeout && pidfd >= 0)
    {
      struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
      int r;
      do
        r = poll (&pfd, 1, h->timeout * 1000);
      while (r < 0 && errno == EINTR);
      if (r == 0)
        {
          kill (pid, SIGKILL);
          waitpid (pid, NULL, 0);
          return sp_error_make (err, ETIMEDOUT, "%s hook `%s` timed out after %d s", stage, h->path, h->timeout);
        }
    }
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return sp_error_errno (err, "wait for %s hook `%s`", stage, h->path);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return 0;
  if (WIFEXITED (status))
    return sp_error_make (err, 0, "%s hook `%s` failed with exit status %d", stage, h->path, WEXITSTATUS (status));
  return sp_error_make (err, 0, "%s hook `%s` killed by signal %d", stage, h->path, WTERMSIG (status));
}

int
sp_hooks_run (struct oci_hooks *h, enum oci_hook_stage stage, const char *state_json, sp_error_t *err)
{
  if (h == NULL)
    return 0;
  for (size_t i = 0; i < h->stage_len[stage]; i++)
    {
      sp_debug ("running %s hook %s", oci_hook_stage_names[stage], h->stage[stage][i].path);
      if (run_hook (&h->stage[stage][i], oci_hook_stage_names[stage], state_json, err) < 0)
        return -1;
    }
  return 0;
}
