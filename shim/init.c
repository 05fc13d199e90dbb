/* The container's setup processes.
 *
 * runtime --fork--> stage 1: joins namespaces by path, creates the user
 *                   namespace (the runtime writes its maps), then the others;
 *                   forks init and exits.
 * stage 1 --fork--> init: pid 1 of the new pid namespace; builds the rootfs,
 *                   pivots, reports READY and blocks on exec.fifo until
 *                   `start`, then execs the container process.
 * Namespaces are created after the user namespace so that it owns them
 * (mounting /proc needs that), and init is forked after the pid and time
 * namespaces exist because those only apply to children. */
#include "setup.h"
#include "sync.h"

#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static void __attribute__ ((noreturn)) init_main (struct sp_setup *s);

static int
unshare_new_namespaces (struct sp_setup *s, sp_error_t *err)
{
  struct oci_linux *l = s->config->linux_;
  int flags = 0;
  const char *path;

  for (int t = 0; t < OCI_NS_TYPES; t++)
    {
      if (t == OCI_NS_USER)
        continue;
      if (sp_namespace_wanted (l, (enum oci_namespace_type) t, &path) && path == NULL)
        flags |= oci_namespaces[t].clone_flag;
    }
  if (flags && unshare (flags) < 0)
    return sp_error_errno (err, "create namespaces (unshare 0x%x)", (unsigned) flags);
  if (flags & CLONE_NEWTIME && sp_write_time_offsets (l, err) < 0)
    return -1;
  return 0;
}

static int
join_late_namespaces (struct sp_setup *s, sp_error_t *err)
{
  struct oci_linux *l = s->config->linux_;
  static const enum oci_namespace_type late[] = { OCI_NS_PID, OCI_NS_TIME };
  for (size_t i = 0; i < SP_ARRAY_SIZE (late); i++)
    {
      const char *path = NULL;
      cleanup_close int fd = -1;
      if (!sp_namespace_wanted (l, late[i], &path) || path == NULL)
        continue;
      fd = open (path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        return sp_error_errno (err, "open %s namespace `%s`", oci_namespaces[late[i]].name, path);
      if (setns (fd, oci_namespaces[late[i]].clone_flag) < 0)
        return sp_error_errno (err, "join %s namespace `%s`", oci_namespaces[late[i]].name, path);
    }
  return 0;
}

/* Waits until the runtime has put us in the container's cgroup, then notes
 * that cgroup as the host names it (for the cgroup mount), before a cgroup
 * namespace hides it. */
static void
await_cgroup (struct sp_setup *s)
{
  struct sp_sync_msg m;
  sp_error_t err = NULL;

  if (sp_sync_expect (s->sync_fd, SYNC_GO, &m, &err) < 0)
    _exit (1);
  if (sp_read_file ("/proc/self/cgroup", &s->host_cgroups, NULL, &err) < 0)
    sp_sync_fail (s->sync_fd, &err);
}

void
sp_setup_stage1 (struct sp_setup *s)
{
  struct oci_linux *l = s->config->linux_;
  struct sp_sync_msg m;
  sp_error_t err = NULL;
  const char *userns_path = NULL;
  pid_t init;

  await_cgroup (s);

  if (sp_namespaces_join_paths (l, false, &err) < 0)
    sp_sync_fail (s->sync_fd, &err);
  if (sp_namespace_wanted (l, OCI_NS_USER, &userns_path))
    {
      if (userns_path)
        {
          cleanup_close int fd = open (userns_path, O_RDONLY | O_CLOEXEC);
          if (fd < 0 || setns (fd, CLONE_NEWUSER) < 0)
            {
              sp_error_errno (&err, "join user namespace `%s`", userns_path);
              sp_sync_fail (s->sync_fd, &err);
            }
          /* The runtime gives exec.fifo to this namespace's root. */
          if (sp_sync_send (s->sync_fd, SYNC_USERNS_JOINED, getpid (), NULL) < 0
              || sp_sync_expect (s->sync_fd, SYNC_GO, &m, &err) < 0)
            _exit (1);
        }
      else
        {
          if (unshare (CLONE_NEWUSER) < 0)
            {
              sp_error_errno (&err, "create user namespace");
              sp_sync_fail (s->sync_fd, &err);
            }
          /* Maps are written from outside by the runtime. */
          if (sp_sync_send (s->sync_fd, SYNC_USERMAP, getpid (), NULL) < 0
              || sp_sync_expect (s->sync_fd, SYNC_GO, &m, &err) < 0)
            _exit (1);
        }
      if (setresgid (0, 0, 0) < 0 || setresuid (0, 0, 0) < 0)
        {
          sp_error_errno (&err, "become root in the user namespace (is uid/gid 0 mapped?)");
          sp_sync_fail (s->sync_fd, &err);
        }
      /* Changing uid cleared "dumpable", which makes our /proc files
       * (timens_offsets, uid_map of children) inaccessible to us. */
      if (prctl (PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
        {
          sp_error_errno (&err, "set dumpable");
          sp_sync_fail (s->sync_fd, &err);
        }
    }
  if (join_late_namespaces (s, &err) < 0 || unshare_new_namespaces (s, &err) < 0)
    sp_sync_fail (s->sync_fd, &err);

  init = fork ();
  if (init < 0)
    {
      sp_error_errno (&err, "fork container init");
      sp_sync_fail (s->sync_fd, &err);
    }
  if (init == 0)
    init_main (s);
  sp_sync_send (s->sync_fd, SYNC_INIT_PID, init, NULL);
  _exit (0);
}

/* The fast path: the runtime cloned init straight into its new pid, mount,
 * network, ipc and uts namespaces (no user or time namespace, nothing to
 * join by path), so there is no stage 1.  The cgroup namespace still comes
 * after the runtime placed us in the cgroup. */
void
sp_setup_init_direct (struct sp_setup *s)
{
  struct oci_linux *l = s->config->linux_;
  sp_error_t err = NULL;
  const char *path = NULL;

  await_cgroup (s);
  if (sp_namespace_wanted (l, OCI_NS_CGROUP, &path) && path == NULL && unshare (CLONE_NEWCGROUP) < 0)
    {
      sp_error_errno (&err, "create cgroup namespace");
      sp_sync_fail (s->sync_fd, &err);
    }
  init_main (s);
}

/* Clone flags for the fast path, or -1 when the two-stage setup is needed. */
int
sp_setup_direct_clone_flags (struct oci_config *c)
{
  struct oci_linux *l = c->linux_;
  int flags = 0;
  for (size_t i = 0; l && i < l->namespaces_len; i++)
    {
      struct oci_namespace *ns = &l->namespaces[i];
      if (ns->path || ns->type == OCI_NS_USER || ns->type == OCI_NS_TIME)
        return -1;
      if (ns->type != OCI_NS_CGROUP)
        flags |= oci_namespaces[ns->type].clone_flag;
    }
  return flags;
}

/* Blocks until `start` opens exec.fifo for reading, then tells it we go. */
static int
wait_for_start (struct sp_setup *s, sp_error_t *err)
{
  char path[64];
  cleanup_close int fd = -1;

  snprintf (path, sizeof path, "/proc/self/fd/%d", s->fifo_fd);
  fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return sp_error_errno (err, "open exec fifo");
  if (write (fd, "0", 1) != 1)
    return sp_error_errno (err, "write exec fifo");
  sp_closep (&s->fifo_fd);
  return 0;
}

static int
set_hostnames (struct sp_setup *s, sp_error_t *err)
{
  if (s->config->hostname && *s->config->hostname
      && sethostname (s->config->hostname, strlen (s->config->hostname)) < 0)
    return sp_error_errno (err, "sethostname `%s`", s->config->hostname);
  if (s->config->domainname && *s->config->domainname
      && setdomainname (s->config->domainname, strlen (s->config->domainname)) < 0)
    return sp_error_errno (err, "setdomainname `%s`", s->config->domainname);
  return 0;
}

static int
apply_sysctls (struct sp_setup *s, sp_error_t *err)
{
  struct oci_linux *l = s->config->linux_;
  for (size_t i = 0; l && i < l->sysctl_len; i++)
    {
      cleanup_free char *path = NULL;
      char *p;
      if (strstr (l->sysctl[i].key, ".."))
        return sp_error_make (err, EINVAL, "config.json: linux.sysctl: invalid key `%s`", l->sysctl[i].key);
      path = sp_xasprintf ("/proc/sys/%s", l->sysctl[i].key);
      for (p = path + 10; *p; p++)
        if (*p == '.')
          *p = '/';
      if (sp_write_file (path, l->sysctl[i].value, strlen (l->sysctl[i].value), 0, err) < 0)
        return sp_error_wrap (err, "sysctl %s", l->sysctl[i].key);
    }
  return 0;
}

static int
close_inherited_fds (struct sp_setup *s, sp_error_t *err)
{
  int first = 3 + (s->opts ? s->opts->preserve_fds : 0);
  int keep[2] = { s->sync_fd < s->fifo_fd ? s->sync_fd : s->fifo_fd, s->sync_fd < s->fifo_fd ? s->fifo_fd : s->sync_fd };
  int from = first;

  /* close_range around the two fds we keep (both are >= 3). */
  for (int i = 0; i < 2; i++)
    {
      if (keep[i] < from)
        continue;
      if (keep[i] > from && sp_close_range (from, keep[i] - 1) < 0)
        return sp_error_errno (err, "close inherited fds");
      from = keep[i] + 1;
    }
  if (sp_close_range (from, ~0U >> 1) < 0)
    return sp_error_errno (err, "close inherited fds");
  return 0;
}

static void
init_main (struct sp_setup *s)
{
  struct oci_process *p = s->process;
  sp_error_t err = NULL;
  struct sp_sync_msg m;
  cleanup_free char *exe = NULL;
  int console_fd = -1;

  if (setsid () < 0)
    {
      sp_error_errno (&err, "setsid");
      sp_sync_fail (s->sync_fd, &err);
    }
  if (p->terminal)
    {
      if (s->opts->console_socket == NULL)
        {
          sp_error_make (&err, EINVAL, "process.terminal is true but no --console-socket was given");
          sp_sync_fail (s->sync_fd, &err);
        }
      console_fd = sp_console_connect (s->opts->console_socket, &err);
      if (console_fd < 0)
        sp_sync_fail (s->sync_fd, &err);
    }
  if (sp_rootfs_prepare (s, &err) < 0 || sp_mounts_apply (s, &err) < 0 || sp_devices_create (s, true, &err) < 0)
    sp_sync_fail (s->sync_fd, &err);

  /* prestart and createRuntime run in the runtime's namespaces. */
  if (sp_sync_send (s->sync_fd, SYNC_HOOKS, 0, NULL) < 0 || sp_sync_expect (s->sync_fd, SYNC_GO, &m, &err) < 0)
    _exit (1);
  /* The GO carries the state JSON (with init's host pid) for in-container hooks. */
  free (s->state_json);
  s->state_json = sp_xstrdup (m.msg);
  if (sp_hooks_run (s->config->hooks, OCI_HOOK_CREATE_CONTAINER, s->state_json, &err) < 0)
    sp_sync_fail (s->sync_fd, &err);

  /* sysctls before the read-only paths: the defaults include /proc/sys. */
  if (sp_rootfs_pivot (s, &err) < 0 || set_hostnames (s, &err) < 0 || apply_sysctls (s, &err) < 0
      || sp_rootfs_finalize (s, &err) < 0)
    sp_sync_fail (s->sync_fd, &err);
  if (sp_process_ready (s, console_fd, &exe, &err) < 0)
    sp_sync_fail (s->sync_fd, &err);

  /* While it waits for `start`, init is already inside the container:
   * it keeps only stdio, --preserve-fds, the sync socket and the fifo. */
  sp_log_close ();
  if (close_inherited_fds (s, &err) < 0)
    sp_sync_fail (s->sync_fd, &err);
  if (sp_sync_send (s->sync_fd, SYNC_READY, 0, NULL) < 0)
    _exit (1);
  sp_closep (&s->sync_fd);

  /* No runtime is waiting any more: errors from here go to stderr. */
  if (wait_for_start (s, &err) < 0)
    {
      sp_log_error_release (&err);
      _exit (1);
    }
  if (sp_hooks_run (s->config->hooks, OCI_HOOK_START_CONTAINER, s->state_json, &err) < 0)
    {
      sp_log_error_release (&err);
      _exit (1);
    }
  sp_process_exec (s, exe, -1);
}
