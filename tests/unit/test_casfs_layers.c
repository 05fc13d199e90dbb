/* Layer stacking: overlay whiteouts, opaque directories, replacement rules,
 * canonical hardlink ids; and importing an overlay-style layer directory. */
#include <samepage/casfs_import.h>
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
#include <unistd.h>
#include <cmocka.h>

struct fixture
{
  char dir[64];
  struct casfs_store *store;
};

static int
setup (void **state)
{
  struct fixture *f = sp_xmalloc0 (sizeof (*f));
  cleanup_free char *path = NULL;
  sp_error_t err = NULL;
  strcpy (f->dir, "/tmp/test-casfs-layers.XXXXXX");
  if (mkdtemp (f->dir) == NULL)
    return -1;
  path = sp_xasprintf ("%s/store", f->dir);
  if (casfs_store_open (path, true, &f->store, &err) < 0)
    return -1;
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  struct fixture *f = *state;
  sp_error_t err = NULL;
  casfs_store_close (f->store);
  sp_rm_rf (f->dir, &err);
  free (f);
  return 0;
}

/* A tiny tree builder: entries of one directory. */
struct builder
{
  struct casfs_tree t;
  size_t cap;
};

static struct casfs_entry *
add (struct builder *b, const char *name, uint32_t mode)
{
  struct casfs_entry *e;
  if (b->t.n == b->cap)
    {
      b->cap = b->cap ? b->cap * 2 : 8;
      b->t.entries = sp_xrealloc (b->t.entries, b->cap * sizeof (*e));
    }
  e = &b->t.entries[b->t.n++];
  memset (e, 0, sizeof (*e));
  e->name = sp_xstrdup (name);
  e->mode = mode;
  e->nlink = 1;
  return e;
}

static struct casfs_entry *
add_file (struct fixture *f, struct builder *b, const char *name, const char *content)
{
  struct casfs_entry *e = add (b, name, S_IFREG | 0644);
  sp_error_t err = NULL;
  e->size = strlen (content);
  assert_true (casfs_store_write_object (f->store, content, strlen (content), &e->digest, &err) >= 0);
  return e;
}

static struct casfs_entry *
add_dir (struct fixture *f, struct builder *b, const char *name, struct builder *sub)
{
  struct casfs_entry *e = add (b, name, S_IFDIR | 0755);
  sp_error_t err = NULL;
  assert_true (casfs_store_write_tree (f->store, &sub->t, &e->digest, &err) >= 0);
  for (size_t i = 0; i < sub->t.n; i++)
    casfs_entry_clear (&sub->t.entries[i]);
  free (sub->t.entries);
  memset (sub, 0, sizeof (*sub));
  return e;
}

static void
add_whiteout (struct builder *b, const char *name)
{
  add (b, name, S_IFCHR);
}

static void
set_opaque (struct casfs_entry *e)
{
  e->xattrs = sp_xmalloc0 (sizeof (*e->xattrs));
  e->xattrs[0].name = sp_xstrdup ("trusted.overlay.opaque");
  e->xattrs[0].value = (uint8_t *) sp_xstrdup ("y");
  e->xattrs[0].len = 1;
  e->n_xattrs = 1;
}

static void
finish (struct fixture *f, struct builder *b, struct casfs_digest *out)
{
  sp_error_t err = NULL;
  assert_true (casfs_store_write_tree (f->store, &b->t, out, &err) >= 0);
  for (size_t i = 0; i < b->t.n; i++)
    casfs_entry_clear (&b->t.entries[i]);
  free (b->t.entries);
  memset (b, 0, sizeof (*b));
}

static struct casfs_tree *
read_tree (struct fixture *f, const struct casfs_digest *d)
{
  struct casfs_tree *t = NULL;
  sp_error_t err = NULL;
  if (casfs_store_read_tree (f->store, d, &t, &err) < 0)
    fail_msg ("read tree: %s", err->msg);
  return t;
}

static struct casfs_tree *
subtree (struct fixture *f, const struct casfs_tree *t, const char *name)
{
  const struct casfs_entry *e = casfs_tree_lookup (t, name);
  assert_non_null (e);
  assert_true (S_ISDIR (e->mode));
  return read_tree (f, &e->digest);
}

static void
test_whiteouts_and_opaque (void **state)
{
  struct fixture *f = *state;
  struct builder root = { 0 }, etc = { 0 }, opt = { 0 }, var = { 0 };
  struct casfs_digest layers[2], merged;
  sp_error_t err = NULL;

  /* lower: etc/{passwd,shadow}, opt/{a,b}, var/log, gone (file), dir2file/ */
  add_file (f, &etc, "passwd", "root:x:0:0");
  add_file (f, &etc, "shadow", "secret");
  add_dir (f, &root, "etc", &etc);
  add_file (f, &opt, "a", "a");
  add_file (f, &opt, "b", "b");
  add_dir (f, &root, "opt", &opt);
  add_file (f, &var, "log", "log");
  add_dir (f, &root, "var", &var);
  add_file (f, &root, "gone", "gone");
  add_file (f, &root, "file2dir", "x");
  add_dir (f, &root, "dir2file", &var);
  finish (f, &root, &layers[0]);

  /* upper: whiteout etc/shadow and gone; opt opaque with c; var/new;
   * file2dir becomes a directory, dir2file a file; a whiteout of a name that
   * never existed. */
  add_whiteout (&etc, "shadow");
  add_dir (f, &root, "etc", &etc);
  add_file (f, &opt, "c", "c");
  set_opaque (add_dir (f, &root, "opt", &opt));
  add_file (f, &var, "new", "new");
  add_dir (f, &root, "var", &var);
  add_whiteout (&root, "gone");
  add_whiteout (&root, "never");
  add_file (f, &var, "inside", "i");
  add_dir (f, &root, "file2dir", &var);
  add_file (f, &root, "dir2file", "now a file");
  finish (f, &root, &layers[1]);

  assert_int_equal (casfs_layers_merge (f->store, layers, 2, &merged, &err), 0);
  cleanup_tree struct casfs_tree *m = read_tree (f, &merged);
  assert_null (casfs_tree_lookup (m, "gone"));
  assert_null (casfs_tree_lookup (m, "never"));
  assert_true (S_ISREG (casfs_tree_lookup (m, "dir2file")->mode));
  cleanup_tree struct casfs_tree *me = subtree (f, m, "etc");
  assert_int_equal (me->n, 1);
  assert_string_equal (me->entries[0].name, "passwd");
  cleanup_tree struct casfs_tree *mo = subtree (f, m, "opt");
  assert_int_equal (mo->n, 1);
  assert_string_equal (mo->entries[0].name, "c");
  assert_null (casfs_entry_xattr (casfs_tree_lookup (m, "opt"), "trusted.overlay.opaque"));
  cleanup_tree struct casfs_tree *mv = subtree (f, m, "var");
  assert_int_equal (mv->n, 2);
  cleanup_tree struct casfs_tree *mf = subtree (f, m, "file2dir");
  assert_int_equal (mf->n, 1);

  /* Order matters: the upper layer alone, merged, has no whiteouts left. */
  struct casfs_digest only_upper;
  assert_int_equal (casfs_layers_merge (f->store, &layers[1], 1, &only_upper, &err), 0);
  cleanup_tree struct casfs_tree *u = read_tree (f, &only_upper);
  for (size_t i = 0; i < u->n; i++)
    assert_false (S_ISCHR (u->entries[i].mode) && u->entries[i].rdev == 0);
  assert_null (casfs_tree_lookup (u, "gone"));
}

static void
test_hardlink_ids_are_renumbered (void **state)
{
  struct fixture *f = *state;
  struct builder root = { 0 }, a = { 0 };
  struct casfs_digest layers[2], merged;
  sp_error_t err = NULL;
  struct casfs_entry *e;

  /* lower: group 1 = {a/x, b1, b2}, group 2 = {z1, z2} */
  e = add_file (f, &a, "x", "shared");
  e->link_id = 1, e->nlink = 3;
  add_dir (f, &root, "a", &a);
  e = add_file (f, &root, "b1", "shared");
  e->link_id = 1, e->nlink = 3;
  e = add_file (f, &root, "b2", "shared");
  e->link_id = 1, e->nlink = 3;
  e = add_file (f, &root, "z1", "zz");
  e->link_id = 2, e->nlink = 2;
  e = add_file (f, &root, "z2", "zz");
  e->link_id = 2, e->nlink = 2;
  finish (f, &root, &layers[0]);
  /* upper replaces b2 and z2: group 1 keeps 2 members, group 2 one. */
  add_file (f, &root, "b2", "other");
  add_file (f, &root, "z2", "other");
  finish (f, &root, &layers[1]);

  assert_int_equal (casfs_layers_merge (f->store, layers, 2, &merged, &err), 0);
  cleanup_tree struct casfs_tree *m = read_tree (f, &merged);
  cleanup_tree struct casfs_tree *ma = subtree (f, m, "a");
  /* depth-first name order meets a/x first: id 1 */
  assert_int_equal (ma->entries[0].link_id, 1);
  assert_int_equal (ma->entries[0].nlink, 2);
  assert_int_equal (casfs_tree_lookup (m, "b1")->link_id, 1);
  assert_int_equal (casfs_tree_lookup (m, "b1")->nlink, 2);
  assert_int_equal (casfs_tree_lookup (m, "b2")->link_id, 0);
  assert_int_equal (casfs_tree_lookup (m, "z1")->link_id, 0);
  assert_int_equal (casfs_tree_lookup (m, "z1")->nlink, 1);
}

static void
test_missing_layer_is_an_error (void **state)
{
  struct fixture *f = *state;
  struct casfs_digest bogus, merged;
  sp_error_t err = NULL;
  memset (&bogus, 0xab, sizeof bogus);
  assert_int_equal (casfs_layers_merge (f->store, &bogus, 1, &merged, &err), -1);
  assert_non_null (strstr (err->msg, "layer 1"));
  sp_error_release (&err);
}

static void
write_text (const char *dir, const char *name, const char *text)
{
  cleanup_free char *p = sp_xasprintf ("%s/%s", dir, name);
  sp_error_t err = NULL;
  assert_int_equal (sp_write_file (p, text, strlen (text), 0644, &err), 0);
}

static void
test_import_overlay_dir (void **state)
{
  struct fixture *f = *state;
  cleanup_free char *lower = sp_xasprintf ("%s/lower", f->dir);
  cleanup_free char *upper = sp_xasprintf ("%s/upper", f->dir);
  cleanup_free char *p = NULL;
  struct casfs_digest layers[2], merged;
  sp_error_t err = NULL;

  assert_int_equal (mkdir (lower, 0755), 0);
  assert_int_equal (mkdir (upper, 0755), 0);
  p = sp_xasprintf ("%s/d", lower);
  assert_int_equal (mkdir (p, 0755), 0);
  write_text (lower, "d/old", "old");
  write_text (lower, "keep", "keep");
  write_text (lower, "del", "del");
  write_text (lower, "h1", "linked");
  free (p);
  p = sp_xasprintf ("%s/d", upper);
  assert_int_equal (mkdir (p, 0755), 0);
  if (setxattr (p, "trusted.overlay.opaque", "y", 1, 0) < 0)
    skip (); /* needs CAP_SYS_ADMIN and a filesystem with trusted xattrs */
  write_text (upper, "d/new", "new");
  free (p);
  p = sp_xasprintf ("%s/del", upper);
  if (mknod (p, S_IFCHR | 0, makedev (0, 0)) < 0)
    skip (); /* needs CAP_MKNOD */
  free (p);
  p = sp_xasprintf ("%s/.wh.keep2", upper); /* OCI-style whiteout file in a plain dir */
  write_text (upper, ".wh.keep2", "");
  {
    cleanup_free char *h1 = sp_xasprintf ("%s/h1", lower), *h2 = sp_xasprintf ("%s/h2", lower);
    assert_int_equal (link (h1, h2), 0);
  }

  assert_int_equal (casfs_import_dir (f->store, lower, &layers[0], &err), 0);
  assert_int_equal (casfs_import_dir (f->store, upper, &layers[1], &err), 0);
  {
    cleanup_tree struct casfs_tree *up = read_tree (f, &layers[1]);
    const struct casfs_entry *del = casfs_tree_lookup (up, "del"), *d = casfs_tree_lookup (up, "d");
    const struct casfs_entry *k2 = casfs_tree_lookup (up, "keep2");
    assert_non_null (del);
    assert_true (S_ISCHR (del->mode) && del->rdev == 0);
    assert_non_null (k2);
    assert_true (S_ISCHR (k2->mode) && k2->rdev == 0);
    assert_null (casfs_tree_lookup (up, ".wh.keep2"));
    assert_non_null (casfs_entry_xattr (d, "trusted.overlay.opaque"));
    cleanup_tree struct casfs_tree *lo = read_tree (f, &layers[0]);
    assert_int_equal (casfs_tree_lookup (lo, "h1")->link_id, 1);
    assert_int_equal (casfs_tree_lookup (lo, "h2")->link_id, 1);
    assert_int_equal (casfs_tree_lookup (lo, "h2")->nlink, 2);
    assert_memory_equal (casfs_tree_lookup (lo, "h1")->digest.b, casfs_tree_lookup (lo, "h2")->digest.b, 32);
  }
  assert_int_equal (casfs_layers_merge (f->store, layers, 2, &merged, &err), 0);
  cleanup_tree struct casfs_tree *m = read_tree (f, &merged);
  assert_null (casfs_tree_lookup (m, "del"));
  assert_non_null (casfs_tree_lookup (m, "keep"));
  cleanup_tree struct casfs_tree *md = subtree (f, m, "d");
  assert_int_equal (md->n, 1);
  assert_string_equal (md->entries[0].name, "new");
  assert_null (casfs_entry_xattr (casfs_tree_lookup (m, "d"), "trusted.overlay.opaque"));

  /* Same content imported again: the same digest. */
  struct casfs_digest again;
  assert_int_equal (casfs_import_dir (f->store, lower, &again, &err), 0);
  assert_memory_equal (again.b, layers[0].b, 32);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_whiteouts_and_opaque, setup, teardown),
    cmocka_unit_test_setup_teardown (test_hardlink_ids_are_renumbered, setup, teardown),
    cmocka_unit_test_setup_teardown (test_missing_layer_is_an_error, setup, teardown),
    cmocka_unit_test_setup_teardown (test_import_overlay_dir, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
