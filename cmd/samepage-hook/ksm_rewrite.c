/* The precreate rewrite: validate with the project's config parser, then
 * re-emit the whole yajl tree, adding the preload mount and environment. */
#include "hook.h"

#include <samepage/cleanup.h>
#include <samepage/ksm.h>
#include <samepage/oci_config.h>
#include <samepage/util.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

struct rewrite
{
  yajl_gen g;
  const struct hook_options *o;
  const char *mode; /* value for SAMEPAGE_KSM_MODE */
};

static void gen_value (struct rewrite *r, yajl_val v);

static void
gen_str (yajl_gen g, const char *s)
{
  yajl_gen_string (g, (const unsigned char *) s, strlen (s));
}

/* Index of the last occurrence of key (the one Go's decoder keeps), or -1. */
static long
last_key (yajl_val obj, const char *key)
{
  for (size_t i = obj->u.object.len; i-- > 0;)
    if (strcmp (obj->u.object.keys[i], key) == 0)
      return (long) i;
  return -1;
}

static void
gen_preload_mount (struct rewrite *r)
{
  static const char *const options[] = { "bind", "ro", "nosuid", "nodev" };
  yajl_gen_map_open (r->g);
  gen_str (r->g, "destination");
  gen_str (r->g, r->o->destination);
  gen_str (r->g, "type");
  gen_str (r->g, "bind");
  gen_str (r->g, "source");
  gen_str (r->g, r->o->library);
  gen_str (r->g, "options");
  yajl_gen_array_open (r->g);
  for (size_t i = 0; i < SP_ARRAY_SIZE (options); i++)
    gen_str (r->g, options[i]);
  yajl_gen_array_close (r->g);
  yajl_gen_map_close (r->g);
}

static bool
has_mount_at (yajl_val mounts, const char *dest)
{
  for (size_t i = 0; YAJL_IS_ARRAY (mounts) && i < mounts->u.array.len; i++)
    {
      const char *path[] = { "destination", NULL };
      yajl_val d = yajl_tree_get (mounts->u.array.values[i], path, yajl_t_string);
      if (d && d->u.string && strcmp (d->u.string, dest) == 0)
        return true;
    }
  return false;
}

static void
gen_mounts (struct rewrite *r, yajl_val mounts)
{
  yajl_gen_array_open (r->g);
  for (size_t i = 0; YAJL_IS_ARRAY (mounts) && i < mounts->u.array.len; i++)
    gen_value (r, mounts->u.array.values[i]);
  if (!has_mount_at (mounts, r->o->destination))
    gen_preload_mount (r);
  yajl_gen_array_close (r->g);
}

static void
gen_env (struct rewrite *r, yajl_val env)
{
  bool preload_done = false, mode_done = false;
  yajl_gen_array_open (r->g);
  for (size_t i = 0; YAJL_IS_ARRAY (env) && i < env->u.array.len; i++)
    {
      yajl_val ev = env->u.array.values[i];
      const char *e = YAJL_IS_STRING (ev) ? ev->u.string : "";
      if (sp_str_has_prefix (e, "LD_PRELOAD="))
        {
          cleanup_free char *joined = sp_ksm_ld_preload_join (e + strlen ("LD_PRELOAD="), r->o->destination);
          cleanup_free char *entry = sp_xasprintf ("LD_PRELOAD=%s", joined);
          gen_str (r->g, entry);
          preload_done = true;
        }
      else if (sp_str_has_prefix (e, "SAMEPAGE_KSM_MODE="))
        {
          cleanup_free char *entry = sp_xasprintf ("SAMEPAGE_KSM_MODE=%s", r->mode);
          gen_str (r->g, entry);
          mode_done = true;
        }
      else
        gen_value (r, env->u.array.values[i]);
    }
  if (!preload_done)
    {
      cleanup_free char *entry = sp_xasprintf ("LD_PRELOAD=%s", r->o->destination);
      gen_str (r->g, entry);
    }
  if (!mode_done)
    {
      cleanup_free char *entry = sp_xasprintf ("SAMEPAGE_KSM_MODE=%s", r->mode);
      gen_str (r->g, entry);
    }
  yajl_gen_array_close (r->g);
}

static void
gen_object (struct rewrite *r, yajl_val obj, bool is_root, bool is_process)
{
  long mounts_at = is_root ? last_key (obj, "mounts") : -1;
  long process_at = is_root ? last_key (obj, "process") : -1;
  long env_at = is_process ? last_key (obj, "env") : -1;

  yajl_gen_map_open (r->g);
  for (size_t i = 0; i < obj->u.object.len; i++)
    {
      yajl_val v = obj->u.object.values[i];
      gen_str (r->g, obj->u.object.keys[i]);
      if ((long) i == mounts_at)
        gen_mounts (r, v);
      else if ((long) i == process_at)
        gen_object (r, v, false, true);
      else if ((long) i == env_at)
        gen_env (r, v);
      else
        gen_value (r, v);
    }
  if (is_root && mounts_at < 0)
    {
      gen_str (r->g, "mounts");
      gen_mounts (r, NULL);
    }
  if (is_process && env_at < 0)
    {
      gen_str (r->g, "env");
      gen_env (r, NULL);
    }
  yajl_gen_map_close (r->g);
}

static void
gen_value (struct rewrite *r, yajl_val v)
{
  switch (v->type)
    {
    case yajl_t_string:
      gen_str (r->g, v->u.string);
      break;
    case yajl_t_number:
      /* The text as read: 64-bit and larger integers stay exact. */
      yajl_gen_number (r->g, v->u.number.r, strlen (v->u.number.r));
      break;
    case yajl_t_object:
      gen_object (r, v, false, false);
      break;
    case yajl_t_array:
      yajl_gen_array_open (r->g);
      for (size_t i = 0; i < v->u.array.len; i++)
        gen_value (r, v->u.array.values[i]);
      yajl_gen_array_close (r->g);
      break;
    case yajl_t_true:
      yajl_gen_bool (r->g, 1);
      break;
    case yajl_t_false:
      yajl_gen_bool (r->g, 0);
      break;
    case yajl_t_null:
    default:
      yajl_gen_null (r->g);
      break;
    }
}

/* yajl_tree keeps strings NUL-terminated, so a \u0000 inside one would be
 * cut short on the way out: refuse instead of changing a value. */
static bool
has_escaped_nul (const char *json, size_t len)
{
  for (size_t i = 0; i + 6 <= len; i++)
    if (json[i] == '\\')
      {
        if (json[i + 1] == 'u' && strncmp (json + i + 2, "0000", 4) == 0)
          return true;
        i++; /* skip the escaped character, e.g. the second \ of \\ */
      }
  return false;
}

int
hook_ksm_rewrite (const char *json, size_t len, const struct hook_options *o, char **out, size_t *out_len,
                  sp_error_t *err)
{
  cleanup_config struct oci_config *c = NULL;
  cleanup_free char *text = NULL;
  struct rewrite r = { .o = o };
  enum sp_ksm_mode mode;
  const char *value;
  const unsigned char *buf;
  size_t buf_len;
  yajl_val top;
  char errbuf[256] = "";

  *out = NULL;
  *out_len = 0;
  /* The project's parser checks types, nesting depth and NUL bytes with
   * one-line messages naming the field. */
  if (oci_config_parse (json, len, "config.json", &c, err) < 0)
    return -1;
  if (has_escaped_nul (json, len))
    return sp_error_make (err, 0, "config.json: a string contains \\u0000, which cannot be passed on exactly");
  value = oci_config_annotation (c, SP_KSM_ANNOTATION);
  if (value == NULL)
    return 0;
  if (!sp_ksm_mode_parse (value, &mode))
    return sp_error_make (err, 0, "config.json: annotations[\"%s\"]: unknown mode `%s` (off, merge-any or heap)",
                          SP_KSM_ANNOTATION, value);
  if (mode == SP_KSM_OFF)
    return 0;
  if (c->process == NULL)
    return sp_error_make (err, 0, "config.json: process: missing (nothing to preload into)");
  if (access (o->library, R_OK) < 0)
    return sp_error_errno (err, "preload library `%s`", o->library);
  /* podman mounts the rootfs before precreate; a relative path is the
   * bundle's, which a precreate hook does not know: skip the check then. */
  if (c->root && c->root->path && c->root->path[0] == '/' && access (c->root->path, F_OK) == 0
      && !sp_ksm_rootfs_has_glibc (c->root->path))
    return sp_error_make (err, 0,
                          "config.json: root.path `%s` has no glibc loader (/lib*/ld-linux*.so*): a musl or static "
                          "image cannot load the preload library",
                          c->root->path);
  r.mode = sp_ksm_mode_names[mode];

  text = sp_xmalloc0 (len + 1);
  memcpy (text, json, len);
  top = yajl_tree_parse (text, errbuf, sizeof errbuf);
  if (top == NULL || !YAJL_IS_OBJECT (top))
    {
      yajl_tree_free (top);
      return sp_error_make (err, 0, "config.json: invalid JSON: %s", errbuf);
    }
  r.g = yajl_gen_alloc (NULL);
  gen_object (&r, top, true, false);
  yajl_tree_free (top);
  if (yajl_gen_get_buf (r.g, &buf, &buf_len) != yajl_gen_status_ok)
    {
      yajl_gen_free (r.g);
      return sp_error_make (err, EIO, "config.json: cannot generate the rewritten JSON");
    }
  *out = sp_xmalloc0 (buf_len + 2);
  memcpy (*out, buf, buf_len);
  (*out)[buf_len] = '\n';
  *out_len = buf_len + 1;
  yajl_gen_free (r.g);
  return 0;
}
