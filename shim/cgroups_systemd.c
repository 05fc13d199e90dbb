/* The systemd cgroup manager: "slice:prefix:name" paths, and transient
 * scopes started over D-Bus (sd-bus) when systemd runs.  Resources are then
 * written through cgroupfs below the scope, which Delegate=yes allows. */
#include <samepage/cgroups.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

bool
sp_cgroup_systemd_running (void)
{
  /* systemd's own test (sd_booted): this directory exists only under it. */
  return access ("/run/systemd/system", F_OK) == 0;
}

int
sp_cgroup_systemd_expand_slice (const char *slice, char **out, sp_error_t *err)
{
  cleanup_free char *name = NULL;
  char *path;
  size_t len;

  if (slice == NULL || *slice == '\0' || strcmp (slice, "-.slice") == 0)
    {
      *out = sp_xstrdup ("");
      return 0;
    }
  if (!sp_str_has_suffix (slice, ".slice") || strchr (slice, '/'))
    return sp_error_make (err, EINVAL, "linux.cgroupsPath: invalid systemd slice `%s`", slice);
  len = strlen (slice) - strlen (".slice");
  name = strndup (slice, len);
  if (name == NULL)
    abort ();
  if (len == 0 || name[0] == '-' || name[len - 1] == '-' || strstr (name, "--"))
    return sp_error_make (err, EINVAL, "linux.cgroupsPath: invalid systemd slice `%s`", slice);

  /* a-b-c.slice lives in a.slice/a-b.slice/a-b-c.slice. */
  path = sp_xstrdup ("");
  for (const char *dash = strchr (name, '-'); dash; dash = strchr (dash + 1, '-'))
    {
      char *next = sp_xasprintf ("%s/%.*s.slice", path, (int) (dash - name), name);
      free (path);
      path = next;
    }
  *out = sp_xasprintf ("%s/%s", path, slice);
  free (path);
  return 0;
}

int
sp_cgroup_systemd_parse_path (const char *spec, char **cgroup_path, char **slice, char **unit, sp_error_t *err)
{
  const char *c1 = strchr (spec, ':'), *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
  cleanup_free char *slice_name = NULL, *prefix = NULL, *unit_name = NULL, *slice_path = NULL;
  const char *name;

  if (c2 == NULL || strchr (c2 + 1, ':') || c2[1] == '\0')
    return sp_error_make (err, EINVAL,
                          "linux.cgroupsPath: `%s`: the systemd cgroup manager expects \"slice:prefix:name\"", spec);
  slice_name = c1 == spec ? sp_xstrdup ("system.slice") : strndup (spec, (size_t) (c1 - spec));
  prefix = strndup (c1 + 1, (size_t) (c2 - c1 - 1));
  if (slice_name == NULL || prefix == NULL)
    abort ();
  name = c2 + 1;
  if (strchr (name, '/') || strchr (prefix, '/'))
    return sp_error_make (err, EINVAL, "linux.cgroupsPath: `%s`: unit names cannot contain `/`", spec);
  if (sp_str_has_suffix (name, ".slice"))
    unit_name = sp_xstrdup (name);
  else if (*prefix)
    unit_name = sp_xasprintf ("%s-%s.scope", prefix, name);
  else
    unit_name = sp_xasprintf ("%s.scope", name);
  if (sp_cgroup_systemd_expand_slice (slice_name, &slice_path, err) < 0)
    return -1;
  *cgroup_path = sp_xasprintf ("%s/%s", slice_path, unit_name);
  *slice = steal_pointer (&slice_name);
  *unit = steal_pointer (&unit_name);
  return 0;
}

static int
bus_error (sp_error_t *err, int r, const sd_bus_error *e, const char *what, const char *unit)
{
  if (e && sd_bus_error_is_set (e))
    return sp_error_make (err, -r, "systemd: %s `%s`: %s", what, unit, e->message ? e->message : e->name);
  return sp_error_make (err, -r, "systemd: %s `%s`", what, unit);
}

/* systemd moves the pid asynchronously once the job runs. */
static int
wait_for_scope (const char *unit, pid_t pid, sp_error_t *err)
{
  cleanup_free char *path = sp_xasprintf ("/proc/%d/cgroup", (int) pid);
  cleanup_free char *needle = sp_xasprintf ("/%s\n", unit);

  for (int attempt = 0; attempt < 500; attempt++)
    {
      cleanup_free char *text = NULL;
      struct timespec ts = { 0, 10 * 1000 * 1000 };
      if (sp_read_file (path, &text, NULL, err) < 0)
        return -1;
      if (strstr (text, needle))
        return 0;
      nanosleep (&ts, NULL);
    }
  return sp_error_make (err, ETIMEDOUT, "systemd: process %d did not appear in scope `%s`", (int) pid, unit);
}

int
sp_cgroup_systemd_start_scope (const char *unit, const char *slice, pid_t pid, sp_error_t *err)
{
  __attribute__ ((cleanup (sd_bus_flush_close_unrefp))) sd_bus *bus = NULL;
  __attribute__ ((cleanup (sd_bus_message_unrefp))) sd_bus_message *m = NULL;
  __attribute__ ((cleanup (sd_bus_message_unrefp))) sd_bus_message *reply = NULL;
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;
  int r;

  r = sd_bus_default_system (&bus);
  if (r < 0)
    return bus_error (err, r, NULL, "connect to the system bus for", unit);
  r = sd_bus_message_new_method_call (bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                      "org.freedesktop.systemd1.Manager", "StartTransientUnit");
  if (r >= 0)
    r = sd_bus_message_append (m, "ss", unit, "replace");
  if (r >= 0)
    r = sd_bus_message_open_container (m, 'a', "(sv)");
  if (r >= 0)
    r = sd_bus_message_append (m, "(sv)(sv)(sv)(sv)(sv)", "Description", "s", "samepage container", "Slice", "s",
                               slice, "Delegate", "b", 1, "PIDs", "au", 1, (uint32_t) pid, "DefaultDependencies",
                               "b", 0);
  if (r >= 0)
    r = sd_bus_message_close_container (m);
  if (r >= 0)
    r = sd_bus_message_append (m, "a(sa(sv))", 0);
  if (r < 0)
    return bus_error (err, r, NULL, "build StartTransientUnit for", unit);
  r = sd_bus_call (bus, m, 0, &e, &reply);
  if (r < 0)
    return bus_error (err, r, &e, "StartTransientUnit", unit);
  return wait_for_scope (unit, pid, err);
}

int
sp_cgroup_systemd_stop_scope (const char *unit, sp_error_t *err)
{
  __attribute__ ((cleanup (sd_bus_flush_close_unrefp))) sd_bus *bus = NULL;
  __attribute__ ((cleanup (sd_bus_message_unrefp))) sd_bus_message *reply = NULL;
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;
  int r;

  r = sd_bus_default_system (&bus);
  if (r < 0)
    return bus_error (err, r, NULL, "connect to the system bus for", unit);
  r = sd_bus_call_method (bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                          "org.freedesktop.systemd1.Manager", "StopUnit", &e, &reply, "ss", unit, "replace");
  if (r < 0 && !sd_bus_error_has_name (&e, "org.freedesktop.systemd1.NoSuchUnit"))
    return bus_error (err, r, &e, "StopUnit", unit);
  return 0;
}
