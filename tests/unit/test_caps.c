/* Capabilities: name parsing, and the real sets of a forked child after
 * prepare + setuid + apply, read back from /proc/self/status. */
#include <samepage/caps.h>
#include <samepage/cleanup.h>
#include <samepage/error.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <cmocka.h>

#include "forked_child.h"

#define NAMES(...) ((char *[]) { __VA_ARGS__, NULL })
#define BIT(n) (UINT64_C (1) << (n))

#define SKIP_UNLESS_ROOT()                                                                         \
  do                                                                                               \
    {                                                                                              \
      if (geteuid () != 0)                                                                         \
        {                                                                                          \
          print_message ("# skip: not root (changing capabilities and uids needs root)\n");       \
          skip ();                                                                                 \
        }                                                                                          \
    }                                                                                              \
  while (0)

static void
test_known_names (void **state)
{
  const char *const *known = sp_caps_known ();
  cleanup_free char *last_text = NULL;
  sp_error_t err = NULL;
  long last_cap;
  size_t n = sp_strv_len ((char *const *) known);
  (void) state;

  if (sp_read_file ("/proc/sys/kernel/cap_last_cap", &last_text, NULL, &err) < 0)
    fail_msg ("%s", err->msg);
  last_text[strcspn (last_text, "\n")] = '\0';
  assert_true (sp_parse_long (last_text, &last_cap));

  assert_string_equal (known[0], "CAP_CHOWN");
  assert_string_equal (known[CAP_NET_BIND_SERVICE], "CAP_NET_BIND_SERVICE");
  assert_string_equal (known[CAP_SYS_ADMIN], "CAP_SYS_ADMIN");
  /* Never more than the kernel has; libcap may lack names for the newest. */
  assert_true (n <= (size_t) last_cap + 1);
  assert_true (n >= CAP_AUDIT_READ + 1);
  for (size_t i = 0; i < n; i++)
    assert_true (sp_str_has_prefix (known[i], "CAP_"));
}

static void
test_parse_names (void **state)
{
  uint64_t mask = 0;
  sp_error_t err = NULL;
  (void) state;

  assert_int_equal (sp_caps_parse_names (NAMES ("CAP_CHOWN", "cap_net_bind_service", "CAP_SYS_ADMIN"), &mask, &err), 0);
  assert_int_equal (mask, BIT (CAP_CHOWN) | BIT (CAP_NET_BIND_SERVICE) | BIT (CAP_SYS_ADMIN));
  assert_int_equal (sp_caps_parse_names (NULL, &mask, &err), 0);
  assert_int_equal (mask, 0);
  /* Unknown but well formed: warned about and ignored. */
  assert_int_equal (sp_caps_parse_names (NAMES ("CAP_KILL", "CAP_NOT_A_THING"), &mask, &err), 0);
  assert_int_equal (mask, BIT (CAP_KILL));
  assert_null (err);

  assert_true (sp_caps_parse_names (NAMES ("CAP_KILL", "KILL"), &mask, &err) < 0);
  assert_string_equal (err->msg, "capabilities[1]: malformed capability name \"KILL\"");
  sp_error_release (&err);
  assert_true (sp_caps_parse_names (NAMES (""), &mask, &err) < 0);
  assert_string_equal (err->msg, "capabilities[0]: malformed capability name \"\"");
  sp_error_release (&err);
  assert_true (sp_caps_parse_names (NAMES ("CAP_"), &mask, &err) < 0);
  sp_error_release (&err);
  assert_true (sp_caps_parse_names (NAMES ("CAP_SYS ADMIN"), &mask, &err) < 0);
  sp_error_release (&err);
}

/* ---- In children: prepare, change uid, apply, read back ---- */

struct caps_case
{
  struct oci_capabilities caps;
  uid_t uid; /* 0: stay root */
  uint64_t inh, prm, eff, bnd, amb;
};

static int
status_mask (const char *status, const char *key, uint64_t *out)
{
  cleanup_free char *pattern = sp_xasprintf ("\n%s:", key);
  const char *p = strstr (status, pattern);
  unsigned long long v;

  if (p == NULL || sscanf (p + strlen (pattern), " %llx", &v) != 1)
    return -1;
  *out = v;
  return 0;
}

#define CHILD_CHECK_OK(call)                                                                       \
  do                                                                                               \
    {                                                                                              \
      if ((call) < 0)                                                                              \
        {                                                                                          \
          snprintf (msg, msg_len, "%s: %s", #call, err ? err->msg : "?");                          \
          return 1;                                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

static int
child_apply (void *arg, char *msg, size_t msg_len)
{
  const struct caps_case *c = arg;
  const char *keys[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
  const uint64_t want[] = { c->inh, c->prm, c->eff, c->bnd, c->amb };
  cleanup_free char *status = NULL;
  sp_error_t err = NULL;

  CHILD_CHECK_OK (sp_caps_prepare (&c->caps, &err));
  CHILD_CHECK (prctl (PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1);
  if (c->uid != 0)
    {
      CHILD_CHECK (setgroups (0, NULL) == 0);
      CHILD_CHECK (setgid (c->uid) == 0);
      CHILD_CHECK (setuid (c->uid) == 0);
    }
  CHILD_CHECK_OK (sp_caps_apply (&c->caps, &err));
  CHILD_CHECK (prctl (PR_GET_KEEPCAPS, 0, 0, 0, 0) == 0);

  CHILD_CHECK_OK (sp_read_file ("/proc/self/status", &status, NULL, &err));
  for (size_t i = 0; i < SP_ARRAY_SIZE (keys); i++)
    {
      uint64_t got;

      CHILD_CHECK (status_mask (status, keys[i], &got) == 0);
      if (got != want[i])
        {
          snprintf (msg, msg_len, "%s is %016llx, expected %016llx", keys[i], (unsigned long long) got,
                    (unsigned long long) want[i]);
          return 1;
        }
    }
  return 0;
}

static void
test_one_cap_in_all_sets_as_uid_1000 (void **state)
{
  struct caps_case c = {
    .caps = { .bounding = NAMES ("CAP_NET_BIND_SERVICE"),
              .effective = NAMES ("CAP_NET_BIND_SERVICE"),
              .inheritable = NAMES ("CAP_NET_BIND_SERVICE"),
              .permitted = NAMES ("CAP_NET_BIND_SERVICE"),
              .ambient = NAMES ("CAP_NET_BIND_SERVICE") },
    .uid = 1000,
  };
  (void) state;
  SKIP_UNLESS_ROOT ();

  c.inh = c.prm = c.eff = c.bnd = c.amb = BIT (CAP_NET_BIND_SERVICE);
  expect_child_ok (child_apply, &c);
}

static void
test_podman_defaults_as_root (void **state)
{
  char **defaults = NAMES ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
                           "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID",
                           "CAP_SYS_CHROOT");
  uint64_t mask = BIT (CAP_CHOWN) | BIT (CAP_DAC_OVERRIDE) | BIT (CAP_FOWNER) | BIT (CAP_FSETID) | BIT (CAP_KILL)
                  | BIT (CAP_NET_BIND_SERVICE) | BIT (CAP_SETFCAP) | BIT (CAP_SETGID) | BIT (CAP_SETPCAP)
                  | BIT (CAP_SETUID) | BIT (CAP_SYS_CHROOT);
  /* inheritable and ambient absent: NULL means empty */
  struct caps_case c = { .caps = { .bounding = defaults, .effective = defaults, .permitted = defaults } };
  (void) state;
  SKIP_UNLESS_ROOT ();

  c.prm = c.eff = c.bnd = mask;
  expect_child_ok (child_apply, &c);
}

/* A capability this process does not have in its bounding set, or -1. */
static int
cap_outside_bounding (void)
{
  for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
    if (prctl (PR_CAPBSET_READ, cap, 0, 0, 0) == 0)
      return cap;
  return -1;
}

static void
test_unknown_and_unavailable_caps_warn (void **state)
{
  const char *const *known = sp_caps_known ();
  int missing = cap_outside_bounding ();
  char *missing_name = missing >= 0 ? (char *) known[missing] : "CAP_NET_BIND_SERVICE";
  struct caps_case c = {
    .caps = { .bounding = NAMES ("CAP_NET_BIND_SERVICE", "CAP_NOT_A_THING", missing_name),
              .effective = NAMES ("CAP_NET_BIND_SERVICE", "CAP_KILL"), /* CAP_KILL: not permitted */
              .inheritable = NAMES ("CAP_NET_BIND_SERVICE"),
              .permitted = NAMES ("CAP_NET_BIND_SERVICE", missing_name),
              .ambient = NAMES ("CAP_NET_BIND_SERVICE", missing_name) },
    .uid = 1000,
  };
  struct child_result r;
  (void) state;
  SKIP_UNLESS_ROOT ();

  c.inh = c.prm = c.eff = c.bnd = c.amb = BIT (CAP_NET_BIND_SERVICE);
  run_in_child (child_apply, &c, &r, true);
  if (!WIFEXITED (r.wstatus) || WEXITSTATUS (r.wstatus) != 0)
    fail_msg ("child failed (wait status 0x%x): %s; stderr: %s", r.wstatus, r.msg, r.output);
  assert_non_null (strstr (r.output, "process.capabilities.bounding[1]: unknown capability \"CAP_NOT_A_THING\""));
  assert_non_null (strstr (r.output, "capability CAP_KILL skipped from effective: effective needs it in permitted"));
  if (missing < 0)
    {
      print_message ("# note: every capability is in this host's bounding set; the unavailable case is not exercised\n");
      return;
    }
  {
    cleanup_free char *bounding_warning
        = sp_xasprintf ("capability %s is not in the runtime's bounding set, skipped", missing_name);
    cleanup_free char *sets_warning
        = sp_xasprintf ("capability %s is not held by the runtime (outside its bounding set), skipped from "
                        "permitted, ambient",
                        missing_name);
    if (strstr (r.output, bounding_warning) == NULL || strstr (r.output, sets_warning) == NULL)
      fail_msg ("missing warnings for %s in: %s", missing_name, r.output);
  }
}

static int
child_malformed (void *arg, char *msg, size_t msg_len)
{
  struct oci_capabilities caps = { .bounding = NAMES ("CAP_CHOWN", "CAP_CHOWN;rm") };
  struct oci_capabilities bad_ambient = { .ambient = NAMES ("ALL") };
  sp_error_t err = NULL;
  (void) arg;

  CHILD_CHECK (sp_caps_prepare (&caps, &err) < 0);
  CHILD_CHECK (strcmp (err->msg, "process.capabilities.bounding[1]: malformed capability name \"CAP_CHOWN;rm\"") == 0);
  sp_error_release (&err);
  /* Nothing was dropped before the error. */
  CHILD_CHECK (prctl (PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) == 1);
  CHILD_CHECK (sp_caps_apply (&bad_ambient, &err) < 0);
  CHILD_CHECK (strcmp (err->msg, "process.capabilities.ambient[0]: malformed capability name \"ALL\"") == 0);
  sp_error_release (&err);
  return 0;
}

static void
test_malformed_names_fail_before_any_change (void **state)
{
  (void) state;
  SKIP_UNLESS_ROOT ();
  expect_child_ok (child_malformed, NULL);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_known_names),
    cmocka_unit_test (test_parse_names),
    cmocka_unit_test (test_one_cap_in_all_sets_as_uid_1000),
    cmocka_unit_test (test_podman_defaults_as_root),
    cmocka_unit_test (test_unknown_and_unavailable_caps_warn),
    cmocka_unit_test (test_malformed_names_fail_before_any_change),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
