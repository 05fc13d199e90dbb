/* The error type and the cleanup helpers. */
#include <samepage/error.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

static int
fails_with_enoent (sp_error_t *err)
{
  errno = ENOENT;
  return sp_error_errno (err, "open `%s`", "/nonexistent");
}

static void
test_error_carries_errno_and_context (void **state)
{
  sp_error_t err = NULL;
  (void) state;
  assert_int_equal (fails_with_enoent (&err), -1);
  assert_non_null (err);
  assert_int_equal (err->status, ENOENT);
  sp_error_wrap (&err, "load `%s`", "config.json");
  assert_string_equal (err->msg, "load `config.json`: open `/nonexistent`: No such file or directory");
  sp_error_release (&err);
  assert_null (err);
}

static void
test_first_error_wins (void **state)
{
  sp_error_t err = NULL;
  (void) state;
  sp_error_make (&err, 0, "first");
  sp_error_make (&err, EIO, "second");
  assert_string_equal (err->msg, "first");
  assert_int_equal (err->status, 0);
  sp_error_release (&err);
}

static void
test_json_escape (void **state)
{
  cleanup_free char *s = sp_json_escape ("a\"b\\c\nd\x01");
  (void) state;
  assert_string_equal (s, "a\\\"b\\\\c\\nd\\u0001");
}

static void
test_cleanup_close_resets (void **state)
{
  int fd = open ("/dev/null", O_RDONLY);
  (void) state;
  assert_true (fd >= 0);
  sp_closep (&fd);
  assert_int_equal (fd, -1);
  sp_closep (&fd); /* idempotent */
}

static void
test_parse_numbers (void **state)
{
  long v;
  unsigned long long u;
  (void) state;
  assert_true (sp_parse_long ("-15", &v));
  assert_int_equal (v, -15);
  assert_false (sp_parse_long ("15x", &v));
  assert_false (sp_parse_long ("", &v));
  assert_true (sp_parse_u64 ("18446744073709551615", &u));
  assert_false (sp_parse_u64 ("18446744073709551616", &u));
  assert_false (sp_parse_u64 ("-1", &u));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_error_carries_errno_and_context),
    cmocka_unit_test (test_first_error_wins),
    cmocka_unit_test (test_json_escape),
    cmocka_unit_test (test_cleanup_close_resets),
    cmocka_unit_test (test_parse_numbers),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
