/* casfs export: write a tree as a pax tar with libarchive. */
#include <samepage/casfs_export.h>
#include <samepage/casfs_walk.h>
#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* link_ids are numbered 1..N per image; anything far beyond is hostile. */
#define LINK_ID_MAX (1u << 24)

struct export
{
  struct casfs_store *store;
  struct casfs_tree_cache *cache;
  struct archive *ar;
  char **link_paths; /* by link_id: where the group was first written */
  size_t n_link_paths;
};

static int
archive_failed (struct export *x, const char *what, const char *path, sp_error_t *err)
{
  return sp_error_make (err, archive_errno (x->ar) > 0 ? archive_errno (x->ar) : 0, "export `%s`: %s: %s", path,
                        what, archive_error_string (x->ar) ? archive_error_string (x->ar) : "failed");
}

static int
write_content (struct export *x, const struct casfs_entry *e, const char *path, sp_error_t *err)
{
  cleanup_close int fd = casfs_store_open_object (x->store, &e->digest, 0, err);
  char buf[65536];
  uint64_t left = e->size;
  struct stat st;

  if (fd < 0)
    return sp_error_wrap (err, "export `%s`", path);
  if (fstat (fd, &st) < 0)
    return sp_error_errno (err, "export `%s`: stat object", path);
  if ((uint64_t) st.st_size != e->size)
    return sp_error_make (err, EIO, "export `%s`: object has %lld bytes, tree says %llu (run casfs fsck)", path,
                          (long long) st.st_size, (unsigned long long) e->size);
  while (left > 0)
    {
      ssize_t n = read (fd, buf, left < sizeof buf ? (size_t) left : sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return sp_error_make (err, n < 0 ? errno : EIO, "export `%s`: read object", path);
      if (archive_write_data (x->ar, buf, (size_t) n) != n)
        return archive_failed (x, "write data", path, err);
      left -= (uint64_t) n;
    }
  return 0;
}

static int
write_entry (struct export *x, const struct casfs_entry *e, const char *path, sp_error_t *err)
{
  struct archive_entry *ae = archive_entry_new ();
  const char *first = NULL;
  int r, ret = -1;

  if (e->link_id && S_ISDIR (e->mode))
    {
      archive_entry_free (ae);
      return sp_error_make (err, 0, "export `%s`: a directory cannot be a hardlink", path);
    }
  if (e->link_id)
    {
      if (e->link_id > LINK_ID_MAX)
        {
          archive_entry_free (ae);
          return sp_error_make (err, 0, "export `%s`: link_id %llu out of range", path,
                                (unsigned long long) e->link_id);
        }
      if (e->link_id >= x->n_link_paths)
        {
          size_t n = e->link_id + 1;
          x->link_paths = sp_xrealloc (x->link_paths, n * sizeof (char *));
          memset (x->link_paths + x->n_link_paths, 0, (n - x->n_link_paths) * sizeof (char *));
          x->n_link_paths = n;
        }
      first = x->link_paths[e->link_id];
    }
  archive_entry_set_pathname (ae, path);
  archive_entry_set_mode (ae, e->mode);
  archive_entry_set_uid (ae, e->uid);
  archive_entry_set_gid (ae, e->gid);
  archive_entry_set_mtime (ae, e->mtime_sec, e->mtime_nsec);
  archive_entry_set_nlink (ae, e->nlink ? e->nlink : 1);
  for (size_t i = 0; i < e->n_xattrs; i++)
    archive_entry_xattr_add_entry (ae, e->xattrs[i].name, e->xattrs[i].value, e->xattrs[i].len);
  if (first)
    {
      /* the group's data went out with its first path */
      archive_entry_set_hardlink (ae, first);
      archive_entry_set_size (ae, 0);
    }
  else if (S_ISREG (e->mode))
    archive_entry_set_size (ae, (la_int64_t) e->size);
  else if (S_ISLNK (e->mode))
    archive_entry_set_symlink (ae, e->target);
  else if (S_ISCHR (e->mode) || S_ISBLK (e->mode))
    {
      archive_entry_set_rdevmajor (ae, major (e->rdev));
      archive_entry_set_rdevminor (ae, minor (e->rdev));
    }
  r = archive_write_header (x->ar, ae);
  if (r < ARCHIVE_WARN)
    {
      archive_failed (x, "write header", path, err);
      goto out;
    }
  if (!first && S_ISREG (e->mode) && write_content (x, e, path, err) < 0)
    goto out;
  if (e->link_id && !first)
    x->link_paths[e->link_id] = sp_xstrdup (path);
  ret = 0;
out:
  archive_entry_free (ae);
  return ret;
}

static int
export_dir (struct export *x, const struct casfs_digest *d, const char *prefix, sp_error_t *err)
{
  const struct casfs_tree *t;
  const char *problem;

  if (casfs_tree_cache_get (x->cache, d, &t, &problem, err) < 0)
    return -1;
  if (t == NULL)
    return sp_error_make (err, EIO, "export `%s/`: %s", prefix[0] ? prefix : ".", problem);
  for (size_t i = 0; i < t->n; i++)
    {
      const struct casfs_entry *e = &t->entries[i];
      cleanup_free char *path = prefix[0] ? sp_xasprintf ("%s/%s", prefix, e->name) : sp_xstrdup (e->name);
      if (write_entry (x, e, path, err) < 0)
        return -1;
      if (S_ISDIR (e->mode) && export_dir (x, &e->digest, path, err) < 0)
        return -1;
    }
  return 0;
}

int
casfs_export_tar (struct casfs_store *s, const struct casfs_digest *root, int fd, sp_error_t *err)
{
  struct export x = { .store = s, .cache = casfs_tree_cache_new (s), .ar = archive_write_new () };
  int ret = -1;

  if (x.ar == NULL)
    {
      casfs_tree_cache_free (x.cache);
      return sp_error_make (err, ENOMEM, "export: allocate archive writer");
    }
  /* Full pax (not restricted): xattrs and ns times always get their records.
   * xattrs only as SCHILY.xattr (GNU tar's and Go's form): libarchive 3.6
   * reads both forms of a default archive as two copies of each xattr. */
  if (archive_write_set_format_pax (x.ar) != ARCHIVE_OK
      || archive_write_set_format_option (x.ar, "pax", "xattrheader", "SCHILY") != ARCHIVE_OK
      || archive_write_open_fd (x.ar, fd) != ARCHIVE_OK)
    {
      archive_failed (&x, "open", "tar", err);
      goto out;
    }
  if (export_dir (&x, root, "", err) < 0)
    goto out;
  if (archive_write_close (x.ar) != ARCHIVE_OK)
    {
      archive_failed (&x, "close", "tar", err);
      goto out;
    }
  ret = 0;
out:
  archive_write_free (x.ar);
  casfs_tree_cache_free (x.cache);
  for (size_t i = 0; i < x.n_link_paths; i++)
    free (x.link_paths[i]);
  free (x.link_paths);
  return ret;
}
