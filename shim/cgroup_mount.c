/* The cgroup filesystem inside the container.  Pure cgroup v2 with a cgroup
 * namespace: a fresh cgroup2 mount.  Otherwise (v1, hybrid, or no cgroup
 * namespace): a tmpfs with one bind mount per hierarchy of the container's
 * own cgroup directory, as runc does. */
#include "setup.h"

#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

struct hierarchy
{
  char *controllers; /* "cpu", "name=systemd", "" for v2 */
  char *path; /* the container's cgroup in that hierarchy */
};

/* True if the comma-separated super options name every controller of want. */
static bool
options_match (const char *super, const char *want)
{
  cleanup_free char *w = sp_xstrdup (want);
  char *save = NULL;
  for (char *c = strtok_r (w, ",", &save); c; c = strtok_r (NULL, ",", &save))
    {
      size_t l = strlen (c);
      const char *p = super;
      bool found = false;
      while ((p = strstr (p, c)))
        {
          if ((p == super || p[-1] == ',') && (p[l] == ',' || p[l] == '\0'))
            {
              found = true;
              break;
            }
          p += l;
        }
      if (!found)
        return false;
    }
  return true;
}

/* Finds the host mount of a hierarchy: mountpoint and its root. */
static int
find_mount (const char *controllers, char **mountpoint, char **mnt_root)
{
  cleanup_file FILE *f = fopen ("/proc/self/mountinfo", "re");
  cleanup_free char *line = NULL;
  size_t cap = 0;

  if (f == NULL)
    return -1;
  while (getline (&line, &cap, f) > 0)
    {
      char root[4096], mp[4096], fstype[64], super[1024];
      char *dash = strstr (line, " - ");
      if (dash == NULL || sscanf (line, "%*d %*d %*s %4095s %4095s", root, mp) != 2
          || sscanf (dash + 3, "%63s %*s %1023s", fstype, super) != 2)
        continue;
      if (*controllers == '\0' ? strcmp (fstype, "cgroup2") == 0
                               : strcmp (fstype, "cgroup") == 0 && options_match (super, controllers))
        {
          *mountpoint = sp_xstrdup (mp);
          *mnt_root = sp_xstrdup (root);
          return 0;
        }
    }
  return -1;
}

static bool
pure_v2 (void)
{
  cleanup_free char *mp = NULL;
  cleanup_free char *root = NULL;
  return find_mount ("", &mp, &root) == 0 && strcmp (mp, "/sys/fs/cgroup") == 0;
}

int
sp_mount_cgroups (struct sp_setup *s, int root_fd, const char *dest, unsigned long flags, sp_error_t *err)
{
  cleanup_close int dest_fd = sp_open_in_root (root_fd, dest, 'd', err);
  char target[64];
  unsigned long mflags = (flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)) | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  cleanup_free char *copy = NULL;
  cleanup_close int tmp_fd = -1;
  char *save = NULL;

  if (dest_fd < 0)
    return sp_error_wrap (err, "mount `%s`", dest);
  snprintf (target, sizeof target, "/proc/self/fd/%d", dest_fd);
  if (pure_v2 () && s->new_cgroupns)
    {
      if (mount ("cgroup2", target, "cgroup2", mflags, NULL) < 0)
        return sp_error_errno (err, "mount cgroup2 on `%s`", dest);
      return 0;
    }
  if (s->host_cgroups == NULL)
    return sp_error_make (err, 0, "mount `%s`: the container's cgroups are unknown", dest);

  if (pure_v2 ())
    {
      /* No cgroup namespace: show the container's own subtree only. */
      for (char *l = strtok_r (copy = sp_xstrdup (s->host_cgroups), "\n", &save); l;
           l = strtok_r (NULL, "\n", &save))
        if (sp_str_has_prefix (l, "0::"))
          {
            cleanup_free char *host = sp_xasprintf ("/sys/fs/cgroup%s", l + 3);
            if (mount (host, target, NULL, MS_BIND, NULL) < 0)
              return sp_error_errno (err, "bind `%s` on `%s`", host, dest);
            sp_closep (&dest_fd);
            if ((dest_fd = sp_open_in_root (root_fd, dest, 0, err)) < 0)
              return -1;
            snprintf (target, sizeof target, "/proc/self/fd/%d", dest_fd);
            if (mount (NULL, target, NULL, MS_REMOUNT | MS_BIND | mflags, NULL) < 0)
              return sp_error_errno (err, "remount `%s`", dest);
            return 0;
          }
      return sp_error_make (err, 0, "mount `%s`: no cgroup v2 entry in /proc/self/cgroup", dest);
    }

  if (mount ("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") < 0)
    return sp_error_errno (err, "mount tmpfs on `%s`", dest);
  /* Reopen by path to get the tmpfs, not the covered directory. */
  tmp_fd = sp_open_in_root (root_fd, dest, 0, err);
  if (tmp_fd < 0)
    return -1;

  for (char *l = strtok_r (copy = sp_xstrdup (s->host_cgroups), "\n", &save); l; l = strtok_r (NULL, "\n", &save))
    {
      char *c1 = strchr (l, ':'), *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
      cleanup_free char *controllers = NULL;
      cleanup_free char *mp = NULL;
      cleanup_free char *mroot = NULL;
      cleanup_free char *host = NULL;
      cleanup_close int sub_fd = -1;
      const char *name, *rel;
      char sub[64];

      if (c1 == NULL || c2 == NULL)
        continue;
      controllers = strndup (c1 + 1, (size_t) (c2 - c1 - 1));
      if (find_mount (controllers, &mp, &mroot) < 0)
        continue; /* hierarchy not mounted on the host: nothing to show */
      rel = c2 + 1;
      if (strcmp (mroot, "/") != 0 && sp_str_has_prefix (rel, mroot))
        rel += strlen (mroot);
      host = sp_xasprintf ("%s%s", mp, rel);
      name = strrchr (mp, '/') ? strrchr (mp, '/') + 1 : mp;
      if (mkdirat (tmp_fd, name, 0755) < 0 && errno != EEXIST)
        return sp_error_errno (err, "mkdir `%s/%s`", dest, name);
      sub_fd = openat (tmp_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub_fd < 0)
        return sp_error_errno (err, "open `%s/%s`", dest, name);
      snprintf (sub, sizeof sub, "/proc/self/fd/%d", sub_fd);
      if (mount (host, sub, NULL, MS_BIND, NULL) < 0)
        return sp_error_errno (err, "bind `%s` on `%s/%s`", host, dest, name);
      sp_closep (&sub_fd);
      sub_fd = openat (tmp_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub_fd < 0)
        return sp_error_errno (err, "open `%s/%s`", dest, name);
      snprintf (sub, sizeof sub, "/proc/self/fd/%d", sub_fd);
      if (mount (NULL, sub, NULL, MS_REMOUNT | MS_BIND | mflags, NULL) < 0)
        return sp_error_errno (err, "remount `%s/%s`", dest, name);
    }
  /* cpu and cpuacct are separate mounts here; the usual links help tools that expect them comounted. */
  if (faccessat (tmp_fd, "cpu", F_OK, 0) == 0 && faccessat (tmp_fd, "cpuacct", F_OK, 0) == 0)
    {
      if (symlinkat ("cpu", tmp_fd, "cpu,cpuacct") < 0 && errno != EEXIST)
        sp_debug ("symlink cpu,cpuacct: %m");
    }
  snprintf (target, sizeof target, "/proc/self/fd/%d", tmp_fd);
  if ((flags & MS_RDONLY) && mount (NULL, target, NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "mode=755") < 0)
    return sp_error_errno (err, "remount `%s` read-only", dest);
  return 0;
}
