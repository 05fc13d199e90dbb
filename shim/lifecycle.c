/* start, state, kill, delete, pause/resume, ps, list, update. */
#include "setup.h"
#include "state.h"

#include <samepage/cgroups.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum sp_cgroup_manager sp_runtime_cgroup_manager (struct sp_runtime *rt);

static int
load_cgroup (struct sp_state *st, struct sp_cgroup **cg, sp_error_t *err)
{
  *cg = NULL;
  if (st->cgroup == NULL)
    return sp_error_make (err, ENOTSUP, "container `%s` has no cgroup (cgroup manager disabled)", st->id);
  return sp_cgroup_load (st->cgroup, cg, err);
}

int
sp_container_start (struct sp_runtime *rt, const char *id, sp_error_t *err)
{
  cleanup_close int lock = -1;
  cleanup_state struct sp_state *st = NULL;
  cleanup_free char *fifo = NULL;
  cleanup_close int fd = -1;
  cleanup_config struct oci_config *config = NULL;
  cleanup_free char *config_path = NULL;
  cleanup_free char *json = NULL;
  enum sp_status status;
  char c;

  if ((lock = sp_state_lock (rt, id, err)) < 0 || sp_state_load (rt, id, &st, err) < 0)
    return -1;
  status = sp_state_status (rt, st);
  if (status != SP_STATUS_CREATED)
    return sp_error_make (err, EINVAL, "cannot start container `%s` in status %s", id, sp_status_names[status]);
  fifo = sp_xasprintf ("%s/%s/exec.fifo", rt->root, id);
  fd = open (fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return sp_error_errno (err, "open `%s`", fifo);
  /* init writes one byte once it sees a reader; if it died, don't hang. */
  for (;;)
    {
      struct pollfd p = { .fd = fd, .events = POLLIN };
      ssize_t n;
      int r = poll (&p, 1, 100);
      if (r < 0 && errno != EINTR)
        return sp_error_errno (err, "wait for container init");
      n = read (fd, &c, 1);
      if (n == 1)
        break;
      if (!sp_state_pid_alive (st))
        return sp_error_make (err, ESRCH, "container `%s` init exited before start", id);
    }
  unlink (fifo);
  st->started = true;
  if (sp_state_save (rt, st, err) < 0)
    return -1;
  config_path = sp_xasprintf ("%s/config.json", st->bundle);
  if (oci_config_load (config_path, &config, err) == 0 && config->hooks)
    {
      json = sp_state_oci_json (st, SP_STATUS_RUNNING);
      if (sp_hooks_run (config->hooks, OCI_HOOK_POSTSTART, json, err) < 0)
        sp_log_error_release (err); /* poststart failures are warnings (spec) */
    }
  sp_error_release (err);
  return 0;
}

int
sp_container_state (struct sp_runtime *rt, const char *id, char **json_out, sp_error_t *err)
{
  cleanup_state struct sp_state *st = NULL;
  if (sp_state_load (rt, id, &st, err) < 0)
    return -1;
  *json_out = sp_state_oci_json (st, sp_state_status (rt, st));
  return 0;
}

int
sp_container_kill (struct sp_runtime *rt, const char *id, int signo, bool all, sp_error_t *err)
{
  cleanup_state struct sp_state *st = NULL;
  enum sp_status status;

  if (sp_state_load (rt, id, &st, err) < 0)
    return -1;
  status = sp_state_status (rt, st);
  if (all && st->cgroup)
    {
      struct sp_cgroup *cg = NULL;
      int ret;
      if (load_cgroup (st, &cg, err) < 0)
        return -1;
      ret = sp_cgroup_kill_all (cg, signo, err);
      sp_cgroup_free (cg);
      return ret;
    }
  if (status == SP_STATUS_STOPPED)
    {
      if (all)
        return 0;
      return sp_error_make (err, ESRCH, "container `%s` is not running", id);
    }
  if (kill (st->pid, signo) < 0)
    return sp_error_errno (err, "kill container `%s`", id);
  return 0;
}

/* Waits (up to ~5 s) for init to be gone; it is reaped by the engine. */
static void
wait_stopped (struct sp_state *st)
{
  for (int i = 0; i < 500 && sp_state_pid_alive (st); i++)
    usleep (10000);
}

int
sp_container_delete (struct sp_runtime *rt, const char *id, bool force, sp_error_t *err)
{
  cleanup_close int lock = -1;
  cleanup_state struct sp_state *st = NULL;
  cleanup_config struct oci_config *config = NULL;
  cleanup_free char *config_path = NULL;
  enum sp_status status;
  struct sp_cgroup *cg = NULL;

  lock = sp_state_lock (rt, id, err);
  if (lock < 0 || sp_state_load (rt, id, &st, err) < 0)
    {
      /* containerd deletes twice; a missing container is gone already. */
      if (force && *err && (*err)->status == ENOENT)
        {
          sp_error_release (err);
          return 0;
        }
      return -1;
    }
  status = sp_state_status (rt, st);
  if (status == SP_STATUS_RUNNING || status == SP_STATUS_PAUSED)
    {
      if (!force)
        return sp_error_make (err, EBUSY, "cannot delete container `%s` in status %s (use --force)", id,
                              sp_status_names[status]);
    }
  if (st->cgroup && load_cgroup (st, &cg, err) < 0)
    {
      sp_log_error_release (err);
      cg = NULL;
    }
  if (status != SP_STATUS_STOPPED)
    {
      if (cg)
        {
          if (sp_cgroup_kill_all (cg, SIGKILL, err) < 0)
            sp_log_error_release (err);
        }
      if (st->pid > 0 && sp_state_pid_alive (st))
        kill (st->pid, SIGKILL);
      wait_stopped (st);
    }
  config_path = sp_xasprintf ("%s/config.json", st->bundle);
  if (oci_config_load (config_path, &config, err) == 0 && config->hooks)
    {
      cleanup_free char *json = sp_state_oci_json (st, SP_STATUS_STOPPED);
      if (sp_hooks_run (config->hooks, OCI_HOOK_POSTSTOP, json, err) < 0)
        sp_log_error_release (err); /* poststop failures are warnings (spec) */
    }
  sp_error_release (err);
  if (cg)
    {
      if (sp_cgroup_destroy (cg, err) < 0)
        sp_log_error_release (err);
      sp_cgroup_free (cg);
    }
  if (st->casfs)
    {
      struct sp_casfs_plan plan;
      if (sp_casfs_plan_parse (st->casfs, &plan, err) < 0 || sp_casfs_release (id, &plan, err) < 0)
        sp_log_error_release (err);
      sp_casfs_plan_clear (&plan);
    }
  return sp_state_remove (rt, id, err);
}

int
sp_container_pause (struct sp_runtime *rt, const char *id, bool pause, sp_error_t *err)
{
  cleanup_close int lock = -1;
  cleanup_state struct sp_state *st = NULL;
  struct sp_cgroup *cg = NULL;
  enum sp_status status;
  int ret;

  if ((lock = sp_state_lock (rt, id, err)) < 0 || sp_state_load (rt, id, &st, err) < 0)
    return -1;
  status = sp_state_status (rt, st);
  if (pause && status != SP_STATUS_RUNNING && status != SP_STATUS_CREATED)
    return sp_error_make (err, EINVAL, "cannot pause container `%s` in status %s", id, sp_status_names[status]);
  if (!pause && status != SP_STATUS_PAUSED)
    return sp_error_make (err, EINVAL, "cannot resume container `%s` in status %s: not paused", id,
                          sp_status_names[status]);
  if (load_cgroup (st, &cg, err) < 0)
    return -1;
  ret = sp_cgroup_freeze (cg, pause, err);
  sp_cgroup_free (cg);
  return ret;
}

int
sp_container_ps (struct sp_runtime *rt, const char *id, pid_t **pids, size_t *n, sp_error_t *err)
{
  cleanup_state struct sp_state *st = NULL;
  struct sp_cgroup *cg = NULL;
  int ret;

  if (sp_state_load (rt, id, &st, err) < 0 || load_cgroup (st, &cg, err) < 0)
    return -1;
  ret = sp_cgroup_pids (cg, pids, n, err);
  sp_cgroup_free (cg);
  return ret;
}

int
sp_container_update (struct sp_runtime *rt, const char *id, const char *resources_json, sp_error_t *err)
{
  cleanup_close int lock = -1;
  cleanup_state struct sp_state *st = NULL;
  cleanup_config struct oci_config *c = NULL;
  cleanup_free char *wrapped = NULL;
  struct sp_cgroup *cg = NULL;
  int ret;

  if ((lock = sp_state_lock (rt, id, err)) < 0 || sp_state_load (rt, id, &st, err) < 0)
    return -1;
  /* One parser for resources: the config parser, on a minimal config around them. */
  wrapped = sp_xasprintf ("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"/\"},\"linux\":{\"resources\":%s}}",
                          resources_json);
  if (oci_config_parse (wrapped, strlen (wrapped), "resources", &c, err) < 0)
    return -1;
  if (load_cgroup (st, &cg, err) < 0)
    return -1;
  ret = sp_cgroup_update (cg, c->linux_ ? c->linux_->resources : NULL, err);
  sp_cgroup_free (cg);
  return ret;
}

int
sp_container_list (struct sp_runtime *rt, struct sp_container_summary **out, size_t *n, sp_error_t *err)
{
  cleanup_dir DIR *d = opendir (rt->root);
  struct sp_container_summary *v = NULL;
  struct dirent *de;
  size_t count = 0;

  *out = NULL;
  *n = 0;
  if (d == NULL)
    {
      if (errno == ENOENT)
        return 0;
      return sp_error_errno (err, "open `%s`", rt->root);
    }
  while ((de = readdir (d)))
    {
      struct sp_state *st = NULL;
      if (de->d_name[0] == '.')
        continue;
      if (sp_state_load (rt, de->d_name, &st, err) < 0)
        {
          sp_error_release (err);
          continue; /* being created or deleted right now */
        }
      v = sp_xrealloc (v, (count + 1) * sizeof (*v));
      v[count].id = sp_xstrdup (st->id);
      v[count].pid = st->pid;
      v[count].status = sp_state_status (rt, st);
      v[count].bundle = sp_xstrdup (st->bundle);
      v[count].created = sp_xstrdup (st->created);
      v[count].owner = sp_xasprintf ("%u", st->owner);
      count++;
      sp_state_free (st);
    }
  *out = v;
  *n = count;
  return 0;
}

void
sp_container_summaries_free (struct sp_container_summary *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (s[i].id);
      free (s[i].bundle);
      free (s[i].created);
      free (s[i].owner);
    }
  free (s);
}

static const struct
{
  const char *name;
  int signo;
} signals[] = {
  { "HUP", SIGHUP },     { "INT", SIGINT },       { "QUIT", SIGQUIT },   { "ILL", SIGILL },     { "TRAP", SIGTRAP },
  { "ABRT", SIGABRT },   { "IOT", SIGIOT },       { "BUS", SIGBUS },     { "FPE", SIGFPE },     { "KILL", SIGKILL },
  { "USR1", SIGUSR1 },   { "SEGV", SIGSEGV },     { "USR2", SIGUSR2 },   { "PIPE", SIGPIPE },   { "ALRM", SIGALRM },
  { "TERM", SIGTERM },   { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD },   { "CONT", SIGCONT },   { "STOP", SIGSTOP },
  { "TSTP", SIGTSTP },   { "TTIN", SIGTTIN },     { "TTOU", SIGTTOU },   { "URG", SIGURG },     { "XCPU", SIGXCPU },
  { "XFSZ", SIGXFSZ },   { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },   { "WINCH", SIGWINCH }, { "IO", SIGIO },
  { "POLL", SIGPOLL },   { "PWR", SIGPWR },       { "SYS", SIGSYS },
};

int
sp_signal_parse (const char *s)
{
  long v;
  const char *name = s;
  if (sp_parse_long (s, &v))
    return v > 0 && v <= SIGRTMAX ? (int) v : -1;
  if (strncasecmp (name, "SIG", 3) == 0)
    name += 3;
  for (size_t i = 0; i < SP_ARRAY_SIZE (signals); i++)
    if (strcasecmp (signals[i].name, name) == 0)
      return signals[i].signo;
  if (strncasecmp (name, "RTMIN", 5) == 0 || strncasecmp (name, "RTMAX", 5) == 0)
    {
      long off = 0;
      bool min = strncasecmp (name, "RTMIN", 5) == 0;
      if (name[5] && !sp_parse_long (name + 5, &off))
        return -1;
      v = min ? SIGRTMIN + off : SIGRTMAX + off;
      return v >= SIGRTMIN && v <= SIGRTMAX ? (int) v : -1;
    }
  return -1;
}
