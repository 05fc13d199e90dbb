/* casfs gc: mark from refs and roots, sweep trees, objects, image records and
 * stale temporary files (docs/store-format.md, "Garbage collection"). */
#include <samepage/casfs_gc.h>
#include <samepage/casfs_images.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Named temps of atomic writes (NAME.tmp.PID) older than this are stale even
 * if some writer ignored the lock. */
#define STALE_TEMP_SECONDS 3600

static bool
mark (struct casfs_digest_map *set, const struct casfs_digest *d)
{
  bool added;
  casfs_digest_map_insert (set, d, &added);
  return added;
}

/* Marks a tree and everything below it; each tree is loaded once per gc. */
static int
mark_tree (struct casfs_store *s, struct casfs_gc_marks *m, const struct casfs_digest *root, const char *from,
           sp_error_t *err)
{
  cleanup_free struct casfs_digest *stack = sp_xmalloc0 (sizeof (*stack));
  size_t n = 0, cap = 1;

  if (!mark (m->trees, root))
    return 0;
  stack[n++] = *root;
  while (n > 0)
    {
      struct casfs_digest d = stack[--n];
      cleanup_tree struct casfs_tree *t = NULL;
      cleanup_free char *problem = NULL;

      if (casfs_walk_load_tree (s, &d, &t, &problem, err) < 0)
        return -1;
      if (t == NULL)
        {
          sp_warn ("gc: %s (reachable from %s); run `casfs fsck`", problem, from);
          m->problems++;
          continue;
        }
      for (size_t i = 0; i < t->n; i++)
        {
          const struct casfs_entry *e = &t->entries[i];
          if (S_ISREG (e->mode))
            mark (m->objects, &e->digest);
          else if (S_ISDIR (e->mode) && mark (m->trees, &e->digest))
            {
              if (n == cap)
                stack = sp_xrealloc (stack, (cap *= 2) * sizeof (*stack));
              stack[n++] = e->digest;
            }
        }
    }
  return 0;
}

static int
mark_image (struct casfs_store *s, struct casfs_gc_marks *m, const struct casfs_digest *id, const char *from,
            sp_error_t *err)
{
  cleanup_image struct casfs_image *img = NULL;
  struct casfs_digest cd;

  if (!mark (m->images, id))
    return 0;
  if (casfs_image_read_record (s, id, &img, err) < 0)
    {
      /* A missing or damaged record loses metadata only; the ref's tree is
       * marked by the caller either way.  I/O errors stop the gc. */
      if ((*err)->status != 0 && (*err)->status != ENOENT && (*err)->status != EIO)
        return -1;
      sp_warn ("gc: %s (image record of %s); run `casfs fsck`", (*err)->msg, from);
      sp_error_release (err);
      m->problems++;
      return 0;
    }
  if (img->config_digest && casfs_digest_parse (img->config_digest, &cd, err) == 0)
    mark (m->objects, &cd);
  sp_error_release (err);
  for (size_t i = 0; i < img->n_layers; i++)
    if (mark_tree (s, m, &img->layers[i].tree, from, err) < 0)
      return -1;
  return mark_tree (s, m, &img->tree, from, err);
}

int
casfs_gc_mark (struct casfs_store *s, struct casfs_gc_marks *m, sp_error_t *err)
{
  cleanup_strv char **refs = NULL;
  cleanup_free struct casfs_digest *roots = NULL;
  size_t n_roots = 0;

  m->trees = casfs_digest_map_new ();
  m->objects = casfs_digest_map_new ();
  m->images = casfs_digest_map_new ();
  m->problems = 0;
  if (casfs_store_list_refs (s, &refs, err) < 0)
    return -1;
  for (char **r = refs; *r; r++)
    {
      struct casfs_ref ref;
      cleanup_free char *from = sp_xasprintf ("ref `%s`", *r);
      if (casfs_store_read_ref (s, *r, &ref, err) < 0)
        return sp_error_wrap (err, "gc: cannot mark");
      if (ref.has_image && mark_image (s, m, &ref.image, from, err) < 0)
        return -1;
      if (mark_tree (s, m, &ref.tree, from, err) < 0)
        return -1;
    }
  if (casfs_store_read_roots (s, &roots, &n_roots, err) < 0)
    return sp_error_wrap (err, "gc: cannot mark");
  for (size_t i = 0; i < n_roots; i++)
    if (mark_tree (s, m, &roots[i], "roots/", err) < 0)
      return -1;
  return 0;
}

void
casfs_gc_marks_clear (struct casfs_gc_marks *m)
{
  casfs_digest_map_free (m->trees, NULL);
  casfs_digest_map_free (m->objects, NULL);
  casfs_digest_map_free (m->images, NULL);
  memset (m, 0, sizeof (*m));
}

struct sweep
{
  struct casfs_store *store;
  const struct casfs_gc_options *opts;
  struct casfs_gc_result *res;
  struct casfs_digest_map *keep;
  size_t *kept, *freed;
};

/* Removes dirfd/name (reported as rel); returns its size in *bytes. */
static int
remove_file (struct sweep *sw, int dirfd, const char *name, const char *rel, sp_error_t *err)
{
  struct stat st;

  if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno == ENOENT)
        return 0;
      return sp_error_errno (err, "stat `%s/%s`", casfs_store_path (sw->store), rel);
    }
  if (!sw->opts->dry_run)
    {
      int r = S_ISDIR (st.st_mode) ? 0 : unlinkat (dirfd, name, 0);
      if (S_ISDIR (st.st_mode))
        {
          cleanup_free char *full = sp_xasprintf ("%s/%s", casfs_store_path (sw->store), rel);
          r = sp_rm_rf (full, err);
          if (r < 0)
            return -1;
        }
      if (r < 0 && errno != ENOENT)
        return sp_error_errno (err, "remove `%s/%s`", casfs_store_path (sw->store), rel);
    }
  sw->res->bytes_freed += (uint64_t) st.st_size;
  if (sw->opts->on_free)
    sw->opts->on_free (rel, (uint64_t) st.st_size, sw->opts->data);
  return 0;
}

static int
sweep_fanout_entry (int dirfd, const char *name, const char *rel, const struct casfs_digest *d, void *data,
                    sp_error_t *err)
{
  struct sweep *sw = data;
  if (d == NULL)
    {
      sp_warn ("gc: leaving unexpected file `%s/%s` alone", casfs_store_path (sw->store), rel);
      return 0;
    }
  if (casfs_digest_map_find (sw->keep, d))
    {
      (*sw->kept)++;
      return 0;
    }
  (*sw->freed)++;
  return remove_file (sw, dirfd, name, rel, err);
}

static bool
stale_temp (int dirfd, const char *name)
{
  struct stat st;
  if (strstr (name, ".tmp.") == NULL || fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return false;
  return time (NULL) - st.st_mtime > STALE_TEMP_SECONDS;
}

/* images/, refs/, roots/ and tmp/: records by digest, temps by age (tmp/ whole). */
static int
sweep_flat (struct sweep *sw, const char *part, sp_error_t *err)
{
  cleanup_close int fd = openat (casfs_store_root_fd (sw->store), part, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_dir DIR *dir = NULL;
  struct dirent *de;
  bool images = strcmp (part, "images") == 0, tmp = strcmp (part, "tmp") == 0;

  if (fd < 0)
    return errno == ENOENT ? 0 : sp_error_errno (err, "open `%s/%s`", casfs_store_path (sw->store), part);
  if ((dir = fdopendir (fd)) == NULL)
    return sp_error_errno (err, "read `%s/%s`", casfs_store_path (sw->store), part);
  fd = -1;
  errno = 0;
  while ((de = readdir (dir)))
    {
      cleanup_free char *rel = NULL;
      const char *name = de->d_name;
      char hex[CASFS_DIGEST_HEX_LEN + 1];
      struct casfs_digest d;
      sp_error_t perr = NULL;

      if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
        continue;
      rel = sp_xasprintf ("%s/%s", part, name);
      if (tmp || stale_temp (dirfd (dir), name))
        {
          sw->res->tmp_freed++;
          if (remove_file (sw, dirfd (dir), name, rel, err) < 0)
            return -1;
        }
      else if (images && strlen (name) == CASFS_DIGEST_HEX_LEN + 5 && sp_str_has_suffix (name, ".json"))
        {
          snprintf (hex, sizeof hex, "%.64s", name);
          if (casfs_digest_parse (hex, &d, &perr) < 0)
            sp_error_release (&perr);
          else if (casfs_digest_map_find (sw->keep, &d))
            sw->res->images_kept++;
          else
            {
              sw->res->images_freed++;
              if (remove_file (sw, dirfd (dir), name, rel, err) < 0)
                return -1;
            }
        }
      errno = 0;
    }
  if (errno != 0)
    return sp_error_errno (err, "read `%s/%s`", casfs_store_path (sw->store), part);
  if (!sw->opts->dry_run && fsync (dirfd (dir)) < 0)
    return sp_error_errno (err, "fsync `%s/%s`", casfs_store_path (sw->store), part);
  return 0;
}

int
casfs_gc (struct casfs_store *s, const struct casfs_gc_options *opts, struct casfs_gc_result *res,
          sp_error_t *err)
{
  struct casfs_gc_marks m = { 0 };
  struct sweep sw = { .store = s, .opts = opts, .res = res };
  static const char *const flat[] = { "images", "refs", "roots", "tmp" };
  int ret = -1;

  memset (res, 0, sizeof (*res));
  if (casfs_store_lock (s, true, err) < 0)
    return sp_error_wrap (err, "gc");
  if (casfs_gc_mark (s, &m, err) < 0)
    goto out;
  res->problems = m.problems;
  sw.keep = m.trees;
  sw.kept = &res->trees_kept;
  sw.freed = &res->trees_freed;
  if (casfs_walk_fanout (s, "trees", sweep_fanout_entry, &sw, err) < 0)
    goto out;
  sw.keep = m.objects;
  sw.kept = &res->objects_kept;
  sw.freed = &res->objects_freed;
  if (casfs_walk_fanout (s, "objects", sweep_fanout_entry, &sw, err) < 0)
    goto out;
  sw.keep = m.images;
  for (size_t i = 0; i < SP_ARRAY_SIZE (flat); i++)
    if (sweep_flat (&sw, flat[i], err) < 0)
      goto out;
  /* Removals in the fan-out directories become durable together. */
  if (!opts->dry_run && syncfs (casfs_store_root_fd (s)) < 0)
    {
      sp_error_errno (err, "syncfs `%s`", casfs_store_path (s));
      goto out;
    }
  ret = 0;
out:
  casfs_gc_marks_clear (&m);
  casfs_store_unlock (s);
  return ret;
}
