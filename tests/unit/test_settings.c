/* samepage.conf: defaults, every key, and errors that name file, line and key. */
#include <samepage/settings.h>
#include <samepage/error.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static char *
write_conf (const char *text)
{
  char tmpl[] = "/tmp/samepage-conf-test.XXXXXX";
  int fd = mkstemp (tmpl);
  assert_true (fd >= 0);
  assert_int_equal (write (fd, text, strlen (text)), (ssize_t) strlen (text));
  close (fd);
  return strdup (tmpl);
}

static void
test_missing_file_gives_defaults (void **state)
{
  struct sp_settings s;
  sp_error_t err = NULL;
  (void) state;
  assert_int_equal (sp_settings_load ("/nonexistent/samepage.conf", &s, &err), 0);
  assert_string_equal (s.store, "/var/lib/samepage/store");
  assert_true (s.casfs);
  assert_string_equal (s.casfs_mountpoint, "/run/samepage/casfs");
  assert_string_equal (s.casfs_io_uring, "auto");
  assert_string_equal (s.ksm, "off");
  sp_settings_clear (&s);
}

static void
test_every_key (void **state)
{
  char *path = write_conf ("# site defaults\n"
                           "store = /srv/store\n"
                           "casfs = off\n"
                           "casfs_mountpoint = /srv/view\n"
                           "casfs_io_uring = on\n"
                           "\n"
                           "ksm = heap\n"
                           "ksm_preload = /opt/lib/libsamepage-ksm.so\n");
  struct sp_settings s;
  sp_error_t err = NULL;
  (void) state;
  assert_int_equal (sp_settings_load (path, &s, &err), 0);
  assert_string_equal (s.store, "/srv/store");
  assert_false (s.casfs);
  assert_string_equal (s.casfs_mountpoint, "/srv/view");
  assert_string_equal (s.casfs_io_uring, "on");
  assert_string_equal (s.ksm, "heap");
  assert_string_equal (s.ksm_preload, "/opt/lib/libsamepage-ksm.so");
  sp_settings_clear (&s);
  unlink (path);
  free (path);
}

static void
test_bad_value_names_file_line_and_key (void **state)
{
  char *path = write_conf ("store = /srv/store\ncasfs_io_uring = sometimes\n");
  struct sp_settings s;
  sp_error_t err = NULL;
  char *want;
  (void) state;
  assert_int_equal (sp_settings_load (path, &s, &err), -1);
  assert_non_null (err);
  assert_true (asprintf (&want, "%s:2: casfs_io_uring:", path) > 0);
  assert_non_null (strstr (err->msg, want));
  assert_non_null (strstr (err->msg, "sometimes"));
  free (want);
  sp_error_release (&err);
  unlink (path);
  free (path);
}

static void
test_line_without_equals_is_refused (void **state)
{
  char *path = write_conf ("casfs on\n");
  struct sp_settings s;
  sp_error_t err = NULL;
  (void) state;
  assert_int_equal (sp_settings_load (path, &s, &err), -1);
  assert_non_null (strstr (err->msg, ":1: expected `key = value`"));
  sp_error_release (&err);
  unlink (path);
  free (path);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_missing_file_gives_defaults),
    cmocka_unit_test (test_every_key),
    cmocka_unit_test (test_bad_value_names_file_line_and_key),
    cmocka_unit_test (test_line_without_equals_is_refused),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
