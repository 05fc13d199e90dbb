/* Device nodes and the usual /dev links inside the rootfs (before pivot_root). */
#include "setup.h"

#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const struct oci_device default_devices[] = {
  { .path = "/dev/null", .type = 'c', .major = 1, .minor = 3, .has_file_mode = true, .file_mode = 0666 },
  { .path = "/dev/zero", .type = 'c', .major = 1, .minor = 5, .has_file_mode = true, .file_mode = 0666 },
  { .path = "/dev/full", .type = 'c', .major = 1, .minor = 7, .has_file_mode = true, .file_mode = 0666 },
  { .path = "/dev/random", .type = 'c', .major = 1, .minor = 8, .has_file_mode = true, .file_mode = 0666 },
  { .path = "/dev/urandom", .type = 'c', .major = 1, .minor = 9, .has_file_mode = true, .file_mode = 0666 },
  { .path = "/dev/tty", .type = 'c', .major = 5, .minor = 0, .has_file_mode = true, .file_mode = 0666 },
};

static const struct
{
  const char *target, *path;
} default_links[] = {
  { "/proc/self/fd", "/dev/fd" },     { "/proc/self/fd/0", "/dev/stdin" }, { "/proc/self/fd/1", "/dev/stdout" },
  { "/proc/self/fd/2", "/dev/stderr" }, { "pts/ptmx", "/dev/ptmx" },
};

/* Splits "/dev/x/y" into an fd for "/dev/x" (created) and "y". */
static int
open_parent (int root_fd, const char *path, const char **base, sp_error_t *err)
{
  cleanup_free char *dir = sp_xstrdup (path);
  char *slash = strrchr (dir, '/');
  *base = strrchr (path, '/') ? strrchr (path, '/') + 1 : path;
  if (slash)
    *slash = '\0';
  return sp_open_in_root (root_fd, *dir ? dir : "/", 'd', err);
}

static int
make_device (struct sp_setup *s, int root_fd, const struct oci_device *d, sp_error_t *err)
{
  cleanup_close int parent = -1;
  const char *base;
  mode_t type;
  mode_t mode = d->has_file_mode ? d->file_mode : 0666;

  switch (d->type)
    {
    case 'c':
    case 'u':
      type = S_IFCHR;
      break;
    case 'b':
      type = S_IFBLK;
      break;
    case 'p':
      type = S_IFIFO;
      break;
    default:
      return sp_error_make (err, EINVAL, "config.json: linux.devices: `%s`: unknown type `%c`", d->path, d->type);
    }
  parent = open_parent (root_fd, d->path, &base, err);
  if (parent < 0)
    return sp_error_wrap (err, "device `%s`", d->path);
  if (s->new_userns)
    {
      /* mknod is not allowed in a user namespace: bind the host's node. */
      cleanup_close int fd = -1;
      char target[64];
      if (type != S_IFIFO)
        {
          fd = openat (parent, base, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0000);
          if (fd < 0 && errno != EEXIST)
            return sp_error_errno (err, "create `%s`", d->path);
          sp_closep (&fd);
          fd = openat (parent, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
          if (fd < 0)
            return sp_error_errno (err, "open `%s`", d->path);
          snprintf (target, sizeof target, "/proc/self/fd/%d", fd);
          if (mount (d->path, target, NULL, MS_BIND, NULL) < 0)
            return sp_error_errno (err, "bind device `%s`", d->path);
          return 0;
        }
    }
  if (unlinkat (parent, base, 0) < 0 && errno != ENOENT && errno != EISDIR)
    return sp_error_errno (err, "replace `%s`", d->path);
  if (mknodat (parent, base, type | (mode & 07777), makedev ((unsigned) d->major, (unsigned) d->minor)) < 0)
    return sp_error_errno (err, "mknod `%s`", d->path);
  /* mknod honours the umask: set the mode exactly. */
  if (fchmodat (parent, base, mode & 07777, 0) < 0)
    return sp_error_errno (err, "chmod `%s`", d->path);
  if ((d->has_uid || d->has_gid)
      && fchownat (parent, base, d->has_uid ? d->uid : (uid_t) -1, d->has_gid ? d->gid : (gid_t) -1,
                   AT_SYMLINK_NOFOLLOW)
             < 0)
    return sp_error_errno (err, "chown `%s`", d->path);
  return 0;
}

static bool
has_dev_mount (struct oci_config *c)
{
  for (size_t i = 0; i < c->mounts_len; i++)
    if (strcmp (c->mounts[i].destination, "/dev") == 0)
      return true;
  return false;
}

int
sp_devices_create (struct sp_setup *s, bool default_devices_too, sp_error_t *err)
{
  cleanup_close int root_fd = open (s->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  struct oci_linux *l = s->config->linux_;
  bool dev_mounted = has_dev_mount (s->config);

  if (root_fd < 0)
    return sp_error_errno (err, "open rootfs `%s`", s->rootfs);
  if (default_devices_too && dev_mounted)
    {
      for (size_t i = 0; i < SP_ARRAY_SIZE (default_devices); i++)
        if (make_device (s, root_fd, &default_devices[i], err) < 0)
          return -1;
      for (size_t i = 0; i < SP_ARRAY_SIZE (default_links); i++)
        {
          cleanup_close int parent = -1;
          const char *base;
          parent = open_parent (root_fd, default_links[i].path, &base, err);
          if (parent < 0)
            return -1;
          if (symlinkat (default_links[i].target, parent, base) < 0 && errno != EEXIST)
            return sp_error_errno (err, "symlink `%s`", default_links[i].path);
        }
      if (access ("/proc/kcore", F_OK) == 0)
        {
          cleanup_close int parent = -1;
          const char *base;
          parent = open_parent (root_fd, "/dev/core", &base, err);
          if (parent >= 0 && symlinkat ("/proc/kcore", parent, base) < 0 && errno != EEXIST)
            sp_debug ("symlink /dev/core: %m");
          sp_error_release (err);
        }
    }
  for (size_t i = 0; l && i < l->devices_len; i++)
    if (make_device (s, root_fd, &l->devices[i], err) < 0)
      return -1;
  return 0;
}
