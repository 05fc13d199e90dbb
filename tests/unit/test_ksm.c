/* KSM: samepage.conf keys, the config changes of each mode, the calls made
 * before execve (in forked children, read back from /proc/self), and the
 * ksm_stat / sysfs / stat parsers and the tune writer on fixtures. */
#include <samepage/cleanup.h>
#include <samepage/error.h>
#include <samepage/ksm.h>
#include <samepage/log.h>
#include <samepage/oci_config.h>
#include <samepage/util.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "forked_child.h"

#ifndef PR_GET_MEMORY_MERGE
#define PR_GET_MEMORY_MERGE 68
#endif

static char *
data_path (const char *rel)
{
  const char *top = getenv ("SAMEPAGE_TOP");
  return sp_xasprintf ("%s/tests/data/ksm/%s", top ? top : ".", rel);
}

static struct oci_config *
parse_config (const char *annotations, const char *env)
{
  struct oci_config *c = NULL;
  sp_error_t err = NULL;
  cleanup_free char *json
      = sp_xasprintf ("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\"},"
                      "\"process\":{\"args\":[\"/fill\"],\"cwd\":\"/\",\"env\":[%s]},"
                      "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"}],"
                      "\"annotations\":{%s}}",
                      env, annotations);
  if (oci_config_parse (json, strlen (json), "config.json", &c, &err) < 0)
    fail_msg ("%s", err->msg);
  return c;
}

static const char *
env_value (struct oci_config *c, const char *name)
{
  size_t l = strlen (name);
  for (char **e = c->process->env; e && *e; e++)
    if (strncmp (*e, name, l) == 0 && (*e)[l] == '=')
      return *e + l + 1;
  return NULL;
}

/* A temporary rootfs with the named empty files. */
static char *
make_rootfs (const char *const *files)
{
  char tmpl[] = "/tmp/samepage-ksm-rootfs-XXXXXX";
  sp_error_t err = NULL;
  assert_non_null (mkdtemp (tmpl));
  for (size_t i = 0; files && files[i]; i++)
    {
      cleanup_free char *path = sp_xasprintf ("%s/%s", tmpl, files[i]);
      cleanup_free char *dir = sp_xstrdup (path);
      *strrchr (dir, '/') = '\0';
      if (sp_mkdir_p (dir, 0755, &err) < 0 || sp_write_file (path, "", 0, 0755, &err) < 0)
        fail_msg ("%s", err->msg);
    }
  return sp_xstrdup (tmpl);
}

static void
remove_tree (const char *path)
{
  sp_error_t err = NULL;
  if (sp_rm_rf (path, &err) < 0)
    fail_msg ("%s", err->msg);
}

static void
test_mode_names (void **state)
{
  enum sp_ksm_mode m;
  (void) state;
  assert_true (sp_ksm_mode_parse ("off", &m) && m == SP_KSM_OFF);
  assert_true (sp_ksm_mode_parse ("merge-any", &m) && m == SP_KSM_MERGE_ANY);
  assert_true (sp_ksm_mode_parse ("heap", &m) && m == SP_KSM_HEAP);
  assert_false (sp_ksm_mode_parse ("Heap", &m));
  assert_false (sp_ksm_mode_parse ("", &m));
  assert_false (sp_ksm_mode_parse (NULL, &m));
}

static void
test_conf (void **state)
{
  struct sp_ksm_conf conf = { 0 };
  sp_error_t err = NULL;
  cleanup_free char *heap = data_path ("conf/heap.conf");
  cleanup_free char *bad_mode = data_path ("conf/bad-mode.conf");
  cleanup_free char *bad_line = data_path ("conf/bad-line.conf");
  cleanup_free char *relative = data_path ("conf/relative-preload.conf");
  cleanup_free char *want = NULL;
  (void) state;

  assert_int_equal (sp_ksm_conf_load (heap, &conf, &err), 0);
  assert_int_equal (conf.mode, SP_KSM_HEAP);
  assert_string_equal (conf.preload, "/opt/samepage/libsamepage-ksm.so");
  sp_ksm_conf_clear (&conf);

  /* Missing file: defaults. */
  assert_int_equal (sp_ksm_conf_load ("/nonexistent/samepage.conf", &conf, &err), 0);
  assert_int_equal (conf.mode, SP_KSM_OFF);
  assert_string_equal (conf.preload, SAMEPAGE_LIBDIR "/libsamepage-ksm.so");
  sp_ksm_conf_clear (&conf);

  assert_true (sp_ksm_conf_load (bad_mode, &conf, &err) < 0);
  want = sp_xasprintf ("%s:1: ksm: unknown mode `sometimes` (off, merge-any or heap)", bad_mode);
  assert_string_equal (err->msg, want);
  sp_error_release (&err);
  free (want);

  assert_true (sp_ksm_conf_load (bad_line, &conf, &err) < 0);
  want = sp_xasprintf ("%s:3: expected `key = value`, got `ksm merge-any`", bad_line);
  assert_string_equal (err->msg, want);
  sp_error_release (&err);
  free (want);

  assert_true (sp_ksm_conf_load (relative, &conf, &err) < 0);
  want = sp_xasprintf ("%s:1: ksm_preload: `lib/libsamepage-ksm.so` is not an absolute path", relative);
  assert_string_equal (err->msg, want);
  sp_error_release (&err);
  assert_null (conf.preload);
}

static void
test_ld_preload_join (void **state)
{
  (void) state;
  const char *lib = "/run/samepage/libsamepage-ksm.so";
  struct
  {
    const char *existing, *want;
  } cases[] = {
    { NULL, "/run/samepage/libsamepage-ksm.so" },
    { "", "/run/samepage/libsamepage-ksm.so" },
    { "/opt/a.so", "/run/samepage/libsamepage-ksm.so:/opt/a.so" },
    { "/opt/a.so /opt/b.so", "/run/samepage/libsamepage-ksm.so:/opt/a.so /opt/b.so" },
    { "/opt/a.so:/run/samepage/libsamepage-ksm.so", "/opt/a.so:/run/samepage/libsamepage-ksm.so" },
    { "/run/samepage/libsamepage-ksm.so", "/run/samepage/libsamepage-ksm.so" },
    /* A longer name that merely contains ours is another library. */
    { "/run/samepage/libsamepage-ksm.so.2", "/run/samepage/libsamepage-ksm.so:/run/samepage/libsamepage-ksm.so.2" },
  };
  for (size_t i = 0; i < SP_ARRAY_SIZE (cases); i++)
    {
      cleanup_free char *got = sp_ksm_ld_preload_join (cases[i].existing, lib);
      assert_string_equal (got, cases[i].want);
    }
}

static void
test_rootfs_has_glibc (void **state)
{
  (void) state;
  static const char *const debian[] = { "lib64/ld-linux-x86-64.so.2", NULL };
  static const char *const multiarch[] = { "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", NULL };
  static const char *const arm[] = { "lib/ld-linux-aarch64.so.1", NULL };
  static const char *const alpine[] = { "lib/ld-musl-x86_64.so.1", "bin/busybox", NULL };
  struct
  {
    const char *const *files;
    bool want;
  } cases[] = { { debian, true }, { multiarch, true }, { arm, true }, { alpine, false }, { NULL, false } };

  for (size_t i = 0; i < SP_ARRAY_SIZE (cases); i++)
    {
      cleanup_free char *root = make_rootfs (cases[i].files);
      bool got = sp_ksm_rootfs_has_glibc (root);
      remove_tree (root);
      if (got != cases[i].want)
        fail_msg ("case %zu: want %d, got %d", i, cases[i].want, got);
    }
}

static void
test_prepare_heap (void **state)
{
  static const char *const glibc[] = { "lib64/ld-linux-x86-64.so.2", NULL };
  cleanup_free char *root = make_rootfs (glibc);
  cleanup_free char *lib = sp_xasprintf ("%s/lib64/ld-linux-x86-64.so.2", root); /* any readable file */
  struct sp_ksm_conf conf = { .mode = SP_KSM_OFF, .preload = lib };
  cleanup_config struct oci_config *c = parse_config ("\"org.samepage.ksm\":\"heap\"",
                                                      "\"PATH=/bin\",\"LD_PRELOAD=/opt/a.so\"");
  sp_error_t err = NULL;
  struct oci_mount *m;
  (void) state;

  assert_int_equal (sp_ksm_prepare_config_with (c, root, &conf, &err), 0);
  assert_int_equal (c->mounts_len, 2);
  m = &c->mounts[1];
  assert_string_equal (m->destination, SP_KSM_PRELOAD_DEST);
  assert_string_equal (m->type, "bind");
  assert_string_equal (m->source, lib);
  assert_string_equal (m->options[0], "bind");
  assert_string_equal (m->options[1], "ro");
  assert_string_equal (env_value (c, "LD_PRELOAD"), SP_KSM_PRELOAD_DEST ":/opt/a.so");
  assert_string_equal (env_value (c, "SAMEPAGE_KSM_MODE"), "heap");
  assert_string_equal (env_value (c, "PATH"), "/bin");
  assert_int_equal (sp_strv_len (c->process->env), 3);
  assert_string_equal (oci_config_annotation (c, SP_KSM_ANNOTATION), "heap");

  /* Twice is the same as once. */
  assert_int_equal (sp_ksm_prepare_config_with (c, root, &conf, &err), 0);
  assert_int_equal (c->mounts_len, 2);
  assert_string_equal (env_value (c, "LD_PRELOAD"), SP_KSM_PRELOAD_DEST ":/opt/a.so");
  remove_tree (root);
}

static void
test_prepare_heap_from_conf_default (void **state)
{
  static const char *const glibc[] = { "lib64/ld-linux-x86-64.so.2", NULL };
  cleanup_free char *root = make_rootfs (glibc);
  cleanup_free char *lib = sp_xasprintf ("%s/lib64/ld-linux-x86-64.so.2", root);
  struct sp_ksm_conf conf = { .mode = SP_KSM_HEAP, .preload = lib };
  cleanup_config struct oci_config *c = parse_config ("\"other\":\"x\"", "\"PATH=/bin\"");
  sp_error_t err = NULL;
  (void) state;

  assert_int_equal (sp_ksm_prepare_config_with (c, root, &conf, &err), 0);
  assert_int_equal (c->mounts_len, 2);
  assert_string_equal (env_value (c, "LD_PRELOAD"), SP_KSM_PRELOAD_DEST);
  /* The effective mode is recorded for the init and `ksm status`. */
  assert_string_equal (oci_config_annotation (c, SP_KSM_ANNOTATION), "heap");
  remove_tree (root);
}

static void
test_prepare_heap_musl_unchanged (void **state)
{
  static const char *const alpine[] = { "lib/ld-musl-x86_64.so.1", NULL };
  cleanup_free char *root = make_rootfs (alpine);
  cleanup_free char *lib = sp_xasprintf ("%s/lib/ld-musl-x86_64.so.1", root);
  struct sp_ksm_conf conf = { .mode = SP_KSM_OFF, .preload = lib };
  cleanup_config struct oci_config *c = parse_config ("\"org.samepage.ksm\":\"heap\"", "\"PATH=/bin\"");
  sp_error_t err = NULL;
  (void) state;

  sp_log_set_stderr (false);
  assert_int_equal (sp_ksm_prepare_config_with (c, root, &conf, &err), 0);
  sp_log_set_stderr (true);
  assert_int_equal (c->mounts_len, 1);
  assert_int_equal (sp_strv_len (c->process->env), 1);
  assert_null (env_value (c, "LD_PRELOAD"));
  assert_string_equal (oci_config_annotation (c, SP_KSM_ANNOTATION), "off");
  remove_tree (root);
}

static void
test_prepare_missing_library_unchanged (void **state)
{
  static const char *const glibc[] = { "lib64/ld-linux-x86-64.so.2", NULL };
  cleanup_free char *root = make_rootfs (glibc);
  struct sp_ksm_conf conf = { .mode = SP_KSM_OFF, .preload = (char *) "/nonexistent/libsamepage-ksm.so" };
  cleanup_config struct oci_config *c = parse_config ("\"org.samepage.ksm\":\"heap\"", "\"PATH=/bin\"");
  sp_error_t err = NULL;
  (void) state;

  sp_log_set_stderr (false);
  assert_int_equal (sp_ksm_prepare_config_with (c, root, &conf, &err), 0);
  sp_log_set_stderr (true);
  assert_int_equal (c->mounts_len, 1);
  assert_null (env_value (c, "LD_PRELOAD"));
  remove_tree (root);
}

static void
test_prepare_off_and_merge_any (void **state)
{
  cleanup_config struct oci_config *off = parse_config ("\"org.samepage.ksm\":\"off\"", "\"PATH=/bin\"");
  cleanup_config struct oci_config *none = parse_config ("\"a\":\"b\"", "\"PATH=/bin\"");
  cleanup_config struct oci_config *any = parse_config ("\"org.samepage.ksm\":\"merge-any\"", "\"PATH=/bin\"");
  struct sp_ksm_conf conf = { .mode = SP_KSM_OFF, .preload = (char *) "/nonexistent" };
  sp_error_t err = NULL;
  (void) state;

  assert_int_equal (sp_ksm_prepare_config_with (off, "/nonexistent", &conf, &err), 0);
  assert_int_equal (off->mounts_len, 1);
  assert_string_equal (oci_config_annotation (off, SP_KSM_ANNOTATION), "off");
  assert_int_equal (sp_ksm_prepare_config_with (none, "/nonexistent", &conf, &err), 0);
  assert_null (oci_config_annotation (none, SP_KSM_ANNOTATION));
  assert_int_equal (none->annotations_len, 1);

  sp_log_set_stderr (false);
  assert_int_equal (sp_ksm_prepare_config_with (any, "/nonexistent", &conf, &err), 0);
  sp_log_set_stderr (true);
  /* merge-any needs no mount or environment. */
  assert_int_equal (any->mounts_len, 1);
  assert_int_equal (sp_strv_len (any->process->env), 1);
  if (access ("/proc/self/ksm_stat", F_OK) == 0)
    assert_string_equal (oci_config_annotation (any, SP_KSM_ANNOTATION), "merge-any");
}

static void
test_prepare_bad_annotations (void **state)
{
  cleanup_config struct oci_config *bad = parse_config ("\"org.samepage.ksm\":\"all\"", "\"PATH=/bin\"");
  cleanup_config struct oci_config *aslr = parse_config ("\"org.samepage.ksm.aslr\":\"no\"", "\"PATH=/bin\"");
  sp_error_t err = NULL;
  (void) state;

  assert_true (sp_ksm_prepare_config_with (bad, NULL, NULL, &err) < 0);
  assert_string_equal (err->msg,
                       "config.json: annotations[\"org.samepage.ksm\"]: unknown mode `all` (off, merge-any or heap)");
  sp_error_release (&err);
  assert_true (sp_ksm_prepare_config_with (aslr, NULL, NULL, &err) < 0);
  assert_string_equal (err->msg, "config.json: annotations[\"org.samepage.ksm.aslr\"]: unknown value `no` (on or off)");
  sp_error_release (&err);
}

static int
child_before_exec (void *arg, char *msg, size_t msg_len)
{
  struct oci_config *c = arg;
  struct sp_ksm_proc_stat ps;
  sp_error_t err = NULL;
  bool want_merge = strcmp (oci_config_annotation (c, SP_KSM_ANNOTATION), "merge-any") == 0;
  const char *aslr = oci_config_annotation (c, SP_KSM_ASLR_ANNOTATION);
  bool want_norandom = aslr && strcmp (aslr, "off") == 0;
  int persona;

  CHILD_CHECK (sp_ksm_before_exec (c, &err) == 0);
  CHILD_CHECK (sp_ksm_proc_stat_read (getpid (), &ps, &err) == 0);
  CHILD_CHECK (ps.merge_any == want_merge);
  persona = personality (0xffffffff);
  CHILD_CHECK (persona >= 0);
  CHILD_CHECK (((persona & ADDR_NO_RANDOMIZE) != 0) == want_norandom);
  return 0;
}

static void
test_before_exec (void **state)
{
  cleanup_config struct oci_config *any
      = parse_config ("\"org.samepage.ksm\":\"merge-any\",\"org.samepage.ksm.aslr\":\"off\"", "\"PATH=/bin\"");
  cleanup_config struct oci_config *off = parse_config ("\"org.samepage.ksm\":\"off\"", "\"PATH=/bin\"");
  cleanup_config struct oci_config *heap = parse_config ("\"org.samepage.ksm\":\"heap\"", "\"PATH=/bin\"");
  (void) state;

  if (access ("/proc/self/ksm_stat", F_OK) < 0)
    {
      print_message ("# skip: /proc/self/ksm_stat missing (kernel without CONFIG_KSM or older than 6.1)\n");
      skip ();
    }
  if (prctl (PR_GET_MEMORY_MERGE, 0, 0, 0, 0) < 0)
    {
      print_message ("# skip: kernel lacks PR_SET_MEMORY_MERGE (Linux 6.4+)\n");
      skip ();
    }
  expect_child_ok (child_before_exec, any);
  expect_child_ok (child_before_exec, off);
  /* heap mode works from the preload library, not in the init. */
  expect_child_ok (child_before_exec, heap);
}

static void
test_proc_stat_parse (void **state)
{
  cleanup_free char *p618 = data_path ("ksm_stat-6.18");
  cleanup_free char *p61 = data_path ("ksm_stat-6.1");
  cleanup_free char *pbad = data_path ("ksm_stat-bad");
  cleanup_free char *t618 = NULL, *t61 = NULL, *tbad = NULL;
  struct sp_ksm_proc_stat s;
  sp_error_t err = NULL;
  (void) state;

  if (sp_read_file (p618, &t618, NULL, &err) < 0 || sp_read_file (p61, &t61, NULL, &err) < 0
      || sp_read_file (pbad, &tbad, NULL, &err) < 0)
    fail_msg ("%s", err->msg);
  assert_int_equal (sp_ksm_proc_stat_parse (t618, &s, &err), 0);
  assert_int_equal (s.rmap_items, 16400);
  assert_int_equal (s.zero_pages, 3);
  assert_int_equal (s.merging_pages, 16386);
  assert_int_equal (s.process_profit, 66060288);
  assert_true (s.merge_any);
  assert_true (s.mergeable);
  assert_int_equal (sp_ksm_proc_stat_parse (t61, &s, &err), 0);
  assert_int_equal (s.rmap_items, 12);
  assert_int_equal (s.merging_pages, 0);
  assert_false (s.merge_any);
  assert_true (sp_ksm_proc_stat_parse (tbad, &s, &err) < 0);
  assert_string_equal (err->msg, "ksm_stat: ksm_merging_pages: `lots` is not a number");
  sp_error_release (&err);
  assert_true (sp_ksm_proc_stat_parse ("", &s, &err) < 0);
  assert_string_equal (err->msg, "ksm_stat: empty");
  sp_error_release (&err);
}

static void
test_cpu_seconds (void **state)
{
  cleanup_free char *p1 = data_path ("stat-ksmd");
  cleanup_free char *p2 = data_path ("stat-odd-comm");
  cleanup_free char *t1 = NULL, *t2 = NULL;
  double secs;
  long hz = sysconf (_SC_CLK_TCK);
  sp_error_t err = NULL;
  (void) state;

  if (sp_read_file (p1, &t1, NULL, &err) < 0 || sp_read_file (p2, &t2, NULL, &err) < 0)
    fail_msg ("%s", err->msg);
  assert_int_equal (sp_proc_stat_cpu_seconds (t1, &secs, &err), 0);
  assert_true (secs > 210.0 / (double) hz - 1e-9 && secs < 210.0 / (double) hz + 1e-9);
  assert_int_equal (sp_proc_stat_cpu_seconds (t2, &secs, &err), 0);
  assert_true (secs > 1250.0 / (double) hz - 1e-9 && secs < 1250.0 / (double) hz + 1e-9);
  assert_true (sp_proc_stat_cpu_seconds ("12 (x", &secs, &err) < 0);
  sp_error_release (&err);
}

static void
test_host_read_and_tune (void **state)
{
  cleanup_free char *fixture = data_path ("sysfs");
  char tmpl[] = "/tmp/samepage-ksm-sysfs-XXXXXX";
  struct sp_ksm_host h;
  sp_error_t err = NULL;
  (void) state;

  assert_int_equal (sp_ksm_host_read (fixture, &h, &err), 0);
  assert_int_equal (h.run, 1);
  assert_int_equal (h.pages_to_scan, 5000);
  assert_int_equal (h.pages_shared, 16386);
  assert_int_equal (h.pages_sharing, 32772);
  assert_int_equal (h.full_scans, 7);
  assert_int_equal (h.general_profit, 134217728);
  assert_string_equal (h.advisor_mode, "none");
  assert_int_equal (h.ksmd_pid, 0);

  /* The writer on a scratch directory: only the knobs asked for change. */
  assert_non_null (mkdtemp (tmpl));
  {
    struct sp_ksm_tune t = { .pages_to_scan = 1234, .sleep_millisecs = -1, .run = 1, .advisor_mode = "none" };
    struct sp_ksm_tune bad = { .pages_to_scan = -1, .sleep_millisecs = -1, .run = -1, .advisor_mode = "fast" };
    cleanup_free char *run = NULL, *pts = NULL, *adv = NULL, *sleep_path = sp_xasprintf ("%s/sleep_millisecs", tmpl);
    cleanup_free char *p_run = sp_xasprintf ("%s/run", tmpl), *p_pts = sp_xasprintf ("%s/pages_to_scan", tmpl);
    cleanup_free char *p_adv = sp_xasprintf ("%s/advisor_mode", tmpl);
    assert_int_equal (sp_ksm_tune_apply (tmpl, &t, &err), 0);
    if (sp_read_file (p_run, &run, NULL, &err) < 0 || sp_read_file (p_pts, &pts, NULL, &err) < 0
        || sp_read_file (p_adv, &adv, NULL, &err) < 0)
      fail_msg ("%s", err->msg);
    assert_string_equal (run, "1");
    assert_string_equal (pts, "1234");
    assert_string_equal (adv, "none");
    assert_int_equal (access (sleep_path, F_OK), -1);
    assert_true (sp_ksm_tune_apply (tmpl, &bad, &err) < 0);
    assert_string_equal (err->msg, "ksm tune: --advisor: `fast` is not none or scan-time");
    sp_error_release (&err);
  }
  remove_tree (tmpl);
  assert_true (sp_ksm_host_read ("/nonexistent/ksm", &h, &err) < 0);
  assert_int_equal (err->status, ENOENT);
  sp_error_release (&err);
}

static void
test_host_read_live (void **state)
{
  struct sp_ksm_host h;
  sp_error_t err = NULL;
  (void) state;

  if (access (SP_KSM_SYSFS, F_OK) < 0)
    {
      print_message ("# skip: " SP_KSM_SYSFS " missing (kernel without CONFIG_KSM)\n");
      skip ();
    }
  if (sp_ksm_host_read (NULL, &h, &err) < 0)
    fail_msg ("%s", err->msg);
  assert_true (h.run >= 0 && h.run <= 2);
  assert_true (h.pages_to_scan > 0);
  assert_true (h.ksmd_pid > 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_mode_names),
    cmocka_unit_test (test_conf),
    cmocka_unit_test (test_ld_preload_join),
    cmocka_unit_test (test_rootfs_has_glibc),
    cmocka_unit_test (test_prepare_heap),
    cmocka_unit_test (test_prepare_heap_from_conf_default),
    cmocka_unit_test (test_prepare_heap_musl_unchanged),
    cmocka_unit_test (test_prepare_missing_library_unchanged),
    cmocka_unit_test (test_prepare_off_and_merge_any),
    cmocka_unit_test (test_prepare_bad_annotations),
    cmocka_unit_test (test_before_exec),
    cmocka_unit_test (test_proc_stat_parse),
    cmocka_unit_test (test_cpu_seconds),
    cmocka_unit_test (test_host_read_and_tune),
    cmocka_unit_test (test_host_read_live),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
