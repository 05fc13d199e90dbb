/* The casfs store: hashing, refs, image records, dump, gc, fsck, stats, export.
 *
 * `test_casfs_store --make-store DIR` builds the sample store below and exits
 * (tests/integration/casfs-store.bats uses it until `casfs import` exists);
 * `--write-locked DIR` writes a new image while holding the store lock shared,
 * pausing 2 s between writing the data and the ref (the gc race window). */
#include <samepage/casfs_dump.h>
#include <samepage/casfs_export.h>
#include <samepage/casfs_fsck.h>
#include <samepage/casfs_gc.h>
#include <samepage/casfs_images.h>
#include <samepage/casfs_stats.h>
#include <samepage/casfs_store.h>
#include <samepage/casfs_walk.h>
#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

/* ---- the sample store ----
 * img/a:1  /bin/sh (04755, security.capability, hardlinked as /bin/sh2), /bin/link -> sh,
 *          /dev/null (chr 1:3), /etc/{hostname,passwd}, /fifo, /shared.txt; image record with config
 * img/b:1  /etc (the same tree as a's), /own.bin, /shared.txt
 * Sizes: passwd 11, hostname 5, sh 8, shared 7, own.bin 10 (see test_stats_exact). */
#define C_PASSWD "root:x:0:0\n"
#define C_HOSTNAME "host\n"
#define C_SH "#!shell\n"
#define C_SHARED "shared\n"
#define C_OWN "0123456789"
#define C_CONFIG "{\"architecture\":\"amd64\",\"os\":\"linux\"}"
static const uint8_t capability[] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };

static void
fail_on (int r, sp_error_t *err)
{
  if (r < 0)
    {
      fprintf (stderr, "error: %s\n", *err ? (*err)->msg : "?");
      abort ();
    }
}

static struct casfs_entry *
add (struct casfs_tree *t, const char *name, uint32_t mode)
{
  struct casfs_entry *e;
  t->entries = sp_xrealloc (t->entries, (t->n + 1) * sizeof (*e));
  e = &t->entries[t->n++];
  memset (e, 0, sizeof (*e));
  e->name = sp_xstrdup (name);
  e->mode = mode;
  e->mtime_sec = 1700000000;
  e->mtime_nsec = 123456789;
  e->nlink = S_ISDIR (mode) ? 2 : 1;
  return e;
}

static struct casfs_entry *
add_file (struct casfs_store *s, struct casfs_tree *t, const char *name, uint32_t mode, const char *content)
{
  sp_error_t err = NULL;
  struct casfs_entry *e = add (t, name, S_IFREG | mode);
  e->size = strlen (content);
  fail_on (casfs_store_write_object (s, content, strlen (content), &e->digest, &err), &err);
  return e;
}

static void
add_dir (struct casfs_store *s, struct casfs_tree *parent, const char *name, struct casfs_tree *sub)
{
  sp_error_t err = NULL;
  struct casfs_entry *e = add (parent, name, S_IFDIR | 0755);
  fail_on (casfs_store_write_tree (s, sub, &e->digest, &err), &err);
  casfs_tree_free (sub);
}

static struct casfs_tree *
new_tree (void)
{
  return sp_xmalloc0 (sizeof (struct casfs_tree));
}

static struct casfs_tree *
etc_tree (struct casfs_store *s)
{
  struct casfs_tree *t = new_tree ();
  add_file (s, t, "passwd", 0644, C_PASSWD);
  add_file (s, t, "hostname", 0644, C_HOSTNAME);
  return t;
}

static void
build_sample (const char *dir, struct casfs_digest *a_out, struct casfs_digest *b_out)
{
  cleanup_store struct casfs_store *s = NULL;
  struct casfs_tree *a = new_tree (), *b = new_tree (), *bin = new_tree (), *dev = new_tree ();
  struct casfs_entry *e;
  struct casfs_digest da, db, id;
  struct casfs_image img = { .source = (char *) "test:sample", .config = (char *) C_CONFIG };
  struct casfs_image_layer layer = { .digest = (char *) "sha256:0000000000000000000000000000000000000000000000000000000000000001",
                                     .media_type = (char *) "application/vnd.oci.image.layer.v1.tar+gzip",
                                     .size = 1234 };
  sp_error_t err = NULL;

  fail_on (casfs_store_open (dir, true, &s, &err), &err);
  fail_on (casfs_store_lock (s, false, &err), &err);
  e = add_file (s, bin, "sh", 04755, C_SH);
  e->link_id = 1;
  e->nlink = 2;
  e->n_xattrs = 1;
  e->xattrs = sp_xmalloc0 (sizeof (*e->xattrs));
  e->xattrs[0].name = sp_xstrdup ("security.capability");
  e->xattrs[0].value = sp_xmalloc0 (sizeof capability);
  memcpy (e->xattrs[0].value, capability, sizeof capability);
  e->xattrs[0].len = sizeof capability;
  e = add_file (s, bin, "sh2", 04755, C_SH);
  e->link_id = 1;
  e->nlink = 2;
  e->n_xattrs = 1;
  e->xattrs = sp_xmalloc0 (sizeof (*e->xattrs));
  e->xattrs[0].name = sp_xstrdup ("security.capability");
  e->xattrs[0].value = sp_xmalloc0 (sizeof capability);
  memcpy (e->xattrs[0].value, capability, sizeof capability);
  e->xattrs[0].len = sizeof capability;
  e = add (bin, "link", S_IFLNK | 0777);
  e->target = sp_xstrdup ("sh");
  e->size = 2;
  e = add (dev, "null", S_IFCHR | 0666);
  e->rdev = makedev (1, 3);
  add_dir (s, a, "bin", bin);
  add_dir (s, a, "dev", dev);
  add_dir (s, a, "etc", etc_tree (s));
  e = add (a, "fifo", S_IFIFO | 0600);
  e->uid = 1000;
  e->gid = 100;
  e->mtime_nsec = 5;
  add_file (s, a, "shared.txt", 0644, C_SHARED);
  fail_on (casfs_store_write_tree (s, a, &da, &err), &err);
  casfs_tree_free (a);

  add_dir (s, b, "etc", etc_tree (s));
  add_file (s, b, "own.bin", 0600, C_OWN);
  add_file (s, b, "shared.txt", 0644, C_SHARED);
  fail_on (casfs_store_write_tree (s, b, &db, &err), &err);
  casfs_tree_free (b);

  img.tree = da;
  layer.tree = da;
  img.config_len = strlen (C_CONFIG);
  img.layers = &layer;
  img.n_layers = 1;
  fail_on (casfs_image_commit (s, "img/a:1", &img, &id, &err), &err);
  free (img.config_digest);
  fail_on (casfs_store_set_ref (s, "img/b:1", &db, &err), &err);
  casfs_store_unlock (s);
  if (a_out)
    *a_out = da;
  if (b_out)
    *b_out = db;
}

static char *
make_tmpdir (void)
{
  char tmpl[] = "/tmp/casfs-store-test.XXXXXX";
  char *d = mkdtemp (tmpl);
  assert_non_null (d);
  return sp_xstrdup (d);
}

static void
remove_tmpdir (char *d)
{
  sp_error_t err = NULL;
  /* objects are 0444 and their directories ours: rm -rf works as root and user alike */
  assert_int_equal (sp_rm_rf (d, &err), 0);
  free (d);
}

/* ---- hashing ---- */

static void
test_object_hashing_and_dedup (void **state)
{
  char *dir = make_tmpdir ();
  cleanup_store struct casfs_store *s = NULL;
  struct casfs_object_writer *w = NULL;
  struct casfs_digest d1, d2;
  char hex[CASFS_DIGEST_HEX_LEN + 1];
  struct stat st;
  sp_error_t err = NULL;
  cleanup_free char *path = NULL;
  (void) state;

  assert_int_equal (casfs_store_open (dir, true, &s, &err), 0);
  assert_int_equal (casfs_store_write_object (s, "abc", 3, &d1, &err), 1);
  casfs_digest_hex (&d1, hex);
  /* SHA-256("abc"), FIPS 180-2 test vector */
  assert_string_equal (hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  path = sp_xasprintf ("%s/objects/ba/7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", dir);
  assert_int_equal (stat (path, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0444);
  assert_int_equal (st.st_nlink, 1);
  {
    /* the two spellings of an object's path (the view's redirect uses the buffer one) */
    cleanup_free char *rel = casfs_object_relpath (&d1);
    char buf[CASFS_OBJECT_RELPATH_LEN + 1];
    casfs_object_relpath_into (&d1, buf);
    assert_string_equal (rel, "ba/7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal (buf, rel);
    assert_int_equal (strlen (buf), CASFS_OBJECT_RELPATH_LEN);
  }
  /* streamed in pieces: same digest, stored once */
  assert_int_equal (casfs_object_writer_new (s, &w, &err), 0);
  assert_int_equal (casfs_object_writer_write (w, "a", 1, &err), 0);
  assert_int_equal (casfs_object_writer_write (w, "bc", 2, &err), 0);
  assert_int_equal (casfs_object_writer_commit (w, &d2, &err), 0);
  casfs_object_writer_free (w);
  assert_memory_equal (d1.b, d2.b, CASFS_DIGEST_LEN);
  assert_int_equal (stat (path, &st), 0);
  assert_int_equal (st.st_nlink, 1);
  assert_true (casfs_store_has_object (s, &d1));
  casfs_store_close (steal_pointer (&s));
  remove_tmpdir (dir);
}

/* ---- refs ---- */

static void
test_ref_escaping (void **state)
{
  char *dir = make_tmpdir ();
  cleanup_store struct casfs_store *s = NULL;
  cleanup_strv char **names = NULL;
  struct casfs_digest d, back;
  struct casfs_ref ref;
  sp_error_t err = NULL;
  static const char *const cases[][2] = {
    { "localhost/zi-img1:latest", "localhost%2Fzi-img1:latest" },
    { ".hidden", "%2Ehidden" },
    { "..", "%2E." },
    { "a%2Fb", "a%252Fb" },
    { "plain", "plain" },
  };
  (void) state;

  for (size_t i = 0; i < SP_ARRAY_SIZE (cases); i++)
    {
      cleanup_free char *e = casfs_ref_escape (cases[i][0]);
      cleanup_free char *u = casfs_ref_unescape (e);
      assert_string_equal (e, cases[i][1]);
      assert_string_equal (u, cases[i][0]);
    }
  assert_int_equal (casfs_store_open (dir, true, &s, &err), 0);
  casfs_digest_of ("x", 1, &d);
  for (size_t i = 0; i < SP_ARRAY_SIZE (cases); i++)
    assert_int_equal (casfs_store_set_ref (s, cases[i][0], &d, &err), 0);
  assert_int_equal (casfs_store_list_refs (s, &names, &err), 0);
  assert_int_equal (sp_strv_len (names), SP_ARRAY_SIZE (cases));
  assert_string_equal (names[0], "..");
  assert_string_equal (names[1], ".hidden");
  assert_string_equal (names[2], "a%2Fb");
  assert_string_equal (names[3], "localhost/zi-img1:latest");
  assert_int_equal (casfs_store_resolve_ref (s, "localhost/zi-img1:latest", &back, &err), 0);
  assert_memory_equal (d.b, back.b, CASFS_DIGEST_LEN);
  assert_int_equal (casfs_store_read_ref (s, "plain", &ref, &err), 0);
  assert_false (ref.has_image);
  assert_int_equal (casfs_store_set_ref (s, "", &d, &err), -1);
  sp_error_release (&err);
  assert_int_equal (casfs_store_set_ref (s, "bad\nname", &d, &err), -1);
  sp_error_release (&err);
  assert_int_equal (casfs_store_set_ref (s, "x.tmp.1", &d, &err), -1);
  sp_error_release (&err);
  assert_int_equal (casfs_store_resolve_ref (s, "absent", &back, &err), -1);
  assert_int_equal (err->status, ENOENT);
  sp_error_release (&err);
  assert_int_equal (casfs_store_delete_ref (s, "plain", &err), 0);
  assert_int_equal (casfs_store_delete_ref (s, "plain", &err), -1);
  sp_error_release (&err);
  casfs_store_close (steal_pointer (&s));
  remove_tmpdir (dir);
}

/* ---- image records ---- */

static void
test_image_records (void **state)
{
  char *dir = make_tmpdir ();
  cleanup_store struct casfs_store *s = NULL;
  cleanup_image struct casfs_image *img = NULL;
  cleanup_image struct casfs_image *bad = NULL;
  struct casfs_digest a;
  struct casfs_ref ref;
  sp_error_t err = NULL;
  (void) state;

  build_sample (dir, &a, NULL);
  assert_int_equal (casfs_store_open (dir, false, &s, &err), 0);
  assert_int_equal (casfs_image_lookup (s, "img/a:1", &img, &err), 0);
  assert_memory_equal (img->tree.b, a.b, CASFS_DIGEST_LEN);
  assert_string_equal (img->source, "test:sample");
  assert_int_equal (img->config_len, strlen (C_CONFIG));
  assert_memory_equal (img->config, C_CONFIG, strlen (C_CONFIG));
  assert_int_equal (img->n_layers, 1);
  assert_int_equal (img->layers[0].size, 1234);
  assert_null (img->layers[0].diff_id);
  assert_int_equal (casfs_store_read_ref (s, "img/a:1", &ref, &err), 0);
  assert_true (ref.has_image);
  assert_int_equal (casfs_image_lookup (s, "img/b:1", &bad, &err), -1);
  assert_int_equal (err->status, ENOENT);
  sp_error_release (&err);
  /* errors name the field */
  assert_int_equal (casfs_image_decode ("{\"version\":1,\"tree\":\"sha256:zz\"}", 32, &bad, &err), -1);
  assert_non_null (strstr (err->msg, "`tree`"));
  sp_error_release (&err);
  assert_int_equal (casfs_image_decode ("[1]", 3, &bad, &err), -1);
  sp_error_release (&err);
  casfs_store_close (steal_pointer (&s));
  remove_tmpdir (dir);
}

/* ---- dump ---- */

static char *
read_golden (const char *name)
{
  const char *top = getenv ("SAMEPAGE_TOP");
  cleanup_free char *path = sp_xasprintf ("%s/tests/data/casfs/%s", top ? top : ".", name);
  char *text = NULL;
  sp_error_t err = NULL;
  if (sp_read_file (path, &text, NULL, &err) < 0)
    fail_msg ("golden file: %s", err->msg);
  return text;
}

static void
test_dump_format (void **state)
{
  char *dir = make_tmpdir ();
  cleanup_store struct casfs_store *s = NULL;
  cleanup_tree_cache struct casfs_tree_cache *c = NULL;
  cleanup_free char *golden_a = read_golden ("sample-a.dump");
  cleanup_free char *golden_b = read_golden ("sample-b.dump");
  struct casfs_digest a, b;
  char *buf = NULL;
  size_t len = 0;
  FILE *f;
  sp_error_t err = NULL;
  (void) state;

  build_sample (dir, &a, &b);
  assert_int_equal (casfs_store_open (dir, false, &s, &err), 0);
  c = casfs_tree_cache_new (s);
  f = open_memstream (&buf, &len);
  assert_int_equal (casfs_dump_tree (c, &a, f, &err), 0);
  fclose (f);
  assert_string_equal (buf, golden_a);
  free (buf);
  f = open_memstream (&buf, &len);
  assert_int_equal (casfs_dump_tree (c, &b, f, &err), 0);
  fclose (f);
  assert_string_equal (buf, golden_b);
  free (buf);
  {
    cleanup_free char *e1 = casfs_dump_escape ("a b=\\\x01", 6);
    cleanup_free char *e2 = casfs_dump_escape ("-", 1);
    cleanup_free char *e3 = casfs_dump_escape ("--", 2);
    assert_string_equal (e1, "a\\x20b\\x3d\\x5c\\x01");
    assert_string_equal (e2, "\\x2d");
    assert_string_equal (e3, "--");
  }
  casfs_tree_cache_free (steal_pointer (&c));
  casfs_store_close (steal_pointer (&s));
  remove_tmpdir (dir);
}

static void
test_resolve_stays_in_tree (void **state)
{
  char *dir = make_tmpdir ();
  cleanup_store struct casfs_store *s = NULL;
  cleanup_tree_cache struct casfs_tree_cache *c = NULL;
  const struct casfs_entry *e;
  struct casfs_digest a, t;
  sp_error_t err = NULL;
  (void) state;

  build_sample (dir, &a, NULL);
  assert_int_equal (casfs_store_open (dir, false, &s, &err), 0);
  c = casfs_tree_cache_new (s);
  assert_int_equal (casfs_walk_resolve (c, &a, "/bin/link", true, &e, &t, &err), 0);
  assert_string_equal (e->name, "sh");
  assert_int_equal (casfs_walk_resolve (c, &a, "/bin/link", false, &e, &t, &err), 0);
  assert_string_equal (e->name, "link");
  /* ".." stops at the root of the tree */
  assert_int_equal (casfs_walk_resolve (c, &a, "../../../etc/./passwd", true, &e, &t, &err), 0);
  assert_string_equal (e->name, "passwd");
  assert_int_equal (casfs_walk_resolve (c, &a, "/", true, &e, &t, &err), 0);
  assert_null (e);
  assert_memory_equal (t.b, a.b, CASFS_DIGEST_LEN);
  assert_int_equal (casfs_walk_resolve (c, &a, "/etc/passwd/x", true, &e, &t, &err), -1);
  assert_int_equal (err->status, ENOTDIR);
  sp_error_release (&err);
  assert_int_equal (casfs_walk_resolve (c, &a, "/nope", true, &e, &t, &err), -1);
  assert_int_equal (err->status, ENOENT);
  sp_error_release (&err);
  casfs_tree_cache_free (steal_pointer (&c));
  casfs_store_close (steal_pointer (&s));
  remove_tmpdir (dir);
}

/* ---- gc ---- */

static void
test_gc_marking_and_sweep (void **state)
{
  char *dir = make_tmpdir ();
  cleanup_store struct casfs_store *s = NULL;
  struct casfs_gc_marks m = { 0 };
  struct casfs_gc_options o = { 0 };
  struct casfs_gc_result r;
  struct casfs_digest a, b, garbage, rooted_obj, rooted, gtree, etc;
  struct casfs_tree *t;
  cleanup_free char *stale = NULL;
  sp_error_t err = NULL;
  (void) state;

  build_sample (dir, &a, &b);
  assert_int_equal (casfs_store_open (dir, false, &s, &err), 0);
  /* garbage: an object and a tree nothing names; a tree only a root names */
  assert_int_equal (casfs_store_write_object (s, "garbage\n", 8, &garbage, &err), 1);
  t = new_tree ();
  add_file (s, t, "kept-by-root", 0644, "root only\n");
  rooted_obj = t->entries[0].digest;
  assert_int_equal (casfs_store_write_tree (s, t, &rooted, &err), 1);
  casfs_tree_free (t);
  t = new_tree ();
  add (t, "x", S_IFIFO | 0644);
  assert_int_equal (casfs_store_write_tree (s, t, &gtree, &err), 1);
  casfs_tree_free (t);
  assert_int_equal (casfs_store_add_root (s, "ctr1", &rooted, 1, &err), 0);
  stale = sp_xasprintf ("%s/tmp/leftover", dir);
  assert_int_equal (sp_write_file (stale, "x", 1, 0600, &err), 0);

  assert_int_equal (casfs_gc_mark (s, &m, &err), 0);
  assert_int_equal (m.problems, 0);
  assert_non_null (casfs_digest_map_find (m.trees, &a));
  assert_non_null (casfs_digest_map_find (m.trees, &b));
  assert_non_null (casfs_digest_map_find (m.trees, &rooted));
  assert_null (casfs_digest_map_find (m.trees, &gtree));
  assert_non_null (casfs_digest_map_find (m.objects, &rooted_obj));
  assert_null (casfs_digest_map_find (m.objects, &garbage));
  /* a: root, bin, dev, etc; b: root (etc shared); rooted */
  assert_int_equal (casfs_digest_map_size (m.trees), 6);
  /* passwd, hostname, sh, shared, own, config, root-only */
  assert_int_equal (casfs_digest_map_size (m.objects), 7);
  assert_int_equal (casfs_digest_map_size (m.images), 1);
  casfs_gc_marks_clear (&m);

  o.dry_run = true;
  assert_int_equal (casfs_gc (s, &o, &r, &err), 0);
  assert_int_equal (r.objects_freed, 1);
  assert_int_equal (r.trees_freed, 1);
  assert_true (casfs_store_has_object (s, &garbage));
  o.dry_run = false;
  assert_int_equal (casfs_gc (s, &o, &r, &err), 0);
  assert_int_equal (r.objects_freed, 1);
  assert_int_equal (r.trees_freed, 1);
  assert_int_equal (r.tmp_freed, 1);
  assert_int_equal (r.objects_kept, 7);
  assert_int_equal (r.trees_kept, 6);
  assert_false (casfs_store_has_object (s, &garbage));
  assert_int_equal (access (stale, F_OK), -1);

  /* without its root and ref b, only what a needs stays */
  assert_int_equal (casfs_store_remove_root (s, "ctr1", &err), 0);
  assert_int_equal (casfs_store_delete_ref (s, "img/b:1", &err), 0);
  assert_int_equal (casfs_gc (s, &o, &r, &err), 0);
  assert_int_equal (r.objects_freed, 2); /* own.bin, root-only */
  assert_int_equal (r.trees_freed, 2); /* b's root, rooted */
  {
    cleanup_tree struct casfs_tree *at = NULL;
    assert_int_equal (casfs_store_read_tree (s, &a, &at, &err), 0);
    etc = casfs_tree_lookup (at, "etc")->digest;
  }
  {
    cleanup_tree struct casfs_tree *et = NULL;
    assert_int_equal (casfs_store_read_tree (s, &etc, &et, &err), 0);
  }
  /* dropping the last ref frees the image record and its config too */
  assert_int_equal (casfs_store_delete_ref (s, "img/a:1", &err), 0);
  assert_int_equal (casfs_gc (s, &o, &r, &err), 0);
  assert_int_equal (r.images_freed, 1);
  assert_int_equal (r.objects_freed, 5);
  assert_int_equal (r.trees_freed, 4);
  assert_int_equal (r.objects_kept + r.trees_kept + r.images_kept, 0);
  casfs_store_close (steal_pointer (&s));
  remove_tmpdir (dir);
}

static void
test_malformed_root_stops_gc (void **state)
{
  char *dir = make_tmpdir ();
  cleanup_store struct casfs_store *s = NULL;
  cleanup_free char *root = NULL;
  struct casfs_gc_options o = { 0 };
  struct casfs_gc_result r;
  struct casfs_digest garbage;
  sp_error_t err = NULL;
  (void) state;

  build_sample (dir, NULL, NULL);
  assert_int_equal (casfs_store_open (dir, false, &s, &err), 0);
  assert_int_equal (casfs_store_write_object (s, "garbage\n", 8, &garbage, &err), 1);
  root = sp_xasprintf ("%s/roots/broken", dir);
  assert_int_equal (sp_write_file (root, "not a digest\n", 13, 0644, &err), 0);
  assert_int_equal (casfs_gc (s, &o, &r, &err), -1);
  assert_non_null (strstr (err->msg, "roots/broken"));
  sp_error_release (&err);
  assert_true (casfs_store_has_object (s, &garbage));
  casfs_store_close (steal_pointer (&s));
  remove_tmpdir (dir);
}

/* Batch mode: nothing is named before the flush; duplicates inside a batch
 * are stored once; a dropped batch leaves no trace. */
static void
test_batch_names_only_after_flush (void **state)
{
  char *dir = make_tmpdir ();
  cleanup_store struct casfs_store *s = NULL;
  cleanup_free char *tmp = sp_xasprintf ("%s/tmp", dir);
  struct casfs_tree t = { 0 };
  struct casfs_digest a, a2, b, tree;
  struct casfs_entry *e;
  sp_error_t err = NULL;
  DIR *d;
  int n = 0;

  fail_on (casfs_store_open (dir, true, &s, &err), &err);
  casfs_store_batch_begin (s);
  assert_int_equal (casfs_store_write_object (s, "alpha", 5, &a, &err), 1);
  assert_int_equal (casfs_store_write_object (s, "alpha", 5, &a2, &err), 0); /* pending already */
  assert_memory_equal (a.b, a2.b, CASFS_DIGEST_LEN);
  e = add (&t, "f", S_IFREG | 0644);
  e->digest = a;
  e->size = 5;
  assert_int_equal (casfs_store_write_tree (s, &t, &tree, &err), 1);
  assert_false (casfs_store_has_object (s, &a));
  {
    cleanup_tree struct casfs_tree *r = NULL;
    assert_int_equal (casfs_store_read_tree (s, &tree, &r, &err), -1); /* not named yet */
    sp_error_release (&err);
  }
  fail_on (casfs_store_flush (s, &err), &err);
  assert_true (casfs_store_has_object (s, &a));
  {
    cleanup_tree struct casfs_tree *r = NULL;
    fail_on (casfs_store_read_tree (s, &tree, &r, &err), &err);
    assert_int_equal (r->n, 1);
  }
  {
    cleanup_close int fd = casfs_store_open_object (s, &a, 0, &err);
    cleanup_free char *buf = NULL;
    assert_true (fd >= 0);
    fail_on (sp_read_fd (fd, &buf, NULL, &err), &err);
    assert_string_equal (buf, "alpha");
  }
  /* a dropped batch names nothing and leaves tmp/ empty */
  assert_int_equal (casfs_store_write_object (s, "beta", 4, &b, &err), 1);
  fail_on (casfs_store_batch_end (s, false, &err), &err);
  assert_false (casfs_store_has_object (s, &b));
  d = opendir (tmp);
  assert_non_null (d);
  for (struct dirent *de; (de = readdir (d));)
    n += de->d_name[0] != '.';
  closedir (d);
  assert_int_equal (n, 0);
  /* out of batch mode: written and named at once */
  assert_int_equal (casfs_store_write_object (s, "beta", 4, &b, &err), 1);
  assert_true (casfs_store_has_object (s, &b));
  for (size_t i = 0; i < t.n; i++)
    casfs_entry_clear (&t.entries[i]);
  free (t.entries);
  remove_tmpdir (dir);
}

static void
test_lock_excludes_gc (void **state)
{
  char *dir = make_tmpdir ();
  cleanup_store struct casfs_store *s = NULL;
  cleanup_free char *lock = NULL;
  int ready[2], done[2], status;
  char c;
  pid_t pid;
  sp_error_t err = NULL;
  (void) state;

  assert_int_equal (casfs_store_open (dir, true, &s, &err), 0);
  assert_int_equal (pipe (ready), 0);
  assert_int_equal (pipe (done), 0);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      /* an importer: holds the lock shared until told to stop */
      if (casfs_store_lock (s, false, &err) < 0 || write (ready[1], "r", 1) != 1 || read (done[0], &c, 1) != 1)
        _exit (1);
      _exit (0);
    }
  assert_int_equal (read (ready[0], &c, 1), 1);
  lock = sp_xasprintf ("%s/lock", dir);
  {
    cleanup_close int fd = open (lock, O_RDWR | O_CLOEXEC);
    assert_true (fd >= 0);
    assert_int_equal (flock (fd, LOCK_EX | LOCK_NB), -1);
    assert_int_equal (errno, EWOULDBLOCK);
    assert_int_equal (flock (fd, LOCK_SH | LOCK_NB), 0); /* importers share */
    flock (fd, LOCK_UN);
  }
  assert_int_equal (write (done[1], "d", 1), 1);
  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  assert_int_equal (casfs_store_lock (s, true, &err), 0);
  casfs_store_unlock (s);
  close (ready[0]);
  close (ready[1]);
  close (done[0]);
  close (done[1]);
  casfs_store_close (steal_pointer (&s));
  remove_tmpdir (dir);
}

/* ---- fsck ---- */

static void
flip_byte (const char *path)
{
  cleanup_close int fd = -1;
  char c;
  assert_int_equal (chmod (path, 0644), 0);
  fd = open (path, O_RDWR | O_CLOEXEC);
  assert_true (fd >= 0);
  assert_int_equal (pread (fd, &c, 1, 0), 1);
  c ^= 0x20;
  assert_int_equal (pwrite (fd, &c, 1, 0), 1);
}

static void
test_fsck (void **state)
{
  char *dir = make_tmpdir ();
  cleanup_store struct casfs_store *s = NULL;
  struct casfs_fsck_options o = { 0 };
  struct casfs_fsck_result r;
  struct casfs_digest a, b, shared, etc;
  cleanup_free char *obj = NULL;
  cleanup_free char *tree = NULL;
  cleanup_free char *rel = NULL;
  char hex[CASFS_DIGEST_HEX_LEN + 1];
  sp_error_t err = NULL;
  (void) state;

  build_sample (dir, &a, &b);
  assert_int_equal (casfs_store_open (dir, false, &s, &err), 0);
  assert_int_equal (casfs_fsck (s, &o, &r, &err), 0);
  assert_int_equal (r.problems, 0);
  assert_int_equal (r.objects_checked, 6); /* 5 files + config */
  assert_int_equal (r.trees_checked, 5);
  assert_null (r.affected[0]);
  casfs_fsck_result_clear (&r);

  /* a flipped byte in an object both images use */
  casfs_digest_of (C_SHARED, strlen (C_SHARED), &shared);
  rel = casfs_object_relpath (&shared);
  obj = sp_xasprintf ("%s/objects/%s", dir, rel);
  flip_byte (obj);
  assert_int_equal (casfs_fsck (s, &o, &r, &err), 0);
  assert_int_equal (r.problems, 1);
  assert_string_equal (r.affected[0], "ref img/a:1");
  assert_string_equal (r.affected[1], "ref img/b:1");
  assert_int_equal (access (obj, F_OK), 0);
  casfs_fsck_result_clear (&r);
  o.repair = true;
  assert_int_equal (casfs_fsck (s, &o, &r, &err), 0);
  assert_int_equal (r.quarantined, 1);
  casfs_fsck_result_clear (&r);
  assert_int_equal (access (obj, F_OK), -1);
  casfs_digest_hex (&shared, hex);
  {
    cleanup_free char *q = sp_xasprintf ("%s/quarantine/objects-%.2s-%s", dir, hex, hex + 2);
    assert_int_equal (access (q, F_OK), 0);
  }
  /* now it is missing: still a problem until re-imported */
  o.repair = false;
  assert_int_equal (casfs_fsck (s, &o, &r, &err), 0);
  assert_int_equal (r.problems, 1);
  casfs_fsck_result_clear (&r);
  assert_int_equal (casfs_store_write_object (s, C_SHARED, strlen (C_SHARED), &shared, &err), 1);

  /* a truncated tree (etc, shared by both) */
  {
    cleanup_tree struct casfs_tree *at = NULL;
    cleanup_free char *trel = NULL;
    assert_int_equal (casfs_store_read_tree (s, &a, &at, &err), 0);
    etc = casfs_tree_lookup (at, "etc")->digest;
    trel = casfs_object_relpath (&etc);
    tree = sp_xasprintf ("%s/trees/%s", dir, trel);
  }
  assert_int_equal (chmod (tree, 0644), 0);
  assert_int_equal (truncate (tree, 20), 0);
  assert_int_equal (casfs_fsck (s, &o, &r, &err), 0);
  assert_int_equal (r.problems, 1);
  assert_int_equal (sp_strv_len (r.affected), 2);
  casfs_fsck_result_clear (&r);
  casfs_store_close (steal_pointer (&s));
  remove_tmpdir (dir);
}

/* ---- stats ---- */

static void
test_stats_exact (void **state)
{
  char *dir = make_tmpdir ();
  cleanup_store struct casfs_store *s = NULL;
  struct casfs_store_stats st;
  cleanup_free char *json = NULL;
  sp_error_t err = NULL;
  (void) state;

  build_sample (dir, NULL, NULL);
  assert_int_equal (casfs_store_open (dir, false, &s, &err), 0);
  assert_int_equal (casfs_stats_compute (s, &st, &err), 0);
  assert_int_equal (st.n_images, 2);
  /* a: passwd 11 + hostname 5 + sh 8 (sh2 is the same inode) + shared 7 */
  assert_string_equal (st.images[0].ref, "img/a:1");
  assert_int_equal (st.images[0].files, 4);
  assert_int_equal (st.images[0].logical_bytes, 31);
  assert_int_equal (st.images[0].unique_bytes, 31);
  assert_int_equal (st.images[0].shared_objects, 3);
  assert_int_equal (st.images[0].shared_bytes, 23);
  /* b: passwd 11 + hostname 5 + own 10 + shared 7 */
  assert_int_equal (st.images[1].files, 4);
  assert_int_equal (st.images[1].logical_bytes, 33);
  assert_int_equal (st.images[1].unique_objects, 4);
  assert_int_equal (st.images[1].shared_objects, 3);
  assert_int_equal (st.logical_bytes, 64);
  assert_int_equal (st.unique_objects, 5);
  assert_int_equal (st.unique_bytes, 41);
  assert_int_equal (st.shared_objects, 3);
  assert_int_equal (st.shared_bytes, 23);
  assert_int_equal (st.trees, 5);
  assert_int_equal (st.disk_objects, 6);
  assert_int_equal (st.disk_bytes, 41 + strlen (C_CONFIG));
  assert_int_equal (st.problems, 0);
  assert_int_equal (casfs_stats_to_json (&st, NULL, &json, &err), 0);
  assert_non_null (strstr (json, "\"dedup_ratio\": 1.56"));
  casfs_stats_clear (&st);
  casfs_store_close (steal_pointer (&s));
  remove_tmpdir (dir);
}

/* ---- export ---- */

static void
test_export_tar (void **state)
{
  char *dir = make_tmpdir ();
  cleanup_store struct casfs_store *s = NULL;
  cleanup_free char *tar = NULL;
  cleanup_close int fd = -1;
  struct casfs_digest a;
  struct archive *ar;
  struct archive_entry *ae;
  sp_error_t err = NULL;
  int seen = 0;
  (void) state;

  build_sample (dir, &a, NULL);
  assert_int_equal (casfs_store_open (dir, false, &s, &err), 0);
  tar = sp_xasprintf ("%s/out.tar", dir);
  fd = open (tar, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  assert_true (fd >= 0);
  assert_int_equal (casfs_export_tar (s, &a, fd, &err), 0);
  sp_closep (&fd);

  ar = archive_read_new ();
  archive_read_support_format_all (ar);
  assert_int_equal (archive_read_open_filename (ar, tar, 10240), ARCHIVE_OK);
  while (archive_read_next_header (ar, &ae) == ARCHIVE_OK)
    {
      const char *p = archive_entry_pathname (ae);
      seen++;
      assert_int_equal (archive_entry_mtime (ae), 1700000000);
      if (strcmp (p, "bin/sh") == 0)
        {
          const char *name;
          const void *value;
          size_t len;
          char buf[64];
          assert_int_equal (archive_entry_mode (ae), S_IFREG | 04755);
          assert_int_equal (archive_entry_mtime_nsec (ae), 123456789);
          assert_int_equal (archive_entry_xattr_reset (ae), 1);
          assert_int_equal (archive_entry_xattr_next (ae, &name, &value, &len), ARCHIVE_OK);
          assert_string_equal (name, "security.capability");
          assert_int_equal (len, sizeof capability);
          assert_memory_equal (value, capability, len);
          assert_int_equal (archive_read_data (ar, buf, sizeof buf), strlen (C_SH));
          assert_memory_equal (buf, C_SH, strlen (C_SH));
        }
      else if (strcmp (p, "bin/sh2") == 0)
        assert_string_equal (archive_entry_hardlink (ae), "bin/sh");
      else if (strcmp (p, "bin/link") == 0)
        assert_string_equal (archive_entry_symlink (ae), "sh");
      else if (strcmp (p, "dev/null") == 0)
        {
          assert_int_equal (archive_entry_filetype (ae), AE_IFCHR);
          assert_int_equal (archive_entry_rdevmajor (ae), 1);
          assert_int_equal (archive_entry_rdevminor (ae), 3);
        }
      else if (strcmp (p, "fifo") == 0)
        {
          assert_int_equal (archive_entry_filetype (ae), AE_IFIFO);
          assert_int_equal (archive_entry_uid (ae), 1000);
          assert_int_equal (archive_entry_gid (ae), 100);
          assert_int_equal (archive_entry_mtime_nsec (ae), 5);
        }
      else if (strcmp (p, "etc") == 0)
        assert_int_equal (archive_entry_filetype (ae), AE_IFDIR);
    }
  archive_read_free (ar);
  /* bin bin/link bin/sh bin/sh2 dev dev/null etc etc/hostname etc/passwd fifo shared.txt */
  assert_int_equal (seen, 11);
  casfs_store_close (steal_pointer (&s));
  remove_tmpdir (dir);
}

/* ---- helper modes for the bats tests ---- */

static int
write_locked (const char *dir)
{
  cleanup_store struct casfs_store *s = NULL;
  struct casfs_tree *t = new_tree ();
  struct casfs_digest d;
  sp_error_t err = NULL;

  fail_on (casfs_store_open (dir, false, &s, &err), &err);
  fail_on (casfs_store_lock (s, false, &err), &err);
  printf ("locked\n");
  fflush (stdout);
  add_file (s, t, "new.txt", 0644, "written under the shared lock\n");
  fail_on (casfs_store_write_tree (s, t, &d, &err), &err);
  casfs_tree_free (t);
  sleep (2); /* a gc now would find new.txt unreferenced */
  fail_on (casfs_store_set_ref (s, "img/new:1", &d, &err), &err);
  casfs_store_unlock (s);
  return 0;
}

int
main (int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_object_hashing_and_dedup),
    cmocka_unit_test (test_ref_escaping),
    cmocka_unit_test (test_image_records),
    cmocka_unit_test (test_dump_format),
    cmocka_unit_test (test_resolve_stays_in_tree),
    cmocka_unit_test (test_gc_marking_and_sweep),
    cmocka_unit_test (test_malformed_root_stops_gc),
    cmocka_unit_test (test_lock_excludes_gc),
    cmocka_unit_test (test_fsck),
    cmocka_unit_test (test_stats_exact),
    cmocka_unit_test (test_export_tar),
    cmocka_unit_test (test_batch_names_only_after_flush),
  };

  if (argc == 3 && strcmp (argv[1], "--make-store") == 0)
    {
      build_sample (argv[2], NULL, NULL);
      return 0;
    }
  if (argc == 3 && strcmp (argv[1], "--write-locked") == 0)
    return write_locked (argv[2]);
  return cmocka_run_group_tests (tests, NULL, NULL);
}
