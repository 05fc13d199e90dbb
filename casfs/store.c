/* The content-addressed store: layout, objects, trees, refs (docs/store-format.md). */
#include "store_internal.h"

#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_FORMAT "casfs-store 1\n"

static const struct
{
  const char *name;
  mode_t mode;
} store_dirs[] = {
  { "objects", 0755 }, { "trees", 0755 }, { "refs", 0700 }, { "images", 0755 },
  { "roots", 0700 },   { "tmp", 0700 },   { "quarantine", 0700 },
};

static int
open_dir_at (int parent, const char *name, sp_error_t *err)
{
  int fd = openat (parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return sp_error_errno (err, "open store directory `%s`", name);
  return fd;
}

static int
create_layout (const char *path, sp_error_t *err)
{
  cleanup_close int fd = -1;
  char sub[3];

  if (sp_mkdir_p (path, 0755, err) < 0)
    return -1;
  fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return sp_error_errno (err, "open store `%s`", path);
  for (size_t i = 0; i < SP_ARRAY_SIZE (store_dirs); i++)
    if (mkdirat (fd, store_dirs[i].name, store_dirs[i].mode) < 0 && errno != EEXIST)
      return sp_error_errno (err, "mkdir `%s/%s`", path, store_dirs[i].name);
  /* Fan-out directories exist up front so writers never race to create them. */
  for (int i = 0; i < 256; i++)
    {
      snprintf (sub, sizeof sub, "%02x", i);
      for (int k = 0; k < 2; k++)
        {
          cleanup_close int dfd = open_dir_at (fd, k ? "trees" : "objects", err);
          if (dfd < 0)
            return -1;
          if (mkdirat (dfd, sub, 0755) < 0 && errno != EEXIST)
            return sp_error_errno (err, "mkdir `%s/%s/%s`", path, k ? "trees" : "objects", sub);
        }
    }
  if (faccessat (fd, "format", F_OK, 0) < 0)
    {
      cleanup_free char *fmt = sp_xasprintf ("%s/format", path);
      if (sp_write_file_atomic (fmt, STORE_FORMAT, strlen (STORE_FORMAT), 0644, err) < 0)
        return -1;
    }
  return 0;
}

int
casfs_store_open (const char *path, bool create, struct casfs_store **out, sp_error_t *err)
{
  struct casfs_store *s;
  cleanup_free char *format = NULL;

  if (create && create_layout (path, err) < 0)
    return sp_error_wrap (err, "create store `%s`", path);
  s = sp_xmalloc0 (sizeof (*s));
  s->root_fd = s->objects_fd = s->trees_fd = s->refs_fd = s->tmp_fd = s->lock_fd = -1;
  pthread_mutex_init (&s->batch_lock, NULL);
  s->path = sp_xstrdup (path);
  s->root_fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (s->root_fd < 0)
    {
      sp_error_errno (err, "open store `%s`", path);
      casfs_store_close (s);
      return -1;
    }
  if (sp_read_file_at (s->root_fd, "format", &format, NULL, err) < 0)
    {
      sp_error_wrap (err, "store `%s` (not a casfs store?)", path);
      casfs_store_close (s);
      return -1;
    }
  if (strcmp (format, STORE_FORMAT) != 0)
    {
      sp_error_make (err, 0, "store `%s`: unsupported format `%.40s`", path, format);
      casfs_store_close (s);
      return -1;
    }
  if ((s->objects_fd = open_dir_at (s->root_fd, "objects", err)) < 0
      || (s->trees_fd = open_dir_at (s->root_fd, "trees", err)) < 0
      || (s->refs_fd = open_dir_at (s->root_fd, "refs", err)) < 0
      || (s->tmp_fd = open_dir_at (s->root_fd, "tmp", err)) < 0)
    {
      sp_error_wrap (err, "store `%s`", path);
      casfs_store_close (s);
      return -1;
    }
  *out = s;
  return 0;
}

void
casfs_store_close (struct casfs_store *s)
{
  if (s == NULL)
    return;
  store_batch_drop (s);
  pthread_mutex_destroy (&s->batch_lock);
  sp_closep (&s->root_fd);
  sp_closep (&s->objects_fd);
  sp_closep (&s->trees_fd);
  sp_closep (&s->refs_fd);
  sp_closep (&s->tmp_fd);
  sp_closep (&s->lock_fd);
  free (s->path);
  free (s);
}

const char *
casfs_store_path (const struct casfs_store *s)
{
  return s->path;
}

int
casfs_store_objects_fd (const struct casfs_store *s)
{
  return s->objects_fd;
}

int
casfs_store_root_fd (const struct casfs_store *s)
{
  return s->root_fd;
}

int
casfs_store_trees_fd (const struct casfs_store *s)
{
  return s->trees_fd;
}

static int
open_lock_file (struct casfs_store *s, sp_error_t *err)
{
  int fd = openat (s->root_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return sp_error_errno (err, "open `%s/lock`", s->path);
  return fd;
}

int
casfs_store_lock (struct casfs_store *s, bool exclusive, sp_error_t *err)
{
  if (s->lock_fd < 0 && (s->lock_fd = open_lock_file (s, err)) < 0)
    return -1;
  while (flock (s->lock_fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
    if (errno != EINTR)
      return sp_error_errno (err, "lock `%s/lock`", s->path);
  return 0;
}

void
casfs_store_unlock (struct casfs_store *s)
{
  if (s->lock_fd >= 0)
    flock (s->lock_fd, LOCK_UN);
}

char *
casfs_object_relpath (const struct casfs_digest *d)
{
  char rel[CASFS_OBJECT_RELPATH_LEN + 1];
  casfs_object_relpath_into (d, rel);
  return sp_xstrdup (rel);
}

void
casfs_object_relpath_into (const struct casfs_digest *d, char out[CASFS_OBJECT_RELPATH_LEN + 1])
{
  char hex[CASFS_DIGEST_HEX_LEN + 1];
  casfs_digest_hex (d, hex);
  out[0] = hex[0];
  out[1] = hex[1];
  out[2] = '/';
  memcpy (out + 3, hex + 2, CASFS_DIGEST_HEX_LEN - 2 + 1);
}

int
casfs_store_open_object (struct casfs_store *s, const struct casfs_digest *d, int flags, sp_error_t *err)
{
  cleanup_free char *rel = casfs_object_relpath (d);
  int fd = openat (s->objects_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | flags);
  if (fd < 0)
    return sp_error_errno (err, "open object `%s`", rel);
  return fd;
}

bool
casfs_store_has_object (struct casfs_store *s, const struct casfs_digest *d)
{
  cleanup_free char *rel = casfs_object_relpath (d);
  return faccessat (s->objects_fd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int
store_link_tmpfile (int fd, int dirfd, const char *rel, const char *what, sp_error_t *err)
{
  char proc[64];

  snprintf (proc, sizeof proc, "/proc/self/fd/%d", fd);
  if (linkat (AT_FDCWD, proc, dirfd, rel, AT_SYMLINK_FOLLOW) < 0)
    {
      if (errno == EEXIST)
        return 0;
      return sp_error_errno (err, "link %s `%s`", what, rel);
    }
  return 1;
}

struct casfs_object_writer
{
  struct casfs_store *store;
  int fd;
  EVP_MD_CTX *md;
};

int
casfs_object_writer_new (struct casfs_store *s, struct casfs_object_writer **out, sp_error_t *err)
{
  struct casfs_object_writer *w = sp_xmalloc0 (sizeof (*w));

  w->store = s;
  w->fd = openat (s->tmp_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0444);
  if (w->fd < 0)
    {
      free (w);
      return sp_error_errno (err, "create temp file in `%s/tmp`", s->path);
    }
  w->md = EVP_MD_CTX_new ();
  if (w->md == NULL || EVP_DigestInit_ex (w->md, casfs_sha256 (), NULL) != 1)
    {
      casfs_object_writer_free (w);
      return sp_error_make (err, ENOMEM, "init SHA-256");
    }
  *out = w;
  return 0;
}

int
casfs_object_writer_write (struct casfs_object_writer *w, const void *data, size_t len, sp_error_t *err)
{
  if (EVP_DigestUpdate (w->md, data, len) != 1)
    return sp_error_make (err, 0, "SHA-256 update failed");
  if (sp_write_all (w->fd, data, len) < 0)
    return sp_error_errno (err, "write object to `%s/tmp`", w->store->path);
  return 0;
}

int
casfs_object_writer_commit (struct casfs_object_writer *w, struct casfs_digest *out, sp_error_t *err)
{
  unsigned int n = 0;
  cleanup_free char *rel = NULL;

  if (EVP_DigestFinal_ex (w->md, out->b, &n) != 1)
    return sp_error_make (err, 0, "SHA-256 final failed");
  rel = casfs_object_relpath (out);
  if (faccessat (w->store->objects_fd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return 0; /* stored already: the temp file disappears on free */
  return store_publish (w->store, &w->fd, false, out, rel, err);
}

void
casfs_object_writer_free (struct casfs_object_writer *w)
{
  if (w == NULL)
    return;
  sp_closep (&w->fd);
  EVP_MD_CTX_free (w->md);
  free (w);
}

int
casfs_store_write_object (struct casfs_store *s, const void *data, size_t len, struct casfs_digest *out,
                          sp_error_t *err)
{
  struct casfs_object_writer *w = NULL;
  int ret;

  if (casfs_object_writer_new (s, &w, err) < 0)
    return -1;
  ret = casfs_object_writer_write (w, data, len, err);
  if (ret >= 0)
    ret = casfs_object_writer_commit (w, out, err);
  casfs_object_writer_free (w);
  return ret;
}

int
casfs_store_read_tree (struct casfs_store *s, const struct casfs_digest *d, struct casfs_tree **out,
                       sp_error_t *err)
{
  cleanup_free char *rel = casfs_object_relpath (d);
  cleanup_free char *buf = NULL;
  struct casfs_digest check;
  size_t len;

  if (sp_read_file_at (s->trees_fd, rel, &buf, &len, err) < 0)
    return sp_error_wrap (err, "read tree");
  casfs_digest_of (buf, len, &check);
  if (memcmp (check.b, d->b, CASFS_DIGEST_LEN) != 0)
    return sp_error_make (err, EIO, "tree `%s` does not match its digest", rel);
  if (casfs_tree_decode ((const uint8_t *) buf, len, out, err) < 0)
    return sp_error_wrap (err, "tree `%s`", rel);
  return 0;
}

int
casfs_store_write_tree (struct casfs_store *s, struct casfs_tree *t, struct casfs_digest *out, sp_error_t *err)
{
  cleanup_free uint8_t *buf = NULL;
  cleanup_free char *rel = NULL;
  cleanup_close int fd = -1;
  size_t len;

  if (casfs_tree_canonicalize (t, err) < 0 || casfs_tree_encode (t, &buf, &len, err) < 0)
    return -1;
  casfs_digest_of (buf, len, out);
  rel = casfs_object_relpath (out);
  if (faccessat (s->trees_fd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return 0;
  fd = openat (s->tmp_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0444);
  if (fd < 0)
    return sp_error_errno (err, "create temp file in `%s/tmp`", s->path);
  if (sp_write_all (fd, buf, len) < 0)
    return sp_error_errno (err, "write tree");
  return store_publish (s, &fd, true, out, rel, err);
}

/* Ref names are kept readable on disk: '/' becomes "%2F", '%' "%25", and a
 * leading '.' is escaped so no name can be "." or ".." or a dotfile. */
char *
casfs_ref_escape (const char *name)
{
  char *out = sp_xmalloc0 (strlen (name) * 3 + 1), *o = out;
  for (const char *p = name; *p; p++)
    {
      if (*p == '/' || *p == '%' || (p == name && *p == '.'))
        o += sprintf (o, "%%%02X", (unsigned char) *p);
      else
        *o++ = *p;
    }
  return out;
}

static int
hexdigit (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

char *
casfs_ref_unescape (const char *file)
{
  char *out = sp_xmalloc0 (strlen (file) + 1), *o = out;
  for (const char *p = file; *p; p++)
    {
      int hi, lo;
      if (*p == '%' && (hi = hexdigit (p[1])) >= 0 && (lo = hexdigit (p[2])) >= 0)
        {
          *o++ = (char) (hi << 4 | lo);
          p += 2;
        }
      else
        *o++ = *p;
    }
  return out;
}

static int
check_ref_name (const char *name, sp_error_t *err)
{
  size_t len = strlen (name);
  cleanup_free char *file = NULL;
  if (len == 0 || len > 200)
    return sp_error_make (err, 0, "invalid ref name `%s`: 1 to 200 characters", name);
  for (const char *p = name; *p; p++)
    if ((unsigned char) *p < 0x20 || *p == 0x7f)
      return sp_error_make (err, 0, "invalid ref name: control character");
  /* NAME.tmp.PID is how atomic writes name their temp files; listings skip them */
  if (strstr (name, ".tmp."))
    return sp_error_make (err, 0, "invalid ref name `%s`: must not contain `.tmp.`", name);
  file = casfs_ref_escape (name);
  if (strlen (file) > 240)
    return sp_error_make (err, 0, "invalid ref name `%s`: too long once escaped", name);
  return 0;
}

/* Ref file: "<tree hex>\n" and optionally "image <record hex>\n". */
static int
parse_ref (const char *name, char *buf, struct casfs_ref *out, sp_error_t *err)
{
  char *line2 = strchr (buf, '\n');

  memset (out, 0, sizeof (*out));
  if (line2)
    *line2++ = '\0';
  if (casfs_digest_parse (buf, &out->tree, err) < 0)
    return sp_error_wrap (err, "ref `%s`: tree", name);
  if (line2 && *line2)
    {
      char *end = strchr (line2, '\n');
      if (end)
        *end = '\0';
      if (!sp_str_has_prefix (line2, "image "))
        return sp_error_make (err, 0, "ref `%s`: unexpected line `%.80s`", name, line2);
      if (casfs_digest_parse (line2 + 6, &out->image, err) < 0)
        return sp_error_wrap (err, "ref `%s`: image", name);
      out->has_image = true;
    }
  return 0;
}

int
casfs_store_read_ref (struct casfs_store *s, const char *name, struct casfs_ref *out, sp_error_t *err)
{
  cleanup_free char *file = NULL;
  cleanup_free char *buf = NULL;

  if (check_ref_name (name, err) < 0)
    return -1;
  file = casfs_ref_escape (name);
  if (sp_read_file_at (s->refs_fd, file, &buf, NULL, err) < 0)
    {
      if ((*err)->status == ENOENT)
        {
          sp_error_release (err);
          return sp_error_make (err, ENOENT, "no ref `%s` in store `%s`", name, s->path);
        }
      return sp_error_wrap (err, "ref `%s`", name);
    }
  return parse_ref (name, buf, out, err);
}

int
casfs_store_resolve_ref (struct casfs_store *s, const char *name, struct casfs_digest *out, sp_error_t *err)
{
  struct casfs_ref ref;
  if (casfs_store_read_ref (s, name, &ref, err) < 0)
    return -1;
  *out = ref.tree;
  return 0;
}

int
casfs_store_resolve (struct casfs_store *s, const char *ref_or_digest, struct casfs_digest *out, sp_error_t *err)
{
  const char *hex = ref_or_digest;
  if (sp_str_has_prefix (hex, "sha256:"))
    hex += 7;
  if (strlen (hex) == CASFS_DIGEST_HEX_LEN && strspn (hex, "0123456789abcdef") == CASFS_DIGEST_HEX_LEN)
    {
      cleanup_free char *rel = NULL;
      if (casfs_digest_parse (hex, out, err) < 0)
        return -1;
      rel = casfs_object_relpath (out);
      if (faccessat (s->trees_fd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        return 0;
    }
  return casfs_store_resolve_ref (s, ref_or_digest, out, err);
}

int
casfs_store_write_ref (struct casfs_store *s, const char *name, const struct casfs_ref *ref, sp_error_t *err)
{
  cleanup_free char *file = NULL;
  cleanup_free char *path = NULL;
  char tree[CASFS_DIGEST_HEX_LEN + 1], image[CASFS_DIGEST_HEX_LEN + 1];
  char text[2 * CASFS_DIGEST_HEX_LEN + 16];

  if (check_ref_name (name, err) < 0)
    return -1;
  /* Everything the ref points to must be on disk before the ref is: the
   * batch (its data synced, then linked), then those links. */
  if (casfs_store_flush (s, err) < 0)
    return -1;
  if (syncfs (s->root_fd) < 0)
    return sp_error_errno (err, "syncfs store `%s`", s->path);
  casfs_digest_hex (&ref->tree, tree);
  if (ref->has_image)
    {
      casfs_digest_hex (&ref->image, image);
      snprintf (text, sizeof text, "%s\nimage %s\n", tree, image);
    }
  else
    snprintf (text, sizeof text, "%s\n", tree);
  file = casfs_ref_escape (name);
  path = sp_xasprintf ("%s/refs/%s", s->path, file);
  return sp_write_file_atomic (path, text, strlen (text), 0644, err);
}

int
casfs_store_set_ref (struct casfs_store *s, const char *name, const struct casfs_digest *d, sp_error_t *err)
{
  struct casfs_ref ref = { .tree = *d };
  return casfs_store_write_ref (s, name, &ref, err);
}

int
casfs_store_delete_ref (struct casfs_store *s, const char *name, sp_error_t *err)
{
  cleanup_free char *file = NULL;
  if (check_ref_name (name, err) < 0)
    return -1;
  file = casfs_ref_escape (name);
  if (unlinkat (s->refs_fd, file, 0) < 0)
    {
      if (errno == ENOENT)
        return sp_error_make (err, ENOENT, "no ref `%s` in store `%s`", name, s->path);
      return sp_error_errno (err, "remove ref `%s`", name);
    }
  if (fsync (s->refs_fd) < 0)
    return sp_error_errno (err, "fsync refs of `%s`", s->path);
  return 0;
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Names in a directory, sorted, without dotfiles and atomic-write temps. */
static int
list_dir (int dirfd, const char *what, char ***names, sp_error_t *err)
{
  cleanup_close int fd = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_dir DIR *d = NULL;
  cleanup_strv char **v = NULL;
  size_t n = 0;
  struct dirent *de;

  if (fd < 0 || (d = fdopendir (fd)) == NULL)
    return sp_error_errno (err, "list %s", what);
  fd = -1;
  v = sp_xmalloc0 (sizeof (char *));
  errno = 0;
  while ((de = readdir (d)))
    {
      if (de->d_name[0] == '.' || strstr (de->d_name, ".tmp."))
        continue;
      v = sp_xrealloc (v, (n + 2) * sizeof (char *));
      v[n++] = sp_xstrdup (de->d_name);
      v[n] = NULL;
    }
  if (errno != 0)
    return sp_error_errno (err, "read %s", what);
  qsort (v, n, sizeof (char *), cmp_str);
  *names = steal_pointer (&v);
  return 0;
}

int
casfs_store_list_refs (struct casfs_store *s, char ***names, sp_error_t *err)
{
  cleanup_free char *what = sp_xasprintf ("refs of `%s`", s->path);
  if (list_dir (s->refs_fd, what, names, err) < 0)
    return -1;
  for (char **p = *names; *p; p++)
    {
      char *name = casfs_ref_unescape (*p);
      free (*p);
      *p = name;
    }
  qsort (*names, sp_strv_len (*names), sizeof (char *), cmp_str);
  return 0;
}

static int
check_root_name (const char *name, sp_error_t *err)
{
  size_t len = strlen (name);
  if (len == 0 || len > 200 || name[0] == '.' || strchr (name, '/') || strstr (name, ".tmp."))
    return sp_error_make (err, 0, "invalid root name `%s`: 1 to 200 characters, no '/', no leading '.'", name);
  return 0;
}

static int
open_roots_dir (struct casfs_store *s, sp_error_t *err)
{
  /* Stores made before roots/ existed get it on first use. */
  if (mkdirat (s->root_fd, "roots", 0700) < 0 && errno != EEXIST)
    return sp_error_errno (err, "mkdir `%s/roots`", s->path);
  return open_dir_at (s->root_fd, "roots", err);
}

int
casfs_store_add_root (struct casfs_store *s, const char *name, const struct casfs_digest *trees, size_t n,
                      sp_error_t *err)
{
  cleanup_close int lock_fd = -1;
  cleanup_close int roots_fd = -1;
  cleanup_free char *text = sp_xmalloc0 (n * (CASFS_DIGEST_HEX_LEN + 1) + 1);
  cleanup_free char *path = NULL;

  if (check_root_name (name, err) < 0)
    return -1;
  if ((roots_fd = open_roots_dir (s, err)) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      casfs_digest_hex (&trees[i], text + i * (CASFS_DIGEST_HEX_LEN + 1));
      text[(i + 1) * (CASFS_DIGEST_HEX_LEN + 1) - 1] = '\n';
    }
  /* Its own descriptor: holding the lock shared must not change a lock the
   * caller holds through s->lock_fd. */
  if ((lock_fd = open_lock_file (s, err)) < 0)
    return -1;
  while (flock (lock_fd, LOCK_SH) < 0)
    if (errno != EINTR)
      return sp_error_errno (err, "lock `%s/lock`", s->path);
  path = sp_xasprintf ("%s/roots/%s", s->path, name);
  return sp_write_file_atomic (path, text, strlen (text), 0644, err);
}

int
casfs_store_remove_root (struct casfs_store *s, const char *name, sp_error_t *err)
{
  cleanup_close int roots_fd = -1;
  if (check_root_name (name, err) < 0)
    return -1;
  if ((roots_fd = open_roots_dir (s, err)) < 0)
    return -1;
  if (unlinkat (roots_fd, name, 0) < 0 && errno != ENOENT)
    return sp_error_errno (err, "remove root `%s/roots/%s`", s->path, name);
  if (fsync (roots_fd) < 0)
    return sp_error_errno (err, "fsync `%s/roots`", s->path);
  return 0;
}

int
casfs_store_read_roots (struct casfs_store *s, struct casfs_digest **out, size_t *n_out, sp_error_t *err)
{
  cleanup_close int roots_fd = -1;
  cleanup_strv char **names = NULL;
  cleanup_free struct casfs_digest *v = NULL;
  cleanup_free char *what = sp_xasprintf ("roots of `%s`", s->path);
  size_t n = 0;

  if ((roots_fd = open_roots_dir (s, err)) < 0 || list_dir (roots_fd, what, &names, err) < 0)
    return -1;
  for (char **p = names; *p; p++)
    {
      cleanup_free char *buf = NULL;
      char *line, *save = NULL;
      if (sp_read_file_at (roots_fd, *p, &buf, NULL, err) < 0)
        {
          if ((*err)->status == ENOENT) /* removed while we listed: no longer in use */
            {
              sp_error_release (err);
              continue;
            }
          return sp_error_wrap (err, "root `%s/roots/%s`", s->path, *p);
        }
      for (line = strtok_r (buf, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
        {
          v = sp_xrealloc (v, (n + 1) * sizeof (*v));
          if (casfs_digest_parse (line, &v[n], err) < 0)
            return sp_error_wrap (err, "root `%s/roots/%s`", s->path, *p);
          n++;
        }
    }
  *out = steal_pointer (&v);
  *n_out = n;
  return 0;
}
