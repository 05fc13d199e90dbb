/* The runtime's small helpers: signal names (sp_signal_parse), container ids,
 * the state file round trip, the OCI state JSON, and the status of a
 * container from its init process (alive, zombie, reused pid). */
#include <samepage/cleanup.h>
#include <samepage/container.h>
#include <samepage/error.h>
#include <samepage/util.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>
#include <cmocka.h>

#include "../../shim/state.h"

/* ------------------------------------------------------------- signals */

static void
test_signal_names (void **state)
{
  (void) state;
  assert_int_equal (sp_signal_parse ("TERM"), SIGTERM);
  assert_int_equal (sp_signal_parse ("SIGTERM"), SIGTERM);
  assert_int_equal (sp_signal_parse ("sigterm"), SIGTERM);
  assert_int_equal (sp_signal_parse ("kill"), SIGKILL);
  assert_int_equal (sp_signal_parse ("SIGKILL"), SIGKILL);
  assert_int_equal (sp_signal_parse ("HUP"), SIGHUP);
  assert_int_equal (sp_signal_parse ("USR1"), SIGUSR1);
  assert_int_equal (sp_signal_parse ("SIGUSR2"), SIGUSR2);
  assert_int_equal (sp_signal_parse ("WINCH"), SIGWINCH);
  assert_int_equal (sp_signal_parse ("CHLD"), SIGCHLD);
  assert_int_equal (sp_signal_parse ("SIGSTOP"), SIGSTOP);
  assert_int_equal (sp_signal_parse ("CONT"), SIGCONT);
  assert_int_equal (sp_signal_parse ("SYS"), SIGSYS);
  assert_int_equal (sp_signal_parse ("PWR"), SIGPWR);
}

static void
test_signal_numbers (void **state)
{
  (void) state;
  assert_int_equal (sp_signal_parse ("9"), 9);
  assert_int_equal (sp_signal_parse ("15"), 15);
  assert_int_equal (sp_signal_parse ("1"), 1);
  assert_int_equal (sp_signal_parse ("34"), 34);
  /* SIGRTMAX is the largest signal there is. */
  char buf[16];
  snprintf (buf, sizeof buf, "%d", SIGRTMAX);
  assert_int_equal (sp_signal_parse (buf), SIGRTMAX);
  snprintf (buf, sizeof buf, "%d", SIGRTMAX + 1);
  assert_int_equal (sp_signal_parse (buf), -1);
  assert_int_equal (sp_signal_parse ("-9"), -1);
  assert_int_equal (sp_signal_parse ("99999"), -1);
}

static void
test_signal_realtime (void **state)
{
  (void) state;
  assert_int_equal (sp_signal_parse ("RTMIN"), SIGRTMIN);
  assert_int_equal (sp_signal_parse ("SIGRTMIN"), SIGRTMIN);
  assert_int_equal (sp_signal_parse ("RTMIN+3"), SIGRTMIN + 3);
  assert_int_equal (sp_signal_parse ("SIGRTMIN+1"), SIGRTMIN + 1);
  assert_int_equal (sp_signal_parse ("RTMAX"), SIGRTMAX);
  assert_int_equal (sp_signal_parse ("RTMAX-2"), SIGRTMAX - 2);
  /* Out of the real-time range either way. */
  assert_int_equal (sp_signal_parse ("RTMIN-1"), -1);
  assert_int_equal (sp_signal_parse ("RTMAX+1"), -1);
  assert_int_equal (sp_signal_parse ("RTMIN+1000"), -1);
  assert_int_equal (sp_signal_parse ("RTMINX"), -1);
}

static void
test_signal_unknown (void **state)
{
  (void) state;
  assert_int_equal (sp_signal_parse (""), -1);
  assert_int_equal (sp_signal_parse ("BOGUS"), -1);
  assert_int_equal (sp_signal_parse ("SIGBOGUS"), -1);
  assert_int_equal (sp_signal_parse ("SIG"), -1);
  assert_int_equal (sp_signal_parse ("TERMX"), -1);
  assert_int_equal (sp_signal_parse ("SIGSIGTERM"), -1);
  assert_int_equal (sp_signal_parse ("9x"), -1);
}

/* ------------------------------------------------------------- ids */

static void
expect_id (const char *id, bool valid)
{
  sp_error_t err = NULL;
  int r = sp_state_check_id (id, &err);
  if (valid)
    {
      if (r < 0)
        fail_msg ("id `%s` refused: %s", id, err->msg);
      assert_null (err);
    }
  else
    {
      if (r >= 0)
        fail_msg ("id `%s` accepted", id);
      assert_non_null (err);
      assert_non_null (strstr (err->msg, "invalid container id"));
      sp_error_release (&err);
    }
}

static void
test_ids (void **state)
{
  (void) state;
  expect_id ("a", true);
  expect_id ("abc-123_x.y+z", true);
  expect_id ("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true);
  expect_id ("Z", true);
  expect_id ("", false);
  expect_id (".", false);
  expect_id ("..", false);
  expect_id ("../x", false);
  expect_id ("a/b", false);
  expect_id ("-a", false);
  expect_id ("_a", false);
  expect_id ("a b", false);
  expect_id ("a\nb", false);
  expect_id ("a:b", false);
  expect_id ("\xc3\xa9t\xc3\xa9", false);

  char *longest = sp_xmalloc0 (1026);
  memset (longest, 'a', 1024);
  expect_id (longest, true);
  longest[1024] = 'a';
  expect_id (longest, false);
  free (longest);
}

/* ------------------------------------------------------------- state files */

struct fixture
{
  char root[64];
  struct sp_runtime rt;
};

static int
setup_root (void **state)
{
  struct fixture *f = sp_xmalloc0 (sizeof (*f));
  strcpy (f->root, "/tmp/sp-state-test.XXXXXX");
  if (mkdtemp (f->root) == NULL)
    return -1;
  f->rt.root = f->root;
  *state = f;
  return 0;
}

static int
teardown_root (void **state)
{
  struct fixture *f = *state;
  sp_error_t err = NULL;
  int r = sp_rm_rf (f->root, &err);
  sp_error_release (&err);
  free (f);
  return r < 0 ? -1 : 0;
}

static void
test_state_round_trip (void **state)
{
  struct fixture *f = *state;
  sp_error_t err = NULL;
  char *ann[] = { (char *) "org.example/key", (char *) "va\"lue\n", (char *) "k2", (char *) "", NULL };
  struct sp_state st = {
    .id = (char *) "c1",
    .pid = 4242,
    .pid_start = 123456789ULL,
    .bundle = (char *) "/bundles/with \"quotes\" and spaces",
    .rootfs = (char *) "/bundles/x/rootfs",
    .created = (char *) "2024-01-02T03:04:05.000000006Z",
    .cgroup = (char *) "samepage-cgroup/1 cgroupfs v1 /samepage/c1 -",
    .started = true,
    .systemd_cgroup = true,
    .cgroup_manager = (char *) "cgroupfs",
    .owner = 1000,
    .annotations = ann,
  };
  cleanup_state struct sp_state *back = NULL;

  assert_int_equal (sp_state_create_dir (&f->rt, "c1", &err), 0);
  assert_int_equal (sp_state_save (&f->rt, &st, &err), 0);
  assert_int_equal (sp_state_load (&f->rt, "c1", &back, &err), 0);
  assert_null (err);
  assert_string_equal (back->id, "c1");
  assert_int_equal (back->pid, 4242);
  assert_true (back->pid_start == 123456789ULL);
  assert_string_equal (back->bundle, st.bundle);
  assert_string_equal (back->rootfs, st.rootfs);
  assert_string_equal (back->created, st.created);
  assert_string_equal (back->cgroup, st.cgroup);
  assert_string_equal (back->cgroup_manager, "cgroupfs");
  assert_true (back->started);
  assert_true (back->systemd_cgroup);
  assert_int_equal (back->owner, 1000);
  assert_non_null (back->annotations);
  assert_int_equal (sp_strv_len (back->annotations), 4);
  assert_string_equal (back->annotations[0], "org.example/key");
  assert_string_equal (back->annotations[1], "va\"lue\n");
  assert_string_equal (back->annotations[2], "k2");
  assert_string_equal (back->annotations[3], "");

  /* The file is private to root: it holds the cgroup and the bundle path. */
  cleanup_free char *path = sp_xasprintf ("%s/c1/state.json", f->root);
  struct stat sb;
  assert_int_equal (stat (path, &sb), 0);
  assert_int_equal (sb.st_mode & 0777, 0600);
}

static void
test_state_duplicate_and_missing (void **state)
{
  struct fixture *f = *state;
  sp_error_t err = NULL;
  struct sp_state *st = NULL;

  assert_int_equal (sp_state_create_dir (&f->rt, "dup", &err), 0);
  assert_true (sp_state_create_dir (&f->rt, "dup", &err) < 0);
  assert_int_equal (err->status, EEXIST);
  assert_non_null (strstr (err->msg, "container `dup` already exists"));
  sp_error_release (&err);

  /* A directory without state.json (being created) reads as missing. */
  assert_true (sp_state_load (&f->rt, "dup", &st, &err) < 0);
  assert_int_equal (err->status, ENOENT);
  assert_non_null (strstr (err->msg, "container `dup` does not exist"));
  sp_error_release (&err);

  assert_true (sp_state_load (&f->rt, "nothere", &st, &err) < 0);
  assert_int_equal (err->status, ENOENT);
  sp_error_release (&err);

  /* An invalid id never touches the file system. */
  assert_true (sp_state_load (&f->rt, "../etc", &st, &err) < 0);
  assert_int_equal (err->status, EINVAL);
  sp_error_release (&err);

  /* The lock of a missing container: "does not exist", nothing created. */
  assert_true (sp_state_lock (&f->rt, "nothere", &err) < 0);
  assert_int_equal (err->status, ENOENT);
  sp_error_release (&err);
  cleanup_free char *p = sp_xasprintf ("%s/nothere", f->root);
  assert_int_equal (access (p, F_OK), -1);

  assert_int_equal (sp_state_remove (&f->rt, "dup", &err), 0);
  cleanup_free char *d = sp_xasprintf ("%s/dup", f->root);
  assert_int_equal (access (d, F_OK), -1);
  assert_null (st);
}

static void
test_state_corrupt (void **state)
{
  struct fixture *f = *state;
  sp_error_t err = NULL;
  struct sp_state *st = NULL;
  cleanup_free char *path = sp_xasprintf ("%s/bad/state.json", f->root);

  assert_int_equal (sp_state_create_dir (&f->rt, "bad", &err), 0);
  assert_int_equal (sp_write_file (path, "{\"id\": ", 7, 0600, &err), 0);
  assert_true (sp_state_load (&f->rt, "bad", &st, &err) < 0);
  assert_non_null (strstr (err->msg, "corrupt state file"));
  assert_non_null (strstr (err->msg, path));
  sp_error_release (&err);

  assert_int_equal (sp_write_file (path, "[1,2]", 5, 0600, &err), 0);
  assert_true (sp_state_load (&f->rt, "bad", &st, &err) < 0);
  assert_non_null (strstr (err->msg, "corrupt state file"));
  sp_error_release (&err);

  assert_int_equal (sp_write_file (path, "{\"pid\": 1}", 10, 0600, &err), 0);
  assert_true (sp_state_load (&f->rt, "bad", &st, &err) < 0);
  assert_non_null (strstr (err->msg, "no id"));
  sp_error_release (&err);
  assert_null (st);
}

static void
test_lock_excludes (void **state)
{
  struct fixture *f = *state;
  sp_error_t err = NULL;
  int fd;
  pid_t child;
  int status;

  assert_int_equal (sp_state_create_dir (&f->rt, "locked", &err), 0);
  fd = sp_state_lock (&f->rt, "locked", &err);
  assert_true (fd >= 0);
  /* A second taker (another process: flock is per open file) must wait. */
  child = fork ();
  assert_true (child >= 0);
  if (child == 0)
    {
      alarm (1); /* blocked in flock: SIGALRM ends us */
      int fd2 = sp_state_lock (&f->rt, "locked", &err);
      _exit (fd2 >= 0 ? 0 : 1);
    }
  assert_int_equal (waitpid (child, &status, 0), child);
  assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGALRM);
  close (fd);
  /* Released: the next one gets it at once. */
  child = fork ();
  assert_true (child >= 0);
  if (child == 0)
    {
      alarm (5);
      int fd2 = sp_state_lock (&f->rt, "locked", &err);
      _exit (fd2 >= 0 ? 0 : 1);
    }
  assert_int_equal (waitpid (child, &status, 0), child);
  assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
}

/* ------------------------------------------------------------- OCI state JSON */

static yajl_val
parse (const char *json)
{
  char ebuf[256];
  yajl_val v = yajl_tree_parse (json, ebuf, sizeof ebuf);
  if (v == NULL)
    fail_msg ("not JSON (%s): %s", ebuf, json);
  return v;
}

static const char *
str_at (yajl_val v, const char *key)
{
  const char *path[] = { key, NULL };
  yajl_val s = yajl_tree_get (v, path, yajl_t_string);
  return s ? YAJL_GET_STRING (s) : NULL;
}

static void
test_oci_state_json (void **state)
{
  (void) state;
  char *ann[] = { (char *) "a", (char *) "b\"c", NULL };
  struct sp_state st = { .id = (char *) "box", .pid = 77, .bundle = (char *) "/b \"x\"",
                         .rootfs = (char *) "/b/rootfs", .created = (char *) "2024-01-01T00:00:00Z",
                         .annotations = ann };
  static const char *const want[] = { "creating", "created", "running", "paused", "stopped" };

  for (int s = SP_STATUS_CREATING; s <= SP_STATUS_STOPPED; s++)
    {
      cleanup_free char *json = sp_state_oci_json (&st, (enum sp_status) s);
      assert_non_null (json);
      yajl_val v = parse (json);
      const char *pid_path[] = { "pid", NULL };
      const char *ann_path[] = { "annotations", "a", NULL };
      yajl_val pid = yajl_tree_get (v, pid_path, yajl_t_number);

      assert_string_equal (str_at (v, "ociVersion"), "1.2.0");
      assert_string_equal (str_at (v, "id"), "box");
      assert_string_equal (str_at (v, "status"), want[s]);
      assert_string_equal (sp_status_names[s], want[s]);
      assert_string_equal (str_at (v, "bundle"), "/b \"x\"");
      assert_string_equal (str_at (v, "created"), "2024-01-01T00:00:00Z");
      assert_string_equal (YAJL_GET_STRING (yajl_tree_get (v, ann_path, yajl_t_string)), "b\"c");
      /* runtime-spec: pid is required when created or running, absent when stopped. */
      if (s == SP_STATUS_STOPPED)
        assert_null (pid);
      else
        {
          assert_non_null (pid);
          assert_int_equal (YAJL_GET_INTEGER (pid), 77);
        }
      yajl_tree_free (v);
    }

  /* Before init exists (pid 0) there is no pid to report. */
  st.pid = 0;
  cleanup_free char *json = sp_state_oci_json (&st, SP_STATUS_CREATING);
  yajl_val v = parse (json);
  const char *pid_path[] = { "pid", NULL };
  assert_null (yajl_tree_get (v, pid_path, yajl_t_any));
  yajl_tree_free (v);
}

/* ------------------------------------------------------------- status from the pid */

static char
proc_state (pid_t pid)
{
  char path[64];
  cleanup_free char *buf = NULL;
  sp_error_t err = NULL;
  snprintf (path, sizeof path, "/proc/%d/stat", pid);
  if (sp_read_file (path, &buf, NULL, &err) < 0)
    {
      sp_error_release (&err);
      return 0;
    }
  char *p = strrchr (buf, ')');
  return p ? p[2] : 0;
}

static void
test_status_from_pid (void **state)
{
  struct fixture *f = *state;
  struct sp_state st = { .id = (char *) "s" };
  pid_t child;

  /* No init yet. */
  assert_int_equal (sp_state_status (&f->rt, &st), SP_STATUS_CREATING);

  /* Our own process: alive, created until started, then running. */
  st.pid = getpid ();
  st.pid_start = sp_pid_start_time (getpid ());
  assert_true (st.pid_start > 0);
  assert_true (sp_state_pid_alive (&st));
  assert_int_equal (sp_state_status (&f->rt, &st), SP_STATUS_CREATED);
  st.started = true;
  assert_int_equal (sp_state_status (&f->rt, &st), SP_STATUS_RUNNING);

  /* Same pid, other start time: the pid was reused, the container is gone. */
  st.pid_start += 1;
  assert_false (sp_state_pid_alive (&st));
  assert_int_equal (sp_state_status (&f->rt, &st), SP_STATUS_STOPPED);

  /* A zombie is stopped. */
  child = fork ();
  assert_true (child >= 0);
  if (child == 0)
    _exit (0);
  for (int i = 0; i < 500 && proc_state (child) != 'Z'; i++)
    usleep (10000);
  assert_int_equal (proc_state (child), 'Z');
  st.pid = child;
  st.pid_start = sp_pid_start_time (child);
  assert_false (sp_state_pid_alive (&st));
  assert_int_equal (sp_state_status (&f->rt, &st), SP_STATUS_STOPPED);
  assert_int_equal (waitpid (child, NULL, 0), child);

  /* Reaped: gone, and its start time unreadable. */
  assert_false (sp_state_pid_alive (&st));
  assert_true (sp_pid_start_time (child) == 0);
  assert_int_equal (sp_state_status (&f->rt, &st), SP_STATUS_STOPPED);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_signal_names),
    cmocka_unit_test (test_signal_numbers),
    cmocka_unit_test (test_signal_realtime),
    cmocka_unit_test (test_signal_unknown),
    cmocka_unit_test (test_ids),
    cmocka_unit_test_setup_teardown (test_state_round_trip, setup_root, teardown_root),
    cmocka_unit_test_setup_teardown (test_state_duplicate_and_missing, setup_root, teardown_root),
    cmocka_unit_test_setup_teardown (test_state_corrupt, setup_root, teardown_root),
    cmocka_unit_test_setup_teardown (test_lock_excludes, setup_root, teardown_root),
    cmocka_unit_test (test_oci_state_json),
    cmocka_unit_test_setup_teardown (test_status_from_pid, setup_root, teardown_root),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
