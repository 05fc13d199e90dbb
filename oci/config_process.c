/* config.json `process` (also the whole of `exec --process FILE`). */
#include "config_parse.h"

#include <samepage/util.h>

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const struct
{
  const char *name;
  int resource;
} rlimit_names[] = {
  { "RLIMIT_AS", RLIMIT_AS },
  { "RLIMIT_CORE", RLIMIT_CORE },
  { "RLIMIT_CPU", RLIMIT_CPU },
  { "RLIMIT_DATA", RLIMIT_DATA },
  { "RLIMIT_FSIZE", RLIMIT_FSIZE },
  { "RLIMIT_LOCKS", RLIMIT_LOCKS },
  { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
  { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
  { "RLIMIT_NICE", RLIMIT_NICE },
  { "RLIMIT_NOFILE", RLIMIT_NOFILE },
  { "RLIMIT_NPROC", RLIMIT_NPROC },
  { "RLIMIT_RSS", RLIMIT_RSS },
  { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
  { "RLIMIT_RTTIME", RLIMIT_RTTIME },
  { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
  { "RLIMIT_STACK", RLIMIT_STACK },
};

static const char *const sched_policies[] = {
  "SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO", "SCHED_IDLE", "SCHED_DEADLINE", NULL,
};

static const char *const sched_flags[] = {
  "SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM",        "SCHED_FLAG_DL_OVERRUN",     "SCHED_FLAG_KEEP_POLICY",
  "SCHED_FLAG_KEEP_PARAMS",   "SCHED_FLAG_UTIL_CLAMP_MIN", "SCHED_FLAG_UTIL_CLAMP_MAX", NULL,
};

static const char *const ioprio_classes[] = { "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE", NULL };

static int
parse_rlimit (struct oci_parser *p, yajl_val v, void *elem)
{
  struct oci_rlimit *rl = elem;
  size_t i;

  if (oci_field_string (p, v, "type", true, &rl->type) < 0)
    return -1;
  for (i = 0; i < SP_ARRAY_SIZE (rlimit_names); i++)
    if (strcmp (rlimit_names[i].name, rl->type) == 0)
      break;
  if (i == SP_ARRAY_SIZE (rlimit_names))
    return oci_fail_at (p, "type", "unknown rlimit \"%s\"", rl->type);
  rl->resource = rlimit_names[i].resource;
  if (oci_field_u64 (p, v, "soft", true, &rl->soft, NULL) < 0 || oci_field_u64 (p, v, "hard", true, &rl->hard, NULL) < 0)
    return -1;
  /* setrlimit(2) refuses soft > hard with EINVAL; say so here instead. */
  if (rl->soft > rl->hard)
    return oci_fail_at (p, "soft", "%llu is greater than hard limit %llu", (unsigned long long) rl->soft,
                        (unsigned long long) rl->hard);
  return 0;
}

static int
parse_rlimits (struct oci_parser *p, yajl_val v, struct oci_process *proc)
{
  if (oci_field_objects (p, v, "rlimits", sizeof (struct oci_rlimit), parse_rlimit, &proc->rlimits,
                         &proc->rlimits_len)
      < 0)
    return -1;
  /* The spec: duplicated types MUST be an error. */
  for (size_t i = 0; i < proc->rlimits_len; i++)
    for (size_t j = 0; j < i; j++)
      if (proc->rlimits[i].resource == proc->rlimits[j].resource)
        {
          size_t saved = oci_path_key (p, "rlimits");
          oci_path_index (p, i);
          oci_fail_at (p, "type", "duplicate rlimit \"%s\"", proc->rlimits[i].type);
          oci_path_restore (p, saved);
          return -1;
        }
  return 0;
}

static int
parse_user (struct oci_parser *p, yajl_val v, struct oci_user *user)
{
  yajl_val gids;

  if (oci_field_u32 (p, v, "uid", true, &user->uid, NULL) < 0
      || oci_field_u32 (p, v, "gid", true, &user->gid, NULL) < 0
      || oci_field_u32 (p, v, "umask", false, &user->umask, &user->has_umask) < 0
      || oci_field_string (p, v, "username", false, &user->username) < 0
      || oci_field_array (p, v, "additionalGids", false, &gids) < 0)
    return -1;
  if (user->has_umask && user->umask > 0777)
    return oci_fail_at (p, "umask", "%#o is not a valid umask", user->umask);
  if (gids)
    {
      size_t saved = oci_path_key (p, "additionalGids");
      user->additional_gids_len = gids->u.array.len;
      user->additional_gids = sp_xmalloc0 (gids->u.array.len * sizeof (uint32_t));
      for (size_t i = 0; i < gids->u.array.len; i++)
        {
          size_t saved_index = oci_path_index (p, i);
          uint64_t gid;
          if (oci_val_uint (p, gids->u.array.values[i], UINT32_MAX, &gid) < 0)
            return -1;
          user->additional_gids[i] = (uint32_t) gid;
          oci_path_restore (p, saved_index);
        }
      oci_path_restore (p, saved);
    }
  return 0;
}

static int
parse_capabilities (struct oci_parser *p, yajl_val v, struct oci_capabilities *caps)
{
  /* Names are resolved (and unknown ones warned about, as the spec asks)
   * where they are applied. */
  if (oci_field_strv (p, v, "bounding", false, &caps->bounding) < 0
      || oci_field_strv (p, v, "effective", false, &caps->effective) < 0
      || oci_field_strv (p, v, "inheritable", false, &caps->inheritable) < 0
      || oci_field_strv (p, v, "permitted", false, &caps->permitted) < 0
      || oci_field_strv (p, v, "ambient", false, &caps->ambient) < 0)
    return -1;
  return 0;
}

static int
parse_scheduler (struct oci_parser *p, yajl_val v, struct oci_scheduler *s)
{
  if (oci_field_enum (p, v, "policy", true, sched_policies, "scheduler policy", &s->policy) < 0
      || oci_field_int (p, v, "nice", false, -20, 19, &s->nice, NULL) < 0
      || oci_field_int (p, v, "priority", false, INT32_MIN, INT32_MAX, &s->priority, NULL) < 0
      || oci_field_strv (p, v, "flags", false, &s->flags) < 0
      || oci_field_u64 (p, v, "runtime", false, &s->runtime, NULL) < 0
      || oci_field_u64 (p, v, "deadline", false, &s->deadline, NULL) < 0
      || oci_field_u64 (p, v, "period", false, &s->period, NULL) < 0)
    return -1;
  for (size_t i = 0; s->flags && s->flags[i]; i++)
    {
      size_t k;
      for (k = 0; sched_flags[k]; k++)
        if (strcmp (sched_flags[k], s->flags[i]) == 0)
          break;
      if (sched_flags[k] == NULL)
        {
          size_t saved = oci_path_key (p, "flags");
          oci_path_index (p, i);
          oci_fail (p, "unknown scheduler flag \"%s\"", s->flags[i]);
          oci_path_restore (p, saved);
          return -1;
        }
    }
  return 0;
}

/* "0-3,7": comma-separated CPU numbers and ranges. */
static bool
valid_cpu_list (const char *s)
{
  if (*s == '\0')
    return false;
  for (;;)
    {
      size_t n = strspn (s, "0123456789");
      if (n == 0)
        return false;
      s += n;
      if (*s == '-')
        {
          n = strspn (++s, "0123456789");
          if (n == 0)
            return false;
          s += n;
        }
      if (*s == '\0')
        return true;
      if (*s++ != ',')
        return false;
    }
}

static int
parse_cpu_affinity_field (struct oci_parser *p, yajl_val v, const char *key, char **out)
{
  if (oci_field_string (p, v, key, false, out) < 0)
    return -1;
  if (*out && !valid_cpu_list (*out))
    return oci_fail_at (p, key, "invalid CPU list \"%s\"", *out);
  return 0;
}


static int
parse_console_size (struct oci_parser *p, yajl_val v, struct oci_console_size *cs)
{
  uint32_t height = 0, width = 0;
  if (oci_field_u32 (p, v, "height", true, &height, NULL) < 0 || oci_field_u32 (p, v, "width", true, &width, NULL) < 0)
    return -1;
  cs->height = height;
  cs->width = width;
  return 0;
}

static int
parse_io_priority (struct oci_parser *p, yajl_val v, struct oci_io_priority *io)
{
  if (oci_field_enum (p, v, "class", true, ioprio_classes, "I/O priority class", &io->class_) < 0
      || oci_field_int (p, v, "priority", true, 0, 7, &io->priority, NULL) < 0)
    return -1;
  return 0;
}

static int
parse_exec_cpu_affinity (struct oci_parser *p, yajl_val v, struct oci_exec_cpu_affinity *a)
{
  if (parse_cpu_affinity_field (p, v, "initial", &a->initial) < 0
      || parse_cpu_affinity_field (p, v, "final", &a->final) < 0)
    return -1;
  return 0;
}

int
oci_parse_process_object (struct oci_parser *p, yajl_val v, struct oci_process *proc)
{
  yajl_val user;

  if (oci_field_bool (p, v, "terminal", false, &proc->terminal, NULL) < 0)
    return -1;
  OCI_SUBOBJECT (p, v, "consoleSize", proc->console_size, parse_console_size);

  if (oci_field_object (p, v, "user", false, &user) < 0)
    return -1;
  if (user)
    {
      size_t saved = oci_path_key (p, "user");
      if (parse_user (p, user, &proc->user) < 0)
        return -1;
      oci_path_restore (p, saved);
    }

  /* On Linux args must hold at least the program to run. */
  if (oci_field_strv (p, v, "args", true, &proc->args) < 0)
    return -1;
  if (proc->args[0] == NULL)
    return oci_fail_at (p, "args", "must not be empty");
  if (oci_field_string (p, v, "commandLine", false, &proc->command_line) < 0
      || oci_field_strv (p, v, "env", false, &proc->env) < 0
      || oci_field_abs_path (p, v, "cwd", true, &proc->cwd) < 0)
    return -1;

  OCI_SUBOBJECT (p, v, "capabilities", proc->capabilities, parse_capabilities);
  if (parse_rlimits (p, v, proc) < 0)
    return -1;

  if (oci_field_bool (p, v, "noNewPrivileges", false, &proc->no_new_privileges, NULL) < 0
      || oci_field_string (p, v, "apparmorProfile", false, &proc->apparmor_profile) < 0
      || oci_field_int (p, v, "oomScoreAdj", false, -1000, 1000, &proc->oom_score_adj, &proc->has_oom_score_adj) < 0
      || oci_field_string (p, v, "selinuxLabel", false, &proc->selinux_label) < 0)
    return -1;

  OCI_SUBOBJECT (p, v, "scheduler", proc->scheduler, parse_scheduler);
  OCI_SUBOBJECT (p, v, "ioPriority", proc->io_priority, parse_io_priority);
  OCI_SUBOBJECT (p, v, "execCPUAffinity", proc->exec_cpu_affinity, parse_exec_cpu_affinity);
  return 0;
}

void
oci_process_clear (struct oci_process *proc)
{
  free (proc->console_size);
  free (proc->user.additional_gids);
  free (proc->user.username);
  oci_strv_free (proc->args);
  free (proc->command_line);
  oci_strv_free (proc->env);
  free (proc->cwd);
  if (proc->capabilities)
    {
      oci_strv_free (proc->capabilities->bounding);
      oci_strv_free (proc->capabilities->effective);
      oci_strv_free (proc->capabilities->inheritable);
      oci_strv_free (proc->capabilities->permitted);
      oci_strv_free (proc->capabilities->ambient);
      free (proc->capabilities);
    }
  for (size_t i = 0; proc->rlimits && i < proc->rlimits_len; i++)
    free (proc->rlimits[i].type);
  free (proc->rlimits);
  free (proc->apparmor_profile);
  free (proc->selinux_label);
  if (proc->scheduler)
    {
      free (proc->scheduler->policy);
      oci_strv_free (proc->scheduler->flags);
      free (proc->scheduler);
    }
  if (proc->io_priority)
    free (proc->io_priority->class_);
  free (proc->io_priority);
  if (proc->exec_cpu_affinity)
    {
      free (proc->exec_cpu_affinity->initial);
      free (proc->exec_cpu_affinity->final);
      free (proc->exec_cpu_affinity);
    }
  memset (proc, 0, sizeof *proc);
}
