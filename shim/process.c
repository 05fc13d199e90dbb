/* The container process' last steps: limits, identity, capabilities,
 * seccomp, then execve. */
#include "setup.h"
#include "sync.h"

#include <samepage/caps.h>
#include <samepage/cleanup.h>
#include <samepage/ksm.h>
#include <samepage/log.h>
#include <samepage/seccomp.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int
set_scheduler (struct oci_scheduler *sc, sp_error_t *err)
{
  static const struct
  {
    const char *name;
    int policy;
  } policies[] = {
    { "SCHED_OTHER", SCHED_OTHER }, { "SCHED_FIFO", SCHED_FIFO },   { "SCHED_RR", SCHED_RR },
    { "SCHED_BATCH", SCHED_BATCH }, { "SCHED_IDLE", SCHED_IDLE },   { "SCHED_DEADLINE", 6 },
  };
  struct
  {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
  } attr = { .size = 48 };
  size_t i;

  for (i = 0; i < SP_ARRAY_SIZE (policies); i++)
    if (strcmp (policies[i].name, sc->policy ? sc->policy : "") == 0)
      break;
  if (i == SP_ARRAY_SIZE (policies))
    return sp_error_make (err, EINVAL, "config.json: process.scheduler.policy: unknown policy `%s`",
                          sc->policy ? sc->policy : "");
  attr.policy = (uint32_t) policies[i].policy;
  attr.nice = sc->nice;
  attr.priority = (uint32_t) sc->priority;
  attr.runtime = sc->runtime;
  attr.deadline = sc->deadline;
  attr.period = sc->period;
  for (char **f = sc->flags; f && *f; f++)
    {
      if (strcmp (*f, "SCHED_FLAG_RESET_ON_FORK") == 0)
        attr.flags |= 0x01;
      else if (strcmp (*f, "SCHED_FLAG_RECLAIM") == 0)
        attr.flags |= 0x02;
      else if (strcmp (*f, "SCHED_FLAG_DL_OVERRUN") == 0)
        attr.flags |= 0x04;
      else if (strcmp (*f, "SCHED_FLAG_KEEP_POLICY") == 0)
        attr.flags |= 0x08;
      else if (strcmp (*f, "SCHED_FLAG_KEEP_PARAMS") == 0)
        attr.flags |= 0x10;
      else if (strcmp (*f, "SCHED_FLAG_UTIL_CLAMP_MIN") == 0)
        attr.flags |= 0x20;
      else if (strcmp (*f, "SCHED_FLAG_UTIL_CLAMP_MAX") == 0)
        attr.flags |= 0x40;
    }
  if (syscall (SYS_sched_setattr, 0, &attr, 0) < 0)
    return sp_error_errno (err, "sched_setattr %s", sc->policy);
  return 0;
}

static int
set_io_priority (struct oci_io_priority *io, sp_error_t *err)
{
  int klass;
  if (io->class_ && strcmp (io->class_, "IOPRIO_CLASS_RT") == 0)
    klass = 1;
  else if (io->class_ && strcmp (io->class_, "IOPRIO_CLASS_BE") == 0)
    klass = 2;
  else if (io->class_ && strcmp (io->class_, "IOPRIO_CLASS_IDLE") == 0)
    klass = 3;
  else
    return sp_error_make (err, EINVAL, "config.json: process.ioPriority.class: unknown class `%s`",
                          io->class_ ? io->class_ : "");
  if (syscall (SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, klass << 13 | (io->priority & 0x1fff)) < 0)
    return sp_error_errno (err, "ioprio_set");
  return 0;
}

int
sp_process_prepare (struct sp_setup *s, sp_error_t *err)
{
  struct oci_process *p = s->process;
  struct oci_linux *l = s->config->linux_;

  for (size_t i = 0; i < p->rlimits_len; i++)
    {
      struct rlimit rl = { .rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard };
      if (setrlimit (p->rlimits[i].resource, &rl) < 0)
        return sp_error_errno (err, "setrlimit %s %llu:%llu", p->rlimits[i].type,
                               (unsigned long long) rl.rlim_cur, (unsigned long long) rl.rlim_max);
    }
  if (p->has_oom_score_adj)
    {
      char buf[16];
      int n = snprintf (buf, sizeof buf, "%d", p->oom_score_adj);
      if (sp_write_file ("/proc/self/oom_score_adj", buf, (size_t) n, 0, err) < 0)
        return sp_error_wrap (err, "set oom_score_adj");
    }
  if (s->opts && !s->opts->no_new_keyring)
    {
      /* A fresh session keyring keeps the host's keys out of the container. */
      if (syscall (SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, s->id) < 0)
        sp_debug ("join session keyring: %m");
    }
  if (p->scheduler && set_scheduler (p->scheduler, err) < 0)
    return -1;
  if (p->io_priority && set_io_priority (p->io_priority, err) < 0)
    return -1;
  if (l && l->personality && l->personality->domain)
    {
      unsigned long persona;
      if (strcmp (l->personality->domain, "LINUX") == 0)
        persona = PER_LINUX;
      else if (strcmp (l->personality->domain, "LINUX32") == 0)
        persona = PER_LINUX32;
      else
        return sp_error_make (err, EINVAL, "config.json: linux.personality.domain: unknown domain `%s`",
                              l->personality->domain);
      if (personality (persona) < 0)
        return sp_error_errno (err, "personality %s", l->personality->domain);
    }
  return 0;
}

static const char *
env_get (char **env, const char *name)
{
  size_t l = strlen (name);
  for (char **e = env; e && *e; e++)
    if (strncmp (*e, name, l) == 0 && (*e)[l] == '=')
      return *e + l + 1;
  return NULL;
}

int
sp_process_find_executable (struct oci_process *p, char **path_out, sp_error_t *err)
{
  const char *cmd = p->args ? p->args[0] : NULL;
  const char *path_env;
  cleanup_free char *paths = NULL;
  char *save = NULL;
  bool denied = false;

  if (cmd == NULL || *cmd == '\0')
    return sp_error_make (err, EINVAL, "config.json: process.args: no command to run");
  if (strchr (cmd, '/'))
    {
      struct stat st;
      if (stat (cmd, &st) < 0)
        return sp_error_errno (err, "exec: `%s`", cmd);
      if (S_ISDIR (st.st_mode) || access (cmd, X_OK) < 0)
        return sp_error_make (err, EACCES, "exec: `%s`", cmd);
      *path_out = sp_xstrdup (cmd);
      return 0;
    }
  path_env = env_get (p->env, "PATH");
  paths = sp_xstrdup (path_env ? path_env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  for (char *dir = strtok_r (paths, ":", &save); dir; dir = strtok_r (NULL, ":", &save))
    {
      cleanup_free char *cand = sp_xasprintf ("%s/%s", *dir ? dir : ".", cmd);
      struct stat st;
      if (stat (cand, &st) < 0 || S_ISDIR (st.st_mode))
        continue;
      if (access (cand, X_OK) < 0)
        {
          denied = true;
          continue;
        }
      *path_out = steal_pointer (&cand);
      return 0;
    }
  if (denied)
    return sp_error_make (err, EACCES, "exec: `%s`", cmd);
  return sp_error_make (err, ENOENT, "exec: `%s`: executable file not found in $PATH", cmd);
}

int
sp_process_ready (struct sp_setup *s, int console_fd, char **exe, sp_error_t *err)
{
  struct oci_process *p = s->process;

  if (console_fd >= 0)
    {
      int r = sp_terminal_setup_fd (p, console_fd, err);
      close (console_fd);
      if (r < 0)
        return -1;
    }
  if (sp_process_prepare (s, err) < 0)
    return -1;
  /* Fail now (create/exec), not at the later execve, for a command that
   * cannot run: engines map the error text to 127/126 as they do with runc. */
  if (p->cwd && chdir (p->cwd) < 0)
    return sp_error_errno (err, "chdir to cwd `%s` (set in config.json)", p->cwd);
  return sp_process_find_executable (p, exe, err);
}

static int
set_identity (struct oci_process *p, sp_error_t *err)
{
  struct oci_user *u = &p->user;

  if (setgroups (u->additional_gids_len, (const gid_t *) u->additional_gids) < 0 && errno != EPERM)
    return sp_error_errno (err, "setgroups");
  if (setresgid (u->gid, u->gid, u->gid) < 0)
    return sp_error_errno (err, "setgid %u", u->gid);
  if (setresuid (u->uid, u->uid, u->uid) < 0)
    return sp_error_errno (err, "setuid %u", u->uid);
  if (u->has_umask)
    umask ((mode_t) u->umask);
  return 0;
}

void
sp_process_exec (struct sp_setup *s, const char *exe, int notify_sock)
{
  struct oci_process *p = s->process;
  struct oci_linux *l = s->config->linux_;
  struct sp_seccomp *filter = NULL;
  sp_error_t err = NULL;
  int notify_fd = -1;
  static struct oci_capabilities no_caps;
  int first_closed = 3 + (s->opts ? s->opts->preserve_fds : 0);

  /* Before seccomp: default profiles refuse personality(ADDR_NO_RANDOMIZE). */
  if (sp_ksm_before_exec (s->config, &err) < 0)
    goto fail;
  if (l && l->seccomp && sp_seccomp_compile (l->seccomp, &filter, &err) < 0)
    goto fail;
  if (p->cwd && chdir (p->cwd) < 0)
    {
      sp_error_errno (&err, "chdir to cwd `%s` (set in config.json)", p->cwd);
      goto fail;
    }
  /* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which is
   * gone once we change uid: load it first then (as runc does); the
   * profile must then allow setuid/capset, which every real one does. */
  if (filter && !p->no_new_privileges && sp_seccomp_load (filter, &notify_fd, &err) < 0)
    goto fail;
  if (p->capabilities == NULL)
    p->capabilities = &no_caps;
  if (sp_caps_prepare (p->capabilities, &err) < 0)
    goto fail;
  if (set_identity (p, &err) < 0)
    goto fail;
  if (sp_caps_apply (p->capabilities, &err) < 0)
    goto fail;
  if (p->no_new_privileges && prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    {
      sp_error_errno (&err, "set no_new_privs");
      goto fail;
    }
  if (filter && p->no_new_privileges && sp_seccomp_load (filter, &notify_fd, &err) < 0)
    goto fail;
  if (notify_fd >= 0 && l->seccomp->listener_path)
    {
      if (sp_seccomp_send_notify_fd (l->seccomp->listener_path, notify_fd, s->state_json, &err) < 0)
        goto fail;
      close (notify_fd);
    }
  (void) notify_sock;
  if (sp_mark_cloexec_from (first_closed, &err) < 0)
    goto fail;
  execve (exe, p->args, p->env ? p->env : (char *[]){ NULL });
  sp_error_errno (&err, "exec `%s`", exe);
fail:
  /* After `start`, nobody listens on the sync socket: say it on stderr too. */
  sp_log_error_release (&err);
  _exit (errno == ENOENT ? 127 : 126);
}
