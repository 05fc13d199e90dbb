/* Seccomp: compiling OCI profiles, errors naming the field, and the real
 * behaviour of loaded filters, checked in forked children. */
#include <samepage/cleanup.h>
#include <samepage/error.h>
#include <samepage/log.h>
#include <samepage/seccomp.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/netlink.h>
#include <poll.h>
#include <seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>
#include <cmocka.h>

#include "forked_child.h"

#define NAMES(...) ((char *[]) { __VA_ARGS__, NULL })

static struct sp_seccomp *
compile_ok (const struct oci_seccomp *s)
{
  struct sp_seccomp *f = NULL;
  sp_error_t err = NULL;

  if (sp_seccomp_compile (s, &f, &err) < 0)
    fail_msg ("compile: %s", err->msg);
  assert_non_null (f);
  return f;
}

static void
expect_compile_error (const struct oci_seccomp *s, const char *message)
{
  struct sp_seccomp *f = NULL;
  sp_error_t err = NULL;

  assert_true (sp_seccomp_compile (s, &f, &err) < 0);
  assert_null (f);
  assert_non_null (err);
  assert_string_equal (err->msg, message);
  sp_error_release (&err);
}

static bool
strv_contains (const char *const *v, const char *s)
{
  for (; *v; v++)
    if (strcmp (*v, s) == 0)
      return true;
  return false;
}

/* ---- The OCI profile from tests/data/seccomp, read with yajl_tree ---- */

static char *
json_string (yajl_val v)
{
  assert_true (v && YAJL_IS_STRING (v));
  return sp_xstrdup (YAJL_GET_STRING (v));
}

static char **
json_strv (yajl_val v)
{
  char **out;

  if (v == NULL)
    return NULL;
  assert_true (YAJL_IS_ARRAY (v));
  out = sp_xmalloc0 ((v->u.array.len + 1) * sizeof (char *));
  for (size_t i = 0; i < v->u.array.len; i++)
    out[i] = json_string (v->u.array.values[i]);
  return out;
}

static uint64_t
json_u64 (yajl_val v)
{
  assert_true (v && YAJL_IS_INTEGER (v) && YAJL_GET_INTEGER (v) >= 0);
  return (uint64_t) YAJL_GET_INTEGER (v);
}

static struct oci_seccomp *
load_profile (const char *name)
{
  const char *top = getenv ("SAMEPAGE_TOP");
  cleanup_free char *path = sp_xasprintf ("%s/tests/data/seccomp/%s", top ? top : ".", name);
  cleanup_free char *text = NULL;
  struct oci_seccomp *s = sp_xmalloc0 (sizeof (*s));
  const char *p_default[] = { "defaultAction", NULL }, *p_errno[] = { "defaultErrnoRet", NULL },
             *p_arches[] = { "architectures", NULL }, *p_syscalls[] = { "syscalls", NULL };
  const char *p_names[] = { "names", NULL }, *p_action[] = { "action", NULL }, *p_ret[] = { "errnoRet", NULL },
             *p_args[] = { "args", NULL };
  const char *p_index[] = { "index", NULL }, *p_value[] = { "value", NULL }, *p_value2[] = { "valueTwo", NULL },
             *p_op[] = { "op", NULL };
  sp_error_t err = NULL;
  char errbuf[256];
  yajl_val root, v, calls;

  if (sp_read_file (path, &text, NULL, &err) < 0)
    fail_msg ("%s", err->msg);
  root = yajl_tree_parse (text, errbuf, sizeof errbuf);
  if (root == NULL)
    fail_msg ("%s: %s", path, errbuf);
  s->default_action = json_string (yajl_tree_get (root, p_default, yajl_t_string));
  if ((v = yajl_tree_get (root, p_errno, yajl_t_number)))
    {
      s->has_default_errno_ret = true;
      s->default_errno_ret = (unsigned) json_u64 (v);
    }
  s->architectures = json_strv (yajl_tree_get (root, p_arches, yajl_t_array));
  calls = yajl_tree_get (root, p_syscalls, yajl_t_array);
  assert_non_null (calls);
  s->syscalls_len = calls->u.array.len;
  s->syscalls = sp_xmalloc0 (s->syscalls_len * sizeof (*s->syscalls));
  for (size_t i = 0; i < s->syscalls_len; i++)
    {
      yajl_val c = calls->u.array.values[i], args;
      struct oci_seccomp_syscall *sc = &s->syscalls[i];

      sc->names = json_strv (yajl_tree_get (c, p_names, yajl_t_array));
      sc->action = json_string (yajl_tree_get (c, p_action, yajl_t_string));
      if ((v = yajl_tree_get (c, p_ret, yajl_t_number)))
        {
          sc->has_errno_ret = true;
          sc->errno_ret = (unsigned) json_u64 (v);
        }
      args = yajl_tree_get (c, p_args, yajl_t_array);
      sc->args_len = args ? args->u.array.len : 0;
      sc->args = sp_xmalloc0 ((sc->args_len + 1) * sizeof (*sc->args));
      for (size_t j = 0; j < sc->args_len; j++)
        {
          yajl_val a = args->u.array.values[j];
          sc->args[j].index = (unsigned) json_u64 (yajl_tree_get (a, p_index, yajl_t_number));
          sc->args[j].value = json_u64 (yajl_tree_get (a, p_value, yajl_t_number));
          sc->args[j].value_two = json_u64 (yajl_tree_get (a, p_value2, yajl_t_number));
          sc->args[j].op = json_string (yajl_tree_get (a, p_op, yajl_t_string));
        }
    }
  yajl_tree_free (root);
  return s;
}

static void
free_profile (struct oci_seccomp *s)
{
  for (size_t i = 0; i < s->syscalls_len; i++)
    {
      sp_strvfreep (&s->syscalls[i].names);
      free (s->syscalls[i].action);
      for (size_t j = 0; j < s->syscalls[i].args_len; j++)
        free (s->syscalls[i].args[j].op);
      free (s->syscalls[i].args);
    }
  free (s->syscalls);
  sp_strvfreep (&s->architectures);
  free (s->default_action);
  free (s);
}

/* ---- Tables and compile errors ---- */

static void
test_tables_are_what_the_compiler_accepts (void **state)
{
  const char *const *actions = sp_seccomp_known_actions ();
  const char *const *ops = sp_seccomp_known_operators ();
  const char *const *arches = sp_seccomp_known_archs ();
  const char *const *flags = sp_seccomp_known_flags ();
  (void) state;

  assert_true (strv_contains (actions, "SCMP_ACT_KILL_PROCESS"));
  assert_true (strv_contains (actions, "SCMP_ACT_NOTIFY"));
  assert_true (strv_contains (ops, "SCMP_CMP_MASKED_EQ"));
  assert_int_equal (sp_strv_len ((char *const *) ops), 7);
  assert_true (strv_contains (arches, "SCMP_ARCH_X86_64"));
  assert_true (strv_contains (arches, "SCMP_ARCH_AARCH64"));
  assert_true (strv_contains (flags, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"));

  /* Every listed name compiles: `features` cannot promise what we reject. */
  for (; *actions; actions++)
    {
      struct oci_seccomp_syscall sc = { .names = NAMES ("getpid"), .action = (char *) *actions };
      struct oci_seccomp s = { .default_action = "SCMP_ACT_ALLOW", .syscalls = &sc, .syscalls_len = 1 };
      sp_seccomp_free (compile_ok (&s));
    }
  for (; *ops; ops++)
    {
      struct oci_seccomp_arg a = { .index = 1, .value = 3, .value_two = 1, .op = (char *) *ops };
      struct oci_seccomp_syscall sc = { .names = NAMES ("kill"), .action = "SCMP_ACT_ERRNO", .args = &a, .args_len = 1 };
      struct oci_seccomp s = { .default_action = "SCMP_ACT_ALLOW", .syscalls = &sc, .syscalls_len = 1 };
      sp_seccomp_free (compile_ok (&s));
    }
  for (; *arches; arches++)
    {
      struct oci_seccomp s = { .default_action = "SCMP_ACT_ERRNO", .architectures = NAMES ((char *) *arches) };
      sp_seccomp_free (compile_ok (&s));
    }
  for (; *flags; flags++)
    {
      struct oci_seccomp s = { .default_action = "SCMP_ACT_ALLOW", .flags = NAMES ((char *) *flags) };
      sp_seccomp_free (compile_ok (&s));
    }
}

static void
test_compile_errors_name_the_field (void **state)
{
  struct oci_seccomp_arg bad_op[] = { { .index = 0, .value = 1, .op = "SCMP_CMP_EQ" },
                                      { .index = 1, .value = 1, .op = "SCMP_CMP_FOO" } };
  struct oci_seccomp_arg bad_index[] = { { .index = 6, .value = 1, .op = "SCMP_CMP_EQ" } };
  struct oci_seccomp_syscall four[] = {
    { .names = NAMES ("read"), .action = "SCMP_ACT_ALLOW" },
    { .names = NAMES ("write"), .action = "SCMP_ACT_ALLOW" },
    { .names = NAMES ("open"), .action = "SCMP_ACT_ALLOW" },
    { .names = NAMES ("close"), .action = "X" },
  };
  struct oci_seccomp_syscall op = { .names = NAMES ("kill"), .action = "SCMP_ACT_ERRNO", .args = bad_op, .args_len = 2 };
  struct oci_seccomp_syscall index = { .names = NAMES ("kill"), .action = "SCMP_ACT_ERRNO", .args = bad_index, .args_len = 1 };
  struct oci_seccomp_syscall allow_errno = { .names = NAMES ("kill"), .action = "SCMP_ACT_ALLOW", .has_errno_ret = true,
                                             .errno_ret = 1 };
  struct oci_seccomp_syscall big_errno = { .names = NAMES ("kill"), .action = "SCMP_ACT_ERRNO", .has_errno_ret = true,
                                           .errno_ret = 5000 };
  (void) state;

  expect_compile_error (&(struct oci_seccomp) { .default_action = "SCMP_ACT_BOGUS" },
                        "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_BOGUS\"");
  expect_compile_error (&(struct oci_seccomp) { .default_action = NULL }, "linux.seccomp.defaultAction: missing");
  expect_compile_error (&(struct oci_seccomp) { .default_action = "SCMP_ACT_NOTIFY" },
                        "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
  expect_compile_error (&(struct oci_seccomp) { .default_action = "SCMP_ACT_ALLOW", .syscalls = four, .syscalls_len = 4 },
                        "linux.seccomp.syscalls[3].action: unknown action \"X\"");
  expect_compile_error (&(struct oci_seccomp) { .default_action = "SCMP_ACT_ALLOW", .syscalls = &op, .syscalls_len = 1 },
                        "linux.seccomp.syscalls[0].args[1].op: unknown operator \"SCMP_CMP_FOO\"");
  expect_compile_error (&(struct oci_seccomp) { .default_action = "SCMP_ACT_ALLOW", .syscalls = &index, .syscalls_len = 1 },
                        "linux.seccomp.syscalls[0].args[0].index: 6 is out of range (0-5)");
  expect_compile_error (
      &(struct oci_seccomp) { .default_action = "SCMP_ACT_ALLOW", .syscalls = &allow_errno, .syscalls_len = 1 },
      "linux.seccomp.syscalls[0].errnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW");
  expect_compile_error (
      &(struct oci_seccomp) { .default_action = "SCMP_ACT_ALLOW", .syscalls = &big_errno, .syscalls_len = 1 },
      "linux.seccomp.syscalls[0].errnoRet: 5000 is out of range (0-4095)");
  expect_compile_error (&(struct oci_seccomp) { .default_action = "SCMP_ACT_ALLOW",
                                                .architectures = NAMES ("SCMP_ARCH_X86_64", "SCMP_ARCH_Z80") },
                        "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_Z80\"");
  expect_compile_error (
      &(struct oci_seccomp) { .default_action = "SCMP_ACT_ALLOW", .flags = NAMES ("SECCOMP_FILTER_FLAG_BOGUS") },
      "linux.seccomp.flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_BOGUS\"");
}

/* ---- Loaded filters, in children ---- */

static bool
is_root (void)
{
  return geteuid () == 0;
}

/* Loading without no_new_privs needs CAP_SYS_ADMIN, and the runtime runs as root. */
#define SKIP_UNLESS_ROOT()                                                                         \
  do                                                                                               \
    {                                                                                              \
      if (!is_root ())                                                                             \
        {                                                                                          \
          print_message ("# skip: not root (loading filters as the runtime does needs root)\n");  \
          skip ();                                                                                 \
        }                                                                                          \
    }                                                                                              \
  while (0)

static int
child_errno_rules (void *arg, char *msg, size_t msg_len)
{
  int notify_fd = 0;
  sp_error_t err = NULL;

  CHILD_CHECK (sp_seccomp_load (arg, &notify_fd, &err) == 0);
  CHILD_CHECK (notify_fd == -1);
  errno = 0;
  CHILD_CHECK (syscall (SYS_getpid) == -1 && errno == EPERM);
  errno = 0;
  CHILD_CHECK (syscall (SYS_mkdir, "/nonexistent-dir/x", 0700) == -1 && errno == ENOTSUP);
  errno = 0;
  CHILD_CHECK (syscall (SYS_mkdirat, AT_FDCWD, "/nonexistent-dir/x", 0700) == -1 && errno == ENOTSUP);
  /* Unlisted and unknown-name entries change nothing else. */
  CHILD_CHECK (syscall (SYS_getppid) > 0);
  CHILD_CHECK (syscall (SYS_gettid) > 0);
  return 0;
}

static void
test_errno_and_errnoret (void **state)
{
  struct oci_seccomp_syscall sc[] = {
    { .names = NAMES ("no_such_syscall_anywhere", "getpid"), .action = "SCMP_ACT_ERRNO" },
    { .names = NAMES ("mkdir", "mkdirat"), .action = "SCMP_ACT_ERRNO", .has_errno_ret = true, .errno_ret = ENOTSUP },
    { .names = NAMES ("getppid"), .action = "SCMP_ACT_ALLOW" }, /* = default: skipped */
  };
  struct oci_seccomp s = { .default_action = "SCMP_ACT_ALLOW",
                           .architectures = NAMES ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
                           .syscalls = sc,
                           .syscalls_len = SP_ARRAY_SIZE (sc) };
  struct sp_seccomp *f;
  (void) state;
  SKIP_UNLESS_ROOT ();

  f = compile_ok (&s);
  assert_false (sp_seccomp_uses_notify (f));
  expect_child_ok (child_errno_rules, f);
  sp_seccomp_free (f);
}

static int
child_arg_rules (void *arg, char *msg, size_t msg_len)
{
  sp_error_t err = NULL;
  int fd;

  CHILD_CHECK (sp_seccomp_load (arg, NULL, &err) == 0);
  /* personality: only the query (0xffffffff) is allowed. */
  CHILD_CHECK (syscall (SYS_personality, 0xffffffffUL) >= 0);
  errno = 0;
  CHILD_CHECK (syscall (SYS_personality, (unsigned long) PER_LINUX) == -1 && errno == EPERM);
  /* MASKED_EQ: the low byte of the domain is AF_INET6. */
  errno = 0;
  CHILD_CHECK (socket (AF_INET6, SOCK_DGRAM, 0) == -1 && errno == EDOM);
  errno = 0;
  CHILD_CHECK (socket (AF_INET6 | 0x100, SOCK_DGRAM, 0) == -1 && errno == EDOM);
  fd = socket (AF_UNIX, SOCK_DGRAM, 0);
  CHILD_CHECK (fd >= 0);
  close (fd);
  /* Two comparisons on one argument: either matches (one rule each). */
  errno = 0;
  CHILD_CHECK (syscall (SYS_umask, 077) == -1 && errno == EACCES);
  errno = 0;
  CHILD_CHECK (syscall (SYS_umask, 022) == -1 && errno == EACCES);
  CHILD_CHECK (syscall (SYS_umask, 027) >= 0);
  /* Comparisons on different arguments: all must match (one rule). */
  errno = 0;
  CHILD_CHECK (syscall (SYS_kill, 0x7ffffff0, 0) == -1 && errno == ESRCH); /* arg1 == 0 only */
  errno = 0;
  CHILD_CHECK (syscall (SYS_kill, 0x7ffffff0, SIGCONT) == -1 && errno == ENOLINK);
  return 0;
}

static void
test_argument_conditions (void **state)
{
  struct oci_seccomp_arg pers[] = { { .index = 0, .value = 0xffffffff, .op = "SCMP_CMP_NE" } };
  struct oci_seccomp_arg sock[] = { { .index = 0, .value = 0xff, .value_two = AF_INET6, .op = "SCMP_CMP_MASKED_EQ" } };
  struct oci_seccomp_arg mask[] = { { .index = 0, .value = 077, .op = "SCMP_CMP_EQ" },
                                    { .index = 0, .value = 022, .op = "SCMP_CMP_EQ" } };
  struct oci_seccomp_arg kill_args[] = { { .index = 0, .value = 0x7fff0000, .op = "SCMP_CMP_GT" },
                                         { .index = 1, .value = SIGCONT, .op = "SCMP_CMP_EQ" } };
  struct oci_seccomp_syscall sc[] = {
    { .names = NAMES ("personality"), .action = "SCMP_ACT_ERRNO", .args = pers, .args_len = 1 },
    { .names = NAMES ("socket"), .action = "SCMP_ACT_ERRNO", .has_errno_ret = true, .errno_ret = EDOM,
      .args = sock, .args_len = 1 },
    { .names = NAMES ("umask"), .action = "SCMP_ACT_ERRNO", .has_errno_ret = true, .errno_ret = EACCES, .args = mask,
      .args_len = 2 },
    { .names = NAMES ("kill"), .action = "SCMP_ACT_ERRNO", .has_errno_ret = true, .errno_ret = ENOLINK,
      .args = kill_args, .args_len = 2 },
  };
  struct oci_seccomp s = { .default_action = "SCMP_ACT_ALLOW", .syscalls = sc, .syscalls_len = SP_ARRAY_SIZE (sc) };
  struct sp_seccomp *f;
  (void) state;
  SKIP_UNLESS_ROOT ();

  f = compile_ok (&s);
  expect_child_ok (child_arg_rules, f);
  sp_seccomp_free (f);
}

static int
child_call_getppid (void *arg, char *msg, size_t msg_len)
{
  sp_error_t err = NULL;

  CHILD_CHECK (sp_seccomp_load (arg, NULL, &err) == 0);
  syscall (SYS_getppid);
  snprintf (msg, msg_len, "getppid returned instead of killing the process");
  return 1;
}

static void
expect_killed_by_sigsys (const char *action)
{
  struct oci_seccomp_syscall sc = { .names = NAMES ("getppid"), .action = (char *) action };
  struct oci_seccomp s = { .default_action = "SCMP_ACT_ALLOW", .syscalls = &sc, .syscalls_len = 1 };
  struct sp_seccomp *f = compile_ok (&s);
  struct child_result r;

  run_in_child (child_call_getppid, f, &r, false);
  sp_seccomp_free (f);
  if (!WIFSIGNALED (r.wstatus) || WTERMSIG (r.wstatus) != SIGSYS)
    fail_msg ("%s: child was not killed by SIGSYS (wait status 0x%x): %s", action, r.wstatus, r.msg);
}

static void
test_kill_actions (void **state)
{
  (void) state;
  SKIP_UNLESS_ROOT ();
  expect_killed_by_sigsys ("SCMP_ACT_KILL_PROCESS");
  expect_killed_by_sigsys ("SCMP_ACT_KILL_THREAD");
  expect_killed_by_sigsys ("SCMP_ACT_KILL");
}

static volatile sig_atomic_t trapped_syscall = -1;

static void
on_sigsys (int sig, siginfo_t *info, void *ctx)
{
  (void) sig;
  (void) ctx;
  trapped_syscall = info->si_syscall;
}

static int
child_trap (void *arg, char *msg, size_t msg_len)
{
  struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
  sp_error_t err = NULL;

  CHILD_CHECK (sigaction (SIGSYS, &sa, NULL) == 0);
  CHILD_CHECK (sp_seccomp_load (arg, NULL, &err) == 0);
  syscall (SYS_getppid);
  CHILD_CHECK (trapped_syscall == SYS_getppid);
  return 0;
}

static void
test_trap_delivers_sigsys (void **state)
{
  struct oci_seccomp_syscall sc = { .names = NAMES ("getppid"), .action = "SCMP_ACT_TRAP" };
  struct oci_seccomp s = { .default_action = "SCMP_ACT_ALLOW", .syscalls = &sc, .syscalls_len = 1 };
  struct sp_seccomp *f = compile_ok (&s);
  (void) state;
  SKIP_UNLESS_ROOT ();

  expect_child_ok (child_trap, f);
  sp_seccomp_free (f);
}

/* Seccomp status lines of /proc/self/status. */
static int
seccomp_status (int *mode, int *filters)
{
  cleanup_free char *status = NULL;
  sp_error_t err = NULL;
  const char *p;

  if (sp_read_file ("/proc/self/status", &status, NULL, &err) < 0)
    {
      sp_error_release (&err);
      return -1;
    }
  if ((p = strstr (status, "\nSeccomp:")) == NULL || sscanf (p, "\nSeccomp: %d", mode) != 1)
    return -1;
  if ((p = strstr (status, "\nSeccomp_filters:")) == NULL || sscanf (p, "\nSeccomp_filters: %d", filters) != 1)
    return -1;
  return 0;
}

static int
child_flags (void *arg, char *msg, size_t msg_len)
{
  sp_error_t err = NULL;
  int mode = -1, filters = -1;

  CHILD_CHECK (sp_seccomp_load (arg, NULL, &err) == 0);
  CHILD_CHECK (seccomp_status (&mode, &filters) == 0);
  CHILD_CHECK (mode == 2 && filters == 1);
  errno = 0;
  CHILD_CHECK (syscall (SYS_getpid) == -1 && errno == EPERM);
  return 0;
}

static void
test_flags_load (void **state)
{
  struct oci_seccomp_syscall sc = { .names = NAMES ("getpid"), .action = "SCMP_ACT_ERRNO" };
  struct oci_seccomp s = { .default_action = "SCMP_ACT_ALLOW",
                           .flags = NAMES ("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                           "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"),
                           .syscalls = &sc,
                           .syscalls_len = 1 };
  struct sp_seccomp *f = compile_ok (&s);
  (void) state;
  SKIP_UNLESS_ROOT ();

  expect_child_ok (child_flags, f);
  sp_seccomp_free (f);
}

/* Without root, both load paths below are what an unprivileged caller gets. */
static int
child_unprivileged_load (void *arg, char *msg, size_t msg_len)
{
  sp_error_t err = NULL;

  CHILD_CHECK (setgroups (0, NULL) == 0 || geteuid () != 0);
  CHILD_CHECK (geteuid () != 0 || (setgid (65534) == 0 && setuid (65534) == 0));
  /* No CAP_SYS_ADMIN and no no_new_privs: the kernel refuses. */
  CHILD_CHECK (sp_seccomp_load (arg, NULL, &err) < 0);
  CHILD_CHECK (err && err->status == EACCES && strstr (err->msg, "no_new_privs"));
  sp_error_release (&err);
  /* With no_new_privs it works; the load itself never set it. */
  CHILD_CHECK (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
  CHILD_CHECK (sp_seccomp_load (arg, NULL, &err) == 0);
  errno = 0;
  CHILD_CHECK (syscall (SYS_getpid) == -1 && errno == EPERM);
  return 0;
}

static int
child_root_load_keeps_nnp_off (void *arg, char *msg, size_t msg_len)
{
  sp_error_t err = NULL;

  CHILD_CHECK (prctl (PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0);
  CHILD_CHECK (sp_seccomp_load (arg, NULL, &err) == 0);
  CHILD_CHECK (prctl (PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0);
  errno = 0;
  CHILD_CHECK (syscall (SYS_getpid) == -1 && errno == EPERM);
  return 0;
}

static void
test_load_with_and_without_no_new_privs (void **state)
{
  struct oci_seccomp_syscall sc = { .names = NAMES ("getpid"), .action = "SCMP_ACT_ERRNO" };
  struct oci_seccomp s = { .default_action = "SCMP_ACT_ALLOW", .syscalls = &sc, .syscalls_len = 1 };
  struct sp_seccomp *f = compile_ok (&s);
  (void) state;

  if (is_root ())
    expect_child_ok (child_root_load_keeps_nnp_off, f);
  expect_child_ok (child_unprivileged_load, f);
  sp_seccomp_free (f);
}

static int
child_podman_profile (void *arg, char *msg, size_t msg_len)
{
  sp_error_t err = NULL;
  int fd, add_key_errno;

  /* Natively EFAULT; ENOSYS only on kernels without keys (then not a proof). */
  errno = 0;
  CHILD_CHECK (syscall (SYS_add_key, NULL, NULL, NULL, 0, 0) == -1);
  add_key_errno = errno;
  errno = 0;
  CHILD_CHECK (syscall (SYS_swapoff, NULL) == -1 && errno == EFAULT);

  CHILD_CHECK (sp_seccomp_load (arg, NULL, &err) == 0);
  CHILD_CHECK (syscall (SYS_getpid) > 0);
  /* errnoRet 1 for the explicitly refused ones, ENOSYS (default) for the rest */
  errno = 0;
  CHILD_CHECK (syscall (SYS_swapoff, NULL) == -1 && errno == EPERM);
  errno = 0;
  CHILD_CHECK (syscall (SYS_add_key, NULL, NULL, NULL, 0, 0) == -1 && errno == ENOSYS);
  CHILD_CHECK (add_key_errno != ENOSYS);
  /* personality: only the listed values */
  CHILD_CHECK (syscall (SYS_personality, 0xffffffffUL) >= 0);
  errno = 0;
  CHILD_CHECK (syscall (SYS_personality, (unsigned long) ADDR_NO_RANDOMIZE) == -1 && errno == ENOSYS);
  /* socket: audit netlink refused with EINVAL (two args ANDed), others allowed */
  errno = 0;
  CHILD_CHECK (socket (AF_NETLINK, SOCK_RAW, NETLINK_AUDIT) == -1 && errno == EINVAL);
  fd = socket (AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  CHILD_CHECK (fd >= 0);
  close (fd);
  fd = socket (AF_UNIX, SOCK_STREAM, 0);
  CHILD_CHECK (fd >= 0);
  close (fd);
  return 0;
}

static void
test_podman_default_profile (void **state)
{
  struct oci_seccomp *s;
  struct sp_seccomp *f;
  (void) state;
  SKIP_UNLESS_ROOT ();

  s = load_profile ("podman-default.json");

  assert_string_equal (s->default_action, "SCMP_ACT_ERRNO");
  assert_true (s->syscalls_len > 10);
  f = compile_ok (s);
  free_profile (s);
  expect_child_ok (child_podman_profile, f);
  sp_seccomp_free (f);
}

/* ---- SCMP_ACT_NOTIFY: the listener fd reaches an agent, which answers ---- */

static const char notify_state[] = "{\"ociVersion\":\"1.2.0\",\"fds\":[\"seccompFd\"],\"pid\":1,\"metadata\":\"m\","
                                   "\"state\":{\"id\":\"c1\",\"status\":\"creating\"}}";

struct notify_child
{
  struct sp_seccomp *filter;
  const char *listener_path;
};

static int
child_notify (void *arg, char *msg, size_t msg_len)
{
  struct notify_child *nc = arg;
  sp_error_t err = NULL;
  int fd = -1;
  long ret;

  CHILD_CHECK (sp_seccomp_load (nc->filter, &fd, &err) == 0);
  CHILD_CHECK (fd >= 0);
  CHILD_CHECK (fcntl (fd, F_GETFD) == FD_CLOEXEC);
  CHILD_CHECK (sp_seccomp_send_notify_fd (nc->listener_path, fd, notify_state, &err) == 0);
  close (fd);
  /* The agent (the parent) answers 4242 for getppid. */
  ret = syscall (SYS_getppid);
  CHILD_CHECK (ret == 4242);
  return 0;
}

static bool
wait_readable (int fd)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  return poll (&p, 1, 10000) == 1;
}

/* Accepts one connection and receives the state and the fd. */
static int
receive_listener_fd (int listen_fd, char *state, size_t state_size)
{
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = { .iov_base = state, .iov_len = state_size - 1 };
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf };
  cleanup_close int conn = -1;
  struct cmsghdr *cmsg;
  ssize_t n;
  int fd;

  if (!wait_readable (listen_fd))
    return -1;
  conn = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (conn < 0 || !wait_readable (conn))
    return -1;
  n = recvmsg (conn, &m, MSG_CMSG_CLOEXEC);
  if (n <= 0)
    return -1;
  state[n] = '\0';
  cmsg = CMSG_FIRSTHDR (&m);
  if (cmsg == NULL || cmsg->cmsg_type != SCM_RIGHTS)
    return -1;
  memcpy (&fd, CMSG_DATA (cmsg), sizeof fd);
  return fd;
}

static void
test_notify_listener (void **state)
{
  struct oci_seccomp_syscall sc = { .names = NAMES ("getppid"), .action = "SCMP_ACT_NOTIFY" };
  struct oci_seccomp s = { .default_action = "SCMP_ACT_ALLOW",
                           .flags = NAMES ("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"),
                           .syscalls = &sc,
                           .syscalls_len = 1 };
  char dir[] = "/tmp/sp-seccomp-XXXXXX";
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct notify_child nc;
  cleanup_close int listen_fd = -1;
  cleanup_close int notify_fd = -1;
  struct seccomp_notif *req = NULL;
  struct seccomp_notif_resp *resp = NULL;
  char received[1024];
  int wstatus = 0;
  pid_t pid;
  (void) state;
  SKIP_UNLESS_ROOT ();

  nc.filter = compile_ok (&s);
  assert_true (sp_seccomp_uses_notify (nc.filter));
  assert_non_null (mkdtemp (dir));
  snprintf (addr.sun_path, sizeof addr.sun_path, "%s/agent.sock", dir);
  nc.listener_path = addr.sun_path;
  listen_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true (listen_fd >= 0);
  assert_int_equal (bind (listen_fd, (struct sockaddr *) &addr, sizeof addr), 0);
  assert_int_equal (listen (listen_fd, 1), 0);

  fflush (NULL);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      char msg[512] = "";
      int ret = child_notify (&nc, msg, sizeof msg);
      if (ret)
        fprintf (stderr, "notify child: %s\n", msg);
      _exit (ret);
    }

  notify_fd = receive_listener_fd (listen_fd, received, sizeof received);
  unlink (addr.sun_path);
  rmdir (dir);
  if (notify_fd < 0)
    {
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
      fail_msg ("did not receive the listener fd");
    }
  assert_string_equal (received, notify_state);

  assert_int_equal (seccomp_notify_alloc (&req, &resp), 0);
  if (!wait_readable (notify_fd) || seccomp_notify_receive (notify_fd, req) != 0)
    {
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
      seccomp_notify_free (req, resp);
      fail_msg ("no seccomp notification arrived");
    }
  assert_int_equal (req->pid, pid);
  assert_int_equal (req->data.nr, SYS_getppid);
  memset (resp, 0, sizeof *resp);
  resp->id = req->id;
  resp->val = 4242;
  assert_int_equal (seccomp_notify_respond (notify_fd, resp), 0);
  seccomp_notify_free (req, resp);

  assert_int_equal (waitpid (pid, &wstatus, 0), pid);
  sp_seccomp_free (nc.filter);
  assert_true (WIFEXITED (wstatus));
  assert_int_equal (WEXITSTATUS (wstatus), 0);
}

static void
test_notify_requires_a_listener_slot (void **state)
{
  struct oci_seccomp_syscall sc = { .names = NAMES ("getppid"), .action = "SCMP_ACT_NOTIFY" };
  struct oci_seccomp s = { .default_action = "SCMP_ACT_ALLOW", .syscalls = &sc, .syscalls_len = 1 };
  struct sp_seccomp *f = compile_ok (&s);
  sp_error_t err = NULL;
  (void) state;

  /* Refused before anything is loaded, so this is safe in the test process. */
  assert_true (sp_seccomp_load (f, NULL, &err) < 0);
  assert_non_null (strstr (err->msg, "SCMP_ACT_NOTIFY"));
  sp_error_release (&err);
  sp_seccomp_free (f);
}

static void
test_send_to_missing_listener (void **state)
{
  sp_error_t err = NULL;
  (void) state;

  assert_true (sp_seccomp_send_notify_fd ("/nonexistent/agent.sock", 0, notify_state, &err) < 0);
  assert_string_equal (err->msg, "connect to seccomp listener `/nonexistent/agent.sock`: No such file or directory");
  sp_error_release (&err);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_tables_are_what_the_compiler_accepts),
    cmocka_unit_test (test_compile_errors_name_the_field),
    cmocka_unit_test (test_errno_and_errnoret),
    cmocka_unit_test (test_argument_conditions),
    cmocka_unit_test (test_kill_actions),
    cmocka_unit_test (test_trap_delivers_sigsys),
    cmocka_unit_test (test_flags_load),
    cmocka_unit_test (test_load_with_and_without_no_new_privs),
    cmocka_unit_test (test_podman_default_profile),
    cmocka_unit_test (test_notify_listener),
    cmocka_unit_test (test_notify_requires_a_listener_slot),
    cmocka_unit_test (test_send_to_missing_listener),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
