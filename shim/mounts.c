/* The config's mounts, made below the rootfs before pivot_root.  Targets are
 * resolved inside the rootfs with openat2(RESOLVE_IN_ROOT) and mounted
 * through /proc/self/fd, so a symlink in the image cannot redirect a mount
 * onto the host. */
#include "setup.h"

#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MOUNT_ATTR_NOSYMFOLLOW
#define MOUNT_ATTR_NOSYMFOLLOW 0x00200000
#endif
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

const struct sp_mount_flag sp_mount_flags[] = {
  { "defaults", false, 0, 0, 0 },
  { "ro", false, MS_RDONLY, 0, 0 },
  { "rw", true, MS_RDONLY, 0, 0 },
  { "suid", true, MS_NOSUID, 0, 0 },
  { "nosuid", false, MS_NOSUID, 0, 0 },
  { "dev", true, MS_NODEV, 0, 0 },
  { "nodev", false, MS_NODEV, 0, 0 },
  { "exec", true, MS_NOEXEC, 0, 0 },
  { "noexec", false, MS_NOEXEC, 0, 0 },
  { "sync", false, MS_SYNCHRONOUS, 0, 0 },
  { "async", true, MS_SYNCHRONOUS, 0, 0 },
  { "dirsync", false, MS_DIRSYNC, 0, 0 },
  { "remount", false, MS_REMOUNT, 0, 0 },
  { "mand", false, MS_MANDLOCK, 0, 0 },
  { "nomand", true, MS_MANDLOCK, 0, 0 },
  { "atime", true, MS_NOATIME, 0, 0 },
  { "noatime", false, MS_NOATIME, 0, 0 },
  { "diratime", true, MS_NODIRATIME, 0, 0 },
  { "nodiratime", false, MS_NODIRATIME, 0, 0 },
  { "relatime", false, MS_RELATIME, 0, 0 },
  { "norelatime", true, MS_RELATIME, 0, 0 },
  { "strictatime", false, MS_STRICTATIME, 0, 0 },
  { "nostrictatime", true, MS_STRICTATIME, 0, 0 },
  { "lazytime", false, MS_LAZYTIME, 0, 0 },
  { "nolazytime", true, MS_LAZYTIME, 0, 0 },
  { "silent", false, MS_SILENT, 0, 0 },
  { "loud", true, MS_SILENT, 0, 0 },
  { "iversion", false, MS_I_VERSION, 0, 0 },
  { "noiversion", true, MS_I_VERSION, 0, 0 },
  { "nosymfollow", false, MS_NOSYMFOLLOW, 0, 0 },
  { "symfollow", true, MS_NOSYMFOLLOW, 0, 0 },
  { "bind", false, MS_BIND, 0, 0 },
  { "rbind", false, MS_BIND | MS_REC, 0, 0 },
  { "shared", false, 0, MS_SHARED, 0 },
  { "rshared", false, 0, MS_SHARED | MS_REC, 0 },
  { "slave", false, 0, MS_SLAVE, 0 },
  { "rslave", false, 0, MS_SLAVE | MS_REC, 0 },
  { "private", false, 0, MS_PRIVATE, 0 },
  { "rprivate", false, 0, MS_PRIVATE | MS_REC, 0 },
  { "unbindable", false, 0, MS_UNBINDABLE, 0 },
  { "runbindable", false, 0, MS_UNBINDABLE | MS_REC, 0 },
  { "rro", false, 0, 0, MOUNT_ATTR_RDONLY },
  { "rnosuid", false, 0, 0, MOUNT_ATTR_NOSUID },
  { "rnodev", false, 0, 0, MOUNT_ATTR_NODEV },
  { "rnoexec", false, 0, 0, MOUNT_ATTR_NOEXEC },
  { "rnodiratime", false, 0, 0, MOUNT_ATTR_NODIRATIME },
  { "rnoatime", false, 0, 0, MOUNT_ATTR_NOATIME },
  { "rrelatime", false, 0, 0, MOUNT_ATTR_RELATIME },
  { "rstrictatime", false, 0, 0, MOUNT_ATTR_STRICTATIME },
  { "rnosymfollow", false, 0, 0, MOUNT_ATTR_NOSYMFOLLOW },
  { NULL, false, 0, 0, 0 },
};

/* Recursive attributes that clear rather than set. */
static const struct
{
  const char *name;
  unsigned long long attr;
} clear_attrs[] = {
  { "rrw", MOUNT_ATTR_RDONLY },       { "rsuid", MOUNT_ATTR_NOSUID },   { "rdev", MOUNT_ATTR_NODEV },
  { "rexec", MOUNT_ATTR_NOEXEC },     { "rdiratime", MOUNT_ATTR_NODIRATIME },
  { "ratime", MOUNT_ATTR_NOATIME },   { "rsymfollow", MOUNT_ATTR_NOSYMFOLLOW },
};

struct parsed_options
{
  unsigned long flags;
  unsigned long propagation;
  unsigned long long attr_set, attr_clr;
  char *data; /* the options the kernel filesystem gets */
  bool tmpcopyup;
  bool idmap;
};

static void
parse_options (char **options, struct parsed_options *o)
{
  size_t cap = 1, len = 0;
  memset (o, 0, sizeof *o);
  o->data = sp_xmalloc0 (1);
  for (char **opt = options; opt && *opt; opt++)
    {
      const struct sp_mount_flag *f;
      bool known = false;
      for (f = sp_mount_flags; f->name; f++)
        if (strcmp (f->name, *opt) == 0)
          {
            if (f->clear)
              o->flags &= ~f->flag;
            else
              o->flags |= f->flag;
            o->propagation |= f->propagation;
            o->attr_set |= f->attr;
            known = true;
            break;
          }
      for (size_t i = 0; !known && i < SP_ARRAY_SIZE (clear_attrs); i++)
        if (strcmp (clear_attrs[i].name, *opt) == 0)
          {
            o->attr_clr |= clear_attrs[i].attr;
            known = true;
          }
      if (!known && strcmp (*opt, "tmpcopyup") == 0)
        o->tmpcopyup = known = true;
      if (!known && (strcmp (*opt, "idmap") == 0 || strcmp (*opt, "ridmap") == 0))
        o->idmap = known = true;
      if (known)
        continue;
      size_t l = strlen (*opt);
      cap += l + 1;
      o->data = sp_xrealloc (o->data, cap);
      if (len)
        o->data[len++] = ',';
      memcpy (o->data + len, *opt, l + 1);
      len += l;
    }
}

static int
sys_openat2 (int dirfd, const char *path, struct open_how *how)
{
  return (int) syscall (SYS_openat2, dirfd, path, how, sizeof (*how));
}

int
sp_open_in_root (int root_fd, const char *path, int kind, sp_error_t *err)
{
  struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  cleanup_free char *copy = sp_xstrdup (path);
  cleanup_close int cur = -1;
  char *p, *save = NULL;
  int fd;

  fd = sys_openat2 (root_fd, path, &how);
  if (fd >= 0 || errno != ENOENT || kind == 0)
    {
      if (fd < 0)
        return sp_error_errno (err, "open `%s` in the rootfs", path);
      return fd;
    }
  /* Create the missing components one at a time, each resolved in root. */
  cur = fcntl (root_fd, F_DUPFD_CLOEXEC, 3);
  if (cur < 0)
    return sp_error_errno (err, "dup rootfs fd");
  for (p = strtok_r (copy, "/", &save); p; p = strtok_r (NULL, "/", &save))
    {
      bool last = save == NULL || *save == '\0';
      int next;
      while (!last && *save == '/')
        save++;
      last = save == NULL || *save == '\0';
      next = sys_openat2 (cur, p, &how);
      if (next < 0 && errno == ENOENT)
        {
          if (last && kind == 'f')
            {
              int cfd = openat (cur, p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
              if (cfd < 0 && errno != EEXIST)
                return sp_error_errno (err, "create `%s` in the rootfs", path);
              if (cfd >= 0)
                close (cfd);
            }
          else if (mkdirat (cur, p, 0755) < 0 && errno != EEXIST)
            return sp_error_errno (err, "mkdir `%s` in the rootfs", path);
          next = sys_openat2 (cur, p, &how);
        }
      if (next < 0)
        return sp_error_errno (err, "open `%s` in the rootfs", path);
      sp_closep (&cur);
      cur = next;
    }
  return sp_steal_fd (&cur);
}

static int
fd_path (int fd, char buf[64])
{
  return snprintf (buf, 64, "/proc/self/fd/%d", fd);
}

static bool
source_is_dir (const char *src)
{
  struct stat st;
  return stat (src, &st) < 0 || S_ISDIR (st.st_mode);
}

/* Flags of an existing mount that a remount in a user namespace must keep. */
static unsigned long
locked_flags (const char *target)
{
  struct statvfs sv;
  unsigned long f = 0;
  if (statvfs (target, &sv) < 0)
    return 0;
  if (sv.f_flag & ST_NOSUID)
    f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV)
    f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC)
    f |= MS_NOEXEC;
  if (sv.f_flag & ST_RDONLY)
    f |= MS_RDONLY;
  if (sv.f_flag & ST_NOATIME)
    f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME)
    f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME)
    f |= MS_RELATIME;
  return f;
}

static int
remount_bind (const char *target, unsigned long flags, sp_error_t *err)
{
  unsigned long base = MS_REMOUNT | MS_BIND | (flags & ~(MS_BIND | MS_REC | MS_REMOUNT));
  if (mount (NULL, target, NULL, base, NULL) == 0)
    return 0;
  if (errno == EPERM && mount (NULL, target, NULL, base | locked_flags (target), NULL) == 0)
    return 0;
  return sp_error_errno (err, "remount `%s`", target);
}

static int
mount_attrs (int fd, unsigned long long set, unsigned long long clr, sp_error_t *err)
{
  struct mount_attr attr = { .attr_set = set, .attr_clr = clr };
  if (set == 0 && clr == 0)
    return 0;
  if (syscall (SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
    return sp_error_errno (err, "set recursive mount attributes");
  return 0;
}

/* Bind-mounts the host's path at target (sysfs/mqueue fallback in user namespaces). */
static int
bind_fallback (const char *host, const char *target, unsigned long flags, sp_error_t *err)
{
  if (mount (host, target, NULL, MS_BIND | MS_REC, NULL) < 0)
    return sp_error_errno (err, "bind `%s`", host);
  return remount_bind (target, flags | MS_BIND, err);
}

static int
do_mount (struct sp_setup *s, int root_fd, struct oci_mount *m, int idmap_fd, sp_error_t *err)
{
  struct parsed_options o;
  cleanup_free char *data = NULL;
  cleanup_free char *source = NULL;
  cleanup_close int fd = -1;
  const char *type = m->type;
  char target[64];
  bool bind;
  int ret = 0;

  parse_options (m->options, &o);
  data = o.data;
  bind = (o.flags & MS_BIND) || (type && strcmp (type, "bind") == 0);
  if (m->source && m->source[0] != '/' && bind)
    source = sp_xasprintf ("%s/%s", s->bundle, m->source);
  else
    source = sp_xstrdup (m->source ? m->source : (type ? type : "none"));

  if (type && (strcmp (type, "cgroup") == 0 || strcmp (type, "cgroup2") == 0))
    {
      return sp_mount_cgroups (s, root_fd, m->destination, o.flags, err);
    }

  fd = sp_open_in_root (root_fd, m->destination, bind && !source_is_dir (source) ? 'f' : 'd', err);
  if (fd < 0)
    return sp_error_wrap (err, "mount `%s`", m->destination);
  fd_path (fd, target);

  if (bind)
    {
      if (idmap_fd >= 0 ? sp_idmap_move (idmap_fd, fd, err) < 0
                        : mount (source, target, NULL, MS_BIND | (o.flags & MS_REC), NULL) < 0)
        return idmap_fd >= 0 ? sp_error_wrap (err, "mount `%s`", m->destination)
                             : sp_error_errno (err, "bind mount `%s` on `%s`", source, m->destination);
      /* Reopen: fd still names the covered directory, not the new mount. */
      sp_closep (&fd);
      fd = sp_open_in_root (root_fd, m->destination, 0, err);
      if (fd < 0)
        return -1;
      fd_path (fd, target);
      if ((o.flags & ~(MS_BIND | MS_REC)) && remount_bind (target, o.flags, err) < 0)
        return sp_error_wrap (err, "mount `%s`", m->destination);
    }
  else
    {
      unsigned long flags = o.flags & ~MS_REMOUNT;
      ret = mount (source, target, type, flags, *data ? data : NULL);
      if (ret < 0 && errno == EPERM && s->new_userns && type && strcmp (type, "sysfs") == 0 && !s->new_netns)
        ret = bind_fallback ("/sys", target, flags, err);
      else if (ret < 0 && errno == EPERM && s->new_userns && type && strcmp (type, "mqueue") == 0 && !s->new_ipcns)
        ret = bind_fallback ("/dev/mqueue", target, flags, err);
      else if (ret < 0)
        return sp_error_errno (err, "mount %s `%s` on `%s`", type ? type : "", source, m->destination);
      if (ret < 0)
        return sp_error_wrap (err, "mount `%s`", m->destination);
      sp_closep (&fd);
      fd = sp_open_in_root (root_fd, m->destination, 0, err);
      if (fd < 0)
        return -1;
      fd_path (fd, target);
    }
  if (o.tmpcopyup)
    sp_warn ("mount `%s`: option tmpcopyup is not supported, ignored", m->destination);
  if (idmap_fd >= 0 && !bind)
    return sp_error_make (err, EINVAL, "config.json: mounts: `%s`: only bind mounts can be idmapped", m->destination);
  if (o.propagation && mount (NULL, target, NULL, o.propagation, NULL) < 0)
    return sp_error_errno (err, "set propagation of `%s`", m->destination);
  if (mount_attrs (fd, o.attr_set, o.attr_clr, err) < 0)
    return sp_error_wrap (err, "mount `%s`", m->destination);
  return 0;
}

int
sp_mounts_apply (struct sp_setup *s, sp_error_t *err)
{
  cleanup_close int root_fd = open (s->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);

  if (root_fd < 0)
    return sp_error_errno (err, "open rootfs `%s`", s->rootfs);
  for (size_t i = 0; i < s->config->mounts_len; i++)
    {
      struct oci_mount *m = &s->config->mounts[i];
      if (do_mount (s, root_fd, m, s->idmap_fds ? s->idmap_fds[i] : -1, err) < 0)
        return -1;
    }
  return 0;
}
