/* samepage features: the runtime-spec "features" document, generated from
 * the same tables the parser and the runtime use. */
#include "verbs.h"

#include <samepage/caps.h>
#include <samepage/cgroups.h>
#include <samepage/cleanup.h>
#include <samepage/oci_config.h>
#include <samepage/seccomp.h>
#include <samepage/util.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "../../shim/setup.h"

static void
gen_str (yajl_gen g, const char *s)
{
  yajl_gen_string (g, (const unsigned char *) s, strlen (s));
}

static void
gen_strv (yajl_gen g, const char *key, const char *const *v)
{
  gen_str (g, key);
  yajl_gen_array_open (g);
  for (; v && *v; v++)
    gen_str (g, *v);
  yajl_gen_array_close (g);
}

int
cmd_features (struct sp_runtime *rt, int argc, char **argv)
{
  struct sp_cgroup_features cgf = { 0 };
  yajl_gen g = yajl_gen_alloc (NULL);
  const unsigned char *buf;
  const char *mount_opts[64];
  const char *ns_names[OCI_NS_TYPES + 1];
  size_t n = 0, len;
  sp_error_t err = NULL;

  (void) rt;
  if (argc != 1)
    return sp_usage_error ("features", "takes no arguments");
  for (const struct sp_mount_flag *f = sp_mount_flags; f->name && n < SP_ARRAY_SIZE (mount_opts) - 1; f++)
    mount_opts[n++] = f->name;
  mount_opts[n] = NULL;
  for (n = 0; n < OCI_NS_TYPES; n++)
    ns_names[n] = oci_namespaces[n].name;
  ns_names[n] = NULL;
  if (sp_cgroup_features (&cgf, &err) < 0)
    sp_error_release (&err);

  yajl_gen_config (g, yajl_gen_beautify, 1);
  yajl_gen_map_open (g);
  gen_str (g, "ociVersionMin");
  gen_str (g, "1.0.0");
  gen_str (g, "ociVersionMax");
  gen_str (g, "1.2.0");
  {
    /* oci_hook_stage_names is indexed by stage, not NULL-terminated. */
    const char *hooks[OCI_HOOK_STAGES + 1];
    for (int i = 0; i < OCI_HOOK_STAGES; i++)
      hooks[i] = oci_hook_stage_names[i];
    hooks[OCI_HOOK_STAGES] = NULL;
    gen_strv (g, "hooks", hooks);
  }
  gen_strv (g, "mountOptions", mount_opts);
  gen_str (g, "linux");
  yajl_gen_map_open (g);
  gen_strv (g, "namespaces", ns_names);
  gen_strv (g, "capabilities", sp_caps_known ());
  gen_str (g, "cgroup");
  yajl_gen_map_open (g);
  gen_str (g, "v1");
  yajl_gen_bool (g, cgf.layout == SP_CGROUP_LAYOUT_V1 || cgf.layout == SP_CGROUP_LAYOUT_HYBRID);
  gen_str (g, "v2");
  yajl_gen_bool (g, cgf.layout == SP_CGROUP_LAYOUT_V2 || cgf.layout == SP_CGROUP_LAYOUT_HYBRID);
  gen_str (g, "systemd");
  yajl_gen_bool (g, cgf.systemd_running);
  gen_str (g, "systemdUser");
  yajl_gen_bool (g, false);
  gen_str (g, "rdma");
  yajl_gen_bool (g, true);
  yajl_gen_map_close (g);
  gen_str (g, "seccomp");
  yajl_gen_map_open (g);
  gen_str (g, "enabled");
  yajl_gen_bool (g, true);
  gen_strv (g, "actions", sp_seccomp_known_actions ());
  gen_strv (g, "operators", sp_seccomp_known_operators ());
  gen_strv (g, "archs", sp_seccomp_known_archs ());
  gen_strv (g, "knownFlags", sp_seccomp_known_flags ());
  gen_strv (g, "supportedFlags", sp_seccomp_known_flags ());
  yajl_gen_map_close (g);
  gen_str (g, "apparmor");
  yajl_gen_map_open (g);
  gen_str (g, "enabled");
  yajl_gen_bool (g, false);
  yajl_gen_map_close (g);
  gen_str (g, "selinux");
  yajl_gen_map_open (g);
  gen_str (g, "enabled");
  yajl_gen_bool (g, false);
  yajl_gen_map_close (g);
  gen_str (g, "intelRdt");
  yajl_gen_map_open (g);
  gen_str (g, "enabled");
  yajl_gen_bool (g, false);
  yajl_gen_map_close (g);
  gen_str (g, "mountExtensions");
  yajl_gen_map_open (g);
  gen_str (g, "idmap");
  yajl_gen_map_open (g);
  gen_str (g, "enabled");
  yajl_gen_bool (g, false);
  yajl_gen_map_close (g);
  yajl_gen_map_close (g);
  yajl_gen_map_close (g);
  gen_str (g, "annotations");
  yajl_gen_map_open (g);
  gen_str (g, "org.samepage.version");
  gen_str (g, SAMEPAGE_VERSION);
  gen_str (g, "org.samepage.commit");
  gen_str (g, SAMEPAGE_COMMIT);
  yajl_gen_map_close (g);
  yajl_gen_map_close (g);
  if (yajl_gen_get_buf (g, &buf, &len) == yajl_gen_status_ok)
    fwrite (buf, 1, len, stdout);
  yajl_gen_free (g);
  sp_cgroup_features_clear (&cgf);
  return 0;
}
