/* Joining namespaces by path, user namespace maps and time namespace offsets. */
#include "setup.h"

#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool
sp_namespace_wanted (struct oci_linux *l, enum oci_namespace_type t, const char **path)
{
  if (l == NULL)
    return false;
  for (size_t i = 0; i < l->namespaces_len; i++)
    if (l->namespaces[i].type == t)
      {
        if (path)
          *path = l->namespaces[i].path;
        return true;
      }
  return false;
}

/* Joins every namespace the config names by path, except pid and time
 * (those affect children only and are joined by whoever forks init) and,
 * unless user_too, the user namespace, which must come last: once in
 * another user namespace we lose the privilege to join the others.  All
 * paths are opened before the first setns so a mount namespace switch
 * cannot hide the next path. */
int
sp_namespaces_join_paths (struct oci_linux *l, bool user_too, sp_error_t *err)
{
  int fds[OCI_NS_TYPES];
  int ret = 0;

  for (int t = 0; t < OCI_NS_TYPES; t++)
    fds[t] = -1;
  if (l == NULL)
    return 0;
  for (size_t i = 0; i < l->namespaces_len; i++)
    {
      struct oci_namespace *ns = &l->namespaces[i];
      if (ns->path == NULL || ns->type == OCI_NS_PID || ns->type == OCI_NS_TIME)
        continue;
      if (ns->type == OCI_NS_USER && !user_too)
        continue;
      fds[ns->type] = open (ns->path, O_RDONLY | O_CLOEXEC);
      if (fds[ns->type] < 0)
        {
          ret = sp_error_errno (err, "open %s namespace `%s`", oci_namespaces[ns->type].name, ns->path);
          goto out;
        }
    }
  for (int t = 0; t < OCI_NS_TYPES; t++)
    {
      if (fds[t] < 0 || t == OCI_NS_USER)
        continue;
      if (setns (fds[t], oci_namespaces[t].clone_flag) < 0)
        {
          ret = sp_error_errno (err, "join %s namespace", oci_namespaces[t].name);
          goto out;
        }
    }
  if (fds[OCI_NS_USER] >= 0 && setns (fds[OCI_NS_USER], CLONE_NEWUSER) < 0)
    ret = sp_error_errno (err, "join user namespace");
out:
  for (int t = 0; t < OCI_NS_TYPES; t++)
    sp_closep (&fds[t]);
  return ret;
}

static char *
format_map (struct oci_id_mapping *m, size_t n)
{
  size_t cap = 32 * n + 1, len = 0;
  char *s = sp_xmalloc0 (cap);
  for (size_t i = 0; i < n; i++)
    len += (size_t) snprintf (s + len, cap - len, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
  return s;
}

int
sp_write_id_maps (pid_t pid, struct oci_linux *l, sp_error_t *err)
{
  char path[64];
  cleanup_free char *uids = NULL;
  cleanup_free char *gids = NULL;

  if (l->uid_mappings_len == 0 || l->gid_mappings_len == 0)
    return sp_error_make (err, EINVAL, "config.json: linux.uidMappings and linux.gidMappings are required "
                                       "with a new user namespace");
  uids = format_map (l->uid_mappings, l->uid_mappings_len);
  gids = format_map (l->gid_mappings, l->gid_mappings_len);
  snprintf (path, sizeof path, "/proc/%d/uid_map", pid);
  if (sp_write_file (path, uids, strlen (uids), 0, err) < 0)
    return sp_error_wrap (err, "write uid mappings");
  snprintf (path, sizeof path, "/proc/%d/gid_map", pid);
  if (sp_write_file (path, gids, strlen (gids), 0, err) < 0)
    return sp_error_wrap (err, "write gid mappings");
  return 0;
}

int
sp_write_time_offsets (struct oci_linux *l, sp_error_t *err)
{
  char buf[128];
  int n = 0;

  if (l->has_time_monotonic)
    n += snprintf (buf + n, sizeof buf - (size_t) n, "monotonic %lld %u\n", (long long) l->time_monotonic.secs,
                   l->time_monotonic.nanosecs);
  if (l->has_time_boottime)
    n += snprintf (buf + n, sizeof buf - (size_t) n, "boottime %lld %u\n", (long long) l->time_boottime.secs,
                   l->time_boottime.nanosecs);
  if (n == 0)
    return 0;
  if (sp_write_file ("/proc/self/timens_offsets", buf, (size_t) n, 0, err) < 0)
    return sp_error_wrap (err, "set time namespace offsets");
  return 0;
}
