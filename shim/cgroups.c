/* The container's cgroup: host layout from /proc/self/mountinfo, creation,
 * the state-file line, and the operations later commands need.  Version
 * specific files live in cgroups_v1.c and cgroups_v2.c. */
#include <samepage/cgroups.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- host layout ---- */

/* Mount options of a v1 cgroup mount that are not controllers. */
static const char *const non_controller_options[] = {
  "rw", "ro", "noprefix", "clone_children", "xattr", "cpuset_v2_mode", "nsdelegate", "favordynmods",
  "memory_localevents", "memory_recursiveprot", "memory_hugetlb_accounting", "pids_localevents",
  "relatime", "noatime", "nosuid", "nodev", "noexec",
};

bool
sp_cgroup_has_controller (const char *controllers, const char *controller)
{
  size_t len = strlen (controller);
  const char *p = controllers;

  while (p && *p)
    {
      const char *comma = strchr (p, ',');
      size_t n = comma ? (size_t) (comma - p) : strlen (p);
      if (n == len && strncmp (p, controller, len) == 0)
        return true;
      p = comma ? comma + 1 : NULL;
    }
  return false;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *
unescape_mountinfo (const char *s)
{
  char *out = sp_xmalloc0 (strlen (s) + 1), *o = out;
  while (*s)
    {
      if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0'
          && s[3] <= '7')
        {
          *o++ = (char) (((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
          s += 4;
        }
      else
        *o++ = *s++;
    }
  return out;
}

static char *
controllers_from_options (const char *options)
{
  cleanup_free char *copy = sp_xstrdup (options);
  char *saveptr = NULL, *out = sp_xstrdup ("");

  for (char *opt = strtok_r (copy, ",", &saveptr); opt; opt = strtok_r (NULL, ",", &saveptr))
    {
      bool skip = sp_str_has_prefix (opt, "release_agent=");
      char *joined;
      for (size_t i = 0; !skip && i < SP_ARRAY_SIZE (non_controller_options); i++)
        skip = strcmp (opt, non_controller_options[i]) == 0;
      if (skip)
        continue;
      joined = sp_xasprintf ("%s%s%s", out, *out ? "," : "", opt);
      free (out);
      out = joined;
    }
  return out;
}

static void
host_add (struct sp_cgroup_host *h, bool v2, char *controllers, char *mountpoint)
{
  for (size_t i = 0; i < h->n_hier; i++)
    {
      struct sp_cgroup_hierarchy *o = &h->hier[i];
      if (o->v2 != v2 || (!v2 && strcmp (o->controllers, controllers) != 0))
        continue;
      /* The same hierarchy mounted twice: keep one, the canonical place if seen. */
      if (v2 && strcmp (mountpoint, "/sys/fs/cgroup") == 0)
        {
          free (o->mountpoint);
          o->mountpoint = mountpoint;
          free (controllers);
          return;
        }
      free (controllers);
      free (mountpoint);
      return;
    }
  h->hier = sp_xrealloc (h->hier, (h->n_hier + 1) * sizeof *h->hier);
  h->hier[h->n_hier++] = (struct sp_cgroup_hierarchy) { v2, controllers, mountpoint };
}

int
sp_cgroup_parse_mountinfo (const char *text, struct sp_cgroup_host *out, sp_error_t *err)
{
  cleanup_free char *copy = sp_xstrdup (text);
  char *saveline = NULL;
  bool real_v1 = false, have_v2 = false;
  size_t lineno = 0;

  memset (out, 0, sizeof *out);
  for (char *line = strtok_r (copy, "\n", &saveline); line; line = strtok_r (NULL, "\n", &saveline))
    {
      char *fields[64], *save = NULL, *fstype = NULL, *superopts = NULL;
      size_t n = 0, dash = 0;

      lineno++;
      for (char *f = strtok_r (line, " ", &save); f && n < SP_ARRAY_SIZE (fields); f = strtok_r (NULL, " ", &save))
        fields[n++] = f;
      for (size_t i = 6; i < n; i++)
        if (strcmp (fields[i], "-") == 0)
          {
            dash = i;
            break;
          }
      if (n < 5 || dash == 0 || dash + 3 > n)
        {
          sp_cgroup_host_clear (out);
          return sp_error_make (err, EINVAL, "mountinfo line %zu: malformed", lineno);
        }
      fstype = fields[dash + 1];
      superopts = fields[dash + 3];
      if (strcmp (fstype, "cgroup2") == 0)
        {
          have_v2 = true;
          host_add (out, true, sp_xstrdup (""), unescape_mountinfo (fields[4]));
        }
      else if (strcmp (fstype, "cgroup") == 0)
        {
          char *controllers = controllers_from_options (superopts);
          if (*controllers == '\0')
            {
              free (controllers);
              continue;
            }
          for (const char *c = controllers; c; c = strchr (c, ','))
            {
              if (*c == ',')
                c++;
              if (!sp_str_has_prefix (c, "name="))
                real_v1 = true;
            }
          host_add (out, false, controllers, unescape_mountinfo (fields[4]));
        }
    }

  if (real_v1)
    out->layout = have_v2 ? SP_CGROUP_LAYOUT_HYBRID : SP_CGROUP_LAYOUT_V1;
  else if (have_v2)
    {
      /* Pure v2: a leftover name=systemd v1 mount is not part of the layout. */
      size_t j = 0;
      out->layout = SP_CGROUP_LAYOUT_V2;
      for (size_t i = 0; i < out->n_hier; i++)
        {
          if (out->hier[i].v2)
            out->hier[j++] = out->hier[i];
          else
            {
              free (out->hier[i].controllers);
              free (out->hier[i].mountpoint);
            }
        }
      out->n_hier = j;
    }
  else
    out->layout = out->n_hier ? SP_CGROUP_LAYOUT_V1 : SP_CGROUP_LAYOUT_NONE;
  return 0;
}

int
sp_cgroup_host_detect (struct sp_cgroup_host *out, sp_error_t *err)
{
  cleanup_free char *text = NULL;

  if (sp_read_file ("/proc/self/mountinfo", &text, NULL, err) < 0)
    return -1;
  if (sp_cgroup_parse_mountinfo (text, out, err) < 0)
    return sp_error_wrap (err, "/proc/self/mountinfo");
  return 0;
}

void
sp_cgroup_host_clear (struct sp_cgroup_host *h)
{
  for (size_t i = 0; i < h->n_hier; i++)
    {
      free (h->hier[i].controllers);
      free (h->hier[i].mountpoint);
    }
  free (h->hier);
  memset (h, 0, sizeof *h);
}

/* ---- the container's directories ---- */

const char *
sp_cgroup_v1_dir (const struct sp_cgroup *cg, const char *controller)
{
  for (size_t i = 0; i < cg->n_dirs; i++)
    if (!cg->dirs[i].v2 && sp_cgroup_has_controller (cg->dirs[i].controllers, controller))
      return cg->dirs[i].path;
  return NULL;
}

const struct sp_cgroup_dir *
sp_cgroup_v2_dir (const struct sp_cgroup *cg)
{
  for (size_t i = 0; i < cg->n_dirs; i++)
    if (cg->dirs[i].v2)
      return &cg->dirs[i];
  return NULL;
}

bool
sp_cgroup_v2_root_has (const struct sp_cgroup_dir *dir, const char *controller)
{
  cleanup_free char *text = NULL;
  sp_error_t err = NULL;
  bool found = false;

  if (sp_cgroup_read (dir->mountpoint, "cgroup.controllers", &text, &err) < 0)
    {
      sp_error_release (&err);
      return false;
    }
  for (char *save = NULL, *c = strtok_r (text, " ", &save); c && !found; c = strtok_r (NULL, " ", &save))
    found = strcmp (c, controller) == 0;
  return found;
}

/* The caller's own cgroup in one hierarchy, from /proc/self/cgroup. */
static int
own_cgroup (const struct sp_cgroup_hierarchy *h, char **out, sp_error_t *err)
{
  cleanup_free char *text = NULL;
  char *save = NULL;

  if (sp_read_file ("/proc/self/cgroup", &text, NULL, err) < 0)
    return -1;
  for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      char *c1 = strchr (line, ':'), *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
      if (c2 == NULL)
        continue;
      *c2 = '\0';
      if (h->v2 ? (strcmp (line, "0") == 0 && c1[1] == '\0') : strcmp (c1 + 1, h->controllers) == 0)
        {
          *out = sp_xstrdup (c2 + 1);
          return 0;
        }
    }
  return sp_error_make (err, ENOENT, "/proc/self/cgroup: no entry for the `%s` hierarchy",
                        h->v2 ? "cgroup2" : h->controllers);
}

/* "a//b/" -> "/a/b"; rejects "." and ".." components. */
static int
normalize_path (const char *path, char **out, sp_error_t *err)
{
  cleanup_free char *copy = sp_xstrdup (path);
  char *save = NULL, *res = sp_xstrdup ("");

  for (char *c = strtok_r (copy, "/", &save); c; c = strtok_r (NULL, "/", &save))
    {
      char *joined;
      if (strcmp (c, ".") == 0 || strcmp (c, "..") == 0)
        {
          free (res);
          return sp_error_make (err, EINVAL, "linux.cgroupsPath: `%s`: `.` and `..` are not allowed", path);
        }
      joined = sp_xasprintf ("%s/%s", res, c);
      free (res);
      res = joined;
    }
  *out = res;
  return 0;
}

/* mkdir every missing level below mountpoint; remembers the first one made. */
static int
make_dirs (struct sp_cgroup_dir *d, sp_error_t *err)
{
  size_t base = strlen (d->mountpoint);
  cleanup_free char *p = sp_xstrdup (d->path);

  for (char *s = p + base + 1;; s++)
    {
      char saved = *s;
      if (saved != '/' && saved != '\0')
        continue;
      *s = '\0';
      if (mkdir (p, 0755) == 0)
        {
          if (d->created_top == NULL)
            d->created_top = sp_xstrdup (p);
        }
      else if (errno != EEXIST)
        return sp_error_errno (err, "mkdir `%s`", p);
      *s = saved;
      if (saved == '\0')
        break;
    }
  return 0;
}

static void
dirs_free (struct sp_cgroup_dir *dirs, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (dirs[i].controllers);
      free (dirs[i].mountpoint);
      free (dirs[i].path);
      free (dirs[i].created_top);
    }
  free (dirs);
}

void
sp_cgroup_free (struct sp_cgroup *cg)
{
  if (cg == NULL)
    return;
  dirs_free (cg->dirs, cg->n_dirs);
  free (cg->cgroup_path);
  free (cg->unit);
  free (cg);
}

const char *
sp_cgroup_path (const struct sp_cgroup *cg)
{
  return cg->manager == SP_CGROUP_DISABLED ? NULL : cg->cgroup_path;
}

static int
require_cgroup (const struct sp_cgroup *cg, const char *what, sp_error_t *err)
{
  if (cg->manager == SP_CGROUP_DISABLED || cg->n_dirs == 0)
    return sp_error_make (err, ENOTSUP, "%s: the container has no cgroup (--cgroup-manager disabled)", what);
  return 0;
}

static int
apply_resources (struct sp_cgroup *cg, const struct oci_resources *res, sp_error_t *err)
{
  const struct sp_cgroup_dir *v2 = sp_cgroup_v2_dir (cg);

  if (res == NULL)
    return 0;
  switch (cg->layout)
    {
    case SP_CGROUP_LAYOUT_V2:
      return sp_cgroup_v2_apply (v2->path, res, NULL, err);
    case SP_CGROUP_LAYOUT_HYBRID:
      if (sp_cgroup_v1_apply (cg, res, err) < 0)
        return -1;
      return v2 ? sp_cgroup_v2_apply (v2->path, res, cg, err) : 0;
    default:
      return sp_cgroup_v1_apply (cg, res, err);
    }
}

int
sp_cgroup_enter (const struct sp_cgroup *cg, pid_t pid, sp_error_t *err)
{
  char value[24];

  if (require_cgroup (cg, "enter cgroup", err) < 0)
    return -1;
  snprintf (value, sizeof value, "%d", (int) pid);
  for (size_t i = 0; i < cg->n_dirs; i++)
    if (sp_cgroup_write (cg->dirs[i].path, "cgroup.procs", value, err) < 0)
      return -1;
  return 0;
}

static int
resolve_path (enum sp_cgroup_manager mgr, const char *cgroups_path, const char *id, char **path, char **slice,
              char **unit, sp_error_t *err)
{
  cleanup_free char *spec = NULL;

  if (mgr == SP_CGROUP_SYSTEMD)
    {
      if (cgroups_path == NULL || *cgroups_path == '\0')
        spec = sp_xasprintf ("system.slice:samepage:%s", id);
      else
        spec = sp_xstrdup (cgroups_path);
      return sp_cgroup_systemd_parse_path (spec, path, slice, unit, err);
    }
  if (cgroups_path == NULL || *cgroups_path == '\0')
    spec = sp_xasprintf ("/samepage/%s", id);
  else
    spec = sp_xstrdup (cgroups_path);
  if (strchr (spec, '/') == NULL && strchr (spec, ':'))
    return sp_error_make (err, EINVAL,
                          "linux.cgroupsPath: `%s` is systemd syntax (slice:prefix:name) but the cgroup manager "
                          "is cgroupfs",
                          spec);
  *path = steal_pointer (&spec);
  return 0;
}

int
sp_cgroup_create (enum sp_cgroup_manager mgr, const char *cgroups_path, const char *container_id, pid_t pid,
                  const struct oci_resources *res, struct sp_cgroup **out, sp_error_t *err)
{
  static bool warned_no_systemd;
  struct sp_cgroup_host host = { 0 };
  cleanup_free char *raw = NULL, *slice = NULL, *unit = NULL;
  struct sp_cgroup *cg = sp_xmalloc0 (sizeof *cg);
  sp_error_t ignored = NULL;

  cg->manager = mgr;
  if (mgr == SP_CGROUP_DISABLED)
    {
      cg->layout = SP_CGROUP_LAYOUT_NONE;
      *out = cg;
      return 0;
    }
  if (resolve_path (mgr, cgroups_path, container_id, &raw, &slice, &unit, err) < 0
      || sp_cgroup_host_detect (&host, err) < 0)
    goto fail;
  if (host.layout == SP_CGROUP_LAYOUT_NONE)
    {
      sp_error_make (err, ENOENT, "no cgroup filesystem is mounted (see /proc/self/mountinfo)");
      goto fail;
    }
  cg->layout = host.layout;

  if (mgr == SP_CGROUP_SYSTEMD)
    {
      if (sp_cgroup_systemd_running ())
        {
          if (sp_cgroup_systemd_start_scope (unit, slice, pid, err) < 0)
            goto fail;
          cg->unit = steal_pointer (&unit);
        }
      else if (!warned_no_systemd)
        {
          warned_no_systemd = true;
          sp_warn ("systemd is not running: managing cgroup `%s` through cgroupfs", raw);
        }
    }

  cg->dirs = sp_xmalloc0 (host.n_hier * sizeof *cg->dirs);
  for (size_t i = 0; i < host.n_hier; i++)
    {
      struct sp_cgroup_dir *d = &cg->dirs[cg->n_dirs++];
      cleanup_free char *full = NULL, *norm = NULL;

      d->v2 = host.hier[i].v2;
      d->controllers = sp_xstrdup (host.hier[i].controllers);
      d->mountpoint = sp_xstrdup (host.hier[i].mountpoint);
      if (raw[0] == '/')
        full = sp_xstrdup (raw);
      else
        {
          cleanup_free char *own = NULL;
          if (own_cgroup (&host.hier[i], &own, err) < 0)
            goto fail;
          full = sp_xasprintf ("%s/%s", own, raw);
        }
      if (normalize_path (full, &norm, err) < 0)
        goto fail;
      if (*norm == '\0')
        {
          sp_error_make (err, EINVAL, "linux.cgroupsPath: `%s` names the root cgroup", raw);
          goto fail;
        }
      if (cg->cgroup_path == NULL || d->v2)
        {
          free (cg->cgroup_path);
          cg->cgroup_path = sp_xstrdup (norm);
        }
      d->path = sp_xasprintf ("%s%s", d->mountpoint, norm);
      if (make_dirs (d, err) < 0)
        goto fail;
      /* Under a systemd scope, systemd delegates controllers (Delegate=yes)
       * and owns the slices above: leave their subtree_control alone. */
      if (d->v2 && cg->unit == NULL && sp_cgroup_v2_enable_controllers (d->mountpoint, d->path, err) < 0)
        goto fail;
      if (!d->v2 && sp_cgroup_has_controller (d->controllers, "cpuset")
          && sp_cgroup_v1_cpuset_init (d->mountpoint, d->path, err) < 0)
        goto fail;
    }

  if (apply_resources (cg, res, err) < 0 || sp_cgroup_enter (cg, pid, err) < 0)
    goto fail;
  sp_cgroup_host_clear (&host);
  *out = cg;
  return 0;

fail:
  sp_cgroup_destroy (cg, &ignored);
  sp_error_release (&ignored);
  sp_cgroup_free (cg);
  sp_cgroup_host_clear (&host);
  return sp_error_wrap (err, "create cgroup for container `%s`", container_id);
}

int
sp_cgroup_update (struct sp_cgroup *cg, const struct oci_resources *res, sp_error_t *err)
{
  if (require_cgroup (cg, "update resources", err) < 0)
    return -1;
  return apply_resources (cg, res, err);
}

/* ---- state-file line ----
 * samepage-cgroup/1 <manager> <layout> <cgroup_path> <unit>
 *   then per directory: <v1|v2> <controllers> <mountpoint> <path> <created_top>
 * Words are %-escaped; "-" stands for NULL. */

static const char *const manager_names[] = { "cgroupfs", "systemd", "disabled" };
static const char *const layout_names[] = { "none", "v1", "hybrid", "v2" };

static void
append_word (char **line, const char *word)
{
  size_t len = strlen (*line);
  size_t cap = len + 2 + (word ? strlen (word) * 3 : 1) + 1;
  char *p;

  *line = sp_xrealloc (*line, cap);
  p = *line + len;
  if (len)
    *p++ = ' ';
  if (word == NULL)
    *p++ = '-';
  else if (*word == '\0')
    p += sprintf (p, "%%");
  else
    for (const unsigned char *c = (const unsigned char *) word; *c; c++)
      {
        if (*c <= ' ' || *c == '%' || *c >= 0x7f || (*c == '-' && word[1] == '\0'))
          p += sprintf (p, "%%%02X", *c);
        else
          *p++ = (char) *c;
      }
  *p = '\0';
}

char *
sp_cgroup_serialize (const struct sp_cgroup *cg)
{
  char *line = sp_xstrdup ("");

  append_word (&line, "samepage-cgroup/1");
  append_word (&line, manager_names[cg->manager]);
  append_word (&line, layout_names[cg->layout]);
  append_word (&line, cg->cgroup_path);
  append_word (&line, cg->unit);
  for (size_t i = 0; i < cg->n_dirs; i++)
    {
      const struct sp_cgroup_dir *d = &cg->dirs[i];
      append_word (&line, d->v2 ? "v2" : "v1");
      append_word (&line, d->controllers);
      append_word (&line, d->mountpoint);
      append_word (&line, d->path);
      append_word (&line, d->created_top);
    }
  return line;
}

/* Decodes one word in place; false on a bad escape.  "%" alone is "". */
static bool
decode_word (char *w, char **out)
{
  char *o = w;
  if (strcmp (w, "-") == 0)
    {
      *out = NULL;
      return true;
    }
  if (strcmp (w, "%") == 0)
    {
      *out = sp_xstrdup ("");
      return true;
    }
  for (char *s = w; *s; s++)
    {
      if (*s == '%')
        {
          unsigned v;
          if (sscanf (s + 1, "%2x", &v) != 1 || !s[1] || !s[2])
            return false;
          *o++ = (char) v;
          s += 2;
        }
      else
        *o++ = *s;
    }
  *o = '\0';
  *out = sp_xstrdup (w);
  return true;
}

static int
name_index (const char *const *names, size_t n, const char *word)
{
  for (size_t i = 0; i < n; i++)
    if (word && strcmp (names[i], word) == 0)
      return (int) i;
  return -1;
}

int
sp_cgroup_load (const char *serialized, struct sp_cgroup **out, sp_error_t *err)
{
  cleanup_free char *copy = sp_xstrdup (serialized);
  char **words = NULL;
  size_t n = 0;
  char *save = NULL;
  struct sp_cgroup *cg = sp_xmalloc0 (sizeof *cg);
  int manager, layout, ret = -1;

  for (char *w = strtok_r (copy, " \n", &save); w; w = strtok_r (NULL, " \n", &save))
    {
      words = sp_xrealloc (words, (n + 1) * sizeof *words);
      if (!decode_word (w, &words[n]))
        {
          sp_error_make (err, EINVAL, "cgroup state: bad escape in `%s`", w);
          goto out;
        }
      n++;
    }
  if (n < 5 || (n - 5) % 5 != 0 || words[0] == NULL || strcmp (words[0], "samepage-cgroup/1") != 0)
    {
      sp_error_make (err, EINVAL, "cgroup state: unrecognised line `%s`", serialized);
      goto out;
    }
  manager = name_index (manager_names, SP_ARRAY_SIZE (manager_names), words[1]);
  layout = name_index (layout_names, SP_ARRAY_SIZE (layout_names), words[2]);
  if (manager < 0 || layout < 0)
    {
      sp_error_make (err, EINVAL, "cgroup state: unknown manager or layout in `%s`", serialized);
      goto out;
    }
  cg->manager = (enum sp_cgroup_manager) manager;
  cg->layout = (enum sp_cgroup_layout) layout;
  cg->cgroup_path = steal_pointer (&words[3]);
  cg->unit = steal_pointer (&words[4]);
  cg->dirs = sp_xmalloc0 ((n - 5) / 5 * sizeof *cg->dirs + 1);
  for (size_t i = 5; i < n; i += 5)
    {
      struct sp_cgroup_dir *d = &cg->dirs[cg->n_dirs++];
      d->v2 = words[i] && strcmp (words[i], "v2") == 0;
      d->controllers = steal_pointer (&words[i + 1]);
      d->mountpoint = steal_pointer (&words[i + 2]);
      d->path = steal_pointer (&words[i + 3]);
      d->created_top = steal_pointer (&words[i + 4]);
      if (d->controllers == NULL || d->mountpoint == NULL || d->path == NULL
          || !sp_str_has_prefix (d->path, d->mountpoint)
          || (d->created_top && !sp_str_has_prefix (d->path, d->created_top)))
        {
          sp_error_make (err, EINVAL, "cgroup state: inconsistent directory entry in `%s`", serialized);
          goto out;
        }
    }
  *out = steal_pointer (&cg);
  ret = 0;
out:
  for (size_t i = 0; i < n; i++)
    free (words[i]);
  free (words);
  sp_cgroup_free (cg);
  return ret;
}

/* ---- processes, freezer ---- */

/* The directory whose cgroup.procs lists every process of the container. */
static const char *
procs_dir (const struct sp_cgroup *cg)
{
  const struct sp_cgroup_dir *v2 = sp_cgroup_v2_dir (cg);
  const char *d;
  if (v2)
    return v2->path;
  d = sp_cgroup_v1_dir (cg, "freezer");
  return d ? d : cg->dirs[0].path;
}

static int
collect_pids (const char *dir, pid_t **pids, size_t *n, sp_error_t *err)
{
  cleanup_free char *text = NULL;
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  char *save = NULL;

  if (sp_cgroup_read (dir, "cgroup.procs", &text, err) < 0)
    return -1;
  for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      long v;
      if (!sp_parse_long (line, &v))
        return sp_error_make (err, EINVAL, "`%s/cgroup.procs`: unexpected line `%s`", dir, line);
      *pids = sp_xrealloc (*pids, (*n + 1) * sizeof **pids);
      (*pids)[(*n)++] = (pid_t) v;
    }
  d = opendir (dir);
  if (d == NULL)
    return sp_error_errno (err, "open `%s`", dir);
  while ((de = readdir (d)))
    {
      cleanup_free char *sub = NULL;
      if (de->d_type != DT_DIR || de->d_name[0] == '.')
        continue;
      sub = sp_xasprintf ("%s/%s", dir, de->d_name);
      if (collect_pids (sub, pids, n, err) < 0)
        return -1;
    }
  return 0;
}

int
sp_cgroup_pids (const struct sp_cgroup *cg, pid_t **pids, size_t *n, sp_error_t *err)
{
  pid_t *list = NULL;
  size_t count = 0;

  if (require_cgroup (cg, "list processes", err) < 0)
    return -1;
  if (collect_pids (procs_dir (cg), &list, &count, err) < 0)
    {
      free (list);
      return -1;
    }
  *pids = list;
  *n = count;
  return 0;
}

int
sp_cgroup_freeze (struct sp_cgroup *cg, bool frozen, sp_error_t *err)
{
  const struct sp_cgroup_dir *v2;
  const char *v1;

  if (require_cgroup (cg, frozen ? "pause" : "resume", err) < 0)
    return -1;
  v1 = sp_cgroup_v1_dir (cg, "freezer");
  if (v1)
    return sp_cgroup_v1_freeze (v1, frozen, err);
  v2 = sp_cgroup_v2_dir (cg);
  if (v2)
    return sp_cgroup_v2_freeze (v2->path, frozen, err);
  return sp_error_make (err, ENOTSUP, "%s: no freezer: neither a v1 freezer hierarchy nor cgroup2 is mounted",
                        frozen ? "pause" : "resume");
}

int
sp_cgroup_is_frozen (const struct sp_cgroup *cg, bool *frozen, sp_error_t *err)
{
  const struct sp_cgroup_dir *v2;
  const char *v1;

  if (require_cgroup (cg, "freezer state", err) < 0)
    return -1;
  v1 = sp_cgroup_v1_dir (cg, "freezer");
  if (v1)
    return sp_cgroup_v1_is_frozen (v1, frozen, err);
  v2 = sp_cgroup_v2_dir (cg);
  if (v2)
    return sp_cgroup_v2_is_frozen (v2->path, frozen, err);
  *frozen = false;
  return 0;
}

int
sp_cgroup_kill_all (struct sp_cgroup *cg, int signo, sp_error_t *err)
{
  const struct sp_cgroup_dir *v2;
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  bool frozen = false;
  int ret = 0;

  if (require_cgroup (cg, "kill --all", err) < 0)
    return -1;
  v2 = sp_cgroup_v2_dir (cg);
  if (signo == SIGKILL && v2 && sp_cgroup_file_exists (v2->path, "cgroup.kill"))
    return sp_cgroup_write (v2->path, "cgroup.kill", "1", err);

  /* Frozen, nothing can fork between listing and signalling. */
  {
    sp_error_t freeze_err = NULL;
    if (sp_cgroup_freeze (cg, true, &freeze_err) == 0)
      frozen = true;
    else
      {
        sp_debug ("kill --all without freezing: %s", freeze_err->msg);
        sp_error_release (&freeze_err);
      }
  }
  if (sp_cgroup_pids (cg, &pids, &n, err) < 0)
    ret = -1;
  for (size_t i = 0; ret == 0 && i < n; i++)
    if (kill (pids[i], signo) < 0 && errno != ESRCH)
      ret = sp_error_errno (err, "kill process %d with signal %d", (int) pids[i], signo);
  if (frozen)
    {
      sp_error_t thaw_err = NULL;
      if (sp_cgroup_freeze (cg, false, ret < 0 ? &thaw_err : err) < 0 && ret == 0)
        ret = -1;
      if (thaw_err)
        sp_log_error_release (&thaw_err);
    }
  return ret;
}

/* ---- removal ---- */

/* rmdir that waits briefly for exiting processes to leave. */
static int
rmdir_retry (const char *path, sp_error_t *err)
{
  for (int attempt = 0;; attempt++)
    {
      struct timespec ts = { 0, 10 * 1000 * 1000 };
      if (rmdir (path) == 0 || errno == ENOENT)
        return 0;
      if (errno != EBUSY || attempt >= 300)
        return sp_error_errno (err, "rmdir `%s`", path);
      nanosleep (&ts, NULL);
    }
}

/* Nested cgroups the container made, deepest first, then dir itself. */
static int
remove_tree (const char *dir, sp_error_t *err)
{
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *de;

  if (d == NULL)
    {
      if (errno == ENOENT)
        return 0;
      return sp_error_errno (err, "open `%s`", dir);
    }
  while ((de = readdir (d)))
    {
      cleanup_free char *sub = NULL;
      if (de->d_type != DT_DIR || strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      sub = sp_xasprintf ("%s/%s", dir, de->d_name);
      if (remove_tree (sub, err) < 0)
        return -1;
    }
  return rmdir_retry (dir, err);
}

int
sp_cgroup_destroy (struct sp_cgroup *cg, sp_error_t *err)
{
  int ret = 0;

  if (cg->manager == SP_CGROUP_DISABLED)
    return 0;
  if (cg->unit && sp_cgroup_systemd_running ())
    {
      sp_error_t stop_err = NULL;
      if (sp_cgroup_systemd_stop_scope (cg->unit, &stop_err) < 0)
        sp_log_error_release (&stop_err);
    }
  for (size_t i = 0; i < cg->n_dirs; i++)
    {
      struct sp_cgroup_dir *d = &cg->dirs[i];
      cleanup_free char *p = NULL;

      if (d->path == NULL)
        continue; /* creation failed before naming it */
      if (remove_tree (d->path, err) < 0)
        {
          ret = -1;
          continue;
        }
      if (d->created_top == NULL)
        continue;
      /* Parents this cgroup created go too, unless another container uses them. */
      p = sp_xstrdup (d->path);
      while (strlen (p) > strlen (d->created_top))
        {
          char *slash = strrchr (p, '/');
          *slash = '\0';
          if (rmdir (p) < 0 && errno != ENOENT)
            break;
        }
    }
  return ret;
}

/* ---- what the container sees ---- */

int
sp_cgroup_mounts (const struct sp_cgroup *cg, struct sp_cgroup_mount **out, size_t *n, sp_error_t *err)
{
  struct sp_cgroup_mount *m;

  if (require_cgroup (cg, "cgroup mounts", err) < 0)
    return -1;
  m = sp_xmalloc0 (cg->n_dirs * sizeof *m);
  for (size_t i = 0; i < cg->n_dirs; i++)
    {
      const struct sp_cgroup_dir *d = &cg->dirs[i];
      if (d->v2)
        m[i].name = sp_xstrdup (cg->layout == SP_CGROUP_LAYOUT_V2 ? "" : "unified");
      else if (sp_str_has_prefix (d->controllers, "name="))
        m[i].name = sp_xstrdup (d->controllers + strlen ("name="));
      else
        m[i].name = sp_xstrdup (d->controllers);
      m[i].fstype = sp_xstrdup (d->v2 ? "cgroup2" : "cgroup");
      m[i].host_path = sp_xstrdup (d->path);
    }
  *out = m;
  *n = cg->n_dirs;
  return 0;
}

void
sp_cgroup_mounts_free (struct sp_cgroup_mount *m, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (m[i].name);
      free (m[i].fstype);
      free (m[i].host_path);
    }
  free (m);
}

/* ---- features ---- */

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
strv_add_unique (char ***v, size_t *n, const char *s)
{
  for (size_t i = 0; i < *n; i++)
    if (strcmp ((*v)[i], s) == 0)
      return;
  *v = sp_xrealloc (*v, (*n + 2) * sizeof **v);
  (*v)[(*n)++] = sp_xstrdup (s);
  (*v)[*n] = NULL;
}

int
sp_cgroup_features (struct sp_cgroup_features *out, sp_error_t *err)
{
  struct sp_cgroup_host host = { 0 };
  size_t n = 0;

  memset (out, 0, sizeof *out);
  if (sp_cgroup_host_detect (&host, err) < 0)
    return -1;
  out->layout = host.layout;
  out->systemd_running = sp_cgroup_systemd_running ();
  out->controllers = sp_xmalloc0 (sizeof *out->controllers);
  for (size_t i = 0; i < host.n_hier; i++)
    {
      cleanup_free char *list = NULL;
      const char *sep = host.hier[i].v2 ? " " : ",";
      char *save = NULL;

      if (host.hier[i].v2)
        {
          sp_error_t ignored = NULL;
          if (sp_cgroup_read (host.hier[i].mountpoint, "cgroup.controllers", &list, &ignored) < 0)
            {
              sp_error_release (&ignored);
              continue;
            }
          /* Built into cgroup2 itself rather than listed as controllers. */
          strv_add_unique (&out->controllers, &n, "devices");
          strv_add_unique (&out->controllers, &n, "freezer");
        }
      else
        list = sp_xstrdup (host.hier[i].controllers);
      for (char *c = strtok_r (list, sep, &save); c; c = strtok_r (NULL, sep, &save))
        if (!sp_str_has_prefix (c, "name="))
          strv_add_unique (&out->controllers, &n, c);
    }
  qsort (out->controllers, n, sizeof *out->controllers, compare_strings);
  sp_cgroup_host_clear (&host);
  return 0;
}

void
sp_cgroup_features_clear (struct sp_cgroup_features *f)
{
  sp_strvfreep (&f->controllers);
  memset (f, 0, sizeof *f);
}
