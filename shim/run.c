/* `run` in the foreground, and waiting for a process we are subreaper of. */
#include "setup.h"
#include "state.h"

#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

int sp_container_create_internal (struct sp_runtime *rt, const char *id, struct sp_create_options *o,
                                  bool subreaper, struct oci_config **config_out, sp_error_t *err);

/* Forwards signals to pid and reaps every child until pid exits; returns its
 * exit status (128 + signal for a killed process). */
int
sp_wait_for_process (pid_t pid, sp_error_t *err)
{
  sigset_t all, old;
  cleanup_close int sfd = -1;
  int status;

  sigfillset (&all);
  sigdelset (&all, SIGSEGV);
  sigdelset (&all, SIGBUS);
  sigdelset (&all, SIGILL);
  sigdelset (&all, SIGFPE);
  sigprocmask (SIG_BLOCK, &all, &old);
  sfd = signalfd (-1, &all, SFD_CLOEXEC);
  if (sfd < 0)
    return sp_error_errno (err, "signalfd");
  for (;;)
    {
      struct signalfd_siginfo si;
      pid_t r;
      while ((r = waitpid (-1, &status, WNOHANG)) > 0)
        if (r == pid)
          {
            sigprocmask (SIG_SETMASK, &old, NULL);
            if (WIFEXITED (status))
              return WEXITSTATUS (status);
            return 128 + WTERMSIG (status);
          }
      if (r < 0 && errno == ECHILD)
        return sp_error_make (err, ECHILD, "lost track of process %d", pid);
      if (read (sfd, &si, sizeof si) != sizeof si)
        {
          if (errno == EINTR)
            continue;
          return sp_error_errno (err, "read signalfd");
        }
      if (si.ssi_signo != SIGCHLD)
        kill (pid, (int) si.ssi_signo);
    }
}

int
sp_container_run (struct sp_runtime *rt, const char *id, struct sp_create_options *o, sp_error_t *err)
{
  cleanup_state struct sp_state *st = NULL;
  int status;

  if (sp_container_create_internal (rt, id, o, !o->detach, NULL, err) < 0)
    return -1;
  if (sp_container_start (rt, id, err) < 0)
    {
      sp_error_t e2 = NULL;
      if (sp_container_delete (rt, id, true, &e2) < 0)
        sp_log_error_release (&e2);
      return -1;
    }
  if (o->detach)
    return 0;
  if (sp_state_load (rt, id, &st, err) < 0)
    return -1;
  status = sp_wait_for_process (st->pid, err);
  if (!o->keep)
    {
      sp_error_t e2 = NULL;
      if (sp_container_delete (rt, id, true, &e2) < 0)
        sp_log_error_release (&e2);
    }
  return status;
}
