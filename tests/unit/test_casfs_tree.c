/* Tree object encoding: canonical order, round trip, hostile input. */
#include <samepage/casfs_store.h>
#include <samepage/casfs_tree.h>
#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <cmocka.h>

static struct casfs_tree *
sample_tree (void)
{
  struct casfs_tree *t = sp_xmalloc0 (sizeof (*t));
  t->n = 3;
  t->entries = sp_xmalloc0 (3 * sizeof (*t->entries));
  t->entries[0].name = sp_xstrdup ("zz");
  t->entries[0].mode = S_IFLNK | 0777;
  t->entries[0].target = sp_xstrdup ("../etc/passwd");
  t->entries[0].size = 13;
  t->entries[1].name = sp_xstrdup ("bin");
  t->entries[1].mode = S_IFREG | 04755;
  t->entries[1].mtime_sec = 1700000000;
  t->entries[1].mtime_nsec = 123456789;
  t->entries[1].nlink = 1;
  t->entries[1].n_xattrs = 2;
  t->entries[1].xattrs = sp_xmalloc0 (2 * sizeof (struct casfs_xattr));
  t->entries[1].xattrs[0].name = sp_xstrdup ("user.b");
  t->entries[1].xattrs[0].value = (uint8_t *) sp_xstrdup ("x");
  t->entries[1].xattrs[0].len = 1;
  t->entries[1].xattrs[1].name = sp_xstrdup ("security.capability");
  t->entries[1].xattrs[1].value = (uint8_t *) sp_xstrdup ("");
  t->entries[2].name = sp_xstrdup ("null");
  t->entries[2].mode = S_IFCHR | 0666;
  t->entries[2].rdev = makedev (1, 3);
  return t;
}

static void
test_round_trip_is_canonical (void **state)
{
  cleanup_tree struct casfs_tree *t = sample_tree ();
  cleanup_tree struct casfs_tree *back = NULL;
  cleanup_free uint8_t *buf = NULL;
  cleanup_free uint8_t *buf2 = NULL;
  size_t len, len2;
  sp_error_t err = NULL;
  (void) state;

  assert_int_equal (casfs_tree_canonicalize (t, &err), 0);
  assert_string_equal (t->entries[0].name, "bin");
  assert_string_equal (t->entries[0].xattrs[0].name, "security.capability");
  assert_int_equal (casfs_tree_encode (t, &buf, &len, &err), 0);
  assert_int_equal (casfs_tree_decode (buf, len, &back, &err), 0);
  assert_int_equal (back->n, 3);
  assert_int_equal (back->entries[0].mode, S_IFREG | 04755);
  assert_int_equal (back->entries[0].mtime_nsec, 123456789);
  assert_string_equal (back->entries[2].target, "../etc/passwd");
  assert_int_equal (back->entries[1].rdev, makedev (1, 3));
  assert_non_null (casfs_tree_lookup (back, "null"));
  assert_null (casfs_tree_lookup (back, "nul"));
  assert_int_equal (casfs_tree_encode (back, &buf2, &len2, &err), 0);
  assert_int_equal (len, len2);
  assert_memory_equal (buf, buf2, len);
}

static void
test_rejects_bad_names_and_duplicates (void **state)
{
  cleanup_tree struct casfs_tree *t = sample_tree ();
  sp_error_t err = NULL;
  (void) state;
  free (t->entries[2].name);
  t->entries[2].name = sp_xstrdup ("bin");
  assert_int_equal (casfs_tree_canonicalize (t, &err), -1);
  assert_string_equal (err->msg, "duplicate entry `bin`");
  sp_error_release (&err);
  free (t->entries[2].name);
  t->entries[2].name = sp_xstrdup ("..");
  assert_int_equal (casfs_tree_canonicalize (t, &err), -1);
  sp_error_release (&err);
  free (t->entries[2].name);
  t->entries[2].name = sp_xstrdup ("a/b");
  assert_int_equal (casfs_tree_canonicalize (t, &err), -1);
  sp_error_release (&err);
}

/* Every truncation and many single-byte corruptions of a valid encoding are
 * either rejected or decode to something that re-encodes canonically. */
static void
test_decode_survives_corruption (void **state)
{
  cleanup_tree struct casfs_tree *t = sample_tree ();
  cleanup_free uint8_t *buf = NULL;
  size_t len;
  sp_error_t err = NULL;
  (void) state;

  assert_int_equal (casfs_tree_canonicalize (t, &err), 0);
  assert_int_equal (casfs_tree_encode (t, &buf, &len, &err), 0);
  for (size_t cut = 0; cut < len; cut++)
    {
      struct casfs_tree *bad = NULL;
      assert_int_equal (casfs_tree_decode (buf, cut, &bad, &err), -1);
      sp_error_release (&err);
    }
  for (size_t i = 0; i < len; i++)
    for (int bit = 0; bit < 8; bit += 3)
      {
        cleanup_free uint8_t *copy = malloc (len);
        struct casfs_tree *maybe = NULL;
        memcpy (copy, buf, len);
        copy[i] ^= (uint8_t) (1u << bit);
        if (casfs_tree_decode (copy, len, &maybe, &err) == 0)
          {
            cleanup_free uint8_t *re = NULL;
            size_t relen;
            assert_int_equal (casfs_tree_encode (maybe, &re, &relen, &err), 0);
            assert_int_equal (relen, len);
            casfs_tree_free (maybe);
          }
        sp_error_release (&err);
      }
}

static void
test_digest_parse (void **state)
{
  struct casfs_digest d;
  char hex[65];
  sp_error_t err = NULL;
  (void) state;
  casfs_digest_of ("", 0, &d);
  casfs_digest_hex (&d, hex);
  assert_string_equal (hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert_int_equal (casfs_digest_parse ("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", &d, &err), 0);
  assert_int_equal (casfs_digest_parse ("E3B0", &d, &err), -1);
  sp_error_release (&err);
}

static void
test_store_objects_trees_refs (void **state)
{
  char dir[] = "/tmp/casfs-unit-XXXXXX";
  cleanup_free char *store_path = NULL;
  struct casfs_store *s = NULL;
  cleanup_tree struct casfs_tree *t = sample_tree ();
  cleanup_tree struct casfs_tree *back = NULL;
  struct casfs_digest obj, obj2, td, rd;
  cleanup_strv char **refs = NULL;
  sp_error_t err = NULL;
  (void) state;

  assert_non_null (mkdtemp (dir));
  store_path = sp_xasprintf ("%s/store", dir);
  assert_int_equal (casfs_store_open (store_path, true, &s, &err), 0);
  assert_int_equal (casfs_store_write_object (s, "hello\n", 6, &obj, &err), 1);
  assert_int_equal (casfs_store_write_object (s, "hello\n", 6, &obj2, &err), 0);
  assert_memory_equal (obj.b, obj2.b, CASFS_DIGEST_LEN);
  assert_true (casfs_store_has_object (s, &obj));
  t->entries[1].digest = obj;
  assert_true (casfs_store_write_tree (s, t, &td, &err) >= 0);
  assert_int_equal (casfs_store_set_ref (s, "localhost/img:latest", &td, &err), 0);
  assert_int_equal (casfs_store_resolve (s, "localhost/img:latest", &rd, &err), 0);
  assert_memory_equal (td.b, rd.b, CASFS_DIGEST_LEN);
  assert_int_equal (casfs_store_read_tree (s, &rd, &back, &err), 0);
  assert_int_equal (back->n, 3);
  assert_int_equal (casfs_store_list_refs (s, &refs, &err), 0);
  assert_string_equal (refs[0], "localhost/img:latest");
  assert_null (refs[1]);
  assert_int_equal (casfs_store_resolve (s, "nope", &rd, &err), -1);
  sp_error_release (&err);
  casfs_store_close (s);
  assert_int_equal (sp_rm_rf (dir, &err), 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_round_trip_is_canonical),
    cmocka_unit_test (test_rejects_bad_names_and_duplicates),
    cmocka_unit_test (test_decode_survives_corruption),
    cmocka_unit_test (test_digest_parse),
    cmocka_unit_test (test_store_objects_trees_refs),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
