/* The container's root: propagation, pivot_root, masked and read-only paths. */
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
#include <sys/syscall.h>
#include <unistd.h>

static unsigned long
propagation_flags (const char *name)
{
  static const struct
  {
    const char *name;
    unsigned long flags;
  } table[] = {
    { "shared", MS_SHARED },          { "rshared", MS_SHARED | MS_REC },
    { "slave", MS_SLAVE },            { "rslave", MS_SLAVE | MS_REC },
    { "private", MS_PRIVATE },        { "rprivate", MS_PRIVATE | MS_REC },
    { "unbindable", MS_UNBINDABLE },  { "runbindable", MS_UNBINDABLE | MS_REC },
  };
  for (size_t i = 0; name && i < SP_ARRAY_SIZE (table); i++)
    if (strcmp (table[i].name, name) == 0)
      return table[i].flags;
  return 0;
}

int
sp_rootfs_prepare (struct sp_setup *s, sp_error_t *err)
{
  const char *prop = s->config->linux_ ? s->config->linux_->rootfs_propagation : NULL;
  unsigned long flags = propagation_flags (prop);

  /* Nothing we mount may leak back to the host: everything slave first,
   * whatever the config asks for (that is applied to / after pivot_root). */
  if (mount (NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
    return sp_error_errno (err, "make / rslave");
  if (flags && (flags & MS_REC) && !(flags & MS_SHARED) && mount (NULL, "/", NULL, flags, NULL) < 0)
    return sp_error_errno (err, "make / %s", prop);
  /* pivot_root refuses a new root whose parent mount is shared: after the
   * recursive slave above, none is, and slaves keep following the host. */
  /* Only now, with nothing propagating back to the host, the casfs layer. */
  if (sp_casfs_mount_layer_b (&s->casfs, s->rootfs, err) < 0)
    return -1;
  if (mount (s->rootfs, s->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
    return sp_error_errno (err, "bind rootfs `%s` onto itself", s->rootfs);
  return 0;
}

int
sp_rootfs_pivot (struct sp_setup *s, sp_error_t *err)
{
  cleanup_close int old_root = -1;
  cleanup_close int new_root = -1;

  if (s->opts && s->opts->no_pivot)
    {
      if (chdir (s->rootfs) < 0)
        return sp_error_errno (err, "chdir `%s`", s->rootfs);
      if (mount (s->rootfs, "/", NULL, MS_MOVE, NULL) < 0)
        return sp_error_errno (err, "move rootfs to /");
      if (chroot (".") < 0)
        return sp_error_errno (err, "chroot");
      if (chdir ("/") < 0)
        return sp_error_errno (err, "chdir /");
      return 0;
    }
  old_root = open ("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  new_root = open (s->rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (old_root < 0 || new_root < 0)
    return sp_error_errno (err, "open roots for pivot_root");
  if (fchdir (new_root) < 0)
    return sp_error_errno (err, "chdir rootfs");
  /* pivot_root(".", ".") stacks the old root under the new one; unmount it. */
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    return sp_error_errno (err, "pivot_root into `%s`", s->rootfs);
  if (fchdir (old_root) < 0)
    return sp_error_errno (err, "chdir old root");
  if (mount (NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
    return sp_error_errno (err, "make old root rslave");
  if (umount2 (".", MNT_DETACH) < 0)
    return sp_error_errno (err, "unmount old root");
  if (chdir ("/") < 0)
    return sp_error_errno (err, "chdir /");
  return 0;
}

static int
mask_path (const char *path, sp_error_t *err)
{
  struct stat st;
  if (lstat (path, &st) < 0)
    {
      if (errno == ENOENT || errno == ENOTDIR)
        return 0;
      return sp_error_errno (err, "mask `%s`", path);
    }
  if (S_ISDIR (st.st_mode))
    {
      if (mount ("tmpfs", path, "tmpfs", MS_RDONLY, "size=0k,nr_inodes=1") < 0)
        return sp_error_errno (err, "mask `%s`", path);
    }
  else if (mount ("/dev/null", path, NULL, MS_BIND, NULL) < 0)
    return sp_error_errno (err, "mask `%s`", path);
  return 0;
}

static int
readonly_path (const char *path, sp_error_t *err)
{
  if (mount (path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
    {
      if (errno == ENOENT)
        return 0;
      return sp_error_errno (err, "bind `%s` read-only", path);
    }
  if (mount (NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0
      && mount (NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
    return sp_error_errno (err, "remount `%s` read-only", path);
  return 0;
}

int
sp_rootfs_finalize (struct sp_setup *s, sp_error_t *err)
{
  struct oci_linux *l = s->config->linux_;
  unsigned long prop;

  for (char **p = l ? l->readonly_paths : NULL; p && *p; p++)
    if (readonly_path (*p, err) < 0)
      return -1;
  for (char **p = l ? l->masked_paths : NULL; p && *p; p++)
    if (mask_path (*p, err) < 0)
      return -1;
  if (s->config->root && s->config->root->readonly
      && mount (NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
    {
      if (mount (NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        return sp_error_errno (err, "remount / read-only");
    }
  prop = propagation_flags (l ? l->rootfs_propagation : NULL);
  if (prop && mount (NULL, "/", NULL, prop, NULL) < 0)
    return sp_error_errno (err, "set rootfs propagation `%s`", l->rootfs_propagation);
  return 0;
}
