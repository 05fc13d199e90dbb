/* casfs fsck: verify objects, trees, image records and reachability. */
#include <samepage/casfs_fsck.h>
#include <samepage/casfs_images.h>
#include <samepage/casfs_walk.h>
#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Status values kept in the digest maps. */
#define ST_OK ((void *) 1)
#define ST_BAD ((void *) 2)

struct fsck
{
  struct casfs_store *store;
  const struct casfs_fsck_options *opts;
  struct casfs_fsck_result *res;
  struct casfs_tree_cache *trees; /* every tree, decoded once */
  struct casfs_digest_map *objects; /* objects on disk: ST_OK or ST_BAD */
  struct casfs_digest_map *tree_state; /* reachability verdict per tree */
  size_t n_affected;
};

static void problem (struct fsck *f, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
problem (struct fsck *f, const char *fmt, ...)
{
  cleanup_free char *msg = NULL;
  va_list ap;

  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  va_end (ap);
  f->res->problems++;
  if (f->opts->on_problem && msg)
    f->opts->on_problem (msg, f->opts->data);
}

/* Moves a damaged file out of the store's namespace, keeping it for inspection. */
static int
quarantine (struct fsck *f, int dirfd, const char *name, const char *rel, sp_error_t *err)
{
  cleanup_close int qfd = -1;
  cleanup_free char *flat = sp_xstrdup (rel);

  if (!f->opts->repair)
    return 0;
  for (char *p = flat; *p; p++)
    if (*p == '/')
      *p = '-';
  if (mkdirat (casfs_store_root_fd (f->store), "quarantine", 0700) < 0 && errno != EEXIST)
    return sp_error_errno (err, "mkdir `%s/quarantine`", casfs_store_path (f->store));
  qfd = openat (casfs_store_root_fd (f->store), "quarantine", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (qfd < 0)
    return sp_error_errno (err, "open `%s/quarantine`", casfs_store_path (f->store));
  if (renameat (dirfd, name, qfd, flat) < 0)
    return sp_error_errno (err, "move `%s` to quarantine", rel);
  if (fsync (qfd) < 0 || fsync (dirfd) < 0)
    return sp_error_errno (err, "fsync after quarantining `%s`", rel);
  f->res->quarantined++;
  return 0;
}

/* 1 when the file's content hashes to d, 0 when not, < 0 on I/O error. */
static int
object_matches (int dirfd, const char *name, const char *rel, const struct casfs_digest *d, sp_error_t *err)
{
  cleanup_close int fd = openat (dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  struct casfs_digest got;
  unsigned int n = 0;
  char buf[65536];
  ssize_t r;
  struct stat st;

  if (md == NULL || EVP_DigestInit_ex (md, casfs_sha256 (), NULL) != 1)
    {
      EVP_MD_CTX_free (md);
      return sp_error_make (err, ENOMEM, "init SHA-256");
    }
  if (fd < 0 || fstat (fd, &st) < 0)
    {
      EVP_MD_CTX_free (md);
      return errno == ELOOP ? 0 : sp_error_errno (err, "open `%s`", rel);
    }
  if (!S_ISREG (st.st_mode))
    {
      EVP_MD_CTX_free (md);
      return 0;
    }
  while ((r = read (fd, buf, sizeof buf)) != 0)
    {
      if (r < 0)
        {
          if (errno == EINTR)
            continue;
          EVP_MD_CTX_free (md);
          return sp_error_errno (err, "read `%s`", rel);
        }
      EVP_DigestUpdate (md, buf, (size_t) r);
    }
  EVP_DigestFinal_ex (md, got.b, &n);
  EVP_MD_CTX_free (md);
  return memcmp (got.b, d->b, CASFS_DIGEST_LEN) == 0;
}

static int
check_object_file (int dirfd, const char *name, const char *rel, const struct casfs_digest *d, void *data,
                   sp_error_t *err)
{
  struct fsck *f = data;
  bool added;
  int r;

  if (d == NULL)
    {
      problem (f, "%s: unexpected file (name is not a digest)", rel);
      return quarantine (f, dirfd, name, rel, err);
    }
  f->res->objects_checked++;
  if ((r = object_matches (dirfd, name, rel, d, err)) < 0)
    return -1;
  *casfs_digest_map_insert (f->objects, d, &added) = r ? ST_OK : ST_BAD;
  if (r)
    return 0;
  problem (f, "%s: content does not match its name", rel);
  return quarantine (f, dirfd, name, rel, err);
}

static int
check_tree_file (int dirfd, const char *name, const char *rel, const struct casfs_digest *d, void *data,
                 sp_error_t *err)
{
  struct fsck *f = data;
  const struct casfs_tree *t;
  const char *why;
  bool added;

  if (d == NULL)
    {
      problem (f, "%s: unexpected file (name is not a digest)", rel);
      return quarantine (f, dirfd, name, rel, err);
    }
  f->res->trees_checked++;
  if (casfs_tree_cache_get (f->trees, d, &t, &why, err) < 0)
    return -1;
  if (t)
    return 0;
  *casfs_digest_map_insert (f->tree_state, d, &added) = ST_BAD;
  problem (f, "%s", why);
  return quarantine (f, dirfd, name, rel, err);
}

/* Whether an object a tree names is present and intact, and its size agrees. */
static bool
object_ok (struct fsck *f, const struct casfs_entry *e)
{
  void **st = casfs_digest_map_find (f->objects, &e->digest);
  cleanup_free char *rel = casfs_object_relpath (&e->digest);
  struct stat sb;

  if (st == NULL)
    {
      bool added;
      problem (f, "objects/%s: missing (file `%s`)", rel, e->name);
      *casfs_digest_map_insert (f->objects, &e->digest, &added) = ST_BAD;
      return false;
    }
  if (*st == ST_BAD)
    return false;
  if (fstatat (casfs_store_objects_fd (f->store), rel, &sb, AT_SYMLINK_NOFOLLOW) == 0
      && (uint64_t) sb.st_size != e->size)
    {
      problem (f, "file `%s`: size %llu, but objects/%s has %lld bytes", e->name, (unsigned long long) e->size,
               rel, (long long) sb.st_size);
      return false;
    }
  return true;
}

/* 1 when the tree and everything below it is intact, 0 when damaged. */
static int
check_reachable (struct fsck *f, const struct casfs_digest *d, sp_error_t *err)
{
  bool added;
  void **st = casfs_digest_map_insert (f->tree_state, d, &added);
  const struct casfs_tree *t;
  const char *why;
  bool ok = true;

  if (!added)
    return *st == ST_OK; /* visited (or being visited: Merkle trees have no cycles) */
  *st = ST_OK;
  if (casfs_tree_cache_get (f->trees, d, &t, &why, err) < 0)
    return -1;
  if (t == NULL)
    {
      /* Every tree on disk was scanned (damaged ones are already ST_BAD),
       * so this one is missing. */
      problem (f, "%s", why);
      st = casfs_digest_map_find (f->tree_state, d);
      *st = ST_BAD;
      return 0;
    }
  for (size_t i = 0; i < t->n; i++)
    {
      const struct casfs_entry *e = &t->entries[i];
      if (S_ISREG (e->mode) && !object_ok (f, e))
        ok = false;
      else if (S_ISDIR (e->mode))
        {
          int r = check_reachable (f, &e->digest, err);
          if (r < 0)
            return -1;
          ok = ok && r;
        }
    }
  st = casfs_digest_map_find (f->tree_state, d); /* the map may have grown */
  *st = ok ? ST_OK : ST_BAD;
  return ok;
}

static void
affected (struct fsck *f, const char *what, const char *name)
{
  f->res->affected = sp_xrealloc (f->res->affected, (f->n_affected + 2) * sizeof (char *));
  f->res->affected[f->n_affected++] = sp_xasprintf ("%s %s", what, name);
  f->res->affected[f->n_affected] = NULL;
}

static int
check_image (struct fsck *f, const struct casfs_digest *id, const struct casfs_digest *tree, const char *ref,
             sp_error_t *err)
{
  cleanup_image struct casfs_image *img = NULL;
  struct casfs_digest cd;
  int ok = 1;

  f->res->images_checked++;
  if (casfs_image_read_record (f->store, id, &img, err) < 0)
    {
      problem (f, "ref `%s`: %s", ref, (*err)->msg);
      sp_error_release (err);
      return 0;
    }
  if (memcmp (img->tree.b, tree->b, CASFS_DIGEST_LEN) != 0)
    {
      problem (f, "ref `%s`: its image record is for another tree", ref);
      ok = 0;
    }
  if (img->config_digest)
    {
      struct casfs_entry e = { .name = (char *) "(image config)" };
      struct stat sb;
      cleanup_free char *rel = NULL;
      if (casfs_digest_parse (img->config_digest, &cd, err) < 0)
        {
          problem (f, "ref `%s`: image record: %s", ref, (*err)->msg);
          sp_error_release (err);
          return 0;
        }
      rel = casfs_object_relpath (&cd);
      e.digest = cd;
      e.size = fstatat (casfs_store_objects_fd (f->store), rel, &sb, AT_SYMLINK_NOFOLLOW) == 0
                   ? (uint64_t) sb.st_size
                   : 0;
      if (!object_ok (f, &e))
        ok = 0;
    }
  for (size_t i = 0; i < img->n_layers; i++)
    {
      int r = check_reachable (f, &img->layers[i].tree, err);
      if (r < 0)
        return -1;
      ok = ok && r;
    }
  return ok;
}

static int
check_refs_and_roots (struct fsck *f, sp_error_t *err)
{
  cleanup_strv char **refs = NULL;
  cleanup_free struct casfs_digest *roots = NULL;
  size_t n_roots = 0;

  if (casfs_store_list_refs (f->store, &refs, err) < 0)
    return -1;
  for (char **r = refs; *r; r++)
    {
      struct casfs_ref ref;
      int ok, img_ok = 1;
      f->res->refs_checked++;
      if (casfs_store_read_ref (f->store, *r, &ref, err) < 0)
        {
          problem (f, "%s", (*err)->msg);
          sp_error_release (err);
          affected (f, "ref", *r);
          continue;
        }
      if ((ok = check_reachable (f, &ref.tree, err)) < 0)
        return -1;
      if (ref.has_image && (img_ok = check_image (f, &ref.image, &ref.tree, *r, err)) < 0)
        return -1;
      if (!ok || !img_ok)
        affected (f, "ref", *r);
    }
  if (casfs_store_read_roots (f->store, &roots, &n_roots, err) < 0)
    {
      problem (f, "%s", (*err)->msg);
      sp_error_release (err);
      return 0;
    }
  for (size_t i = 0; i < n_roots; i++)
    {
      char hex[CASFS_DIGEST_HEX_LEN + 1];
      int ok = check_reachable (f, &roots[i], err);
      if (ok < 0)
        return -1;
      casfs_digest_hex (&roots[i], hex);
      if (!ok)
        affected (f, "root tree", hex);
    }
  return 0;
}

int
casfs_fsck (struct casfs_store *s, const struct casfs_fsck_options *opts, struct casfs_fsck_result *res,
            sp_error_t *err)
{
  struct fsck f = { .store = s, .opts = opts, .res = res };
  int ret = -1;

  memset (res, 0, sizeof (*res));
  res->affected = sp_xmalloc0 (sizeof (char *));
  if (casfs_store_lock (s, false, err) < 0)
    return sp_error_wrap (err, "fsck");
  f.trees = casfs_tree_cache_new (s);
  f.objects = casfs_digest_map_new ();
  f.tree_state = casfs_digest_map_new ();
  if (casfs_walk_fanout (s, "objects", check_object_file, &f, err) < 0
      || casfs_walk_fanout (s, "trees", check_tree_file, &f, err) < 0 || check_refs_and_roots (&f, err) < 0)
    goto out;
  ret = 0;
out:
  casfs_tree_cache_free (f.trees);
  casfs_digest_map_free (f.objects, NULL);
  casfs_digest_map_free (f.tree_state, NULL);
  casfs_store_unlock (s);
  return ret;
}

void
casfs_fsck_result_clear (struct casfs_fsck_result *res)
{
  sp_strvfreep (&res->affected);
}
