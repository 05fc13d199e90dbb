/* `create` (and the first half of `run`): sets up the container and leaves
 * its init blocked on exec.fifo until `start`. */
#include "setup.h"
#include "state.h"
#include "sync.h"

#include <samepage/cgroups.h>
#include <samepage/cleanup.h>
#include <samepage/ksm.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum sp_cgroup_manager
sp_runtime_cgroup_manager (struct sp_runtime *rt)
{
  if (rt->cgroup_manager && strcmp (rt->cgroup_manager, "disabled") == 0)
    return SP_CGROUP_DISABLED;
  if (rt->systemd_cgroup || (rt->cgroup_manager && strcmp (rt->cgroup_manager, "systemd") == 0))
    return SP_CGROUP_SYSTEMD;
  return SP_CGROUP_CGROUPFS;
}

static char *
now_rfc3339 (void)
{
  struct timespec ts;
  struct tm tm;
  char buf[64];
  clock_gettime (CLOCK_REALTIME, &ts);
  gmtime_r (&ts.tv_sec, &tm);
  strftime (buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return sp_xasprintf ("%s.%09ldZ", buf, ts.tv_nsec);
}

/* Host uid/gid of the container's root, to own exec.fifo. */
static void
container_root_ids (struct oci_linux *l, uid_t *uid, gid_t *gid)
{
  *uid = 0;
  *gid = 0;
  if (l == NULL || !sp_namespace_wanted (l, OCI_NS_USER, NULL))
    return;
  for (size_t i = 0; i < l->uid_mappings_len; i++)
    if (l->uid_mappings[i].container_id == 0)
      *uid = l->uid_mappings[i].host_id;
  for (size_t i = 0; i < l->gid_mappings_len; i++)
    if (l->gid_mappings[i].container_id == 0)
      *gid = l->gid_mappings[i].host_id;
}

static int
write_pid_file (const char *path, pid_t pid, sp_error_t *err)
{
  char buf[32];
  int n = snprintf (buf, sizeof buf, "%d", pid);
  if (path == NULL)
    return 0;
  return sp_write_file_replace (path, buf, (size_t) n, 0644, err);
}

static void
kill_and_reap (pid_t pid)
{
  if (pid > 0)
    {
      kill (pid, SIGKILL);
      waitpid (pid, NULL, __WALL); /* ECHILD at once unless init is our own child */
    }
}

/* The devices every container gets, allowed after the config's own rules
 * (as runc and crun do): the default nodes, ptys, tun, and mknod. */
static const struct oci_device_cgroup default_allowed[] = {
  { .allow = true, .type = 'c', .access = (char *) "m" },
  { .allow = true, .type = 'b', .access = (char *) "m" },
  { .allow = true, .type = 'c', .has_major = true, .major = 1, .has_minor = true, .minor = 3, .access = (char *) "rwm" },
  { .allow = true, .type = 'c', .has_major = true, .major = 1, .has_minor = true, .minor = 5, .access = (char *) "rwm" },
  { .allow = true, .type = 'c', .has_major = true, .major = 1, .has_minor = true, .minor = 7, .access = (char *) "rwm" },
  { .allow = true, .type = 'c', .has_major = true, .major = 1, .has_minor = true, .minor = 8, .access = (char *) "rwm" },
  { .allow = true, .type = 'c', .has_major = true, .major = 1, .has_minor = true, .minor = 9, .access = (char *) "rwm" },
  { .allow = true, .type = 'c', .has_major = true, .major = 5, .has_minor = true, .minor = 0, .access = (char *) "rwm" },
  { .allow = true, .type = 'c', .has_major = true, .major = 5, .has_minor = true, .minor = 2, .access = (char *) "rwm" },
  { .allow = true, .type = 'c', .has_major = true, .major = 136, .access = (char *) "rwm" },
  { .allow = true, .type = 'c', .has_major = true, .major = 10, .has_minor = true, .minor = 200, .access = (char *) "rwm" },
};

/* The config's resources with the default device rules appended, plus an
 * allow rule for each linux.devices node.  Returns a shallow copy that
 * borrows from `res`; free only ->devices and the copy itself. */
static struct oci_resources *
resources_with_default_devices (struct oci_linux *l)
{
  struct oci_resources *r = sp_xmalloc0 (sizeof (*r));
  size_t n_cfg = l && l->resources ? l->resources->devices_len : 0;
  size_t n_nodes = l ? l->devices_len : 0;
  size_t k = 0;

  if (l && l->resources)
    *r = *l->resources;
  if (n_cfg == 0)
    {
      /* No device rules at all: leave the cgroup's devices as inherited. */
      r->devices = NULL;
      r->devices_len = 0;
      return r;
    }
  r->devices = sp_xmalloc0 ((n_cfg + SP_ARRAY_SIZE (default_allowed) + n_nodes) * sizeof (*r->devices));
  for (size_t i = 0; i < n_cfg; i++)
    r->devices[k++] = l->resources->devices[i];
  for (size_t i = 0; i < SP_ARRAY_SIZE (default_allowed); i++)
    r->devices[k++] = default_allowed[i];
  for (size_t i = 0; i < n_nodes; i++)
    {
      struct oci_device *d = &l->devices[i];
      if (d->type == 'p')
        continue;
      r->devices[k++] = (struct oci_device_cgroup){ .allow = true, .type = d->type == 'b' ? 'b' : 'c',
                                                    .has_major = true, .major = d->major, .has_minor = true,
                                                    .minor = d->minor, .access = (char *) "rwm" };
    }
  r->devices_len = k;
  return r;
}

/* Host id that a namespace's 0 maps to, from /proc/PID/{uid,gid}_map. */
static long
ns_root_host_id (pid_t pid, const char *file)
{
  char path[64], *line = NULL;
  size_t cap = 0;
  long ret = -1;
  FILE *f;

  snprintf (path, sizeof path, "/proc/%d/%s", pid, file);
  f = fopen (path, "re");
  if (f == NULL)
    return -1;
  while (getline (&line, &cap, f) > 0)
    {
      unsigned long inside, outside, count;
      if (sscanf (line, "%lu %lu %lu", &inside, &outside, &count) == 3 && inside == 0 && count > 0)
        ret = (long) outside;
    }
  free (line);
  fclose (f);
  return ret;
}

static int
chown_fifo_to_ns_root (struct sp_setup *s, pid_t pid, sp_error_t *err)
{
  cleanup_free char *fifo = sp_xasprintf ("%s/exec.fifo", s->state_dir);
  long uid = ns_root_host_id (pid, "uid_map"), gid = ns_root_host_id (pid, "gid_map");
  if (uid < 0 || gid < 0)
    return sp_error_make (err, EINVAL, "the joined user namespace maps no uid/gid 0");
  if (chown (fifo, (uid_t) uid, (gid_t) gid) < 0)
    return sp_error_errno (err, "chown `%s`", fifo);
  return 0;
}

/* Talks to stage 1 and init until init reports READY. */
static int
drive_setup (struct sp_setup *s, struct sp_state *st, pid_t stage1, struct sp_cgroup **cg, sp_error_t *err)
{
  struct oci_linux *l = s->config->linux_;
  struct sp_sync_msg *m = sp_xmalloc0 (sizeof (*m));
  bool hooks_pending = false;
  int ret = -1;

  struct oci_resources *res = resources_with_default_devices (l);
  int cg_ret = sp_cgroup_create (sp_runtime_cgroup_manager (s->rt), l ? l->cgroups_path : NULL, s->id, stage1,
                                 res, cg, err);
  free (res->devices);
  free (res);
  if (cg_ret < 0)
    goto out;
  if (*cg)
    st->cgroup = sp_cgroup_serialize (*cg);
  if (sp_sync_send (s->sync_fd, SYNC_GO, 0, NULL) < 0)
    {
      sp_error_errno (err, "signal setup process");
      goto out;
    }
  for (;;)
    {
      if (sp_sync_recv (s->sync_fd, m, err) < 0)
        goto out;
      switch (m->type)
        {
        case SYNC_USERMAP:
          if (sp_write_id_maps (m->value, l, err) < 0)
            goto out;
          sp_sync_send (s->sync_fd, SYNC_GO, 0, NULL);
          break;
        case SYNC_USERNS_JOINED:
          if (chown_fifo_to_ns_root (s, m->value, err) < 0)
            goto out;
          sp_sync_send (s->sync_fd, SYNC_GO, 0, NULL);
          break;
        case SYNC_INIT_PID:
          st->pid = m->value;
          st->pid_start = sp_pid_start_time (st->pid);
          waitpid (stage1, NULL, 0);
          break;
        case SYNC_HOOKS:
          hooks_pending = true;
          break;
        case SYNC_READY:
          st->creating = false;
          ret = 0;
          goto out;
        case SYNC_ERROR:
          sp_error_make (err, 0, "%s", m->msg);
          (*err)->status = m->value;
          goto out;
        default:
          sp_error_make (err, EPROTO, "setup protocol: unexpected message %d", m->type);
          goto out;
        }
      /* Stage 1 and init write to one socket: init's HOOKS may overtake INIT_PID. */
      if (hooks_pending && st->pid > 0)
        {
          cleanup_free char *json = sp_state_oci_json (st, SP_STATUS_CREATING);
          hooks_pending = false;
          /* Visible as "creating" (with its pid) to the hooks that run now. */
          if (s->config->hooks && sp_state_save (s->rt, st, err) < 0)
            goto out;
          if (sp_hooks_run (s->config->hooks, OCI_HOOK_PRESTART, json, err) < 0
              || sp_hooks_run (s->config->hooks, OCI_HOOK_CREATE_RUNTIME, json, err) < 0)
            goto out;
          sp_sync_send (s->sync_fd, SYNC_GO, 0, json);
        }
    }
out:
  free (m);
  return ret;
}

static char **
copy_annotations (struct oci_config *c)
{
  char **v = sp_xmalloc0 ((2 * c->annotations_len + 1) * sizeof (char *));
  for (size_t i = 0; i < c->annotations_len; i++)
    {
      v[2 * i] = sp_xstrdup (c->annotations[i].key);
      v[2 * i + 1] = sp_xstrdup (c->annotations[i].value);
    }
  return v;
}

int
sp_container_create_internal (struct sp_runtime *rt, const char *id, struct sp_create_options *o, bool subreaper,
                              struct oci_config **config_out, sp_error_t *err)
{
  cleanup_config struct oci_config *config = NULL;
  cleanup_state struct sp_state *st = sp_xmalloc0 (sizeof (*st));
  cleanup_free char *bundle = NULL;
  cleanup_free char *config_path = NULL;
  cleanup_free char *rootfs_rel = NULL;
  cleanup_free char *fifo = NULL;
  cleanup_close int lock = -1;
  struct sp_cgroup *cg = NULL;
  struct sp_setup s = { 0 };
  int sv[2] = { -1, -1 };
  pid_t stage1 = -1;
  int direct;
  bool dir_created = false;
  uid_t fifo_uid;
  gid_t fifo_gid;

  if (sp_state_check_id (id, err) < 0)
    return -1;
  bundle = realpath (o->bundle ? o->bundle : ".", NULL);
  if (bundle == NULL)
    return sp_error_errno (err, "bundle `%s`", o->bundle ? o->bundle : ".");
  config_path = sp_xasprintf ("%s/config.json", bundle);
  if (oci_config_load (config_path, &config, err) < 0)
    return -1;
  if (sp_ksm_prepare_config_at (config, bundle, err) < 0)
    return -1;
  if (config->process == NULL)
    return sp_error_make (err, EINVAL, "%s: process: missing (nothing to run)", config_path);
  rootfs_rel = config->root->path[0] == '/' ? sp_xstrdup (config->root->path)
                                            : sp_xasprintf ("%s/%s", bundle, config->root->path);
  st->rootfs = realpath (rootfs_rel, NULL);
  if (st->rootfs == NULL)
    return sp_error_errno (err, "%s: root.path: `%s`", config_path, rootfs_rel);

  if (sp_state_create_dir (rt, id, err) < 0)
    return -1;
  dir_created = true;
  if (sp_casfs_prepare (rt, id, config, bundle, st->rootfs, &s.casfs, err) < 0)
    goto fail;
  st->casfs = sp_casfs_plan_serialize (&s.casfs);
  if ((lock = sp_state_lock (rt, id, err)) < 0)
    goto fail;

  st->id = sp_xstrdup (id);
  st->bundle = sp_xstrdup (bundle);
  st->created = now_rfc3339 ();
  st->owner = getuid ();
  st->systemd_cgroup = rt->systemd_cgroup;
  st->cgroup_manager = rt->cgroup_manager ? sp_xstrdup (rt->cgroup_manager) : NULL;
  st->annotations = copy_annotations (config);
  st->creating = true;

  fifo = sp_xasprintf ("%s/%s/exec.fifo", rt->root, id);
  container_root_ids (config->linux_, &fifo_uid, &fifo_gid);
  if (mkfifo (fifo, 0600) < 0 || chown (fifo, fifo_uid, fifo_gid) < 0)
    {
      sp_error_errno (err, "create `%s`", fifo);
      goto fail;
    }

  s.rt = rt;
  s.id = id;
  s.config = config;
  s.process = config->process;
  s.opts = o;
  s.bundle = bundle;
  s.rootfs = st->rootfs;
  s.state_dir = sp_state_dir (rt, id);
  s.state_json = sp_state_oci_json (st, SP_STATUS_CREATING);
  s.new_userns = sp_namespace_wanted (config->linux_, OCI_NS_USER, NULL);
  {
    const char *p = NULL;
    s.new_cgroupns = sp_namespace_wanted (config->linux_, OCI_NS_CGROUP, &p) && p == NULL;
    s.new_netns = sp_namespace_wanted (config->linux_, OCI_NS_NETWORK, &p) && p == NULL;
    s.new_ipcns = sp_namespace_wanted (config->linux_, OCI_NS_IPC, &p) && p == NULL;
  }
  s.fifo_fd = open (fifo, O_PATH | O_CLOEXEC);
  if (s.fifo_fd < 0)
    {
      sp_error_errno (err, "open `%s`", fifo);
      goto fail;
    }
  if (sp_idmap_prepare (&s, err) < 0)
    goto fail;
  /* The caller's fds (containerd leaves a socket on fd 3) must not reach the container. */
  if (sp_mark_cloexec_from (3 + o->preserve_fds, err) < 0)
    goto fail;
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    {
      sp_error_errno (err, "socketpair");
      goto fail;
    }
  if (subreaper && prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    {
      sp_error_errno (err, "become subreaper");
      goto fail;
    }
  direct = sp_setup_direct_clone_flags (config);
  /* Fast path: init itself, cloned into its namespaces (a raw clone is a
   * fork with namespace flags, as crun does); else stage 1 forks it. */
  stage1 = direct >= 0 ? (pid_t) syscall (SYS_clone, (unsigned long) direct | SIGCHLD, NULL, NULL, NULL, NULL)
                       : fork ();
  if (stage1 < 0)
    {
      sp_error_errno (err, "fork");
      goto fail;
    }
  if (stage1 == 0)
    {
      close (sv[0]);
      sp_closep (&lock);
      s.sync_fd = sv[1];
      sp_log_set_stderr (true);
      if (direct >= 0)
        sp_setup_init_direct (&s);
      sp_setup_stage1 (&s);
    }
  if (direct >= 0)
    {
      /* stage1 is init: its pid is known, and it is not ours to reap. */
      st->pid = stage1;
      st->pid_start = sp_pid_start_time (stage1);
      stage1 = -1;
    }
  sp_closep (&sv[1]);
  s.sync_fd = sv[0];
  if (drive_setup (&s, st, stage1 > 0 ? stage1 : st->pid, &cg, err) < 0)
    goto fail;
  if (sp_state_save (rt, st, err) < 0 || write_pid_file (o->pid_file, st->pid, err) < 0)
    goto fail;
  sp_closep (&sv[0]);
  sp_closep (&s.fifo_fd);
  sp_cgroup_free (cg);
  sp_casfs_plan_clear (&s.casfs);
  sp_idmap_release (&s);
  free (s.state_dir);
  free (s.state_json);
  if (config_out)
    *config_out = steal_pointer (&config);
  return 0;

fail:
  sp_closep (&sv[0]);
  sp_closep (&sv[1]);
  sp_closep (&s.fifo_fd);
  kill_and_reap (st->pid);
  if (stage1 > 0)
    {
      kill (stage1, SIGKILL);
      waitpid (stage1, NULL, 0);
    }
  if (cg)
    {
      sp_error_t e2 = NULL;
      if (sp_cgroup_destroy (cg, &e2) < 0)
        sp_log_error_release (&e2);
      sp_cgroup_free (cg);
    }
  if (s.casfs.active)
    {
      sp_error_t e2 = NULL;
      if (sp_casfs_release (id, &s.casfs, &e2) < 0)
        sp_log_error_release (&e2);
    }
  sp_casfs_plan_clear (&s.casfs);
  sp_idmap_release (&s);
  if (dir_created)
    {
      sp_error_t e2 = NULL;
      if (sp_state_remove (rt, id, &e2) < 0)
        sp_log_error_release (&e2);
    }
  free (s.state_dir);
  free (s.state_json);
  return -1;
}

int
sp_container_create (struct sp_runtime *rt, const char *id, struct sp_create_options *o, sp_error_t *err)
{
  return sp_container_create_internal (rt, id, o, false, NULL, err);
}
