/* The FUSE operations of the casfs view.  Everything is answered from tree
 * objects; file data comes from the object files (without caching it twice). */
#include "fuse_internal.h"

#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define XATTR_METACOPY "trusted.overlay.metacopy"
#define XATTR_REDIRECT "trusted.overlay.redirect"
#define XATTR_OPAQUE "trusted.overlay.opaque"
#define OVL_PREFIX "trusted.overlay."
#define OVL_ESCAPED_PREFIX "trusted.overlay.overlay."
#define DIO_ALIGN 4096

struct cf_file
{
  int fd;
  bool dio;          /* the object was opened O_DIRECT */
  char *text;        /* the stats file's snapshot */
  size_t text_len;
};

struct cf_dir
{
  struct cf_tree_ref tree; /* tree directories */
  char **names;            /* synthetic directories */
  size_t n;
};

static struct cf_fs *
fs_of (fuse_req_t req)
{
  return fuse_req_userdata (req);
}

static struct cf_node *
node_of (fuse_req_t req, fuse_ino_t ino)
{
  return cf_inodes_get (fs_of (req)->inodes, ino);
}

static double
attr_timeout (struct cf_fs *fs, const struct cf_node *n)
{
  switch (n->kind)
    {
    case CF_STATS:
      return 0;
    case CF_REF_LINK:
      return fs->ref_timeout;
    default:
      return fs->tree_timeout;
    }
}

static void
fill_entry (struct cf_fs *fs, struct cf_node *n, double timeout, struct fuse_entry_param *ep)
{
  memset (ep, 0, sizeof (*ep));
  ep->ino = n->ino;
  ep->generation = 0;
  cf_node_stat (n, &ep->attr);
  ep->attr_timeout = attr_timeout (fs, n);
  ep->entry_timeout = timeout;
}

static void
cf_init (void *userdata, struct fuse_conn_info *conn)
{
  /* Content never changes under an inode: no invalidation on mtime. */
  conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
  /* Identical symlinks of all trees are one inode (cf_key_entry), so their
   * cached targets are one page each, however many images hold them. */
  if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
    conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
    conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  /* Every listing carries attributes (READDIRPLUS), not only its first
   * batch: with the kernel's "auto" mode the rest of a large directory came
   * as plain READDIR, and a walk then looked each of those entries up, one
   * round trip each.  Entries the kernel holds already go out as names only
   * (do_readdir), so a warm listing costs no more. */
  conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
  conn->time_gran = 1;
}

static void
cf_lookup (fuse_req_t req, fuse_ino_t parent, const char *name)
{
  struct cf_fs *fs = fs_of (req);
  struct cf_node *dir = node_of (req, parent), *child = NULL;
  struct fuse_entry_param ep;
  sp_error_t err = NULL;
  double timeout;

  fs->n.lookup++;
  if (dir == NULL)
    {
      fuse_reply_err (req, ESTALE);
      return;
    }
  if (cf_view_lookup (fs, dir, name, &child, &timeout, &err) < 0)
    {
      int e = err->status ? err->status : EIO;
      sp_error_release (&err);
      if (e == ENOENT && dir->kind != CF_TREES && dir->kind != CF_REFS)
        {
          /* Immutable directories: cache the negative answer too. */
          memset (&ep, 0, sizeof (ep));
          ep.entry_timeout = fs->tree_timeout;
          fuse_reply_entry (req, &ep);
          return;
        }
      fuse_reply_err (req, e);
      return;
    }
  fill_entry (fs, child, timeout, &ep);
  if (fuse_reply_entry (req, &ep) != 0 && !child->permanent)
    cf_inodes_forget (fs->inodes, child->ino, 1); /* the kernel never got it */
}

static void
cf_forget (fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
  struct cf_fs *fs = fs_of (req);
  fs->n.forget++;
  cf_inodes_forget (fs->inodes, ino, nlookup);
  fuse_reply_none (req);
}

static void
cf_forget_multi (fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
  struct cf_fs *fs = fs_of (req);
  fs->n.forget += count;
  for (size_t i = 0; i < count; i++)
    cf_inodes_forget (fs->inodes, forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none (req);
}

static void
cf_getattr (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  struct cf_fs *fs = fs_of (req);
  struct cf_node *n = node_of (req, ino);
  struct stat st;

  fs->n.getattr++;
  if (n == NULL)
    {
      fuse_reply_err (req, ESTALE);
      return;
    }
  cf_node_stat (n, &st);
  fuse_reply_attr (req, &st, attr_timeout (fs, n));
}

static void
cf_readlink (fuse_req_t req, fuse_ino_t ino)
{
  struct cf_node *n = node_of (req, ino);
  cleanup_free char *target = NULL;

  fs_of (req)->n.readlink++;
  if (n == NULL)
    fuse_reply_err (req, ESTALE);
  else if (n->kind == CF_REF_LINK)
    {
      target = cf_view_ref_target (n);
      fuse_reply_readlink (req, target);
    }
  else if (S_ISLNK (n->e.mode) && n->e.target)
    fuse_reply_readlink (req, n->e.target);
  else
    fuse_reply_err (req, EINVAL);
}

static void
cf_open (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  struct cf_fs *fs = fs_of (req);
  struct cf_node *n = node_of (req, ino);
  struct cf_file *f;
  struct stat st;
  sp_error_t err = NULL;
  char hex[CASFS_DIGEST_HEX_LEN + 1];
  int fd;

  fs->n.open++;
  if (n == NULL)
    {
      fuse_reply_err (req, ESTALE);
      return;
    }
  if ((fi->flags & O_ACCMODE) != O_RDONLY)
    {
      fuse_reply_err (req, EROFS);
      return;
    }
  if (n->kind == CF_STATS)
    {
      f = sp_xmalloc0 (sizeof (*f));
      f->fd = -1;
      f->text = cf_view_stats_text (fs);
      f->text_len = strlen (f->text);
      fi->fh = (uintptr_t) f;
      fi->direct_io = 1; /* a fresh snapshot on every open, never cached */
      fuse_reply_open (req, fi);
      return;
    }
  if (!S_ISREG (n->e.mode))
    {
      fuse_reply_err (req, EINVAL);
      return;
    }
  casfs_digest_hex (&n->e.digest, hex);
  /* O_DIRECT: the daemon's reads must not leave a second cached copy of the
   * object beside the FUSE inode's own page cache. */
  fd = fs->object_flags ? casfs_store_open_object (fs->store, &n->e.digest, fs->object_flags, &err) : -1;
  if (fd < 0 && fs->object_flags)
    {
      if (err->status == EINVAL)
        fs->object_flags = 0; /* the store's filesystem refuses O_DIRECT */
      sp_error_release (&err);
    }
  if (fd < 0)
    fd = casfs_store_open_object (fs->store, &n->e.digest, 0, &err);
  if (fd < 0)
    {
      fs->n.eio++;
      sp_warn ("object %s: %s", hex, err->msg);
      sp_error_release (&err);
      fuse_reply_err (req, EIO);
      return;
    }
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || (uint64_t) st.st_size != n->e.size)
    {
      fs->n.eio++;
      sp_warn ("object %s: corrupt (size %lld, the tree says %llu)", hex, (long long) st.st_size,
               (unsigned long long) n->e.size);
      close (fd);
      fuse_reply_err (req, EIO);
      return;
    }
  f = sp_xmalloc0 (sizeof (*f));
  f->fd = fd;
  f->dio = (fcntl (fd, F_GETFL) & O_DIRECT) != 0;
  fi->fh = (uintptr_t) f;
  fi->keep_cache = 1; /* trees are immutable: the cache stays valid across opens */
  fi->noflush = 1;
  if (fuse_reply_open (req, fi) != 0)
    {
      close (f->fd);
      free (f);
    }
}

static void
cf_read (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
  struct cf_fs *fs = fs_of (req);
  struct cf_file *f = (struct cf_file *) (uintptr_t) fi->fh;
  off_t aoff;
  size_t alen, skip;
  void *buf = NULL;
  ssize_t got;

  fs->n.read++;
  if (f->text)
    {
      size_t avail = (size_t) off < f->text_len ? f->text_len - (size_t) off : 0;
      fuse_reply_buf (req, f->text + (avail ? off : 0), avail < size ? avail : size);
      return;
    }
  /* O_DIRECT wants aligned offsets, lengths and buffers. */
  aoff = f->dio ? off & ~(off_t) (DIO_ALIGN - 1) : off;
  skip = (size_t) (off - aoff);
  alen = f->dio ? (skip + size + DIO_ALIGN - 1) & ~(size_t) (DIO_ALIGN - 1) : size;
  if (posix_memalign (&buf, DIO_ALIGN, alen ? alen : DIO_ALIGN) != 0)
    {
      fuse_reply_err (req, ENOMEM);
      return;
    }
  got = 0;
  while ((size_t) got < alen)
    {
      ssize_t r = pread (f->fd, (char *) buf + got, alen - (size_t) got, aoff + got);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          fs->n.eio++;
          sp_warn ("read object of inode %llu at %lld: %s", (unsigned long long) ino, (long long) aoff,
                   strerror (errno));
          free (buf);
          fuse_reply_err (req, EIO);
          return;
        }
      if (r == 0)
        break;
      got += r;
    }
  if ((size_t) got <= skip)
    got = 0;
  else
    got = (ssize_t) ((size_t) got - skip < size ? (size_t) got - skip : size);
  fs->n.read_bytes += (unsigned long long) got;
  fuse_reply_buf (req, (char *) buf + skip, (size_t) got);
  free (buf);
}

static void
cf_release (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  struct cf_file *f = (struct cf_file *) (uintptr_t) fi->fh;
  if (f->fd >= 0 && !f->dio)
    /* Buffered fallback: drop the whole object's pages (dropping only the
     * ranges read leaves large folios cached). */
    (void) posix_fadvise (f->fd, 0, 0, POSIX_FADV_DONTNEED);
  sp_closep (&f->fd);
  free (f->text);
  free (f);
  fuse_reply_err (req, 0);
}

static void
cf_opendir (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  struct cf_fs *fs = fs_of (req);
  struct cf_node *n = node_of (req, ino);
  struct cf_dir *d;
  sp_error_t err = NULL;

  if (n == NULL)
    {
      fuse_reply_err (req, ESTALE);
      return;
    }
  if (!S_ISDIR (n->e.mode))
    {
      fuse_reply_err (req, ENOTDIR);
      return;
    }
  d = sp_xmalloc0 (sizeof (*d));
  if (n->kind == CF_TREE_ROOT || n->kind == CF_ENTRY)
    {
      if (cf_tree_cache_get (fs->trees, &n->e.digest, &d->tree, &err) < 0)
        {
          char hex[CASFS_DIGEST_HEX_LEN + 1];
          casfs_digest_hex (&n->e.digest, hex);
          fs->n.eio++;
          sp_warn ("tree %s: %s", hex, err->msg);
          sp_error_release (&err);
          free (d);
          fuse_reply_err (req, EIO);
          return;
        }
      /* No cache_readdir: a directory is an inode per path in each tree, so
       * cached listings would cost a page per directory of every image,
       * charged to the container that listed it first (+8% of page cache
       * with 16 images of one rootfs).  The price is a round trip per
       * readdir, even warm. */
      d->n = d->tree.tree->n;
    }
  else
    {
      if (cf_view_list_synthetic (fs, n, &d->names, &err) < 0)
        {
          sp_warn ("list %s: %s", n->kind == CF_REFS ? "refs" : "trees", err->msg);
          sp_error_release (&err);
          free (d);
          fuse_reply_err (req, EIO);
          return;
        }
      d->n = sp_strv_len (d->names);
    }
  fi->fh = (uintptr_t) d;
  if (fuse_reply_open (req, fi) != 0)
    {
      cf_tree_cache_put (fs->trees, &d->tree);
      sp_strvfreep (&d->names);
      free (d);
    }
}

static void
do_readdir (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi, bool plus)
{
  struct cf_fs *fs = fs_of (req);
  struct cf_node *dir = node_of (req, ino);
  struct cf_dir *d = (struct cf_dir *) (uintptr_t) fi->fh;
  cleanup_free char *buf = NULL;
  size_t used = 0;

  fs->n.readdir++;
  if (dir == NULL)
    {
      fuse_reply_err (req, ESTALE);
      return;
    }
  buf = malloc (size); /* not zeroed: fuse_add_direntry* write whole, padded records */
  if (buf == NULL)
    {
      fuse_reply_err (req, ENOMEM);
      return;
    }
  /* Offsets: 0 ".", 1 "..", 2 + i the i-th entry. */
  for (off_t i = off; i < (off_t) d->n + 2; i++)
    {
      struct fuse_entry_param ep;
      struct cf_node *child = NULL;
      const char *name;
      size_t len;

      memset (&ep, 0, sizeof (ep));
      if (i < 2)
        {
          name = i == 0 ? "." : "..";
          ep.attr.st_ino = i == 0 ? dir->ino : dir->parent;
          ep.attr.st_mode = S_IFDIR;
        }
      else if (d->names)
        {
          double timeout;
          sp_error_t err = NULL;
          name = d->names[i - 2];
          if (cf_view_lookup (fs, dir, name, &child, &timeout, &err) < 0)
            {
              sp_error_release (&err); /* gone since opendir (a ref was deleted) */
              continue;
            }
          fill_entry (fs, child, timeout, &ep);
          if (!plus && !child->permanent)
            cf_inodes_forget (fs->inodes, child->ino, 1);
          if (!plus)
            child = NULL;
        }
      else
        {
          const struct casfs_entry *e = &d->tree.tree->entries[i - 2];
          name = e->name;
          /* Entries the kernel already holds under this directory go out as
           * names only (nodeid 0: the kernel then links nothing): a warm
           * listing costs neither attribute work here nor a dentry update per
           * entry there.  Only new entries carry attributes, which spares the
           * cold walk its lookups. */
          fuse_ino_t held = 0;
          if (plus && (child = cf_view_child_plus (fs, dir, e, &held)) != NULL)
            fill_entry (fs, child, fs->tree_timeout, &ep);
          else
            {
              ep.attr.st_ino = held ? held : cf_view_child_ino (fs, dir, e);
              ep.attr.st_mode = e->mode;
            }
        }
      if (plus)
        len = fuse_add_direntry_plus (req, buf + used, size - used, name, &ep, i + 1);
      else
        len = fuse_add_direntry (req, buf + used, size - used, name, &ep.attr, i + 1);
      if (len > size - used)
        {
          if (child && !child->permanent)
            cf_inodes_forget (fs->inodes, child->ino, 1); /* not sent: undo the lookup */
          break;
        }
      used += len;
      if (plus && i >= 2 && ep.ino == 0)
        fs->n.readdir_held++;
    }
  fuse_reply_buf (req, buf, used);
}

static void
cf_readdir (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
  do_readdir (req, ino, size, off, fi, false);
}

static void
cf_readdirplus (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
  do_readdir (req, ino, size, off, fi, true);
}

static void
cf_releasedir (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  struct cf_dir *d = (struct cf_dir *) (uintptr_t) fi->fh;
  cf_tree_cache_put (fs_of (req)->trees, &d->tree);
  sp_strvfreep (&d->names);
  free (d);
  fuse_reply_err (req, 0);
}

static void
cf_statfs (fuse_req_t req, fuse_ino_t ino)
{
  struct statvfs sv;
  if (fstatvfs (casfs_store_objects_fd (fs_of (req)->store), &sv) < 0)
    {
      fuse_reply_err (req, errno);
      return;
    }
  sv.f_namemax = CASFS_NAME_MAX;
  sv.f_flag |= ST_RDONLY;
  fuse_reply_statfs (req, &sv);
}

static void
cf_access (fuse_req_t req, fuse_ino_t ino, int mask)
{
  /* Only asked without default_permissions (the daemon always sets it). */
  struct cf_node *n = node_of (req, ino);
  const struct fuse_ctx *ctx = fuse_req_ctx (req);
  unsigned bits;

  if (n == NULL)
    {
      fuse_reply_err (req, ESTALE);
      return;
    }
  if (mask & W_OK)
    {
      fuse_reply_err (req, EROFS);
      return;
    }
  if (ctx->uid == 0 || mask == F_OK)
    {
      /* root may read anything; exec needs one x bit */
      fuse_reply_err (req, (mask & X_OK) && !S_ISDIR (n->e.mode) && !(n->e.mode & 0111) ? EACCES : 0);
      return;
    }
  bits = ctx->uid == n->e.uid ? (n->e.mode >> 6) & 7 : ctx->gid == n->e.gid ? (n->e.mode >> 3) & 7 : n->e.mode & 7;
  fuse_reply_err (req, ((unsigned) mask & ~bits & 7) ? EACCES : 0);
}

/* Whether the requesting process has CAP_SYS_ADMIN, from /proc/PID/status,
 * remembered for a second per pid. */
static bool
requester_is_admin (struct cf_fs *fs, fuse_req_t req)
{
  const struct fuse_ctx *ctx = fuse_req_ctx (req);
  unsigned long long now = sp_now_ns ();
  cleanup_free char *path = NULL;
  cleanup_free char *status = NULL;
  bool admin = false;
  const char *cap;

  if (ctx->pid <= 0)
    return ctx->uid == 0; /* a request the kernel makes on nobody's behalf */
  pthread_mutex_lock (&fs->caps_lock);
  for (size_t i = 0; i < SP_ARRAY_SIZE (fs->caps); i++)
    if (fs->caps[i].pid == ctx->pid && fs->caps[i].until_ns > now)
      {
        admin = fs->caps[i].admin;
        pthread_mutex_unlock (&fs->caps_lock);
        return admin;
      }
  pthread_mutex_unlock (&fs->caps_lock);

  path = sp_xasprintf ("/proc/%d/status", (int) ctx->pid);
  if (sp_read_file (path, &status, NULL, NULL) == 0 && (cap = strstr (status, "\nCapEff:")) != NULL)
    admin = (strtoull (cap + 8, NULL, 16) >> CAP_SYS_ADMIN) & 1;

  pthread_mutex_lock (&fs->caps_lock);
  {
    size_t slot = (size_t) ctx->pid % SP_ARRAY_SIZE (fs->caps);
    fs->caps[slot].pid = ctx->pid;
    fs->caps[slot].until_ns = now + 1000000000ULL;
    fs->caps[slot].admin = admin;
  }
  pthread_mutex_unlock (&fs->caps_lock);
  return admin;
}

static void
reply_xattr_value (fuse_req_t req, const void *value, size_t len, size_t size)
{
  if (size == 0)
    fuse_reply_xattr (req, len);
  else if (size < len)
    fuse_reply_err (req, ERANGE);
  else
    fuse_reply_buf (req, value, len);
}

/* getxattr needs no capability check here: for trusted.* the VFS asks
 * capable(CAP_SYS_ADMIN) of the caller's credentials before the request is
 * sent, and overlayfs reads with its mounter's credentials while the request
 * carries the pid of whichever process touched the overlay, so a pid-based
 * check would refuse overlayfs itself. */
static void
cf_getxattr (fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
  struct cf_node *n = node_of (req, ino);
  const struct casfs_xattr *x;

  fs_of (req)->n.getxattr++;
  if (n == NULL)
    {
      fuse_reply_err (req, ESTALE);
      return;
    }
  if (n->kind == CF_ENTRY && S_ISREG (n->e.mode))
    {
      if (strcmp (name, XATTR_METACOPY) == 0)
        {
          reply_xattr_value (req, "", 0, size);
          return;
        }
      if (strcmp (name, XATTR_REDIRECT) == 0)
        {
          /* Asked twice per file on a cold walk (size, then value): no
           * allocation, no printf. */
          char redirect[1 + CASFS_OBJECT_RELPATH_LEN + 1] = "/";
          casfs_object_relpath_into (&n->e.digest, redirect + 1);
          reply_xattr_value (req, redirect, 1 + CASFS_OBJECT_RELPATH_LEN, size);
          return;
        }
    }
  else if (n->kind == CF_ENTRY && S_ISDIR (n->e.mode) && strcmp (name, XATTR_OPAQUE) == 0)
    {
      /* A tree is a whole image: nothing below it is to be merged into its
       * directories.  Saying so spares overlayfs the redirect it would ask
       * next of every directory on a cold walk (one round trip each). */
      reply_xattr_value (req, "y", 1, size);
      return;
    }
  if (sp_str_has_prefix (name, OVL_ESCAPED_PREFIX))
    {
      /* The image's own trusted.overlay.X, escaped the way overlayfs expects
       * of a lower layer, so an image can never redirect to other objects.
       * Layer B asks this of every file through layer A: built on the stack
       * (the kernel caps names at XATTR_NAME_MAX). */
      const char *rest = name + sizeof OVL_ESCAPED_PREFIX - 1;
      const size_t plen = sizeof OVL_PREFIX - 1, len = strlen (rest);
      char orig[XATTR_NAME_MAX + 1];
      if (plen + len >= sizeof orig) /* a name no kernel sends: not ours to answer */
        {
          fuse_reply_err (req, ENODATA);
          return;
        }
      memcpy (orig, OVL_PREFIX, plen);
      memcpy (orig + plen, rest, len + 1);
      x = casfs_entry_xattr (&n->e, orig);
    }
  else if (sp_str_has_prefix (name, OVL_PREFIX))
    x = NULL;
  else
    x = casfs_entry_xattr (&n->e, name);
  if (x == NULL)
    {
      fuse_reply_err (req, ENODATA);
      return;
    }
  reply_xattr_value (req, x->value, x->len, size);
}

/* The overlay xattrs the view itself answers for a node (cf_getxattr gives
 * their values), listed after the image's own. */
static const char *const *
own_xattrs (const struct cf_node *n)
{
  static const char *const file[] = { XATTR_METACOPY, XATTR_REDIRECT, NULL };
  static const char *const dir[] = { XATTR_OPAQUE, NULL };
  static const char *const none[] = { NULL };
  if (n->kind != CF_ENTRY)
    return none;
  return S_ISREG (n->e.mode) ? file : S_ISDIR (n->e.mode) ? dir : none;
}

static void
cf_listxattr (fuse_req_t req, fuse_ino_t ino, size_t size)
{
  struct cf_fs *fs = fs_of (req);
  struct cf_node *n = node_of (req, ino);
  cleanup_free char *list = NULL;
  size_t len = 0, cap = 64;
  bool admin = false, asked = false;
  const char *const *own;

  fs->n.listxattr++;
  if (n == NULL)
    {
      fuse_reply_err (req, ESTALE);
      return;
    }
  own = own_xattrs (n);
  list = sp_xmalloc0 (cap);
  for (size_t i = 0;; i++)
    {
      cleanup_free char *escaped = NULL;
      const char *name;
      size_t nl;

      if (i < n->e.n_xattrs)
        {
          name = n->e.xattrs[i].name;
          if (sp_str_has_prefix (name, OVL_PREFIX))
            name = escaped = sp_xasprintf (OVL_ESCAPED_PREFIX "%s", name + strlen (OVL_PREFIX));
        }
      else if ((name = own[i - n->e.n_xattrs]) == NULL)
        break;
      if (sp_str_has_prefix (name, "trusted."))
        {
          if (!asked)
            admin = requester_is_admin (fs, req), asked = true;
          if (!admin)
            continue;
        }
      nl = strlen (name) + 1;
      while (len + nl > cap)
        list = sp_xrealloc (list, cap *= 2);
      memcpy (list + len, name, nl);
      len += nl;
    }
  reply_xattr_value (req, list, len, size);
}

static void
cf_setxattr (fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags)
{
  fuse_reply_err (req, EROFS);
}

const struct fuse_lowlevel_ops cf_ops = {
  .init = cf_init,
  .lookup = cf_lookup,
  .forget = cf_forget,
  .forget_multi = cf_forget_multi,
  .getattr = cf_getattr,
  .readlink = cf_readlink,
  .open = cf_open,
  .read = cf_read,
  .release = cf_release,
  .opendir = cf_opendir,
  .readdir = cf_readdir,
  .readdirplus = cf_readdirplus,
  .releasedir = cf_releasedir,
  .statfs = cf_statfs,
  .access = cf_access,
  .getxattr = cf_getxattr,
  .listxattr = cf_listxattr,
  .setxattr = cf_setxattr,
};
