/* config.json (OCI runtime-spec 1.2): the top level, root, mounts, hooks and
 * annotations.  process lives in config_process.c, linux in config_linux.c
 * and config_resources.c, the typed tree walk in json_path.c. */
#include "config_parse.h"

#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <sched.h>
#include <stdlib.h>
#include <string.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

const char *const oci_hook_stage_names[OCI_HOOK_STAGES] = {
  [OCI_HOOK_PRESTART] = "prestart",
  [OCI_HOOK_CREATE_RUNTIME] = "createRuntime",
  [OCI_HOOK_CREATE_CONTAINER] = "createContainer",
  [OCI_HOOK_START_CONTAINER] = "startContainer",
  [OCI_HOOK_POSTSTART] = "poststart",
  [OCI_HOOK_POSTSTOP] = "poststop",
};

const struct oci_namespace_info oci_namespaces[OCI_NS_TYPES] = {
  [OCI_NS_PID] = { "pid", "pid", CLONE_NEWPID },
  [OCI_NS_NETWORK] = { "network", "net", CLONE_NEWNET },
  [OCI_NS_MOUNT] = { "mount", "mnt", CLONE_NEWNS },
  [OCI_NS_IPC] = { "ipc", "ipc", CLONE_NEWIPC },
  [OCI_NS_UTS] = { "uts", "uts", CLONE_NEWUTS },
  [OCI_NS_USER] = { "user", "user", CLONE_NEWUSER },
  [OCI_NS_CGROUP] = { "cgroup", "cgroup", CLONE_NEWCGROUP },
  [OCI_NS_TIME] = { "time", "time", CLONE_NEWTIME },
};

int
oci_parse_id_mapping (struct oci_parser *p, yajl_val v, void *elem)
{
  struct oci_id_mapping *m = elem;
  if (oci_field_u32 (p, v, "containerID", true, &m->container_id, NULL) < 0
      || oci_field_u32 (p, v, "hostID", true, &m->host_id, NULL) < 0
      || oci_field_u32 (p, v, "size", true, &m->size, NULL) < 0)
    return -1;
  return 0;
}

static int
parse_root (struct oci_parser *p, yajl_val v, struct oci_root *root)
{
  if (oci_field_string (p, v, "path", true, &root->path) < 0
      || oci_field_bool (p, v, "readonly", false, &root->readonly, NULL) < 0)
    return -1;
  if (root->path[0] == '\0')
    return oci_fail_at (p, "path", "must not be empty");
  return 0;
}

static int
parse_mount (struct oci_parser *p, yajl_val v, void *elem)
{
  struct oci_mount *m = elem;
  if (oci_field_string (p, v, "destination", true, &m->destination) < 0)
    return -1;
  /* Relative destinations are allowed by the spec (taken relative to /). */
  if (m->destination[0] == '\0')
    return oci_fail_at (p, "destination", "must not be empty");
  if (oci_field_string (p, v, "type", false, &m->type) < 0
      || oci_field_string (p, v, "source", false, &m->source) < 0
      || oci_field_strv (p, v, "options", false, &m->options) < 0
      || oci_field_objects (p, v, "uidMappings", sizeof (struct oci_id_mapping), oci_parse_id_mapping,
                            &m->uid_mappings, &m->uid_mappings_len) < 0
      || oci_field_objects (p, v, "gidMappings", sizeof (struct oci_id_mapping), oci_parse_id_mapping,
                            &m->gid_mappings, &m->gid_mappings_len) < 0)
    return -1;
  return 0;
}

static int
parse_hook (struct oci_parser *p, yajl_val v, void *elem)
{
  struct oci_hook *h = elem;
  if (oci_field_abs_path (p, v, "path", true, &h->path) < 0 || oci_field_strv (p, v, "args", false, &h->args) < 0
      || oci_field_strv (p, v, "env", false, &h->env) < 0
      || oci_field_int (p, v, "timeout", false, INT32_MIN, INT32_MAX, &h->timeout, &h->has_timeout) < 0)
    return -1;
  if (h->has_timeout && h->timeout <= 0)
    return oci_fail_at (p, "timeout", "must be greater than 0, got %d", h->timeout);
  return 0;
}

static int
parse_hooks (struct oci_parser *p, yajl_val v, struct oci_hooks *hooks)
{
  for (int s = 0; s < OCI_HOOK_STAGES; s++)
    if (oci_field_objects (p, v, oci_hook_stage_names[s], sizeof (struct oci_hook), parse_hook, &hooks->stage[s],
                           &hooks->stage_len[s])
        < 0)
      return -1;
  return 0;
}

static int
parse_version (struct oci_parser *p, yajl_val v, struct oci_config *c)
{
  if (oci_field_string (p, v, "ociVersion", true, &c->oci_version) < 0)
    return -1;
  /* Compatible within a major version; this runtime implements 1.x. */
  if (!sp_str_has_prefix (c->oci_version, "1."))
    return oci_fail_at (p, "ociVersion", "unsupported version \"%s\" (expected 1.x)", c->oci_version);
  return 0;
}

static int
parse_config (struct oci_parser *p, yajl_val top, struct oci_config *c)
{
  yajl_val v;

  if (oci_val_object (p, top) < 0 || parse_version (p, top, c) < 0)
    return -1;

  if (oci_field_object (p, top, "root", true, &v) < 0)
    return -1;
  c->root = sp_xmalloc0 (sizeof *c->root);
  {
    size_t saved = oci_path_key (p, "root");
    if (parse_root (p, v, c->root) < 0)
      return -1;
    oci_path_restore (p, saved);
  }

  if (oci_field_objects (p, top, "mounts", sizeof (struct oci_mount), parse_mount, &c->mounts, &c->mounts_len) < 0)
    return -1;

  if (oci_field_object (p, top, "process", false, &v) < 0)
    return -1;
  if (v)
    {
      size_t saved = oci_path_key (p, "process");
      c->process = sp_xmalloc0 (sizeof *c->process);
      if (oci_parse_process_object (p, v, c->process) < 0)
        return -1;
      oci_path_restore (p, saved);
    }

  if (oci_field_string (p, top, "hostname", false, &c->hostname) < 0
      || oci_field_string (p, top, "domainname", false, &c->domainname) < 0)
    return -1;

  if (oci_field_object (p, top, "hooks", false, &v) < 0)
    return -1;
  if (v)
    {
      size_t saved = oci_path_key (p, "hooks");
      c->hooks = sp_xmalloc0 (sizeof *c->hooks);
      if (parse_hooks (p, v, c->hooks) < 0)
        return -1;
      oci_path_restore (p, saved);
    }

  if (oci_field_string_map (p, top, "annotations", &c->annotations, &c->annotations_len) < 0)
    return -1;

  if (oci_field_object (p, top, "linux", false, &v) < 0)
    return -1;
  if (v)
    {
      size_t saved = oci_path_key (p, "linux");
      c->linux_ = sp_xmalloc0 (sizeof *c->linux_);
      if (oci_parse_linux (p, v, c->linux_) < 0)
        return -1;
      oci_path_restore (p, saved);
    }
  return 0;
}

int
oci_config_parse (const char *json, size_t len, const char *source, struct oci_config **out, sp_error_t *err)
{
  cleanup_config struct oci_config *c = sp_xmalloc0 (sizeof *c);
  struct oci_parser p;
  yajl_val top = NULL;
  int ret;

  *out = NULL;
  oci_parser_init (&p, source, err);
  ret = oci_parse_tree (&p, json, len, &top);
  if (ret == 0)
    ret = parse_config (&p, top, c);
  yajl_tree_free (top);
  oci_parser_fini (&p);
  if (ret < 0)
    return -1;
  *out = steal_pointer (&c);
  return 0;
}

int
oci_config_load (const char *path, struct oci_config **out, sp_error_t *err)
{
  cleanup_free char *json = NULL;
  size_t len = 0;

  *out = NULL;
  if (sp_read_file (path, &json, &len, err) < 0)
    return -1;
  return oci_config_parse (json, len, path, out, err);
}

int
oci_process_parse (const char *json, size_t len, const char *source, struct oci_process **out, sp_error_t *err)
{
  struct oci_process *proc = sp_xmalloc0 (sizeof *proc);
  struct oci_parser p;
  yajl_val top = NULL;
  int ret;

  *out = NULL;
  oci_parser_init (&p, source, err);
  ret = oci_parse_tree (&p, json, len, &top);
  if (ret == 0)
    ret = oci_val_object (&p, top);
  if (ret == 0)
    ret = oci_parse_process_object (&p, top, proc);
  yajl_tree_free (top);
  oci_parser_fini (&p);
  if (ret < 0)
    {
      oci_process_free (proc);
      return -1;
    }
  *out = proc;
  return 0;
}

const char *
oci_config_annotation (const struct oci_config *c, const char *key)
{
  if (c == NULL)
    return NULL;
  for (size_t i = c->annotations_len; i-- > 0;)
    if (strcmp (c->annotations[i].key, key) == 0)
      return c->annotations[i].value;
  return NULL;
}

static void
mounts_free (struct oci_mount *mounts, size_t len)
{
  for (size_t i = 0; mounts && i < len; i++)
    {
      free (mounts[i].destination);
      free (mounts[i].type);
      free (mounts[i].source);
      oci_strv_free (mounts[i].options);
      free (mounts[i].uid_mappings);
      free (mounts[i].gid_mappings);
    }
  free (mounts);
}

static void
hooks_free (struct oci_hooks *hooks)
{
  if (hooks == NULL)
    return;
  for (int s = 0; s < OCI_HOOK_STAGES; s++)
    {
      for (size_t i = 0; hooks->stage[s] && i < hooks->stage_len[s]; i++)
        {
          free (hooks->stage[s][i].path);
          oci_strv_free (hooks->stage[s][i].args);
          oci_strv_free (hooks->stage[s][i].env);
        }
      free (hooks->stage[s]);
    }
  free (hooks);
}

void
oci_process_free (struct oci_process *p)
{
  if (p == NULL)
    return;
  oci_process_clear (p);
  free (p);
}

void
oci_config_free (struct oci_config *c)
{
  if (c == NULL)
    return;
  free (c->oci_version);
  if (c->root)
    free (c->root->path);
  free (c->root);
  mounts_free (c->mounts, c->mounts_len);
  oci_process_free (c->process);
  free (c->hostname);
  free (c->domainname);
  hooks_free (c->hooks);
  oci_kv_free (c->annotations, c->annotations_len);
  oci_linux_free (c->linux_);
  free (c);
}
