/* Container state on disk: <root>/<id>/state.json, guarded by <root>/<id>/lock. */
#include "state.h"

#include <samepage/cgroups.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

const char *const sp_status_names[] = {
  [SP_STATUS_CREATING] = "creating", [SP_STATUS_CREATED] = "created", [SP_STATUS_RUNNING] = "running",
  [SP_STATUS_PAUSED] = "paused",     [SP_STATUS_STOPPED] = "stopped",
};

char *
sp_state_dir (struct sp_runtime *rt, const char *id)
{
  return sp_xasprintf ("%s/%s", rt->root, id);
}

int
sp_state_check_id (const char *id, sp_error_t *err)
{
  size_t len = strlen (id);
  if (len == 0 || len > 1024 || !isalnum ((unsigned char) id[0]))
    return sp_error_make (err, EINVAL, "invalid container id `%s`", id);
  for (const char *p = id; *p; p++)
    if (!isalnum ((unsigned char) *p) && strchr ("_.+-", *p) == NULL)
      return sp_error_make (err, EINVAL, "invalid container id `%s`", id);
  return 0;
}

int
sp_state_lock (struct sp_runtime *rt, const char *id, sp_error_t *err)
{
  cleanup_free char *path = sp_xasprintf ("%s/%s/lock", rt->root, id);
  cleanup_close int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

  if (fd < 0)
    {
      if (errno == ENOENT)
        return sp_error_make (err, ENOENT, "container `%s` does not exist", id);
      return sp_error_errno (err, "open `%s`", path);
    }
  while (flock (fd, LOCK_EX) < 0)
    if (errno != EINTR)
      return sp_error_errno (err, "lock `%s`", path);
  return sp_steal_fd (&fd);
}

int
sp_state_create_dir (struct sp_runtime *rt, const char *id, sp_error_t *err)
{
  cleanup_free char *dir = sp_state_dir (rt, id);

  if (sp_mkdir_p (rt->root, 0711, err) < 0)
    return sp_error_wrap (err, "state root");
  if (mkdir (dir, 0711) < 0)
    {
      if (errno == EEXIST)
        return sp_error_make (err, EEXIST, "container `%s` already exists", id);
      return sp_error_errno (err, "mkdir `%s`", dir);
    }
  return 0;
}

#define G(call)                                                                                    \
  do                                                                                               \
    {                                                                                              \
      if ((call) != yajl_gen_status_ok)                                                            \
        goto gen_fail;                                                                             \
    }                                                                                              \
  while (0)
#define GSTR(g, s) G (yajl_gen_string ((g), (const unsigned char *) (s), strlen (s)))

static char *
gen_finish (yajl_gen g)
{
  const unsigned char *buf;
  size_t len;
  char *out = NULL;
  if (yajl_gen_get_buf (g, &buf, &len) == yajl_gen_status_ok)
    {
      out = sp_xmalloc0 (len + 1);
      memcpy (out, buf, len);
    }
  yajl_gen_free (g);
  return out;
}

int
sp_state_save (struct sp_runtime *rt, const struct sp_state *st, sp_error_t *err)
{
  yajl_gen g = yajl_gen_alloc (NULL);
  cleanup_free char *json = NULL;
  cleanup_free char *path = NULL;

  G (yajl_gen_map_open (g));
  GSTR (g, "id");
  GSTR (g, st->id);
  GSTR (g, "pid");
  G (yajl_gen_integer (g, st->pid));
  GSTR (g, "pid_start");
  G (yajl_gen_integer (g, (long long) st->pid_start));
  GSTR (g, "bundle");
  GSTR (g, st->bundle ? st->bundle : "");
  GSTR (g, "rootfs");
  GSTR (g, st->rootfs ? st->rootfs : "");
  GSTR (g, "created");
  GSTR (g, st->created ? st->created : "");
  GSTR (g, "creating");
  G (yajl_gen_bool (g, st->creating));
  GSTR (g, "started");
  G (yajl_gen_bool (g, st->started));
  GSTR (g, "systemd_cgroup");
  G (yajl_gen_bool (g, st->systemd_cgroup));
  GSTR (g, "owner");
  G (yajl_gen_integer (g, st->owner));
  if (st->cgroup)
    {
      GSTR (g, "cgroup");
      GSTR (g, st->cgroup);
    }
  if (st->cgroup_manager)
    {
      GSTR (g, "cgroup_manager");
      GSTR (g, st->cgroup_manager);
    }
  if (st->casfs)
    {
      GSTR (g, "casfs");
      GSTR (g, st->casfs);
    }
  GSTR (g, "annotations");
  G (yajl_gen_map_open (g));
  for (char **a = st->annotations; a && a[0] && a[1]; a += 2)
    {
      GSTR (g, a[0]);
      GSTR (g, a[1]);
    }
  G (yajl_gen_map_close (g));
  G (yajl_gen_map_close (g));
  json = gen_finish (g);
  g = NULL;
  path = sp_xasprintf ("%s/%s/state.json", rt->root, st->id);
  return sp_write_file_replace (path, json, strlen (json), 0600, err);

gen_fail:
  if (g)
    yajl_gen_free (g);
  return sp_error_make (err, 0, "cannot encode state of `%s`", st->id);
}

static char *
get_str (yajl_val root, const char *key)
{
  const char *path[] = { key, NULL };
  yajl_val v = yajl_tree_get (root, path, yajl_t_string);
  return v ? sp_xstrdup (YAJL_GET_STRING (v)) : NULL;
}

static long long
get_int (yajl_val root, const char *key)
{
  const char *path[] = { key, NULL };
  yajl_val v = yajl_tree_get (root, path, yajl_t_number);
  return v && YAJL_IS_INTEGER (v) ? YAJL_GET_INTEGER (v) : 0;
}

static bool
get_bool (yajl_val root, const char *key)
{
  const char *path[] = { key, NULL };
  yajl_val v = yajl_tree_get (root, path, yajl_t_any);
  return v && YAJL_IS_TRUE (v);
}

int
sp_state_load (struct sp_runtime *rt, const char *id, struct sp_state **out, sp_error_t *err)
{
  cleanup_free char *path = NULL;
  cleanup_free char *json = NULL;
  char ebuf[256];
  yajl_val root, ann;
  struct sp_state *st;
  const char *ann_path[] = { "annotations", NULL };

  if (sp_state_check_id (id, err) < 0)
    return -1;
  path = sp_xasprintf ("%s/%s/state.json", rt->root, id);
  if (sp_read_file (path, &json, NULL, err) < 0)
    {
      if ((*err)->status == ENOENT)
        {
          sp_error_release (err);
          return sp_error_make (err, ENOENT, "container `%s` does not exist", id);
        }
      return -1;
    }
  root = yajl_tree_parse (json, ebuf, sizeof ebuf);
  if (root == NULL || !YAJL_IS_OBJECT (root))
    {
      if (root)
        yajl_tree_free (root);
      return sp_error_make (err, EINVAL, "corrupt state file `%s`", path);
    }
  st = sp_xmalloc0 (sizeof (*st));
  st->id = get_str (root, "id");
  st->pid = (pid_t) get_int (root, "pid");
  st->pid_start = (unsigned long long) get_int (root, "pid_start");
  st->bundle = get_str (root, "bundle");
  st->rootfs = get_str (root, "rootfs");
  st->created = get_str (root, "created");
  st->cgroup = get_str (root, "cgroup");
  st->cgroup_manager = get_str (root, "cgroup_manager");
  st->casfs = get_str (root, "casfs");
  st->creating = get_bool (root, "creating");
  st->started = get_bool (root, "started");
  st->systemd_cgroup = get_bool (root, "systemd_cgroup");
  st->owner = (uid_t) get_int (root, "owner");
  ann = yajl_tree_get (root, ann_path, yajl_t_object);
  if (ann)
    {
      size_t n = YAJL_GET_OBJECT (ann)->len, k = 0;
      st->annotations = sp_xmalloc0 ((2 * n + 1) * sizeof (char *));
      for (size_t i = 0; i < n; i++)
        if (YAJL_IS_STRING (YAJL_GET_OBJECT (ann)->values[i]))
          {
            st->annotations[k++] = sp_xstrdup (YAJL_GET_OBJECT (ann)->keys[i]);
            st->annotations[k++] = sp_xstrdup (YAJL_GET_STRING (YAJL_GET_OBJECT (ann)->values[i]));
          }
    }
  yajl_tree_free (root);
  if (st->id == NULL)
    {
      sp_state_free (st);
      return sp_error_make (err, EINVAL, "corrupt state file `%s`: no id", path);
    }
  *out = st;
  return 0;
}

int
sp_state_remove (struct sp_runtime *rt, const char *id, sp_error_t *err)
{
  cleanup_free char *dir = sp_state_dir (rt, id);
  return sp_rm_rf (dir, err);
}

void
sp_state_free (struct sp_state *st)
{
  if (st == NULL)
    return;
  free (st->id);
  free (st->bundle);
  free (st->rootfs);
  free (st->created);
  free (st->cgroup);
  free (st->cgroup_manager);
  free (st->casfs);
  sp_strvfreep (&st->annotations);
  free (st);
}

unsigned long long
sp_pid_start_time (pid_t pid)
{
  char path[64];
  cleanup_free char *buf = NULL;
  sp_error_t err = NULL;
  char *p;
  unsigned long long start = 0;

  snprintf (path, sizeof path, "/proc/%d/stat", pid);
  if (sp_read_file (path, &buf, NULL, &err) < 0)
    {
      sp_error_release (&err);
      return 0;
    }
  /* comm may contain spaces and parentheses: fields resume after the last ')'. */
  p = strrchr (buf, ')');
  if (p == NULL)
    return 0;
  /* state is field 3; starttime is field 22. */
  if (sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
              &start)
      != 1)
    return 0;
  return start;
}

static char
pid_state_char (pid_t pid)
{
  char path[64];
  cleanup_free char *buf = NULL;
  sp_error_t err = NULL;
  char *p;

  snprintf (path, sizeof path, "/proc/%d/stat", pid);
  if (sp_read_file (path, &buf, NULL, &err) < 0)
    {
      sp_error_release (&err);
      return 0;
    }
  p = strrchr (buf, ')');
  return p && p[1] == ' ' ? p[2] : 0;
}

bool
sp_state_pid_alive (const struct sp_state *st)
{
  char c;
  if (st->pid <= 0)
    return false;
  c = pid_state_char (st->pid);
  if (c == 0 || c == 'Z' || c == 'X')
    return false;
  return st->pid_start == 0 || sp_pid_start_time (st->pid) == st->pid_start;
}

enum sp_status
sp_state_status (struct sp_runtime *rt, const struct sp_state *st)
{
  if (st->pid <= 0)
    return SP_STATUS_CREATING;
  if (!sp_state_pid_alive (st))
    return SP_STATUS_STOPPED;
  if (st->creating)
    return SP_STATUS_CREATING;
  if (st->cgroup)
    {
      struct sp_cgroup *cg = NULL;
      sp_error_t err = NULL;
      bool frozen = false;
      if (sp_cgroup_load (st->cgroup, &cg, &err) == 0 && sp_cgroup_is_frozen (cg, &frozen, &err) == 0 && frozen)
        {
          sp_cgroup_free (cg);
          return SP_STATUS_PAUSED;
        }
      sp_error_release (&err);
      sp_cgroup_free (cg);
    }
  (void) rt;
  return st->started ? SP_STATUS_RUNNING : SP_STATUS_CREATED;
}

char *
sp_state_oci_json (const struct sp_state *st, enum sp_status status)
{
  yajl_gen g = yajl_gen_alloc (NULL);

  G (yajl_gen_map_open (g));
  GSTR (g, "ociVersion");
  GSTR (g, "1.2.0");
  GSTR (g, "id");
  GSTR (g, st->id);
  GSTR (g, "status");
  GSTR (g, sp_status_names[status]);
  if (status != SP_STATUS_STOPPED && st->pid > 0)
    {
      GSTR (g, "pid");
      G (yajl_gen_integer (g, st->pid));
    }
  GSTR (g, "bundle");
  GSTR (g, st->bundle ? st->bundle : "");
  GSTR (g, "rootfs");
  GSTR (g, st->rootfs ? st->rootfs : "");
  GSTR (g, "created");
  GSTR (g, st->created ? st->created : "");
  GSTR (g, "owner");
  GSTR (g, "");
  GSTR (g, "annotations");
  G (yajl_gen_map_open (g));
  for (char **a = st->annotations; a && a[0] && a[1]; a += 2)
    {
      GSTR (g, a[0]);
      GSTR (g, a[1]);
    }
  G (yajl_gen_map_close (g));
  G (yajl_gen_map_close (g));
  return gen_finish (g);

gen_fail:
  yajl_gen_free (g);
  return NULL;
}
