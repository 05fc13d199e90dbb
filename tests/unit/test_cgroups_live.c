/* cgroups against the real kernel of this host: creates cgroups named
 * samepage-test-<pid>-<random> around forked `sleep` children, checks the
 * kernel's files, freezes, lists, kills and removes them.  Needs root and a
 * writable /sys/fs/cgroup; skips loudly otherwise.  Every test cleans up
 * after itself, on failure too (teardown). */
#include <samepage/cgroups.h>
#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static char test_name[64]; /* samepage-test-<pid>-<random> */
static char slice_name[64]; /* samepage_test_<pid>_<random>: systemd slices */
static struct sp_cgroup_host host;
static char *v2_root_enabled; /* cgroup.subtree_control of the cgroup2 root before the tests */
static pid_t children[8];
static size_t n_children;

static pid_t
spawn_sleep (void)
{
  pid_t pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      execlp ("sleep", "sleep", "600", (char *) NULL);
      _exit (127);
    }
  children[n_children++] = pid;
  return pid;
}

static void
forget_child (pid_t pid)
{
  for (size_t i = 0; i < n_children; i++)
    if (children[i] == pid)
      children[i] = children[--n_children];
}

static void
rmdir_tree (const char *dir)
{
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *de;
  if (d == NULL)
    return;
  while ((de = readdir (d)))
    if (de->d_type == DT_DIR && de->d_name[0] != '.')
      {
        cleanup_free char *sub = sp_xasprintf ("%s/%s", dir, de->d_name);
        rmdir_tree (sub);
      }
  rmdir (dir);
}

/* Directories named after this run, in every hierarchy. */
static size_t
leftovers (bool remove)
{
  size_t found = 0;
  for (size_t i = 0; i < host.n_hier; i++)
    {
      const char *names[] = { test_name, slice_name };
      for (size_t k = 0; k < SP_ARRAY_SIZE (names); k++)
        {
          cleanup_free char *pattern = sp_xasprintf ("%s/%s*", host.hier[i].mountpoint, names[k]);
          glob_t g;
          if (glob (pattern, 0, NULL, &g) != 0)
            continue;
          for (size_t j = 0; j < g.gl_pathc; j++)
            {
              found++;
              if (remove)
                rmdir_tree (g.gl_pathv[j]);
              else
                fprintf (stderr, "# left over: %s\n", g.gl_pathv[j]);
            }
          globfree (&g);
        }
    }
  return found;
}

static const char *
v2_mount (void)
{
  for (size_t i = 0; i < host.n_hier; i++)
    if (host.hier[i].v2)
      return host.hier[i].mountpoint;
  return NULL;
}

static int
group_setup (void **state)
{
  unsigned long long r = sp_now_ns () ^ (unsigned long long) getpid () << 20;
  sp_error_t err = NULL;
  (void) state;

  snprintf (test_name, sizeof test_name, "samepage-test-%d-%llx", (int) getpid (), r & 0xffffff);
  snprintf (slice_name, sizeof slice_name, "samepage_test_%d_%llx", (int) getpid (), r & 0xffffff);
  if (sp_cgroup_host_detect (&host, &err) < 0)
    {
      fprintf (stderr, "# %s\n", err->msg);
      sp_error_release (&err);
    }
  if (v2_mount () && sp_cgroup_read (v2_mount (), "cgroup.subtree_control", &v2_root_enabled, &err) < 0)
    sp_error_release (&err);
  return 0;
}

static int
group_teardown (void **state)
{
  cleanup_free char *now = NULL;
  sp_error_t err = NULL;
  (void) state;

  /* Creating a cgroup delegates controllers from the root down; give the
   * root back the set it had (the kernel refuses while others use one). */
  if (v2_root_enabled && sp_cgroup_read (v2_mount (), "cgroup.subtree_control", &now, &err) == 0)
    for (char *save = NULL, *c = strtok_r (now, " ", &save); c; c = strtok_r (NULL, " ", &save))
      {
        cleanup_free char *minus = sp_xasprintf ("-%s", c);
        bool had = false;
        cleanup_free char *before = sp_xstrdup (v2_root_enabled);
        for (char *s2 = NULL, *b = strtok_r (before, " ", &s2); b; b = strtok_r (NULL, " ", &s2))
          had = had || strcmp (b, c) == 0;
        if (!had && sp_cgroup_write (v2_mount (), "cgroup.subtree_control", minus, &err) < 0)
          fprintf (stderr, "# note: %s\n", err->msg);
        sp_error_release (&err);
      }
  sp_error_release (&err);
  free (v2_root_enabled);
  sp_cgroup_host_clear (&host);
  return 0;
}

/* Kills what a failed test left running and removes its cgroups. */
static int
teardown (void **state)
{
  (void) state;
  while (n_children > 0)
    {
      pid_t pid = children[--n_children];
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
    }
  /* A failed test may have left a cgroup frozen: thaw before rmdir. */
  for (size_t i = 0; i < host.n_hier; i++)
    {
      cleanup_free char *d = sp_xasprintf ("%s/%s/ctr", host.hier[i].mountpoint, test_name);
      if (access (d, F_OK) == 0)
        {
          sp_error_t err = NULL;
          if (host.hier[i].v2)
            sp_cgroup_write (d, "cgroup.freeze", "0", &err);
          else if (sp_cgroup_has_controller (host.hier[i].controllers, "freezer"))
            sp_cgroup_write (d, "freezer.state", "THAWED", &err);
          sp_error_release (&err);
        }
    }
  leftovers (true);
  return 0;
}

static bool
can_run (void)
{
  if (geteuid () != 0)
    {
      fprintf (stderr, "# skip: needs root to create cgroups\n");
      return false;
    }
  if (access ("/sys/fs/cgroup", W_OK) != 0 || host.layout == SP_CGROUP_LAYOUT_NONE)
    {
      fprintf (stderr, "# skip: /sys/fs/cgroup is not a writable cgroup filesystem here\n");
      return false;
    }
  return true;
}
#define REQUIRE_HOST()                                                                                             \
  do                                                                                                               \
    {                                                                                                              \
      if (!can_run ())                                                                                             \
        skip ();                                                                                                   \
    }                                                                                                              \
  while (0)

/* The kernel directory of the container in the hierarchy holding controller. */
static char *
kernel_dir (const char *controller, const char *path)
{
  for (size_t i = 0; i < host.n_hier; i++)
    {
      const struct sp_cgroup_hierarchy *h = &host.hier[i];
      if ((host.layout == SP_CGROUP_LAYOUT_V2 && h->v2)
          || (!h->v2 && sp_cgroup_has_controller (h->controllers, controller)))
        return sp_xasprintf ("%s%s", h->mountpoint, path);
    }
  return NULL;
}

static bool
v2_root_has (const char *controller)
{
  cleanup_free char *list = NULL;
  sp_error_t err = NULL;
  const char *m = v2_mount ();
  if (m == NULL || sp_cgroup_read (m, "cgroup.controllers", &list, &err) < 0)
    {
      sp_error_release (&err);
      return false;
    }
  for (char *save = NULL, *c = strtok_r (list, " ", &save); c; c = strtok_r (NULL, " ", &save))
    if (strcmp (c, controller) == 0)
      return true;
  return false;
}

static void
assert_file (const char *controller, const char *path, const char *file, const char *expected)
{
  cleanup_free char *dir = kernel_dir (controller, path), *value = NULL;
  sp_error_t err = NULL;
  if (dir == NULL)
    fail_msg ("no hierarchy with the %s controller", controller);
  if (sp_cgroup_read (dir, file, &value, &err) < 0)
    fail_msg ("%s", err->msg);
  if (strcmp (value, expected) != 0)
    fail_msg ("%s/%s: expected `%s`, found `%s`", dir, file, expected, value);
}

static void
assert_ok (int r, sp_error_t *err)
{
  if (r < 0)
    fail_msg ("%s", (*err)->msg);
}

static void
assert_killed_by (pid_t pid, int signo)
{
  int status;
  assert_int_equal (waitpid (pid, &status, 0), pid);
  forget_child (pid);
  assert_true (WIFSIGNALED (status));
  assert_int_equal (WTERMSIG (status), signo);
}

static bool
pid_in (const pid_t *pids, size_t n, pid_t pid)
{
  for (size_t i = 0; i < n; i++)
    if (pids[i] == pid)
      return true;
  return false;
}

static void
assert_frozen_state (struct sp_cgroup *cg, const char *path, bool frozen)
{
  bool now = !frozen;
  sp_error_t err = NULL;
  cleanup_free char *v1 = kernel_dir ("freezer", path);

  assert_ok (sp_cgroup_is_frozen (cg, &now, &err), &err);
  assert_int_equal (now, frozen);
  if (host.layout != SP_CGROUP_LAYOUT_V2 && v1)
    assert_file ("freezer", path, "freezer.state", frozen ? "FROZEN" : "THAWED");
  else
    {
      cleanup_free char *dir = sp_xasprintf ("%s%s", v2_mount (), path), *events = NULL;
      assert_ok (sp_cgroup_read (dir, "cgroup.events", &events, &err), &err);
      assert_non_null (strstr (events, frozen ? "frozen 1" : "frozen 0"));
    }
}

static void
test_lifecycle (void **state)
{
  struct oci_memory mem = { .has_limit = true, .limit = 64 << 20, .has_reservation = true, .reservation = 32 << 20 };
  struct oci_pids pids_limit = { .has_limit = true, .limit = 64 };
  struct oci_cpu cpu = { .has_shares = true, .shares = 512, .has_quota = true, .quota = 50000,
                         .has_period = true, .period = 100000, .cpus = (char *) "0", .mems = (char *) "0" };
  struct oci_device_cgroup devices[] = {
    { .allow = false, .type = 'a' },
    { .allow = true, .type = 'c', .has_major = true, .major = 1, .has_minor = true, .minor = 3 },
    { .allow = true, .type = 'c', .has_major = true, .major = 1, .has_minor = true, .minor = 5,
      .access = (char *) "r" },
  };
  struct oci_hugepage_limit huge = { (char *) "2MB", 4 << 20 };
  struct oci_resources res = { .devices = devices, .devices_len = 3, .memory = &mem, .cpu = &cpu,
                               .pids = &pids_limit };
  cleanup_free char *path = sp_xasprintf ("/%s/ctr", test_name), *line = NULL, *proc_cgroup = NULL;
  cleanup_free char *proc_path = NULL, *weight = NULL, *hugetlb_v1 = kernel_dir ("hugetlb", "");
  cleanup_free pid_t *pids = NULL;
  struct sp_cgroup *cg = NULL, *loaded = NULL, *again = NULL;
  struct sp_cgroup_mount *mounts = NULL;
  size_t n = 0, n_mounts = 0;
  sp_error_t err = NULL;
  pid_t child, exec_child;
  bool with_huge = access ("/sys/kernel/mm/hugepages/hugepages-2048kB", F_OK) == 0
                   && (hugetlb_v1 || v2_root_has ("hugetlb"));
  (void) state;

  REQUIRE_HOST ();
  if (with_huge)
    {
      res.hugepage_limits = &huge;
      res.hugepage_limits_len = 1;
    }
  else
    fprintf (stderr, "# note: no 2MB hugetlb controller here; hugepage limits not tested\n");

  child = spawn_sleep ();
  assert_ok (sp_cgroup_create (SP_CGROUP_CGROUPFS, path, "ctr", child, &res, &cg, &err), &err);
  assert_string_equal (sp_cgroup_path (cg), path);

  proc_path = sp_xasprintf ("/proc/%d/cgroup", (int) child);
  assert_ok (sp_read_file (proc_path, &proc_cgroup, NULL, &err), &err);
  assert_non_null (strstr (proc_cgroup, path));

  if (host.layout == SP_CGROUP_LAYOUT_V2)
    {
      weight = sp_xasprintf ("%llu", (unsigned long long) sp_cgroup_shares_to_weight (512));
      assert_file ("memory", path, "memory.max", "67108864");
      assert_file ("memory", path, "memory.low", "33554432");
      assert_file ("cpu", path, "cpu.weight", weight);
      assert_file ("cpu", path, "cpu.max", "50000 100000");
    }
  else
    {
      assert_file ("memory", path, "memory.limit_in_bytes", "67108864");
      assert_file ("memory", path, "memory.soft_limit_in_bytes", "33554432");
      assert_file ("cpu", path, "cpu.shares", "512");
      assert_file ("cpu", path, "cpu.cfs_quota_us", "50000");
      assert_file ("cpu", path, "cpu.cfs_period_us", "100000");
      assert_file ("devices", path, "devices.list", "c 1:3 rwm\nc 1:5 r");
    }
  assert_file ("pids", path, "pids.max", "64");
  assert_file ("cpuset", path, "cpuset.cpus", "0");
  assert_file ("cpuset", path, "cpuset.mems", "0");
  if (with_huge && hugetlb_v1)
    assert_file ("hugetlb", path, "hugetlb.2MB.limit_in_bytes", "4194304");
  else if (with_huge)
    {
      /* Hybrid host: hugetlb lives on the cgroup2 mount. */
      cleanup_free char *dir = sp_xasprintf ("%s%s", v2_mount (), path), *v = NULL;
      assert_ok (sp_cgroup_read (dir, "hugetlb.2MB.max", &v, &err), &err);
      assert_string_equal (v, "4194304");
    }

  assert_ok (sp_cgroup_mounts (cg, &mounts, &n_mounts, &err), &err);
  assert_int_equal (n_mounts, host.n_hier);
  for (size_t i = 0; i < n_mounts; i++)
    {
      assert_int_equal (access (mounts[i].host_path, F_OK), 0);
      assert_true (sp_str_has_suffix (mounts[i].host_path, path));
    }
  sp_cgroup_mounts_free (mounts, n_mounts);

  /* Later commands are other processes: they start from the state line. */
  line = sp_cgroup_serialize (cg);
  sp_cgroup_free (cg);
  assert_ok (sp_cgroup_load (line, &loaded, &err), &err);

  assert_ok (sp_cgroup_freeze (loaded, true, &err), &err);
  assert_ok (sp_cgroup_load (line, &again, &err), &err);
  assert_frozen_state (again, path, true);
  assert_ok (sp_cgroup_freeze (again, false, &err), &err);
  assert_frozen_state (loaded, path, false);
  sp_cgroup_free (again);

  assert_ok (sp_cgroup_pids (loaded, &pids, &n, &err), &err);
  assert_int_equal (n, 1);
  assert_int_equal (pids[0], child);
  free (steal_pointer (&pids));

  exec_child = spawn_sleep ();
  assert_ok (sp_cgroup_enter (loaded, exec_child, &err), &err);
  assert_ok (sp_cgroup_pids (loaded, &pids, &n, &err), &err);
  assert_int_equal (n, 2);
  assert_true (pid_in (pids, n, child) && pid_in (pids, n, exec_child));

  /* update: new values land, and a value the kernel refuses is named. */
  {
    struct oci_pids more = { .has_limit = true, .limit = 128 };
    struct oci_cpu bad = { .cpus = (char *) "9999" };
    struct oci_resources upd = { .pids = &more };
    struct oci_resources upd_bad = { .cpu = &bad };
    assert_ok (sp_cgroup_update (loaded, &upd, &err), &err);
    assert_file ("pids", path, "pids.max", "128");
    assert_int_equal (sp_cgroup_update (loaded, &upd_bad, &err), -1);
    assert_non_null (strstr (err->msg, "cpuset.cpus"));
    assert_non_null (strstr (err->msg, "`9999`"));
    sp_error_release (&err);
  }

  /* Not SIGKILL: the freeze, signal, thaw path on every layout. */
  assert_ok (sp_cgroup_kill_all (loaded, SIGTERM, &err), &err);
  assert_killed_by (child, SIGTERM);
  assert_killed_by (exec_child, SIGTERM);

  assert_ok (sp_cgroup_destroy (loaded, &err), &err);
  assert_int_equal (leftovers (false), 0);
  assert_ok (sp_cgroup_destroy (loaded, &err), &err); /* idempotent */
  sp_cgroup_free (loaded);
}

static void
test_kill_all_nested (void **state)
{
  cleanup_free char *path = sp_xasprintf ("/%s/ctr", test_name), *sub = NULL;
  cleanup_free pid_t *pids = NULL;
  struct sp_cgroup *cg = NULL;
  const char *dir = NULL;
  char value[24];
  size_t n = 0;
  sp_error_t err = NULL;
  pid_t child, nested;
  (void) state;

  REQUIRE_HOST ();
  child = spawn_sleep ();
  nested = spawn_sleep ();
  assert_ok (sp_cgroup_create (SP_CGROUP_CGROUPFS, path, "ctr", child, NULL, &cg, &err), &err);
  assert_ok (sp_cgroup_enter (cg, nested, &err), &err);

  /* The container makes a cgroup of its own and moves a process there, in
   * the hierarchy `ps` reads (cgroup2 if mounted, else the freezer's). */
  if (sp_cgroup_v2_dir (cg))
    dir = sp_cgroup_v2_dir (cg)->path;
  else
    dir = sp_cgroup_v1_dir (cg, "freezer") ? sp_cgroup_v1_dir (cg, "freezer") : cg->dirs[0].path;
  sub = sp_xasprintf ("%s/nested", dir);
  assert_int_equal (mkdir (sub, 0755), 0);
  snprintf (value, sizeof value, "%d", (int) nested);
  assert_ok (sp_cgroup_write (sub, "cgroup.procs", value, &err), &err);
  assert_ok (sp_cgroup_pids (cg, &pids, &n, &err), &err);
  assert_int_equal (n, 2);
  assert_true (pid_in (pids, n, child) && pid_in (pids, n, nested));

  assert_ok (sp_cgroup_kill_all (cg, SIGKILL, &err), &err);
  assert_killed_by (child, SIGKILL);
  assert_killed_by (nested, SIGKILL);
  assert_ok (sp_cgroup_destroy (cg, &err), &err);
  assert_int_equal (access (sub, F_OK), -1);
  assert_int_equal (leftovers (false), 0);
  sp_cgroup_free (cg);
}

static void
test_systemd_manager_without_systemd (void **state)
{
  cleanup_free char *spec = sp_xasprintf ("%s-sub.slice:sp:ctr", slice_name);
  cleanup_free char *expected = sp_xasprintf ("/%s.slice/%s-sub.slice/sp-ctr.scope", slice_name, slice_name);
  cleanup_free char *dir = NULL;
  struct sp_cgroup *cg = NULL;
  sp_error_t err = NULL;
  pid_t child;
  (void) state;

  REQUIRE_HOST ();
  if (sp_cgroup_systemd_running ())
    {
      fprintf (stderr, "# skip: systemd runs here; this test covers the cgroupfs fallback\n");
      skip ();
    }
  child = spawn_sleep ();
  assert_ok (sp_cgroup_create (SP_CGROUP_SYSTEMD, spec, "ctr", child, NULL, &cg, &err), &err);
  assert_string_equal (sp_cgroup_path (cg), expected);
  dir = kernel_dir ("pids", expected);
  assert_int_equal (access (dir, F_OK), 0);
  assert_int_equal (sp_cgroup_kill_all (cg, SIGKILL, &err), 0);
  assert_killed_by (child, SIGKILL);
  assert_ok (sp_cgroup_destroy (cg, &err), &err);
  assert_int_equal (leftovers (false), 0);
  sp_cgroup_free (cg);
}

static void
test_create_failures_leave_nothing (void **state)
{
  cleanup_free char *dots = sp_xasprintf ("/%s/../x", test_name), *path = sp_xasprintf ("/%s/ctr", test_name);
  struct oci_cpu bad = { .cpus = (char *) "9999" };
  struct oci_resources res = { .cpu = &bad };
  struct sp_cgroup *cg = NULL;
  sp_error_t err = NULL;
  pid_t child;
  (void) state;

  REQUIRE_HOST ();
  child = spawn_sleep ();
  assert_int_equal (sp_cgroup_create (SP_CGROUP_CGROUPFS, dots, "ctr", child, NULL, &cg, &err), -1);
  assert_non_null (strstr (err->msg, "`..`"));
  sp_error_release (&err);
  assert_int_equal (sp_cgroup_create (SP_CGROUP_CGROUPFS, path, "ctr", child, &res, &cg, &err), -1);
  assert_non_null (strstr (err->msg, "cpuset.cpus"));
  assert_non_null (strstr (err->msg, "9999"));
  sp_error_release (&err);
  assert_null (cg);
  assert_int_equal (leftovers (false), 0);
}

/* Child: waits until moved into the cgroup, then reports which opens the
 * device filter allowed (exit status 0 = exactly as expected). */
static pid_t
spawn_device_probe (int *go, bool full_allowed)
{
  int pipefd[2];
  pid_t pid;

  assert_int_equal (pipe (pipefd), 0);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      char c;
      int bad = 0, fd;
      close (pipefd[1]);
      if (read (pipefd[0], &c, 1) != 1)
        _exit (100);
      if ((fd = open ("/dev/null", O_RDWR)) < 0)
        bad |= 1;
      close (fd);
      if ((fd = open ("/dev/zero", O_RDONLY)) < 0)
        bad |= 2;
      close (fd);
      fd = open ("/dev/full", O_RDONLY);
      if (full_allowed ? fd < 0 : !(fd < 0 && errno == EPERM))
        bad |= 4;
      close (fd);
      fd = open ("/dev/zero", O_WRONLY);
      if (full_allowed ? fd < 0 : !(fd < 0 && errno == EPERM))
        bad |= 8;
      _exit (bad);
    }
  close (pipefd[0]);
  children[n_children++] = pid;
  *go = pipefd[1];
  return pid;
}

static void
run_probe (const char *dir, bool full_allowed)
{
  int go, status;
  char value[24];
  sp_error_t err = NULL;
  pid_t pid = spawn_device_probe (&go, full_allowed);

  snprintf (value, sizeof value, "%d", (int) pid);
  assert_ok (sp_cgroup_write (dir, "cgroup.procs", value, &err), &err);
  assert_int_equal (write (go, "x", 1), 1);
  close (go);
  assert_int_equal (waitpid (pid, &status, 0), pid);
  forget_child (pid);
  assert_true (WIFEXITED (status));
  if (WEXITSTATUS (status) != 0)
    fail_msg ("device probe in `%s` failed checks 0x%x", dir, WEXITSTATUS (status));
}

static void
test_v2_device_filter (void **state)
{
  struct oci_device_cgroup rules[] = {
    { .allow = false, .type = 'a' },
    { .allow = true, .type = 'c', .has_major = true, .major = 1, .has_minor = true, .minor = 3 },
    { .allow = true, .type = 'c', .has_major = true, .major = 1, .has_minor = true, .minor = 5,
      .access = (char *) "r" },
  };
  struct oci_device_cgroup allow_all[] = { { .allow = true, .type = 'a' } };
  cleanup_free char *dir = NULL;
  sp_error_t err = NULL;
  (void) state;

  REQUIRE_HOST ();
  if (v2_mount () == NULL)
    {
      fprintf (stderr, "# skip: no cgroup2 mount for the eBPF device filter\n");
      skip ();
    }
  dir = sp_xasprintf ("%s/%s-bpf", v2_mount (), test_name);
  assert_int_equal (mkdir (dir, 0755), 0);
  assert_ok (sp_cgroup_v2_set_devices (dir, rules, SP_ARRAY_SIZE (rules), &err), &err);
  run_probe (dir, false);
  /* Replacing the filter detaches the old program: /dev/full opens now. */
  assert_ok (sp_cgroup_v2_set_devices (dir, allow_all, 1, &err), &err);
  run_probe (dir, true);
  assert_int_equal (rmdir (dir), 0);
  assert_int_equal (leftovers (false), 0);
}

static void
test_features (void **state)
{
  struct sp_cgroup_features f;
  sp_error_t err = NULL;
  (void) state;

  assert_ok (sp_cgroup_features (&f, &err), &err);
  assert_int_equal (f.layout, host.layout);
  assert_int_equal (f.systemd_running, access ("/run/systemd/system", F_OK) == 0);
  for (size_t i = 0; i < host.n_hier; i++)
    if (!host.hier[i].v2 && !sp_str_has_prefix (host.hier[i].controllers, "name="))
      {
        cleanup_free char *first = sp_xstrdup (host.hier[i].controllers);
        bool listed = false;
        *strchrnul (first, ',') = '\0';
        for (char **c = f.controllers; *c; c++)
          listed = listed || strcmp (*c, first) == 0;
        assert_true (listed);
      }
  for (char **c = f.controllers; c[0] && c[1]; c++)
    assert_true (strcmp (c[0], c[1]) < 0); /* sorted, unique */
  sp_cgroup_features_clear (&f);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown (test_lifecycle, teardown),
    cmocka_unit_test_teardown (test_kill_all_nested, teardown),
    cmocka_unit_test_teardown (test_systemd_manager_without_systemd, teardown),
    cmocka_unit_test_teardown (test_create_failures_leave_nothing, teardown),
    cmocka_unit_test_teardown (test_v2_device_filter, teardown),
    cmocka_unit_test (test_features),
  };
  return cmocka_run_group_tests (tests, group_setup, group_teardown);
}
