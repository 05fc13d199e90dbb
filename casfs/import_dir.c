/* An extracted layer directory (podman/containerd overlay layer "diff" dirs,
 * or any rootfs) into an in-memory layer tree.  The walk goes by directory
 * fd with O_NOFOLLOW everywhere, so a symlink inside the layer is recorded,
 * never followed.  Overlay whiteouts (0/0 character devices), opaque
 * directories (trusted.overlay.opaque=y or user.overlay.opaque=y) and OCI
 * whiteout files (.wh.NAME) all become the overlay form in the layer tree. */
#include "import_internal.h"

#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define READ_BUF (1u << 20)

struct inode_map
{
  struct inode_slot
  {
    dev_t dev;
    ino_t ino;
    struct mnode *node;
  } *slots;
  size_t cap, n;
};

static struct inode_slot *
inode_slot (struct inode_map *m, dev_t dev, ino_t ino)
{
  if (m->n * 2 >= m->cap)
    {
      struct inode_map bigger = { .cap = m->cap ? m->cap * 2 : 64 };
      bigger.slots = sp_xmalloc0 (bigger.cap * sizeof (*bigger.slots));
      for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].node)
          {
            size_t h = ((uint64_t) m->slots[i].ino * 0x9e3779b97f4a7c15ull ^ m->slots[i].dev) & (bigger.cap - 1);
            while (bigger.slots[h].node)
              h = (h + 1) & (bigger.cap - 1);
            bigger.slots[h] = m->slots[i];
          }
      free (m->slots);
      *m = (struct inode_map) { bigger.slots, bigger.cap, m->n };
    }
  size_t h = ((uint64_t) ino * 0x9e3779b97f4a7c15ull ^ dev) & (m->cap - 1);
  while (m->slots[h].node && !(m->slots[h].dev == dev && m->slots[h].ino == ino))
    h = (h + 1) & (m->cap - 1);
  m->slots[h].dev = dev;
  m->slots[h].ino = ino;
  return &m->slots[h];
}

struct dir_walk
{
  struct import_ctx *ctx;
  struct memtree *t;
  struct inode_map inodes;
  uint8_t *buf;
  char *root;
};

static int
read_xattrs (int dfd, const char *name, struct casfs_entry *e, const char *what, sp_error_t *err)
{
  char proc[64 + CASFS_NAME_MAX];
  cleanup_free char *names = NULL;
  ssize_t len;

  snprintf (proc, sizeof proc, "/proc/self/fd/%d/%s", dfd, name);
  len = llistxattr (proc, NULL, 0);
  if (len < 0 && (errno == ENOTSUP || errno == EOPNOTSUPP))
    return 0;
  if (len < 0)
    return sp_error_errno (err, "list xattrs of `%s`", what);
  if (len == 0)
    return 0;
  names = sp_xmalloc0 ((size_t) len + 1);
  len = llistxattr (proc, names, (size_t) len);
  if (len < 0)
    return sp_error_errno (err, "list xattrs of `%s`", what);
  for (char *x = names; x < names + len; x += strlen (x) + 1)
    {
      bool opaque = strcmp (x, OVERLAY_OPAQUE_XATTR) == 0 || strcmp (x, "user.overlay.opaque") == 0;
      ssize_t vlen;
      uint8_t *value;
      if (!opaque && !casfs_import_keep_xattr (x))
        continue;
      if (strlen (x) > CASFS_XATTR_NAME_MAX)
        return sp_error_make (err, EINVAL, "`%s`: xattr name too long", what);
      vlen = lgetxattr (proc, x, NULL, 0);
      if (vlen < 0)
        return sp_error_errno (err, "read xattr `%s` of `%s`", x, what);
      if (vlen > CASFS_XATTR_VALUE_MAX)
        return sp_error_make (err, E2BIG, "`%s`: xattr `%s` is %zd bytes", what, x, vlen);
      value = sp_xmalloc0 ((size_t) vlen + 1);
      vlen = lgetxattr (proc, x, value, (size_t) vlen);
      if (vlen < 0)
        {
          free (value);
          return sp_error_errno (err, "read xattr `%s` of `%s`", x, what);
        }
      e->xattrs = sp_xrealloc (e->xattrs, (e->n_xattrs + 1) * sizeof (*e->xattrs));
      e->xattrs[e->n_xattrs++] = (struct casfs_xattr) { sp_xstrdup (x), value, (uint32_t) vlen };
    }
  return 0;
}

static int
read_file (struct dir_walk *w, int dfd, const char *name, struct mnode *node, const char *what, sp_error_t *err)
{
  cleanup_close int fd = openat (dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  uint64_t total = 0;

  if (fd < 0)
    return sp_error_errno (err, "open `%s`", what);
  if (import_pipe_begin (w->ctx->pipe, node, what, err) < 0)
    return -1;
  for (;;)
    {
      ssize_t n = read (fd, w->buf, READ_BUF);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return sp_error_errno (err, "read `%s`", what);
      if (n == 0)
        break;
      if (import_pipe_write (w->ctx->pipe, w->buf, (size_t) n, err) < 0)
        return -1;
      total += (uint64_t) n;
      w->ctx->progress.input_pos += (uint64_t) n;
    }
  node->e.size = total;
  import_progress_tick (&w->ctx->progress, false);
  return import_pipe_end (w->ctx->pipe, err);
}

static int walk_dir (struct dir_walk *w, int dfd, struct mnode *dir, const char *rel, sp_error_t *err);

static int
walk_entry (struct dir_walk *w, int dfd, struct mnode *dir, const char *name, const char *what, sp_error_t *err)
{
  struct casfs_entry meta = { 0 };
  struct stat st;
  struct mnode *node = NULL;
  struct inode_slot *slot = NULL;
  int ret = -1;

  if (fstatat (dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return sp_error_errno (err, "stat `%s`", what);
  w->ctx->stats.entries++;
  w->ctx->progress.entries++;
  meta.name = sp_xstrdup (name);
  meta.mode = st.st_mode;
  meta.uid = st.st_uid;
  meta.gid = st.st_gid;
  meta.mtime_sec = st.st_mtim.tv_sec;
  meta.mtime_nsec = (uint32_t) st.st_mtim.tv_nsec;
  meta.nlink = 1;
  if (S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode))
    meta.rdev = st.st_rdev;
  if (read_xattrs (dfd, name, &meta, what, err) < 0)
    goto out;
  if (S_ISLNK (st.st_mode))
    {
      char target[CASFS_TARGET_MAX + 2];
      ssize_t n = readlinkat (dfd, name, target, sizeof target);
      if (n < 0)
        {
          sp_error_errno (err, "readlink `%s`", what);
          goto out;
        }
      if (n == 0 || n > CASFS_TARGET_MAX)
        {
          sp_error_make (err, ENAMETOOLONG, "`%s`: symlink target longer than %d bytes", what, CASFS_TARGET_MAX);
          goto out;
        }
      target[n] = '\0';
      meta.target = sp_xstrdup (target);
      meta.size = (uint64_t) n;
    }
  if (!S_ISDIR (st.st_mode) && st.st_nlink > 1)
    {
      slot = inode_slot (&w->inodes, st.st_dev, st.st_ino);
      if (slot->node)
        {
          struct mnode *primary = slot->node;
          if (memtree_put (w->t, dir, &meta, what, &node, err) < 0)
            goto out;
          if (node)
            {
              if (primary->link_group == 0)
                primary->link_group = ++w->t->next_group;
              node->link_group = primary->link_group;
              node->link_primary = primary;
              w->t->links = sp_xrealloc (w->t->links, (w->t->n_links + 1) * sizeof (*w->t->links));
              w->t->links[w->t->n_links++] = node;
            }
          ret = 0;
          goto out;
        }
      w->inodes.n++;
    }
  if (memtree_put (w->t, dir, &meta, what, &node, err) < 0)
    goto out;
  if (slot)
    slot->node = node;
  if (slot && node == NULL)
    {
      slot->dev = 0; /* whiteouts are not link targets; keep the slot empty */
      slot->ino = 0;
    }
  ret = 0;
  if (node && S_ISREG (st.st_mode))
    ret = read_file (w, dfd, name, node, what, err);
  else if (node && S_ISDIR (st.st_mode))
    {
      cleanup_close int sub = openat (dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0)
        ret = sp_error_errno (err, "open directory `%s`", what);
      else
        ret = walk_dir (w, sub, node, what, err);
    }
out:
  casfs_entry_clear (&meta);
  return ret;
}

static int
walk_dir (struct dir_walk *w, int dfd, struct mnode *dir, const char *rel, sp_error_t *err)
{
  int fd = dup (dfd);
  cleanup_dir DIR *d = NULL;
  struct dirent *de;

  if (fd < 0 || (d = fdopendir (fd)) == NULL)
    {
      if (fd >= 0)
        close (fd);
      return sp_error_errno (err, "read directory `%s`", rel);
    }
  errno = 0;
  while ((de = readdir (d)))
    {
      cleanup_free char *what = NULL;
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      what = sp_xasprintf ("%s/%s", rel, de->d_name);
      if (strlen (what) - strlen (w->root) > CASFS_IMPORT_PATH_MAX)
        return sp_error_make (err, ENAMETOOLONG, "`%.64s...`: path longer than %d bytes", what,
                              CASFS_IMPORT_PATH_MAX);
      if (walk_entry (w, dfd, dir, de->d_name, what, err) < 0)
        return -1;
      errno = 0;
    }
  if (errno)
    return sp_error_errno (err, "read directory `%s`", rel);
  return 0;
}

int
import_dir_into (struct import_ctx *ctx, const char *dir, struct memtree *t, sp_error_t *err)
{
  cleanup_close int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct dir_walk w = { .ctx = ctx, .t = t };
  int ret;

  if (fd < 0)
    return sp_error_errno (err, "open directory `%s`", dir);
  w.buf = sp_xmalloc0 (READ_BUF);
  w.root = sp_xstrdup (dir);
  ret = walk_dir (&w, fd, t->root, dir, err);
  free (w.buf);
  free (w.root);
  free (w.inodes.slots);
  return ret;
}
