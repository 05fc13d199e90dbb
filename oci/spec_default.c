/* The config.json that `samepage spec [--rootless]` writes: runc's default
 * spec, with a user namespace mapping the caller for the rootless variant. */
#include <samepage/oci_config.h>
#include <samepage/util.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

struct default_mount
{
  const char *destination;
  const char *type;
  const char *source;
  const char *options[8];
};

static const struct default_mount default_mounts[] = {
  { "/proc", "proc", "proc", { NULL } },
  { "/dev", "tmpfs", "tmpfs", { "nosuid", "strictatime", "mode=755", "size=65536k", NULL } },
  { "/dev/pts", "devpts", "devpts", { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5", NULL } },
  { "/dev/shm", "tmpfs", "shm", { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL } },
  { "/dev/mqueue", "mqueue", "mqueue", { "nosuid", "noexec", "nodev", NULL } },
  { "/sys", "sysfs", "sysfs", { "nosuid", "noexec", "nodev", "ro", NULL } },
  { "/sys/fs/cgroup", "cgroup", "cgroup", { "nosuid", "noexec", "nodev", "relatime", "ro", NULL } },
};

static const char *const default_caps[] = { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", NULL };

static const char *const masked_paths[] = {
  "/proc/acpi",         "/proc/asound",      "/proc/kcore",      "/proc/keys",    "/proc/latency_stats",
  "/proc/timer_list",   "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
  "/sys/devices/virtual/powercap", NULL,
};

static const char *const readonly_paths[] = {
  "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

static void
gen_string (yajl_gen g, const char *s)
{
  yajl_gen_string (g, (const unsigned char *) s, strlen (s));
}

static void
gen_kv_string (yajl_gen g, const char *key, const char *value)
{
  gen_string (g, key);
  gen_string (g, value);
}

static void
gen_kv_int (yajl_gen g, const char *key, long long value)
{
  gen_string (g, key);
  yajl_gen_integer (g, value);
}

static void
gen_kv_bool (yajl_gen g, const char *key, bool value)
{
  gen_string (g, key);
  yajl_gen_bool (g, value);
}

static void
gen_kv_strv (yajl_gen g, const char *key, const char *const *values)
{
  gen_string (g, key);
  yajl_gen_array_open (g);
  for (; *values; values++)
    gen_string (g, *values);
  yajl_gen_array_close (g);
}

static void
gen_process (yajl_gen g)
{
  static const char *const args[] = { "sh", NULL };
  static const char *const env[]
      = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", NULL };

  gen_string (g, "process");
  yajl_gen_map_open (g);
  gen_kv_bool (g, "terminal", true);
  gen_string (g, "user");
  yajl_gen_map_open (g);
  gen_kv_int (g, "uid", 0);
  gen_kv_int (g, "gid", 0);
  yajl_gen_map_close (g);
  gen_kv_strv (g, "args", args);
  gen_kv_strv (g, "env", env);
  gen_kv_string (g, "cwd", "/");
  gen_string (g, "capabilities");
  yajl_gen_map_open (g);
  gen_kv_strv (g, "bounding", default_caps);
  gen_kv_strv (g, "effective", default_caps);
  gen_kv_strv (g, "permitted", default_caps);
  yajl_gen_map_close (g);
  gen_string (g, "rlimits");
  yajl_gen_array_open (g);
  yajl_gen_map_open (g);
  gen_kv_string (g, "type", "RLIMIT_NOFILE");
  gen_kv_int (g, "hard", 1024);
  gen_kv_int (g, "soft", 1024);
  yajl_gen_map_close (g);
  yajl_gen_array_close (g);
  gen_kv_bool (g, "noNewPrivileges", true);
  yajl_gen_map_close (g);
}

/* Rootless (as runc's): sysfs cannot be mounted without owning the network
 * namespace, so /sys is a read-only bind of the host's; gid 5 is not mapped,
 * so devpts goes without it. */
static void
gen_mounts (yajl_gen g, bool rootless)
{
  gen_string (g, "mounts");
  yajl_gen_array_open (g);
  for (size_t i = 0; i < SP_ARRAY_SIZE (default_mounts); i++)
    {
      const struct default_mount *m = &default_mounts[i];
      bool is_sys = strcmp (m->destination, "/sys") == 0;

      yajl_gen_map_open (g);
      gen_kv_string (g, "destination", m->destination);
      if (rootless && is_sys)
        {
          static const char *const sys_bind[] = { "rbind", "nosuid", "noexec", "nodev", "ro", NULL };
          gen_kv_string (g, "type", "none");
          gen_kv_string (g, "source", "/sys");
          gen_kv_strv (g, "options", sys_bind);
        }
      else
        {
          gen_kv_string (g, "type", m->type);
          gen_kv_string (g, "source", m->source);
          if (m->options[0])
            {
              gen_string (g, "options");
              yajl_gen_array_open (g);
              for (const char *const *o = m->options; *o; o++)
                if (!(rootless && strcmp (*o, "gid=5") == 0))
                  gen_string (g, *o);
              yajl_gen_array_close (g);
            }
        }
      yajl_gen_map_close (g);
    }
  yajl_gen_array_close (g);
}

static void
gen_id_mapping (yajl_gen g, const char *key, unsigned long long host_id)
{
  gen_string (g, key);
  yajl_gen_array_open (g);
  yajl_gen_map_open (g);
  gen_kv_int (g, "containerID", 0);
  gen_kv_int (g, "hostID", (long long) host_id);
  gen_kv_int (g, "size", 1);
  yajl_gen_map_close (g);
  yajl_gen_array_close (g);
}

static void
gen_linux (yajl_gen g, bool rootless)
{
  static const char *const ns_root[] = { "pid", "network", "ipc", "uts", "mount", "cgroup", NULL };
  static const char *const ns_rootless[] = { "pid", "ipc", "uts", "mount", "cgroup", "user", NULL };

  gen_string (g, "linux");
  yajl_gen_map_open (g);
  if (rootless)
    {
      gen_id_mapping (g, "uidMappings", geteuid ());
      gen_id_mapping (g, "gidMappings", getegid ());
    }
  else
    {
      gen_string (g, "resources");
      yajl_gen_map_open (g);
      gen_string (g, "devices");
      yajl_gen_array_open (g);
      yajl_gen_map_open (g);
      gen_kv_bool (g, "allow", false);
      gen_kv_string (g, "access", "rwm");
      yajl_gen_map_close (g);
      yajl_gen_array_close (g);
      yajl_gen_map_close (g);
    }
  gen_string (g, "namespaces");
  yajl_gen_array_open (g);
  for (const char *const *ns = rootless ? ns_rootless : ns_root; *ns; ns++)
    {
      yajl_gen_map_open (g);
      gen_kv_string (g, "type", *ns);
      yajl_gen_map_close (g);
    }
  yajl_gen_array_close (g);
  gen_kv_strv (g, "maskedPaths", masked_paths);
  gen_kv_strv (g, "readonlyPaths", readonly_paths);
  yajl_gen_map_close (g);
}

char *
oci_config_default_json (bool rootless)
{
  yajl_gen g = yajl_gen_alloc (NULL);
  const unsigned char *buf;
  size_t len;
  char *out;

  if (g == NULL)
    abort ();
  yajl_gen_config (g, yajl_gen_beautify, 1);
  yajl_gen_config (g, yajl_gen_indent_string, "\t");

  yajl_gen_map_open (g);
  gen_kv_string (g, "ociVersion", "1.2.0");
  gen_process (g);
  gen_string (g, "root");
  yajl_gen_map_open (g);
  gen_kv_string (g, "path", "rootfs");
  gen_kv_bool (g, "readonly", true);
  yajl_gen_map_close (g);
  gen_kv_string (g, "hostname", "samepage");
  gen_mounts (g, rootless);
  gen_linux (g, rootless);
  yajl_gen_map_close (g);

  /* Every call above is well-formed by construction; a generator error
   * here would be a programming error. */
  if (yajl_gen_get_buf (g, &buf, &len) != yajl_gen_status_ok)
    abort ();
  out = sp_xmalloc0 (len + 1);
  memcpy (out, buf, len);
  yajl_gen_free (g);
  return out;
}
