/* cgroups: the pure parts (mountinfo layouts, systemd paths, conversions,
 * device rules, the state line, the eBPF program's shape).  The kernel side
 * is exercised by test_cgroups_live. */
#include <samepage/cgroups.h>
#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <errno.h>
#include <linux/bpf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static char *
fixture (const char *name)
{
  const char *top = getenv ("SAMEPAGE_TOP");
  cleanup_free char *path = sp_xasprintf ("%s/tests/data/cgroups/%s", top ? top : ".", name);
  char *text = NULL;
  sp_error_t err = NULL;

  if (sp_read_file (path, &text, NULL, &err) < 0)
    fail_msg ("fixture: %s", err->msg);
  return text;
}

static const struct sp_cgroup_hierarchy *
find_hier (const struct sp_cgroup_host *h, const char *controllers)
{
  for (size_t i = 0; i < h->n_hier; i++)
    if (strcmp (h->hier[i].controllers, controllers) == 0 && !h->hier[i].v2)
      return &h->hier[i];
  return NULL;
}

static void
test_mountinfo_v1 (void **state)
{
  cleanup_free char *text = fixture ("mountinfo-v1");
  struct sp_cgroup_host h;
  sp_error_t err = NULL;
  (void) state;

  assert_int_equal (sp_cgroup_parse_mountinfo (text, &h, &err), 0);
  assert_int_equal (h.layout, SP_CGROUP_LAYOUT_V1);
  /* 12 distinct hierarchies; memory's second mount is the same hierarchy. */
  assert_int_equal (h.n_hier, 12);
  assert_string_equal (find_hier (&h, "cpu,cpuacct")->mountpoint, "/sys/fs/cgroup/cpu,cpuacct");
  assert_string_equal (find_hier (&h, "memory")->mountpoint, "/sys/fs/cgroup/memory");
  /* xattr and release_agent= are options, not controllers. */
  assert_non_null (find_hier (&h, "name=systemd"));
  assert_non_null (find_hier (&h, "cpuset")); /* clone_children dropped */
  assert_string_equal (find_hier (&h, "name=tools")->mountpoint, "/mnt/cg named");
  assert_true (sp_cgroup_has_controller ("cpu,cpuacct", "cpuacct"));
  assert_false (sp_cgroup_has_controller ("cpu,cpuacct", "cpuac"));
  assert_false (sp_cgroup_has_controller ("net_cls,net_prio", "net"));
  sp_cgroup_host_clear (&h);
}

static void
test_mountinfo_v2 (void **state)
{
  cleanup_free char *text = fixture ("mountinfo-v2");
  struct sp_cgroup_host h;
  sp_error_t err = NULL;
  (void) state;

  assert_int_equal (sp_cgroup_parse_mountinfo (text, &h, &err), 0);
  assert_int_equal (h.layout, SP_CGROUP_LAYOUT_V2);
  /* One cgroup2 hierarchy at its canonical place; the stray name=systemd mount is not used. */
  assert_int_equal (h.n_hier, 1);
  assert_true (h.hier[0].v2);
  assert_string_equal (h.hier[0].mountpoint, "/sys/fs/cgroup");
  sp_cgroup_host_clear (&h);
}

static void
test_mountinfo_hybrid (void **state)
{
  cleanup_free char *text = fixture ("mountinfo-hybrid");
  struct sp_cgroup_host h;
  sp_error_t err = NULL;
  size_t v2 = 0;
  (void) state;

  assert_int_equal (sp_cgroup_parse_mountinfo (text, &h, &err), 0);
  assert_int_equal (h.layout, SP_CGROUP_LAYOUT_HYBRID);
  assert_int_equal (h.n_hier, 10);
  for (size_t i = 0; i < h.n_hier; i++)
    if (h.hier[i].v2)
      {
        v2++;
        assert_string_equal (h.hier[i].mountpoint, "/sys/fs/cgroup/unified");
      }
  assert_int_equal (v2, 1);
  /* cpu and cpuacct are separate hierarchies on this layout. */
  assert_string_equal (find_hier (&h, "cpu")->mountpoint, "/sys/fs/cgroup/cpu");
  assert_string_equal (find_hier (&h, "cpuacct")->mountpoint, "/sys/fs/cgroup/cpuacct");
  sp_cgroup_host_clear (&h);
}

static void
test_mountinfo_none_and_malformed (void **state)
{
  struct sp_cgroup_host h;
  sp_error_t err = NULL;
  (void) state;

  assert_int_equal (sp_cgroup_parse_mountinfo ("28 0 8:1 / / rw - ext4 /dev/sda1 rw\n", &h, &err), 0);
  assert_int_equal (h.layout, SP_CGROUP_LAYOUT_NONE);
  assert_int_equal (h.n_hier, 0);
  sp_cgroup_host_clear (&h);

  assert_int_equal (sp_cgroup_parse_mountinfo ("28 0 8:1 / / rw - ext4 /dev/sda1 rw\n31 23 0:28 /\n", &h, &err), -1);
  assert_non_null (strstr (err->msg, "line 2"));
  sp_error_release (&err);
}

static void
check_slice (const char *slice, const char *expected)
{
  cleanup_free char *out = NULL;
  sp_error_t err = NULL;
  int r = sp_cgroup_systemd_expand_slice (slice, &out, &err);
  if (expected == NULL)
    {
      assert_int_equal (r, -1);
      assert_non_null (strstr (err->msg, "invalid systemd slice"));
      sp_error_release (&err);
      return;
    }
  assert_int_equal (r, 0);
  assert_string_equal (out, expected);
}

static void
test_systemd_slice_expansion (void **state)
{
  (void) state;
  check_slice ("system.slice", "/system.slice");
  check_slice ("a-b.slice", "/a.slice/a-b.slice");
  check_slice ("a-b-c.slice", "/a.slice/a-b.slice/a-b-c.slice");
  check_slice ("-.slice", "");
  check_slice ("", "");
  check_slice ("a--b.slice", NULL);
  check_slice ("-a.slice", NULL);
  check_slice ("a-.slice", NULL);
  check_slice ("a/b.slice", NULL);
  check_slice ("system", NULL);
  check_slice (".slice", NULL);
}

static void
check_systemd_path (const char *spec, const char *path, const char *slice, const char *unit)
{
  cleanup_free char *p = NULL, *s = NULL, *u = NULL;
  sp_error_t err = NULL;
  int r = sp_cgroup_systemd_parse_path (spec, &p, &s, &u, &err);
  if (path == NULL)
    {
      assert_int_equal (r, -1);
      assert_non_null (strstr (err->msg, "linux.cgroupsPath"));
      sp_error_release (&err);
      return;
    }
  assert_int_equal (r, 0);
  assert_string_equal (p, path);
  assert_string_equal (s, slice);
  assert_string_equal (u, unit);
}

static void
test_systemd_path (void **state)
{
  (void) state;
  check_systemd_path ("system.slice:docker:abc", "/system.slice/docker-abc.scope", "system.slice",
                      "docker-abc.scope");
  check_systemd_path (":samepage:x", "/system.slice/samepage-x.scope", "system.slice", "samepage-x.scope");
  check_systemd_path ("machine.slice::x", "/machine.slice/x.scope", "machine.slice", "x.scope");
  check_systemd_path ("a-b.slice:p:n", "/a.slice/a-b.slice/p-n.scope", "a-b.slice", "p-n.scope");
  check_systemd_path ("user.slice:p:foo.slice", "/user.slice/foo.slice", "user.slice", "foo.slice");
  check_systemd_path ("/samepage/x", NULL, NULL, NULL);
  check_systemd_path ("a:b", NULL, NULL, NULL);
  check_systemd_path ("a.slice:b:c:d", NULL, NULL, NULL);
  check_systemd_path ("a.slice:b:", NULL, NULL, NULL);
  check_systemd_path ("bad--x.slice:b:c", NULL, NULL, NULL);
  check_systemd_path ("system.slice:b:c/d", NULL, NULL, NULL);
}

static void
test_shares_to_weight (void **state)
{
  (void) state;
  /* Values of the crun/runc formula (checked against a reference computation). */
  assert_int_equal (sp_cgroup_shares_to_weight (0), 0);
  assert_int_equal (sp_cgroup_shares_to_weight (1), 1);
  assert_int_equal (sp_cgroup_shares_to_weight (2), 1);
  assert_int_equal (sp_cgroup_shares_to_weight (3), 2);
  assert_int_equal (sp_cgroup_shares_to_weight (100), 17);
  assert_int_equal (sp_cgroup_shares_to_weight (512), 59);
  assert_int_equal (sp_cgroup_shares_to_weight (1024), 100);
  assert_int_equal (sp_cgroup_shares_to_weight (2048), 174);
  assert_int_equal (sp_cgroup_shares_to_weight (4096), 303);
  assert_int_equal (sp_cgroup_shares_to_weight (100000), 4340);
  assert_int_equal (sp_cgroup_shares_to_weight (262143), 10000);
  assert_int_equal (sp_cgroup_shares_to_weight (262144), 10000);
  assert_int_equal (sp_cgroup_shares_to_weight (1000000), 10000);

  assert_int_equal (sp_cgroup_blkio_weight_to_io_weight (10), 1);
  assert_int_equal (sp_cgroup_blkio_weight_to_io_weight (500), 4950);
  assert_int_equal (sp_cgroup_blkio_weight_to_io_weight (1000), 10000);
}

static void
check_rule (struct oci_device_cgroup r, const char *expected)
{
  cleanup_free char *s = sp_cgroup_device_rule_v1 (&r);
  assert_string_equal (s, expected);
}

static void
test_device_rules (void **state)
{
  (void) state;
  check_rule ((struct oci_device_cgroup) { .allow = false, .type = 'a' }, "a *:* rwm");
  check_rule ((struct oci_device_cgroup) { .allow = true }, "a *:* rwm");
  check_rule ((struct oci_device_cgroup) { .allow = true, .type = 'c', .has_major = true, .major = 1,
                                           .has_minor = true, .minor = 3, .access = (char *) "rwm" },
              "c 1:3 rwm");
  check_rule ((struct oci_device_cgroup) { .allow = true, .type = 'b', .has_major = true, .major = 8,
                                           .access = (char *) "r" },
              "b 8:* r");
  check_rule ((struct oci_device_cgroup) { .type = 'c', .has_major = true, .major = -1, .has_minor = true,
                                           .minor = 5, .access = (char *) "mw" },
              "c *:5 mw");
  assert_true (sp_cgroup_device_access_valid (NULL));
  assert_true (sp_cgroup_device_access_valid ("rw"));
  assert_false (sp_cgroup_device_access_valid ("rx"));
}

static void
test_swap_and_hugepages (void **state)
{
  struct oci_memory m = { .has_limit = true, .limit = 100, .has_swap = true, .swap = 300 };
  cleanup_free char *a = NULL, *b = NULL;
  char *none = NULL;
  sp_error_t err = NULL;
  (void) state;

  assert_int_equal (sp_cgroup_swap_v2 (&m, &a, &err), 0);
  assert_string_equal (a, "200");
  m.swap = -1;
  assert_int_equal (sp_cgroup_swap_v2 (&m, &b, &err), 0);
  assert_string_equal (b, "max");
  m.swap = 0;
  assert_int_equal (sp_cgroup_swap_v2 (&m, &none, &err), 0);
  assert_null (none);
  m.swap = 50;
  assert_int_equal (sp_cgroup_swap_v2 (&m, &none, &err), -1);
  assert_non_null (strstr (err->msg, "below the memory limit"));
  sp_error_release (&err);
  m.has_limit = false;
  assert_int_equal (sp_cgroup_swap_v2 (&m, &none, &err), -1);
  assert_non_null (strstr (err->msg, "needs a memory limit"));
  sp_error_release (&err);

  assert_true (sp_cgroup_hugepage_size_valid ("2MB"));
  assert_true (sp_cgroup_hugepage_size_valid ("1GB"));
  assert_true (sp_cgroup_hugepage_size_valid ("64KB"));
  assert_false (sp_cgroup_hugepage_size_valid ("2M"));
  assert_false (sp_cgroup_hugepage_size_valid ("MB"));
  assert_false (sp_cgroup_hugepage_size_valid ("02MB"));
  assert_false (sp_cgroup_hugepage_size_valid ("2MB/../x"));
}

static void
test_state_line_round_trip (void **state)
{
  struct sp_cgroup_dir dirs[] = {
    { false, (char *) "cpu,cpuacct", (char *) "/sys/fs/cgroup/cpu,cpuacct",
      (char *) "/sys/fs/cgroup/cpu,cpuacct/a b/-", (char *) "/sys/fs/cgroup/cpu,cpuacct/a b" },
    { true, (char *) "", (char *) "/sys/fs/cgroup/unified", (char *) "/sys/fs/cgroup/unified/a b/-", NULL },
  };
  struct sp_cgroup cg = { SP_CGROUP_SYSTEMD, SP_CGROUP_LAYOUT_HYBRID, (char *) "/a b/-", (char *) "x%y.scope",
                          dirs, 2 };
  cleanup_free char *line = sp_cgroup_serialize (&cg), *again = NULL;
  struct sp_cgroup *loaded = NULL;
  sp_error_t err = NULL;
  (void) state;

  assert_null (strchr (line, '\n'));
  assert_int_equal (sp_cgroup_load (line, &loaded, &err), 0);
  assert_int_equal (loaded->manager, SP_CGROUP_SYSTEMD);
  assert_int_equal (loaded->layout, SP_CGROUP_LAYOUT_HYBRID);
  assert_string_equal (loaded->cgroup_path, "/a b/-");
  assert_string_equal (loaded->unit, "x%y.scope");
  assert_int_equal (loaded->n_dirs, 2);
  assert_string_equal (loaded->dirs[0].controllers, "cpu,cpuacct");
  assert_string_equal (loaded->dirs[0].path, "/sys/fs/cgroup/cpu,cpuacct/a b/-");
  assert_string_equal (loaded->dirs[0].created_top, "/sys/fs/cgroup/cpu,cpuacct/a b");
  assert_true (loaded->dirs[1].v2);
  assert_string_equal (loaded->dirs[1].controllers, "");
  assert_null (loaded->dirs[1].created_top);
  again = sp_cgroup_serialize (loaded);
  assert_string_equal (again, line);
  sp_cgroup_free (loaded);

  assert_int_equal (sp_cgroup_load ("junk", &loaded, &err), -1);
  assert_non_null (strstr (err->msg, "cgroup state"));
  sp_error_release (&err);
  /* A directory outside its mount point is refused. */
  assert_int_equal (sp_cgroup_load ("samepage-cgroup/1 cgroupfs v1 /x - v1 memory /sys/fs/cgroup/memory /etc -",
                                    &loaded, &err),
                    -1);
  sp_error_release (&err);
  assert_int_equal (sp_cgroup_load ("samepage-cgroup/1 cgroupfs v1 /x - v1 memory", &loaded, &err), -1);
  sp_error_release (&err);
  assert_int_equal (sp_cgroup_load ("samepage-cgroup/1 cgroupfs v1 /x - v1 memory /m /m/%zz -", &loaded, &err), -1);
  sp_error_release (&err);
}

static void
test_disabled_manager (void **state)
{
  struct sp_cgroup *cg = NULL, *loaded = NULL;
  cleanup_free char *line = NULL;
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  bool frozen;
  sp_error_t err = NULL;
  (void) state;

  assert_int_equal (sp_cgroup_create (SP_CGROUP_DISABLED, NULL, "ctr", 1, NULL, &cg, &err), 0);
  assert_null (sp_cgroup_path (cg));
  line = sp_cgroup_serialize (cg);
  assert_int_equal (sp_cgroup_load (line, &loaded, &err), 0);
  assert_int_equal (loaded->manager, SP_CGROUP_DISABLED);
  assert_int_equal (sp_cgroup_freeze (loaded, true, &err), -1);
  assert_non_null (strstr (err->msg, "--cgroup-manager disabled"));
  sp_error_release (&err);
  assert_int_equal (sp_cgroup_pids (loaded, &pids, &n, &err), -1);
  sp_error_release (&err);
  assert_int_equal (sp_cgroup_is_frozen (loaded, &frozen, &err), -1);
  sp_error_release (&err);
  assert_int_equal (sp_cgroup_kill_all (loaded, 9, &err), -1);
  sp_error_release (&err);
  assert_int_equal (sp_cgroup_enter (loaded, 1, &err), -1);
  sp_error_release (&err);
  assert_int_equal (sp_cgroup_destroy (loaded, &err), 0);
  sp_cgroup_free (loaded);
  sp_cgroup_free (cg);
}

static void
test_cgroupfs_rejects_systemd_syntax (void **state)
{
  struct sp_cgroup *cg = NULL;
  sp_error_t err = NULL;
  (void) state;

  assert_int_equal (sp_cgroup_create (SP_CGROUP_CGROUPFS, "system.slice:x:y", "ctr", 1, NULL, &cg, &err), -1);
  assert_non_null (strstr (err->msg, "linux.cgroupsPath"));
  assert_null (cg);
  sp_error_release (&err);
}

static void
test_device_program_shape (void **state)
{
  struct oci_device_cgroup rules[] = {
    { .allow = true }, /* superseded by the deny-all below */
    { .allow = false, .type = 'a' },
    { .allow = true, .type = 'c', .has_major = true, .major = 1, .has_minor = true, .minor = 3 },
    { .allow = true, .type = 'c', .has_major = true, .major = 1, .has_minor = true, .minor = 5,
      .access = (char *) "r" },
  };
  cleanup_free void *p = NULL;
  struct bpf_insn *insns;
  size_t n = 0;
  sp_error_t err = NULL;
  (void) state;

  assert_int_equal (sp_cgroup_v2_devices_program (rules, 4, &p, &n, &err), 0);
  insns = p;
  /* prologue 6 + "c 1:5 r" 8 + "c 1:3 rwm" 5 + default 2 */
  assert_int_equal (n, 21);
  /* The last rule is tested first: type, access subset, major, minor. */
  assert_int_equal (insns[6].code, BPF_JMP | BPF_JNE | BPF_K);
  assert_int_equal (insns[6].imm, BPF_DEVCG_DEV_CHAR);
  assert_int_equal (insns[6].off, 7); /* past this rule's exit */
  assert_int_equal (insns[9].code, BPF_JMP | BPF_JNE | BPF_X);
  assert_int_equal (insns[8].imm, BPF_DEVCG_ACC_READ);
  assert_int_equal (insns[11].imm, 5);
  assert_int_equal (insns[11].off, 2);
  assert_int_equal (insns[12].imm, 1); /* allow */
  assert_int_equal (insns[13].code, BPF_JMP | BPF_EXIT);
  assert_int_equal (insns[16].imm, 3);
  assert_int_equal (insns[19].imm, 0); /* default: deny, from the deny-all */
  assert_int_equal (insns[20].code, BPF_JMP | BPF_EXIT);

  rules[2].type = 'x';
  assert_int_equal (sp_cgroup_v2_devices_program (rules, 4, &p, &n, &err), -1);
  assert_non_null (strstr (err->msg, "devices[2].type"));
  sp_error_release (&err);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_mountinfo_v1),
    cmocka_unit_test (test_mountinfo_v2),
    cmocka_unit_test (test_mountinfo_hybrid),
    cmocka_unit_test (test_mountinfo_none_and_malformed),
    cmocka_unit_test (test_systemd_slice_expansion),
    cmocka_unit_test (test_systemd_path),
    cmocka_unit_test (test_shares_to_weight),
    cmocka_unit_test (test_device_rules),
    cmocka_unit_test (test_swap_and_hugepages),
    cmocka_unit_test (test_state_line_round_trip),
    cmocka_unit_test (test_disabled_manager),
    cmocka_unit_test (test_cgroupfs_rejects_systemd_syntax),
    cmocka_unit_test (test_device_program_shape),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
