/* The casfs FUSE view's pieces without the kernel: identities, the inode
 * table's lookup counting, the tree cache, the views' lookups.
 *
 * With arguments this binary is also the integration tests' store builder
 * (casfs import lives elsewhere; this uses only the store API):
 *   test_fuse mkstore STORE DIR REF   store DIR as a tree, set REF, print the digest
 *   test_fuse dump [--view] DIR       one line per file: every attribute, xattr and
 *                                     content hash (--view: undo the view's xattr escaping)
 *   test_fuse setxattr PATH NAME VALUE
 *   test_fuse ensure STORE MOUNTPOINT  casfs_fuse_ensure_running (the runtime's call) */
#include "../../casfs/fuse_internal.h"

#include <samepage/casfs_store.h>
#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <cmocka.h>

/* ---- the store builder ---- */

struct link_seen
{
  dev_t dev;
  ino_t ino;
  uint64_t id;
  uint32_t count;
};

struct builder
{
  struct casfs_store *s;
  struct link_seen *links;
  size_t n_links;
  uint64_t next_id;
};

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Names of a directory, sorted bytewise (the order link ids follow). */
static char **
sorted_names (int dfd)
{
  cleanup_close int fd = openat (dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir (fd) : NULL;
  char **v = sp_xmalloc0 (sizeof (char *));
  size_t n = 0;
  struct dirent *de;

  if (d == NULL)
    return v;
  fd = -1;
  while ((de = readdir (d)))
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      v = sp_xrealloc (v, (n + 2) * sizeof (char *));
      v[n++] = sp_xstrdup (de->d_name);
      v[n] = NULL;
    }
  closedir (d);
  qsort (v, n, sizeof (char *), cmp_str);
  return v;
}

static struct link_seen *
find_link (struct link_seen *links, size_t n, const struct stat *st)
{
  for (size_t i = 0; i < n; i++)
    if (links[i].dev == st->st_dev && links[i].ino == st->st_ino)
      return &links[i];
  return NULL;
}

/* Pass 1: number hardlink groups in depth-first name order, count members. */
static void
count_links (struct builder *b, int dfd)
{
  cleanup_strv char **names = sorted_names (dfd);
  for (char **n = names; *n; n++)
    {
      struct stat st;
      if (fstatat (dfd, *n, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;
      if (S_ISDIR (st.st_mode))
        {
          cleanup_close int sub = openat (dfd, *n, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
          if (sub >= 0)
            count_links (b, sub);
        }
      else if (st.st_nlink > 1)
        {
          struct link_seen *l = find_link (b->links, b->n_links, &st);
          if (l == NULL)
            {
              b->links = sp_xrealloc (b->links, (b->n_links + 1) * sizeof (*b->links));
              l = &b->links[b->n_links++];
              *l = (struct link_seen) { st.st_dev, st.st_ino, ++b->next_id, 0 };
            }
          l->count++;
        }
    }
}

static void
read_xattrs (int dfd, const char *name, struct casfs_entry *e)
{
  cleanup_free char *path = sp_xasprintf ("/proc/self/fd/%d/%s", dfd, name);
  char list[65536];
  ssize_t len = llistxattr (path, list, sizeof list);

  for (ssize_t off = 0; len > 0 && off < len; off += (ssize_t) strlen (list + off) + 1)
    {
      const char *xn = list + off;
      ssize_t vl = lgetxattr (path, xn, NULL, 0);
      struct casfs_xattr *x;
      if (vl < 0)
        continue;
      e->xattrs = sp_xrealloc (e->xattrs, (e->n_xattrs + 1) * sizeof (*e->xattrs));
      x = &e->xattrs[e->n_xattrs++];
      x->name = sp_xstrdup (xn);
      x->value = sp_xmalloc0 ((size_t) vl + 1);
      x->len = (uint32_t) lgetxattr (path, xn, x->value, (size_t) vl);
    }
}

static int
store_file (struct builder *b, int dfd, const char *name, struct casfs_digest *out, sp_error_t *err)
{
  cleanup_close int fd = openat (dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct casfs_object_writer *w = NULL;
  char buf[1 << 16];
  ssize_t n;
  int ret = -1;

  if (fd < 0)
    return sp_error_errno (err, "open `%s`", name);
  if (casfs_object_writer_new (b->s, &w, err) < 0)
    return -1;
  while ((n = read (fd, buf, sizeof buf)) > 0)
    if (casfs_object_writer_write (w, buf, (size_t) n, err) < 0)
      goto out;
  if (n < 0)
    {
      sp_error_errno (err, "read `%s`", name);
      goto out;
    }
  ret = casfs_object_writer_commit (w, out, err);
out:
  casfs_object_writer_free (w);
  return ret;
}

/* Pass 2: one tree per directory, bottom-up. */
static int
build_tree (struct builder *b, int dfd, struct casfs_digest *out, sp_error_t *err)
{
  cleanup_strv char **names = sorted_names (dfd);
  cleanup_tree struct casfs_tree *t = sp_xmalloc0 (sizeof (*t));

  t->entries = sp_xmalloc0 ((sp_strv_len (names) + 1) * sizeof (*t->entries));
  for (char **n = names; *n; n++)
    {
      struct casfs_entry *e = &t->entries[t->n];
      struct stat st;

      if (fstatat (dfd, *n, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return sp_error_errno (err, "stat `%s`", *n);
      t->n++;
      e->name = sp_xstrdup (*n);
      e->mode = st.st_mode;
      e->uid = st.st_uid;
      e->gid = st.st_gid;
      e->mtime_sec = st.st_mtim.tv_sec;
      e->mtime_nsec = (uint32_t) st.st_mtim.tv_nsec;
      e->nlink = 1;
      read_xattrs (dfd, *n, e);
      if (!S_ISDIR (st.st_mode) && st.st_nlink > 1)
        {
          struct link_seen *l = find_link (b->links, b->n_links, &st);
          e->link_id = l->id;
          e->nlink = l->count;
        }
      if (S_ISREG (st.st_mode))
        {
          e->size = (uint64_t) st.st_size;
          if (store_file (b, dfd, *n, &e->digest, err) < 0)
            return -1;
        }
      else if (S_ISDIR (st.st_mode))
        {
          cleanup_close int sub = openat (dfd, *n, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
          if (sub < 0)
            return sp_error_errno (err, "open `%s`", *n);
          if (build_tree (b, sub, &e->digest, err) < 0)
            return sp_error_wrap (err, "%s", *n);
        }
      else if (S_ISLNK (st.st_mode))
        {
          char target[CASFS_TARGET_MAX + 1];
          ssize_t tl = readlinkat (dfd, *n, target, CASFS_TARGET_MAX);
          if (tl <= 0)
            return sp_error_errno (err, "readlink `%s`", *n);
          target[tl] = '\0';
          e->target = sp_xstrdup (target);
          e->size = (uint64_t) tl;
        }
      else if (S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode))
        e->rdev = st.st_rdev;
    }
  return casfs_store_write_tree (b->s, t, out, err);
}

static int
mkstore (const char *store, const char *dir, const char *ref)
{
  cleanup_store struct casfs_store *s = NULL;
  cleanup_close int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct builder b = { 0 };
  struct casfs_digest d;
  char hex[CASFS_DIGEST_HEX_LEN + 1];
  sp_error_t err = NULL;

  if (dfd < 0)
    {
      fprintf (stderr, "mkstore: open `%s`: %s\n", dir, strerror (errno));
      return 1;
    }
  if (casfs_store_open (store, true, &s, &err) < 0)
    goto fail;
  b.s = s;
  count_links (&b, dfd);
  if (build_tree (&b, dfd, &d, &err) < 0 || casfs_store_set_ref (s, ref, &d, &err) < 0)
    goto fail;
  free (b.links);
  casfs_digest_hex (&d, hex);
  printf ("%s\n", hex);
  return 0;
fail:
  fprintf (stderr, "mkstore: %s\n", err->msg);
  sp_error_release (&err);
  free (b.links);
  return 1;
}

/* ---- dump: compare a tree with its view ---- */

struct dumper
{
  bool view;
  struct link_seen *links;
  size_t n_links;
};

static void
dump_xattrs (const char *path, bool view)
{
  char list[65536];
  ssize_t len = llistxattr (path, list, sizeof list);
  cleanup_strv char **names = sp_xmalloc0 (sizeof (char *));
  size_t n = 0;

  for (ssize_t off = 0; len > 0 && off < len; off += (ssize_t) strlen (list + off) + 1)
    {
      names = sp_xrealloc (names, (n + 2) * sizeof (char *));
      names[n++] = sp_xstrdup (list + off);
      names[n] = NULL;
    }
  qsort (names, n, sizeof (char *), cmp_str);
  for (size_t i = 0; i < n; i++)
    {
      const char *shown = names[i];
      cleanup_free char *unescaped = NULL;
      unsigned char val[65536];
      ssize_t vl;
      if (view
          && (strcmp (shown, "trusted.overlay.metacopy") == 0 || strcmp (shown, "trusted.overlay.redirect") == 0
              || strcmp (shown, "trusted.overlay.opaque") == 0))
        continue;
      if (view && sp_str_has_prefix (shown, "trusted.overlay.overlay."))
        shown = unescaped = sp_xasprintf ("trusted.overlay.%s", shown + strlen ("trusted.overlay.overlay."));
      vl = lgetxattr (path, names[i], val, sizeof val);
      printf (" x:%s=", shown);
      for (ssize_t k = 0; k < vl; k++)
        printf ("%02x", val[k]);
    }
}

static void
dump_dir (struct dumper *dp, const char *root, const char *rel)
{
  cleanup_free char *dir = sp_xasprintf ("%s%s", root, rel);
  cleanup_close int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_strv char **names = NULL;

  if (dfd < 0)
    {
      printf ("%s ERROR %s\n", rel, strerror (errno));
      return;
    }
  names = sorted_names (dfd);
  for (char **n = names; *n; n++)
    {
      cleanup_free char *r = sp_xasprintf ("%s/%s", rel, *n);
      cleanup_free char *path = sp_xasprintf ("%s%s", root, r);
      struct stat st;

      if (lstat (path, &st) < 0)
        {
          printf ("%s ERROR %s\n", r, strerror (errno));
          continue;
        }
      printf ("%s mode=%o uid=%u gid=%u mtime=%lld.%09ld", r, st.st_mode, st.st_uid, st.st_gid,
              (long long) st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
      if (!S_ISDIR (st.st_mode))
        printf (" size=%lld nlink=%lu", (long long) st.st_size, (unsigned long) st.st_nlink);
      else
        printf (" nlink=%lu", (unsigned long) st.st_nlink);
      if (S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode))
        printf (" rdev=%u:%u", major (st.st_rdev), minor (st.st_rdev));
      if (!S_ISDIR (st.st_mode) && st.st_nlink > 1)
        {
          struct link_seen *l = find_link (dp->links, dp->n_links, &st);
          if (l == NULL)
            {
              dp->links = sp_xrealloc (dp->links, (dp->n_links + 1) * sizeof (*dp->links));
              l = &dp->links[dp->n_links];
              *l = (struct link_seen) { st.st_dev, st.st_ino, ++dp->n_links, 0 };
            }
          printf (" linkgroup=%llu", (unsigned long long) l->id);
        }
      if (S_ISLNK (st.st_mode))
        {
          char target[CASFS_TARGET_MAX + 1];
          ssize_t tl = readlink (path, target, CASFS_TARGET_MAX);
          target[tl > 0 ? tl : 0] = '\0';
          printf (" target=%s", target);
        }
      if (S_ISREG (st.st_mode))
        {
          cleanup_free char *data = NULL;
          size_t len = 0;
          sp_error_t err = NULL;
          if (sp_read_file (path, &data, &len, &err) < 0)
            {
              printf (" content=ERROR(%s)", err->msg);
              sp_error_release (&err);
            }
          else
            {
              struct casfs_digest d;
              char hex[CASFS_DIGEST_HEX_LEN + 1];
              casfs_digest_of (data, len, &d);
              casfs_digest_hex (&d, hex);
              printf (" content=%s", hex);
            }
        }
      dump_xattrs (path, dp->view);
      printf ("\n");
      if (S_ISDIR (st.st_mode))
        dump_dir (dp, root, r);
    }
}

/* ---- unit tests ---- */

static struct casfs_entry
file_entry (const char *name, uint32_t mode, int64_t mtime)
{
  struct casfs_entry e = { 0 };
  e.name = (char *) name;
  e.mode = S_IFREG | mode;
  e.mtime_sec = mtime;
  e.size = 3;
  e.nlink = 1;
  e.digest.b[0] = 0xab;
  return e;
}

static void
test_identity_ignores_name_only (void **state)
{
  struct casfs_entry a = file_entry ("a", 0644, 100), b = file_entry ("b", 0644, 100);
  struct casfs_entry c = file_entry ("a", 0644, 101), d = file_entry ("a", 0600, 100);
  struct casfs_digest ka, kb, kc, kd, k1, k2;
  (void) state;

  cf_key_entry (&a, &ka);
  cf_key_entry (&b, &kb);
  cf_key_entry (&c, &kc);
  cf_key_entry (&d, &kd);
  assert_memory_equal (ka.b, kb.b, CASFS_DIGEST_LEN);
  assert_memory_not_equal (ka.b, kc.b, CASFS_DIGEST_LEN);
  assert_memory_not_equal (ka.b, kd.b, CASFS_DIGEST_LEN);
  /* Directories are per parent: never one inode under two parents. */
  cf_key_dir (100, "usr", &k1);
  cf_key_dir (101, "usr", &k2);
  assert_memory_not_equal (k1.b, k2.b, CASFS_DIGEST_LEN);
}

static void
test_inode_table_counts_lookups (void **state)
{
  struct cf_inodes *t = cf_inodes_new ();
  struct casfs_entry e = file_entry ("x", 0644, 5);
  struct cf_node tmpl = { 0 }, *n1, *n2;
  struct stat st;
  fuse_ino_t ino;
  (void) state;

  assert_int_equal (cf_inodes_count (t), 4); /* root, trees, refs, stats */
  tmpl.kind = CF_ENTRY;
  tmpl.e = e;
  cf_key_entry (&e, &tmpl.key);
  assert_int_equal (cf_inodes_peek (t, &tmpl.key) >= CF_INO_FIRST_DYNAMIC, 1);
  n1 = cf_inodes_ref (t, &tmpl);
  n2 = cf_inodes_ref (t, &tmpl);
  assert_ptr_equal (n1, n2);
  assert_int_equal (n1->nlookup, 2);
  ino = n1->ino;
  assert_int_equal (cf_inodes_peek (t, &tmpl.key), ino);
  assert_true (ino < (1ULL << 47));
  cf_node_stat (n1, &st);
  assert_int_equal (st.st_ino, ino);
  assert_int_equal (st.st_mtim.tv_sec, 5);
  assert_int_equal (st.st_mode, S_IFREG | 0644);
  cf_inodes_forget (t, ino, 1);
  assert_ptr_equal (cf_inodes_get (t, ino), n1);
  cf_inodes_forget (t, ino, 1);
  assert_null (cf_inodes_get (t, ino));
  assert_int_equal (cf_inodes_count (t), 4);
  /* Permanent nodes survive forgets. */
  cf_inodes_forget (t, CF_INO_ROOT, 100);
  assert_non_null (cf_inodes_get (t, CF_INO_ROOT));
  cf_inodes_free (t);
}

static void
test_inode_table_grows_and_shrinks (void **state)
{
  struct cf_inodes *t = cf_inodes_new ();
  enum { N = 5000 };
  static fuse_ino_t inos[N];
  (void) state;

  for (int i = 0; i < N; i++)
    {
      struct cf_node tmpl = { 0 };
      char name[32];
      snprintf (name, sizeof name, "d%d", i);
      tmpl.kind = CF_ENTRY;
      tmpl.e.mode = S_IFDIR | 0755;
      cf_key_dir (CF_INO_ROOT, name, &tmpl.key);
      inos[i] = cf_inodes_ref (t, &tmpl)->ino;
    }
  assert_int_equal (cf_inodes_count (t), N + 4);
  for (int i = 0; i < N; i++)
    {
      assert_non_null (cf_inodes_get (t, inos[i]));
      cf_inodes_forget (t, inos[i], 1);
    }
  assert_int_equal (cf_inodes_count (t), 4);
  cf_inodes_free (t);
}

struct store_fixture
{
  char dir[64];
  struct casfs_store *s;
  struct casfs_digest root, sub;
};

static int
setup_store (void **state)
{
  struct store_fixture *f = sp_xmalloc0 (sizeof (*f));
  struct casfs_tree sub = { 0 }, root = { 0 };
  struct casfs_entry se[1] = { 0 }, re[2] = { 0 };
  sp_error_t err = NULL;

  strcpy (f->dir, "/tmp/test_fuse.XXXXXX");
  assert_non_null (mkdtemp (f->dir));
  assert_int_equal (casfs_store_open (f->dir, true, &f->s, &err), 0);
  se[0] = file_entry ("f", 0644, 1);
  assert_int_equal (casfs_store_write_object (f->s, "abc", 3, &se[0].digest, &err) >= 0, 1);
  sub.entries = se;
  sub.n = 1;
  assert_int_equal (casfs_store_write_tree (f->s, &sub, &f->sub, &err), 1);
  re[0] = file_entry ("a", 0644, 1);
  re[0].digest = se[0].digest;
  re[1].name = (char *) "dir";
  re[1].mode = S_IFDIR | 0755;
  re[1].digest = f->sub;
  root.entries = re;
  root.n = 2;
  assert_int_equal (casfs_store_write_tree (f->s, &root, &f->root, &err), 1);
  assert_int_equal (casfs_store_set_ref (f->s, "localhost/img:latest", &f->root, &err), 0);
  *state = f;
  return 0;
}

static int
teardown_store (void **state)
{
  struct store_fixture *f = *state;
  sp_error_t err = NULL;
  casfs_store_close (f->s);
  sp_rm_rf (f->dir, &err);
  sp_error_release (&err);
  free (f);
  return 0;
}

static void
test_tree_cache_shares_and_evicts (void **state)
{
  struct store_fixture *f = *state;
  struct cf_tree_cache *c = cf_tree_cache_new (f->s, 1);
  struct cf_tree_ref r1 = { 0 }, r2 = { 0 }, r3 = { 0 };
  sp_error_t err = NULL;

  assert_int_equal (cf_tree_cache_get (c, &f->root, &r1, &err), 0);
  assert_int_equal (cf_tree_cache_get (c, &f->root, &r2, &err), 0);
  assert_ptr_equal (r1.tree, r2.tree);
  assert_int_equal (r1.tree->n, 2);
  /* Over the bound while referenced: kept; released: dropped on the next load. */
  assert_int_equal (cf_tree_cache_get (c, &f->sub, &r3, &err), 0);
  cf_tree_cache_put (c, &r1);
  cf_tree_cache_put (c, &r2);
  cf_tree_cache_put (c, &r3);
  assert_int_equal (cf_tree_cache_get (c, &f->sub, &r3, &err), 0);
  assert_int_equal (r3.tree->n, 1);
  cf_tree_cache_put (c, &r3);
  cf_tree_cache_free (c);
}

static void
test_views_resolve_and_fail_cleanly (void **state)
{
  struct store_fixture *f = *state;
  struct cf_fs fs = { 0 };
  struct cf_node *trees, *root, *dir, *file, *again, *link;
  char hex[CASFS_DIGEST_HEX_LEN + 1];
  cleanup_free char *target = NULL;
  cleanup_free char *rel = NULL;
  cleanup_free char *path = NULL;
  sp_error_t err = NULL;
  double timeout;

  fs.store = f->s;
  fs.inodes = cf_inodes_new ();
  fs.trees = cf_tree_cache_new (f->s, 1000);
  fs.tree_timeout = 100;
  fs.ref_timeout = 1;
  trees = cf_inodes_get (fs.inodes, CF_INO_TREES);
  casfs_digest_hex (&f->root, hex);

  assert_int_equal (cf_view_lookup (&fs, trees, hex, &root, &timeout, &err), 0);
  assert_int_equal (root->kind, CF_TREE_ROOT);
  assert_int_equal (root->e.nlink, 3); /* 2 + one sub-directory */
  assert_int_equal (cf_view_lookup (&fs, root, "dir", &dir, &timeout, &err), 0);
  assert_true (S_ISDIR (dir->e.mode));
  assert_int_equal (dir->parent, root->ino);
  assert_int_equal (cf_view_lookup (&fs, dir, "f", &file, &timeout, &err), 0);
  assert_int_equal (cf_view_lookup (&fs, root, "a", &again, &timeout, &err), 0);
  /* Same content and metadata under two names: one inode. */
  assert_ptr_equal (file, again);
  assert_int_equal (file->nlookup, 2);

  assert_int_equal (cf_view_lookup (&fs, root, "missing", &again, &timeout, &err), -1);
  assert_int_equal (err->status, ENOENT);
  sp_error_release (&err);
  assert_int_equal (cf_view_lookup (&fs, trees, "nothex", &again, &timeout, &err), -1);
  assert_int_equal (err->status, ENOENT);
  sp_error_release (&err);

  assert_int_equal (cf_view_lookup (&fs, cf_inodes_get (fs.inodes, CF_INO_REFS), "localhost%2Fimg:latest", &link,
                                    &timeout, &err),
                    0);
  assert_int_equal (link->kind, CF_REF_LINK);
  assert_true (timeout < 2);
  target = cf_view_ref_target (link);
  assert_string_equal (target + 9, hex);

  /* A corrupt tree is EIO, never a crash. */
  cf_tree_cache_free (fs.trees);
  fs.trees = cf_tree_cache_new (f->s, 1000);
  rel = casfs_object_relpath (&f->sub);
  path = sp_xasprintf ("%s/trees/%s", f->dir, rel);
  assert_int_equal (chmod (path, 0644), 0);
  assert_int_equal (sp_write_file (path, "garbage", 7, 0644, &err), 0);
  assert_int_equal (cf_view_lookup (&fs, dir, "f", &again, &timeout, &err), -1);
  assert_int_equal (err->status, EIO);
  sp_error_release (&err);

  cf_tree_cache_free (fs.trees);
  cf_inodes_free (fs.inodes);
}

static void
test_ref_escaping_and_paths (void **state)
{
  cleanup_free char *e = casfs_fuse_escape_ref (".hidden/a%b:c");
  cleanup_free char *u = casfs_fuse_unescape_ref (e);
  cleanup_free char *pid = casfs_fuse_pid_file ("/run/samepage/casfs//");
  cleanup_free char *tp = NULL;
  struct casfs_digest d = { { 0 } };
  (void) state;

  assert_string_equal (e, "%2Ehidden%2Fa%25b:c");
  assert_string_equal (u, ".hidden/a%b:c");
  assert_string_equal (pid, "/run/samepage/casfs.pid");
  d.b[0] = 0xab;
  tp = casfs_fuse_tree_path ("/m/", &d);
  assert_string_equal (tp, "/m/trees/ab00000000000000000000000000000000000000000000000000000000000000");
}

int
main (int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_identity_ignores_name_only),
    cmocka_unit_test (test_inode_table_counts_lookups),
    cmocka_unit_test (test_inode_table_grows_and_shrinks),
    cmocka_unit_test_setup_teardown (test_tree_cache_shares_and_evicts, setup_store, teardown_store),
    cmocka_unit_test_setup_teardown (test_views_resolve_and_fail_cleanly, setup_store, teardown_store),
    cmocka_unit_test (test_ref_escaping_and_paths),
  };
  if (argc == 5 && strcmp (argv[1], "mkstore") == 0)
    return mkstore (argv[2], argv[3], argv[4]);
  if ((argc == 3 || argc == 4) && strcmp (argv[1], "dump") == 0)
    {
      struct dumper dp = { .view = argc == 4 && strcmp (argv[2], "--view") == 0 };
      dump_dir (&dp, argv[argc - 1], "");
      free (dp.links);
      return 0;
    }
  if (argc == 5 && strcmp (argv[1], "setxattr") == 0)
    {
      if (lsetxattr (argv[2], argv[3], argv[4], strlen (argv[4]), 0) < 0)
        {
          fprintf (stderr, "setxattr `%s` on `%s`: %s\n", argv[3], argv[2], strerror (errno));
          return 1;
        }
      return 0;
    }
  if (argc == 4 && strcmp (argv[1], "ensure") == 0)
    {
      sp_error_t err = NULL;
      if (casfs_fuse_ensure_running (argv[2], argv[3], &err) < 0)
        {
          fprintf (stderr, "ensure: %s\n", err->msg);
          sp_error_release (&err);
          return 1;
        }
      return 0;
    }
  if (argc > 1)
    {
      fprintf (stderr, "usage: %s [mkstore STORE DIR REF | dump [--view] DIR | setxattr PATH NAME VALUE]\n",
               argv[0]);
      return 2;
    }
  return cmocka_run_group_tests (tests, NULL, NULL);
}
