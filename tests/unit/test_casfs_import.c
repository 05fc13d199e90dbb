/* Hostile-input path rules and the xattr filter of casfs import. */
#include <samepage/casfs_import.h>
#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void
expect_norm (const char *in, const char *want)
{
  cleanup_free char *out = NULL;
  sp_error_t err = NULL;
  int r = casfs_path_normalize (in, &out, &err);
  if (r < 0)
    fail_msg ("`%s`: unexpected error: %s", in, err->msg);
  assert_string_equal (out, want);
}

static void
expect_reject (const char *in, const char *msg_part)
{
  cleanup_free char *out = NULL;
  sp_error_t err = NULL;
  assert_int_equal (casfs_path_normalize (in, &out, &err), -1);
  assert_non_null (err);
  if (strstr (err->msg, msg_part) == NULL)
    fail_msg ("`%.40s`: error `%s` lacks `%s`", in, err->msg, msg_part);
  assert_null (out);
  sp_error_release (&err);
}

static void
test_normalisations (void **state)
{
  (void) state;
  expect_norm ("usr/bin/ls", "usr/bin/ls");
  expect_norm ("./usr/bin/ls", "usr/bin/ls");
  expect_norm ("usr//bin///ls", "usr/bin/ls");
  expect_norm ("usr/bin/", "usr/bin");
  expect_norm ("./usr/./bin/.", "usr/bin");
  expect_norm ("./", "");
  expect_norm (".", "");
  expect_norm ("...", "...");
  expect_norm ("..foo/.bar", "..foo/.bar");
  expect_norm (".wh..wh..opq", ".wh..wh..opq");
}

static void
test_rejections (void **state)
{
  char *longname, *deep, *longpath;
  (void) state;
  expect_reject ("/etc/passwd", "absolute");
  expect_reject ("//etc", "absolute");
  expect_reject ("..", "..");
  expect_reject ("../etc/passwd", "..");
  expect_reject ("a/../../etc", "..");
  expect_reject ("a/b/..", "..");
  expect_reject ("./..", "..");
  expect_reject ("", "empty");

  longname = sp_xmalloc0 (300);
  memset (longname, 'x', 256);
  expect_reject (longname, "component");
  memset (longname, 'x', 255);
  longname[255] = '\0';
  expect_norm (longname, longname);
  free (longname);

  deep = sp_xmalloc0 (2 * (CASFS_IMPORT_DEPTH_MAX + 1) + 1);
  for (int i = 0; i <= CASFS_IMPORT_DEPTH_MAX; i++)
    memcpy (deep + 2 * i, "a/", 2);
  expect_reject (deep, "deeper");
  free (deep);

  longpath = sp_xmalloc0 (CASFS_IMPORT_PATH_MAX + 2);
  memset (longpath, 'y', CASFS_IMPORT_PATH_MAX + 1);
  for (int i = 100; i < CASFS_IMPORT_PATH_MAX; i += 101)
    longpath[i] = '/';
  expect_reject (longpath, "bytes");
  free (longpath);
}

static void
test_xattr_filter (void **state)
{
  (void) state;
  assert_true (casfs_import_keep_xattr ("security.capability"));
  assert_true (casfs_import_keep_xattr ("user.mime_type"));
  assert_true (casfs_import_keep_xattr ("system.posix_acl_access"));
  assert_true (casfs_import_keep_xattr ("trusted.foo"));
  assert_false (casfs_import_keep_xattr ("trusted.overlay.redirect"));
  assert_false (casfs_import_keep_xattr ("trusted.overlay.metacopy"));
  assert_false (casfs_import_keep_xattr ("trusted.overlay.opaque"));
  assert_false (casfs_import_keep_xattr ("user.overlay.redirect"));
  assert_false (casfs_import_keep_xattr ("security.selinux"));
  assert_false (casfs_import_keep_xattr ("bogus.namespace"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_normalisations),
    cmocka_unit_test (test_rejections),
    cmocka_unit_test (test_xattr_filter),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
