/* Seccomp: OCI linux.seccomp -> BPF (libseccomp) -> seccomp(2).
 *
 * The filter is compiled to raw BPF with seccomp_export_bpf() at create time
 * and the libseccomp context is released right away.  Loading is then one
 * seccomp(2) call with exactly the flags we choose: libseccomp's own
 * seccomp_load() would set no_new_privs on its own (SCMP_FLTATR_CTL_NNP) and
 * allocate, read /proc and probe the kernel at the very end of container
 * setup, after the process dropped its capabilities and perhaps its view of
 * the host; exporting early keeps the late step small and predictable. */
#include <samepage/seccomp.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

struct sp_seccomp
{
  struct sock_filter *insns;
  unsigned short len;
  unsigned int flags; /* SECCOMP_FILTER_FLAG_* for seccomp(2) */
  bool uses_notify;
};

/* ---- Tables: the compiler and `features` both read these. ---- */

enum action_data
{
  DATA_NONE, /* errnoRet not allowed */
  DATA_ERRNO, /* errnoRet is the errno returned, default EPERM */
  DATA_TRACE, /* errnoRet is the tracer's message, default EPERM (as runc) */
};

struct action_info
{
  const char *name;
  uint32_t action;
  enum action_data data;
};

static const struct action_info actions[] = {
  { "SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, DATA_NONE },
  { "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, DATA_NONE },
  { "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, DATA_NONE },
  { "SCMP_ACT_TRAP", SCMP_ACT_TRAP, DATA_NONE },
  { "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO (0), DATA_ERRNO },
  { "SCMP_ACT_TRACE", SCMP_ACT_TRACE (0), DATA_TRACE },
  { "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, DATA_NONE },
  { "SCMP_ACT_LOG", SCMP_ACT_LOG, DATA_NONE },
  { "SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, DATA_NONE },
};

struct operator_info
{
  const char *name;
  enum scmp_compare op;
};

static const struct operator_info operators[] = {
  { "SCMP_CMP_NE", SCMP_CMP_NE },
  { "SCMP_CMP_LT", SCMP_CMP_LT },
  { "SCMP_CMP_LE", SCMP_CMP_LE },
  { "SCMP_CMP_EQ", SCMP_CMP_EQ },
  { "SCMP_CMP_GE", SCMP_CMP_GE },
  { "SCMP_CMP_GT", SCMP_CMP_GT },
  { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

struct arch_info
{
  const char *name;
  uint32_t token;
};

static const struct arch_info archs[] = {
  { "SCMP_ARCH_X86", SCMP_ARCH_X86 },
  { "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64 },
  { "SCMP_ARCH_X32", SCMP_ARCH_X32 },
  { "SCMP_ARCH_ARM", SCMP_ARCH_ARM },
  { "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64 },
  { "SCMP_ARCH_MIPS", SCMP_ARCH_MIPS },
  { "SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64 },
  { "SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32 },
  { "SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL },
  { "SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64 },
  { "SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32 },
  { "SCMP_ARCH_PPC", SCMP_ARCH_PPC },
  { "SCMP_ARCH_PPC64", SCMP_ARCH_PPC64 },
  { "SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE },
  { "SCMP_ARCH_S390", SCMP_ARCH_S390 },
  { "SCMP_ARCH_S390X", SCMP_ARCH_S390X },
  { "SCMP_ARCH_PARISC", SCMP_ARCH_PARISC },
  { "SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64 },
  { "SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64 },
#ifdef SCMP_ARCH_LOONGARCH64 /* libseccomp >= 2.6 */
  { "SCMP_ARCH_LOONGARCH64", SCMP_ARCH_LOONGARCH64 },
#endif
#ifdef SCMP_ARCH_M68K
  { "SCMP_ARCH_M68K", SCMP_ARCH_M68K },
#endif
#ifdef SCMP_ARCH_SH
  { "SCMP_ARCH_SH", SCMP_ARCH_SH },
  { "SCMP_ARCH_SHEB", SCMP_ARCH_SHEB },
#endif
};

struct flag_info
{
  const char *name;
  unsigned int flag;
};

static const struct flag_info flags[] = {
  { "SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC },
  { "SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG },
  { "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW },
  { "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV },
};

static const char *action_names[SP_ARRAY_SIZE (actions) + 1];
static const char *operator_names[SP_ARRAY_SIZE (operators) + 1];
static const char *arch_names[SP_ARRAY_SIZE (archs) + 1];
static const char *flag_names[SP_ARRAY_SIZE (flags) + 1];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void
fill_names (void)
{
  for (size_t i = 0; i < SP_ARRAY_SIZE (actions); i++)
    action_names[i] = actions[i].name;
  for (size_t i = 0; i < SP_ARRAY_SIZE (operators); i++)
    operator_names[i] = operators[i].name;
  for (size_t i = 0; i < SP_ARRAY_SIZE (archs); i++)
    arch_names[i] = archs[i].name;
  for (size_t i = 0; i < SP_ARRAY_SIZE (flags); i++)
    flag_names[i] = flags[i].name;
}

const char *const *
sp_seccomp_known_actions (void)
{
  pthread_once (&names_once, fill_names);
  return action_names;
}

const char *const *
sp_seccomp_known_operators (void)
{
  pthread_once (&names_once, fill_names);
  return operator_names;
}

const char *const *
sp_seccomp_known_archs (void)
{
  pthread_once (&names_once, fill_names);
  return arch_names;
}

const char *const *
sp_seccomp_known_flags (void)
{
  pthread_once (&names_once, fill_names);
  return flag_names;
}

/* ---- Compiling ---- */

/* Resolves an action name and its errnoRet into a libseccomp action value.
 * `field` names the action in errors, `errno_field` its errnoRet. */
static int
resolve_action (const char *name, bool has_errno_ret, unsigned errno_ret, const char *field,
                const char *errno_field, uint32_t *out, sp_error_t *err)
{
  const struct action_info *a = NULL;

  if (name == NULL)
    return sp_error_make (err, 0, "%s: missing", field);
  for (size_t i = 0; i < SP_ARRAY_SIZE (actions); i++)
    if (strcmp (actions[i].name, name) == 0)
      a = &actions[i];
  if (a == NULL)
    return sp_error_make (err, 0, "%s: unknown action \"%s\"", field, name);

  switch (a->data)
    {
    case DATA_NONE:
      if (has_errno_ret)
        return sp_error_make (err, 0, "%s: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not %s", errno_field,
                              name);
      *out = a->action;
      return 0;
    case DATA_ERRNO:
      /* The kernel treats larger values as "return value", not errno. */
      if (has_errno_ret && errno_ret > 4095)
        return sp_error_make (err, 0, "%s: %u is out of range (0-4095)", errno_field, errno_ret);
      *out = SCMP_ACT_ERRNO (has_errno_ret ? errno_ret : EPERM);
      return 0;
    case DATA_TRACE:
      if (has_errno_ret && errno_ret > 0xffff)
        return sp_error_make (err, 0, "%s: %u is out of range (0-65535)", errno_field, errno_ret);
      *out = SCMP_ACT_TRACE (has_errno_ret ? errno_ret : EPERM);
      return 0;
    }
  return sp_error_make (err, 0, "%s: unhandled action \"%s\"", field, name);
}

static int
resolve_operator (const char *name, const char *field, enum scmp_compare *out, sp_error_t *err)
{
  if (name == NULL)
    return sp_error_make (err, 0, "%s: missing", field);
  for (size_t i = 0; i < SP_ARRAY_SIZE (operators); i++)
    if (strcmp (operators[i].name, name) == 0)
      {
        *out = operators[i].op;
        return 0;
      }
  return sp_error_make (err, 0, "%s: unknown operator \"%s\"", field, name);
}

static int
add_architectures (scmp_filter_ctx ctx, char *const *names, sp_error_t *err)
{
  for (size_t i = 0; names && names[i]; i++)
    {
      const struct arch_info *a = NULL;
      int ret;

      for (size_t j = 0; j < SP_ARRAY_SIZE (archs); j++)
        if (strcmp (archs[j].name, names[i]) == 0)
          a = &archs[j];
      if (a == NULL)
        return sp_error_make (err, 0, "linux.seccomp.architectures[%zu]: unknown architecture \"%s\"", i, names[i]);
      ret = seccomp_arch_add (ctx, a->token);
      if (ret == -EDOM)
        {
          /* Other endianness than the native one: libseccomp cannot mix
           * them, and no process of that arch can run on this kernel. */
          sp_debug ("seccomp: architecture %s cannot run here, skipped", names[i]);
          continue;
        }
      if (ret < 0 && ret != -EEXIST) /* EEXIST: the native one, always present */
        return sp_error_make (err, -ret, "linux.seccomp.architectures[%zu]: add \"%s\"", i, names[i]);
    }
  return 0;
}

static int
resolve_flags (char *const *names, unsigned int *out, sp_error_t *err)
{
  *out = 0;
  for (size_t i = 0; names && names[i]; i++)
    {
      const struct flag_info *f = NULL;

      for (size_t j = 0; j < SP_ARRAY_SIZE (flags); j++)
        if (strcmp (flags[j].name, names[i]) == 0)
          f = &flags[j];
      if (f == NULL)
        return sp_error_make (err, 0, "linux.seccomp.flags[%zu]: unknown flag \"%s\"", i, names[i]);
      *out |= f->flag;
    }
  return 0;
}

/* Converts the args of one syscall entry.  Returns whether some index is
 * used twice: libseccomp ANDs all comparisons of one rule and refuses two on
 * the same argument, so such entries become one rule per comparison (OR),
 * which is what runc and crun do too. */
static int
convert_args (const struct oci_seccomp_syscall *sc, size_t idx, struct scmp_arg_cmp *cmps, bool *split,
              sp_error_t *err)
{
  unsigned seen = 0;

  *split = false;
  for (size_t i = 0; i < sc->args_len; i++)
    {
      const struct oci_seccomp_arg *a = &sc->args[i];
      cleanup_free char *field = sp_xasprintf ("linux.seccomp.syscalls[%zu].args[%zu]", idx, i);
      cleanup_free char *op_field = sp_xasprintf ("%s.op", field);
      enum scmp_compare op = _SCMP_CMP_MIN;

      if (a->index >= 6)
        return sp_error_make (err, 0, "%s.index: %u is out of range (0-5)", field, a->index);
      if (resolve_operator (a->op, op_field, &op, err) < 0)
        return -1;
      if (seen & (1u << a->index))
        *split = true;
      seen |= 1u << a->index;
      /* For SCMP_CMP_MASKED_EQ datum_a is the mask and datum_b the value,
       * matching OCI's value/valueTwo. */
      cmps[i] = (struct scmp_arg_cmp) { .arg = a->index, .op = op, .datum_a = a->value, .datum_b = a->value_two };
    }
  return 0;
}

static int
add_syscall_entry (scmp_filter_ctx ctx, const struct oci_seccomp_syscall *sc, size_t idx, uint32_t default_action,
                   bool *uses_notify, sp_error_t *err)
{
  cleanup_free char *field = sp_xasprintf ("linux.seccomp.syscalls[%zu].action", idx);
  cleanup_free char *errno_field = sp_xasprintf ("linux.seccomp.syscalls[%zu].errnoRet", idx);
  struct scmp_arg_cmp cmps[64];
  uint32_t action = 0;
  bool split;

  if (resolve_action (sc->action, sc->has_errno_ret, sc->errno_ret, field, errno_field, &action, err) < 0)
    return -1;
  if (sc->args_len > SP_ARRAY_SIZE (cmps))
    return sp_error_make (err, 0, "linux.seccomp.syscalls[%zu].args: %zu comparisons, at most %zu supported", idx,
                          sc->args_len, SP_ARRAY_SIZE (cmps));
  if (convert_args (sc, idx, cmps, &split, err) < 0)
    return -1;
  if (action == default_action)
    {
      /* libseccomp refuses rules that repeat the default; they change nothing. */
      sp_debug ("seccomp: syscalls[%zu] has the default action, skipped", idx);
      return 0;
    }
  if (action == SCMP_ACT_NOTIFY)
    *uses_notify = true;

  for (size_t n = 0; sc->names && sc->names[n]; n++)
    {
      const char *name = sc->names[n];
      int nr = seccomp_syscall_resolve_name (name);
      int ret = 0;

      if (nr == __NR_SCMP_ERROR)
        {
          sp_debug ("seccomp: unknown syscall \"%s\" (syscalls[%zu]), skipped", name, idx);
          continue;
        }
      if (!split)
        ret = seccomp_rule_add_array (ctx, action, nr, (unsigned) sc->args_len, cmps);
      else
        for (size_t i = 0; i < sc->args_len && ret >= 0; i++)
          ret = seccomp_rule_add_array (ctx, action, nr, 1, &cmps[i]);
      if (ret < 0)
        return sp_error_make (err, -ret, "linux.seccomp.syscalls[%zu].names[%zu]: add rule for \"%s\"", idx, n, name);
    }
  return 0;
}

/* Exports the BPF program of ctx into memory (through a memfd: libseccomp
 * 2.5 can only write to an fd). */
static int
export_bpf (scmp_filter_ctx ctx, struct sp_seccomp *f, sp_error_t *err)
{
  cleanup_close int fd = memfd_create ("samepage-seccomp", MFD_CLOEXEC);
  cleanup_free char *buf = NULL;
  size_t len = 0;
  int ret;

  if (fd < 0)
    return sp_error_errno (err, "memfd_create");
  ret = seccomp_export_bpf (ctx, fd);
  if (ret < 0)
    return sp_error_make (err, -ret, "export the seccomp filter");
  if (lseek (fd, 0, SEEK_SET) < 0)
    return sp_error_errno (err, "lseek seccomp filter");
  if (sp_read_fd (fd, &buf, &len, err) < 0)
    return sp_error_wrap (err, "read the exported seccomp filter");
  if (len == 0 || len % sizeof (struct sock_filter) != 0 || len / sizeof (struct sock_filter) > BPF_MAXINSNS)
    return sp_error_make (err, 0, "exported seccomp filter has an invalid size of %zu bytes", len);
  f->len = (unsigned short) (len / sizeof (struct sock_filter));
  f->insns = sp_xmalloc0 (len);
  memcpy (f->insns, buf, len);
  return 0;
}

static void
release_ctx (scmp_filter_ctx *ctx)
{
  if (*ctx)
    seccomp_release (*ctx);
  *ctx = NULL;
}

int
sp_seccomp_compile (const struct oci_seccomp *s, struct sp_seccomp **out, sp_error_t *err)
{
  __attribute__ ((cleanup (release_ctx))) scmp_filter_ctx ctx = NULL;
  cleanup_seccomp struct sp_seccomp *f = sp_xmalloc0 (sizeof (*f));
  uint32_t default_action = 0;

  if (resolve_action (s->default_action, s->has_default_errno_ret, s->default_errno_ret,
                      "linux.seccomp.defaultAction", "linux.seccomp.defaultErrnoRet", &default_action, err)
      < 0)
    return -1;
  if (default_action == SCMP_ACT_NOTIFY)
    return sp_error_make (err, 0, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
  if (resolve_flags (s->flags, &f->flags, err) < 0)
    return -1;

  ctx = seccomp_init (default_action);
  if (ctx == NULL)
    return sp_error_make (err, 0, "seccomp_init(%s) failed: the kernel or libseccomp lacks this action",
                          s->default_action);
  if (add_architectures (ctx, s->architectures, err) < 0)
    return -1;
  for (size_t i = 0; i < s->syscalls_len; i++)
    if (add_syscall_entry (ctx, &s->syscalls[i], i, default_action, &f->uses_notify, err) < 0)
      return -1;
  if (export_bpf (ctx, f, err) < 0)
    return -1;

  if (f->uses_notify)
    {
      f->flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
      /* TSYNC's failure report (a thread id) would be ambiguous with the
       * listener fd; TSYNC_ESRCH turns it into an error, as the kernel
       * requires for this combination. */
      if (f->flags & SECCOMP_FILTER_FLAG_TSYNC)
        f->flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    }
  else if (f->flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
    {
      /* It only qualifies a listener; without one the kernel rejects it. */
      sp_debug ("seccomp: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ignored: no SCMP_ACT_NOTIFY rule");
      f->flags &= ~(unsigned int) SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    }
  *out = steal_pointer (&f);
  return 0;
}

bool
sp_seccomp_uses_notify (const struct sp_seccomp *f)
{
  return f->uses_notify;
}

void
sp_seccomp_free (struct sp_seccomp *f)
{
  if (f == NULL)
    return;
  free (f->insns);
  free (f);
}

/* ---- Loading ---- */

int
sp_seccomp_load (const struct sp_seccomp *f, int *notify_fd, sp_error_t *err)
{
  struct sock_fprog prog = { .len = f->len, .filter = f->insns };
  long ret;

  if (notify_fd)
    *notify_fd = -1;
  if (f->uses_notify && notify_fd == NULL)
    return sp_error_make (err, EINVAL, "seccomp filter uses SCMP_ACT_NOTIFY but the caller takes no listener fd");

  ret = syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, f->flags, &prog);
  if (ret < 0)
    {
      if (errno == EACCES)
        return sp_error_errno (err, "load seccomp filter (needs no_new_privs or CAP_SYS_ADMIN)");
      return sp_error_errno (err, "load seccomp filter (flags 0x%x)", f->flags);
    }
  if (f->uses_notify)
    {
      *notify_fd = (int) ret;
      /* The listener belongs to the runtime, never to the container's program. */
      if (fcntl (*notify_fd, F_SETFD, FD_CLOEXEC) < 0)
        return sp_error_errno (err, "set close-on-exec on the seccomp listener fd");
      return 0;
    }
  if (ret > 0) /* TSYNC: the id of a thread that could not be synchronised */
    return sp_error_make (err, 0, "load seccomp filter: thread %ld could not be synchronised", ret);
  return 0;
}

int
sp_seccomp_send_notify_fd (const char *listener_path, int notify_fd, const char *state_json, sp_error_t *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } control;
  size_t len = strlen (state_json);
  struct iovec iov = { .iov_base = (void *) state_json, .iov_len = len };
  struct msghdr msg = {
    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf
  };
  struct cmsghdr *cmsg;
  cleanup_close int sock = -1;
  ssize_t sent;

  if (strlen (listener_path) >= sizeof addr.sun_path)
    return sp_error_make (err, ENAMETOOLONG, "linux.seccomp.listenerPath `%s`", listener_path);
  if (len == 0)
    return sp_error_make (err, EINVAL, "seccomp listener: empty container state");
  strcpy (addr.sun_path, listener_path);

  sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return sp_error_errno (err, "socket");
  if (connect (sock, (struct sockaddr *) &addr, sizeof addr) < 0)
    return sp_error_errno (err, "connect to seccomp listener `%s`", listener_path);

  memset (control.buf, 0, sizeof control.buf);
  cmsg = CMSG_FIRSTHDR (&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cmsg), &notify_fd, sizeof (int));

  do
    sent = sendmsg (sock, &msg, MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  if (sent < 0)
    return sp_error_errno (err, "send the seccomp listener fd to `%s`", listener_path);
  /* The fd went with the first bytes; the rest of the state is plain data.
   * MSG_NOSIGNAL: an agent that hangs up must not kill us with SIGPIPE. */
  for (size_t done = (size_t) sent; done < len; done += (size_t) sent)
    {
      sent = send (sock, state_json + done, len - done, MSG_NOSIGNAL);
      if (sent < 0 && errno == EINTR)
        sent = 0;
      else if (sent < 0)
        return sp_error_errno (err, "send the container state to `%s`", listener_path);
    }
  return 0;
}
