/* config.json `linux`: namespaces, id mappings, devices, seccomp and the
 * smaller Linux-only settings.  `linux.resources` is in config_resources.c. */
#include "config_parse.h"

#include <samepage/util.h>

#include <stdlib.h>
#include <string.h>

static const char *const propagations[] = {
  "shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable", NULL,
};

static const char *const seccomp_actions[] = {
  "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",   "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW",       "SCMP_ACT_LOG",         "SCMP_ACT_NOTIFY", NULL,
};

static const char *const seccomp_architectures[] = {
  "SCMP_ARCH_X86",       "SCMP_ARCH_X86_64", "SCMP_ARCH_X32",      "SCMP_ARCH_ARM",         "SCMP_ARCH_AARCH64",
  "SCMP_ARCH_MIPS",      "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",     "SCMP_ARCH_MIPSEL64",
  "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",  "SCMP_ARCH_PPC64",    "SCMP_ARCH_PPC64LE",     "SCMP_ARCH_S390",
  "SCMP_ARCH_S390X",     "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",     "SCMP_ARCH_LOONGARCH64",
  NULL,
};

static const char *const seccomp_flags[] = {
  "SECCOMP_FILTER_FLAG_TSYNC",
  "SECCOMP_FILTER_FLAG_LOG",
  "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
  NULL,
};

static const char *const seccomp_ops[] = {
  "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ", NULL,
};

static const char *const personality_domains[] = { "LINUX", "LINUX32", NULL };

/* Checks every entry of an already parsed vector against a table. */
static int
check_strv_enum (struct oci_parser *p, const char *key, char **values, const char *const *allowed, const char *what)
{
  for (size_t i = 0; values && values[i]; i++)
    {
      const char *const *a;
      for (a = allowed; *a; a++)
        if (strcmp (*a, values[i]) == 0)
          break;
      if (*a == NULL)
        {
          size_t saved = oci_path_key (p, key);
          oci_path_index (p, i);
          oci_fail (p, "unknown %s \"%s\"", what, values[i]);
          oci_path_restore (p, saved);
          return -1;
        }
    }
  return 0;
}

static int
check_strv_abs (struct oci_parser *p, const char *key, char **values)
{
  for (size_t i = 0; values && values[i]; i++)
    if (values[i][0] != '/')
      {
        size_t saved = oci_path_key (p, key);
        oci_path_index (p, i);
        oci_fail (p, "\"%s\" is not an absolute path", values[i]);
        oci_path_restore (p, saved);
        return -1;
      }
  return 0;
}

static int
parse_namespace (struct oci_parser *p, yajl_val v, void *elem)
{
  struct oci_namespace *ns = elem;
  const char *names[OCI_NS_TYPES + 1];
  char *type = NULL;
  int ret;

  for (int i = 0; i < OCI_NS_TYPES; i++)
    names[i] = oci_namespaces[i].name;
  names[OCI_NS_TYPES] = NULL;
  ret = oci_field_enum (p, v, "type", true, names, "namespace", &type);
  if (ret == 0)
    for (int i = 0; i < OCI_NS_TYPES; i++)
      if (strcmp (type, oci_namespaces[i].name) == 0)
        ns->type = (enum oci_namespace_type) i;
  free (type);
  if (ret < 0)
    return -1;
  return oci_field_abs_path (p, v, "path", false, &ns->path);
}

static int
parse_namespaces (struct oci_parser *p, yajl_val v, struct oci_linux *lx)
{
  if (oci_field_objects (p, v, "namespaces", sizeof (struct oci_namespace), parse_namespace, &lx->namespaces,
                         &lx->namespaces_len)
      < 0)
    return -1;
  for (size_t i = 0; i < lx->namespaces_len; i++)
    for (size_t j = 0; j < i; j++)
      if (lx->namespaces[i].type == lx->namespaces[j].type)
        {
          size_t saved = oci_path_key (p, "namespaces");
          oci_path_index (p, i);
          oci_fail_at (p, "type", "duplicate namespace \"%s\"", oci_namespaces[lx->namespaces[i].type].name);
          oci_path_restore (p, saved);
          return -1;
        }
  return 0;
}

static int
parse_device (struct oci_parser *p, yajl_val v, void *elem)
{
  struct oci_device *d = elem;
  char *type = NULL;
  static const char *const types[] = { "c", "b", "u", "p", NULL };
  int ret;

  ret = oci_field_enum (p, v, "type", true, types, "device type", &type);
  if (ret == 0)
    d->type = type[0];
  free (type);
  if (ret < 0)
    return -1;
  /* major and minor are required for everything but FIFOs. */
  if (oci_field_abs_path (p, v, "path", true, &d->path) < 0
      || oci_field_i64 (p, v, "major", d->type != 'p', &d->major, NULL) < 0
      || oci_field_i64 (p, v, "minor", d->type != 'p', &d->minor, NULL) < 0
      || oci_field_u32 (p, v, "fileMode", false, &d->file_mode, &d->has_file_mode) < 0
      || oci_field_u32 (p, v, "uid", false, &d->uid, &d->has_uid) < 0
      || oci_field_u32 (p, v, "gid", false, &d->gid, &d->has_gid) < 0)
    return -1;
  return 0;
}

static int
parse_seccomp_arg (struct oci_parser *p, yajl_val v, void *elem)
{
  struct oci_seccomp_arg *a = elem;
  int index = 0;

  /* Six syscall arguments: index 0..5. */
  if (oci_field_int (p, v, "index", true, 0, 5, &index, NULL) < 0
      || oci_field_u64 (p, v, "value", true, &a->value, NULL) < 0
      || oci_field_u64 (p, v, "valueTwo", false, &a->value_two, NULL) < 0
      || oci_field_enum (p, v, "op", true, seccomp_ops, "operator", &a->op) < 0)
    return -1;
  a->index = (unsigned) index;
  return 0;
}

static int
parse_seccomp_syscall (struct oci_parser *p, yajl_val v, void *elem)
{
  struct oci_seccomp_syscall *s = elem;
  uint32_t errno_ret = 0;

  if (oci_field_strv (p, v, "names", true, &s->names) < 0)
    return -1;
  if (s->names[0] == NULL)
    return oci_fail_at (p, "names", "must not be empty");
  if (oci_field_enum (p, v, "action", true, seccomp_actions, "action", &s->action) < 0
      || oci_field_u32 (p, v, "errnoRet", false, &errno_ret, &s->has_errno_ret) < 0
      || oci_field_objects (p, v, "args", sizeof (struct oci_seccomp_arg), parse_seccomp_arg, &s->args,
                            &s->args_len)
             < 0)
    return -1;
  s->errno_ret = errno_ret;
  return 0;
}

static int
parse_seccomp (struct oci_parser *p, yajl_val v, struct oci_seccomp *s)
{
  uint32_t errno_ret = 0;
  bool notify;

  if (oci_field_enum (p, v, "defaultAction", true, seccomp_actions, "action", &s->default_action) < 0
      || oci_field_u32 (p, v, "defaultErrnoRet", false, &errno_ret, &s->has_default_errno_ret) < 0
      || oci_field_strv (p, v, "architectures", false, &s->architectures) < 0
      || check_strv_enum (p, "architectures", s->architectures, seccomp_architectures, "architecture") < 0
      || oci_field_strv (p, v, "flags", false, &s->flags) < 0
      || check_strv_enum (p, "flags", s->flags, seccomp_flags, "seccomp flag") < 0
      || oci_field_abs_path (p, v, "listenerPath", false, &s->listener_path) < 0
      || oci_field_string (p, v, "listenerMetadata", false, &s->listener_metadata) < 0
      || oci_field_objects (p, v, "syscalls", sizeof (struct oci_seccomp_syscall), parse_seccomp_syscall,
                            &s->syscalls, &s->syscalls_len)
             < 0)
    return -1;
  s->default_errno_ret = errno_ret;

  /* SCMP_ACT_NOTIFY hands the listener fd to listenerPath: without it there
   * is nobody to answer, and the container would hang. */
  notify = strcmp (s->default_action, "SCMP_ACT_NOTIFY") == 0;
  for (size_t i = 0; i < s->syscalls_len; i++)
    notify |= strcmp (s->syscalls[i].action, "SCMP_ACT_NOTIFY") == 0;
  if (notify && s->listener_path == NULL)
    return oci_fail_at (p, "listenerPath", "required when SCMP_ACT_NOTIFY is used");
  return 0;
}

static int
parse_intel_rdt (struct oci_parser *p, yajl_val v, struct oci_intel_rdt *rdt)
{
  if (oci_field_string (p, v, "closID", false, &rdt->clos_id) < 0
      || oci_field_string (p, v, "l3CacheSchema", false, &rdt->l3_cache_schema) < 0
      || oci_field_string (p, v, "memBwSchema", false, &rdt->mem_bw_schema) < 0
      || oci_field_bool (p, v, "enableCMT", false, &rdt->enable_cmt, NULL) < 0
      || oci_field_bool (p, v, "enableMBM", false, &rdt->enable_mbm, NULL) < 0)
    return -1;
  return 0;
}

static int
parse_personality (struct oci_parser *p, yajl_val v, struct oci_personality *pers)
{
  if (oci_field_enum (p, v, "domain", true, personality_domains, "personality domain", &pers->domain) < 0
      || oci_field_strv (p, v, "flags", false, &pers->flags) < 0)
    return -1;
  return 0;
}

static int
parse_time_offset (struct oci_parser *p, yajl_val v, struct oci_time_offset *t)
{
  if (oci_val_object (p, v) < 0 || oci_field_i64 (p, v, "secs", false, &t->secs, NULL) < 0
      || oci_field_u32 (p, v, "nanosecs", false, &t->nanosecs, NULL) < 0)
    return -1;
  if (t->nanosecs >= 1000000000u)
    return oci_fail_at (p, "nanosecs", "%u is out of range (0..999999999)", (unsigned) t->nanosecs);
  return 0;
}

/* Only these two clocks can be offset in a time namespace. */
static int
parse_time_offsets (struct oci_parser *p, yajl_val v, struct oci_linux *lx)
{
  for (size_t i = 0; i < v->u.object.len; i++)
    {
      const char *clock = v->u.object.keys[i];
      size_t saved = oci_path_key (p, clock);
      int ret;

      if (strcmp (clock, "monotonic") == 0)
        {
          ret = parse_time_offset (p, v->u.object.values[i], &lx->time_monotonic);
          lx->has_time_monotonic = true;
        }
      else if (strcmp (clock, "boottime") == 0)
        {
          ret = parse_time_offset (p, v->u.object.values[i], &lx->time_boottime);
          lx->has_time_boottime = true;
        }
      else
        ret = oci_fail (p, "unknown clock \"%s\" (expected monotonic or boottime)", clock);
      if (ret < 0)
        return -1;
      oci_path_restore (p, saved);
    }
  return 0;
}

int
oci_parse_linux (struct oci_parser *p, yajl_val v, struct oci_linux *lx)
{
  yajl_val sub;

  if (oci_field_objects (p, v, "uidMappings", sizeof (struct oci_id_mapping), oci_parse_id_mapping,
                         &lx->uid_mappings, &lx->uid_mappings_len)
          < 0
      || oci_field_objects (p, v, "gidMappings", sizeof (struct oci_id_mapping), oci_parse_id_mapping,
                            &lx->gid_mappings, &lx->gid_mappings_len)
             < 0
      || oci_field_string_map (p, v, "sysctl", &lx->sysctl, &lx->sysctl_len) < 0)
    return -1;
  OCI_SUBOBJECT (p, v, "resources", lx->resources, oci_parse_resources);
  if (oci_field_string (p, v, "cgroupsPath", false, &lx->cgroups_path) < 0 || parse_namespaces (p, v, lx) < 0
      || oci_field_objects (p, v, "devices", sizeof (struct oci_device), parse_device, &lx->devices,
                            &lx->devices_len)
             < 0)
    return -1;
  OCI_SUBOBJECT (p, v, "seccomp", lx->seccomp, parse_seccomp);
  if (oci_field_enum (p, v, "rootfsPropagation", false, propagations, "propagation", &lx->rootfs_propagation) < 0
      || oci_field_strv (p, v, "maskedPaths", false, &lx->masked_paths) < 0
      || check_strv_abs (p, "maskedPaths", lx->masked_paths) < 0
      || oci_field_strv (p, v, "readonlyPaths", false, &lx->readonly_paths) < 0
      || check_strv_abs (p, "readonlyPaths", lx->readonly_paths) < 0
      || oci_field_string (p, v, "mountLabel", false, &lx->mount_label) < 0)
    return -1;
  OCI_SUBOBJECT (p, v, "intelRdt", lx->intel_rdt, parse_intel_rdt);
  OCI_SUBOBJECT (p, v, "personality", lx->personality, parse_personality);

  if (oci_field_object (p, v, "timeOffsets", false, &sub) < 0)
    return -1;
  if (sub)
    {
      size_t saved = oci_path_key (p, "timeOffsets");
      if (parse_time_offsets (p, sub, lx) < 0)
        return -1;
      oci_path_restore (p, saved);
    }
  return 0;
}

static void
seccomp_free (struct oci_seccomp *s)
{
  if (s == NULL)
    return;
  free (s->default_action);
  oci_strv_free (s->architectures);
  oci_strv_free (s->flags);
  free (s->listener_path);
  free (s->listener_metadata);
  for (size_t i = 0; s->syscalls && i < s->syscalls_len; i++)
    {
      struct oci_seccomp_syscall *sc = &s->syscalls[i];
      oci_strv_free (sc->names);
      free (sc->action);
      for (size_t j = 0; sc->args && j < sc->args_len; j++)
        free (sc->args[j].op);
      free (sc->args);
    }
  free (s->syscalls);
  free (s);
}

void
oci_linux_free (struct oci_linux *lx)
{
  if (lx == NULL)
    return;
  free (lx->uid_mappings);
  free (lx->gid_mappings);
  oci_kv_free (lx->sysctl, lx->sysctl_len);
  oci_resources_free (lx->resources);
  free (lx->cgroups_path);
  for (size_t i = 0; lx->namespaces && i < lx->namespaces_len; i++)
    free (lx->namespaces[i].path);
  free (lx->namespaces);
  for (size_t i = 0; lx->devices && i < lx->devices_len; i++)
    free (lx->devices[i].path);
  free (lx->devices);
  seccomp_free (lx->seccomp);
  free (lx->rootfs_propagation);
  oci_strv_free (lx->masked_paths);
  oci_strv_free (lx->readonly_paths);
  free (lx->mount_label);
  if (lx->intel_rdt)
    {
      free (lx->intel_rdt->clos_id);
      free (lx->intel_rdt->l3_cache_schema);
      free (lx->intel_rdt->mem_bw_schema);
      free (lx->intel_rdt);
    }
  if (lx->personality)
    {
      free (lx->personality->domain);
      oci_strv_free (lx->personality->flags);
      free (lx->personality);
    }
  free (lx);
}
