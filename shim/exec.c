/* `exec`: a new process in a running container's namespaces and cgroup. */
#include "setup.h"
#include "state.h"
#include "sync.h"

#include <samepage/cgroups.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int sp_wait_for_process (pid_t pid, sp_error_t *err);

/* Joins every namespace of target that differs from ours: all but user
 * first (we are privileged over them now), then user, then pid and time,
 * which take effect for our child. */
static int
join_target_namespaces (pid_t target, sp_error_t *err)
{
  static const enum oci_namespace_type order[] = { OCI_NS_CGROUP, OCI_NS_IPC,  OCI_NS_UTS,  OCI_NS_NETWORK,
                                                   OCI_NS_MOUNT,  OCI_NS_USER, OCI_NS_PID,  OCI_NS_TIME };
  int fds[SP_ARRAY_SIZE (order)];
  int ret = 0;

  for (size_t i = 0; i < SP_ARRAY_SIZE (order); i++)
    {
      char theirs[64], ours[64];
      struct stat a, b;
      const char *name = oci_namespaces[order[i]].proc_name;
      fds[i] = -1;
      snprintf (theirs, sizeof theirs, "/proc/%d/ns/%s", target, name);
      snprintf (ours, sizeof ours, "/proc/self/ns/%s", order[i] == OCI_NS_PID ? "pid_for_children"
                                                        : order[i] == OCI_NS_TIME ? "time_for_children"
                                                                                  : name);
      if (stat (theirs, &a) < 0)
        {
          if (errno == ENOENT)
            continue; /* kernel without this namespace type */
          ret = sp_error_errno (err, "stat `%s`", theirs);
          goto out;
        }
      if (stat (ours, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
        continue;
      fds[i] = open (theirs, O_RDONLY | O_CLOEXEC);
      if (fds[i] < 0)
        {
          ret = sp_error_errno (err, "open `%s`", theirs);
          goto out;
        }
    }
  for (size_t i = 0; i < SP_ARRAY_SIZE (order); i++)
    if (fds[i] >= 0 && setns (fds[i], oci_namespaces[order[i]].clone_flag) < 0)
      {
        ret = sp_error_errno (err, "join %s namespace of pid %d", oci_namespaces[order[i]].name, target);
        goto out;
      }
out:
  for (size_t i = 0; i < SP_ARRAY_SIZE (order); i++)
    sp_closep (&fds[i]);
  return ret;
}

static void __attribute__ ((noreturn))
exec_child (struct sp_setup *s, int console_fd, bool tty)
{
  sp_error_t err = NULL;
  cleanup_free char *exe = NULL;
  if (tty && setsid () < 0)
    {
      sp_error_errno (&err, "setsid");
      sp_sync_fail (s->sync_fd, &err);
    }
  if (sp_process_ready (s, console_fd, &exe, &err) < 0)
    sp_sync_fail (s->sync_fd, &err);
  sp_sync_send (s->sync_fd, SYNC_READY, 0, NULL);
  sp_closep (&s->sync_fd);
  sp_process_exec (s, exe, -1);
}

static void __attribute__ ((noreturn))
exec_stage1 (struct sp_setup *s, int console_fd, bool tty)
{
  sp_error_t err = NULL;
  struct sp_sync_msg m;
  pid_t child;

  if (sp_sync_expect (s->sync_fd, SYNC_GO, &m, &err) < 0)
    _exit (1);
  if (join_target_namespaces (s->target_pid, &err) < 0)
    sp_sync_fail (s->sync_fd, &err);
  child = fork ();
  if (child < 0)
    {
      sp_error_errno (&err, "fork");
      sp_sync_fail (s->sync_fd, &err);
    }
  if (child == 0)
    exec_child (s, console_fd, tty);
  sp_sync_send (s->sync_fd, SYNC_INIT_PID, child, NULL);
  _exit (0);
}

static char **
strv_concat (char **a, char **b)
{
  size_t na = sp_strv_len (a), nb = sp_strv_len (b);
  char **v = sp_xmalloc0 ((na + nb + 1) * sizeof (char *));
  for (size_t i = 0; i < na; i++)
    v[i] = sp_xstrdup (a[i]);
  for (size_t i = 0; i < nb; i++)
    v[na + i] = sp_xstrdup (b[i]);
  return v;
}

static void
replace_strv (char ***dst, char **v)
{
  sp_strvfreep (dst);
  *dst = v;
}

/* Applies command-line fields over the process (from --process or the config). */
static int
apply_exec_options (struct oci_process *p, struct sp_exec_options *o, sp_error_t *err)
{
  if (o->args && o->args[0])
    replace_strv (&p->args, strv_concat (o->args, NULL));
  if (o->cwd)
    {
      free (p->cwd);
      p->cwd = sp_xstrdup (o->cwd);
    }
  if (o->env)
    replace_strv (&p->env, strv_concat (p->env, o->env));
  if (o->tty)
    p->terminal = true;
  if (o->no_new_privs)
    p->no_new_privileges = true;
  if (o->user)
    {
      unsigned long long uid, gid;
      cleanup_free char *u = sp_xstrdup (o->user);
      char *colon = strchr (u, ':');
      if (colon)
        *colon = '\0';
      if (!sp_parse_u64 (u, &uid) || uid > UINT32_MAX || (colon && (!sp_parse_u64 (colon + 1, &gid) || gid > UINT32_MAX)))
        return sp_error_make (err, EINVAL, "--user `%s`: want UID[:GID]", o->user);
      p->user.uid = (uint32_t) uid;
      if (colon)
        p->user.gid = (uint32_t) gid;
    }
  if (o->caps && o->caps[0])
    {
      if (p->capabilities == NULL)
        p->capabilities = sp_xmalloc0 (sizeof (*p->capabilities));
      replace_strv (&p->capabilities->bounding, strv_concat (p->capabilities->bounding, o->caps));
      replace_strv (&p->capabilities->effective, strv_concat (p->capabilities->effective, o->caps));
      replace_strv (&p->capabilities->permitted, strv_concat (p->capabilities->permitted, o->caps));
    }
  if (p->args == NULL || p->args[0] == NULL)
    return sp_error_make (err, EINVAL, "exec: no command given");
  return 0;
}

int
sp_container_exec (struct sp_runtime *rt, const char *id, struct sp_exec_options *o, sp_error_t *err)
{
  cleanup_state struct sp_state *st = NULL;
  cleanup_config struct oci_config *config = NULL;
  cleanup_free char *config_path = NULL;
  struct oci_process *proc = NULL;
  struct sp_create_options copts = { .preserve_fds = o->preserve_fds, .no_new_keyring = true };
  struct sp_setup s = { 0 };
  struct sp_cgroup *cg = NULL;
  struct sp_sync_msg *m = NULL;
  enum sp_status status;
  int sv[2] = { -1, -1 };
  int console_fd = -1;
  pid_t stage1 = -1, child = -1;
  int ret = -1;

  if (sp_state_load (rt, id, &st, err) < 0)
    return -1;
  status = sp_state_status (rt, st);
  if (status != SP_STATUS_RUNNING && status != SP_STATUS_CREATED)
    return sp_error_make (err, EINVAL, "cannot exec in container `%s` in status %s", id, sp_status_names[status]);
  config_path = sp_xasprintf ("%s/config.json", st->bundle);
  if (oci_config_load (config_path, &config, err) < 0)
    return -1;
  if (o->process_file)
    {
      cleanup_free char *json = NULL;
      size_t len;
      if (sp_read_file (o->process_file, &json, &len, err) < 0
          || oci_process_parse (json, len, o->process_file, &proc, err) < 0)
        return -1;
      oci_process_free (config->process);
      config->process = proc;
    }
  else if (config->process == NULL)
    return sp_error_make (err, EINVAL, "%s: process: missing", config_path);
  if (apply_exec_options (config->process, o, err) < 0)
    return -1;
  if (config->process->terminal)
    {
      if (o->console_socket == NULL)
        return sp_error_make (err, EINVAL, "exec --tty needs --console-socket");
      if ((console_fd = sp_console_connect (o->console_socket, err)) < 0)
        return -1;
    }

  s.rt = rt;
  s.id = id;
  s.config = config;
  s.process = config->process;
  s.opts = &copts;
  s.bundle = st->bundle;
  s.rootfs = st->rootfs;
  s.target_pid = st->pid;
  s.state_json = sp_state_oci_json (st, status);
  s.fifo_fd = -1;

  if (sp_mark_cloexec_from (3 + o->preserve_fds, err) < 0)
    goto out;
  if (!o->detach && prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    {
      sp_error_errno (err, "become subreaper");
      goto out;
    }
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    {
      sp_error_errno (err, "socketpair");
      goto out;
    }
  stage1 = fork ();
  if (stage1 < 0)
    {
      sp_error_errno (err, "fork");
      goto out;
    }
  if (stage1 == 0)
    {
      close (sv[0]);
      s.sync_fd = sv[1];
      exec_stage1 (&s, console_fd, config->process->terminal);
    }
  sp_closep (&sv[1]);
  sp_closep (&console_fd);
  if (st->cgroup)
    {
      if (sp_cgroup_load (st->cgroup, &cg, err) < 0 || sp_cgroup_enter (cg, stage1, err) < 0)
        goto out;
    }
  m = sp_xmalloc0 (sizeof (*m));
  if (sp_sync_send (sv[0], SYNC_GO, 0, NULL) < 0)
    {
      sp_error_errno (err, "signal exec process");
      goto out;
    }
  /* Stage 1 reports the pid and the process reports READY, on one socket
   * from two processes: either may come first. */
  for (bool ready = false; !ready || child < 0;)
    {
      if (sp_sync_recv (sv[0], m, err) < 0)
        goto out;
      if (m->type == SYNC_INIT_PID)
        {
          child = m->value;
          waitpid (stage1, NULL, 0);
          stage1 = -1;
        }
      else if (m->type == SYNC_READY)
        ready = true;
      else if (m->type == SYNC_ERROR)
        {
          sp_error_make (err, 0, "%s", m->msg);
          (*err)->status = m->value;
          goto out;
        }
    }
  if (o->pid_file)
    {
      char buf[32];
      int n = snprintf (buf, sizeof buf, "%d", child);
      if (sp_write_file_replace (o->pid_file, buf, (size_t) n, 0644, err) < 0)
        goto out;
    }
  sp_closep (&sv[0]);
  if (o->detach)
    ret = 0;
  else
    ret = sp_wait_for_process (child, err);
  child = -1;
out:
  if (ret < 0 && child > 0)
    kill (child, SIGKILL);
  if (stage1 > 0)
    {
      kill (stage1, SIGKILL);
      waitpid (stage1, NULL, 0);
    }
  sp_closep (&sv[0]);
  sp_closep (&sv[1]);
  sp_closep (&console_fd);
  sp_cgroup_free (cg);
  free (m);
  free (s.state_json);
  return ret;
}
