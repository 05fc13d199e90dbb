/* KSM modes for samepage's own containers: the mode from the annotation or
 * samepage.conf, the preload library's bind mount and LD_PRELOAD for `heap`,
 * and the prctl/personality calls in the container init.
 *
 * There is no configuration module yet, so the two KSM keys of
 * samepage.conf are read here by a small `key = value` parser. */
#include <samepage/cleanup.h>
#include <samepage/ksm.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#define PR_GET_MEMORY_MERGE 68
#endif

const char *const sp_ksm_mode_names[] = { "off", "merge-any", "heap", NULL };

bool
sp_ksm_mode_parse (const char *s, enum sp_ksm_mode *out)
{
  for (int i = 0; s && sp_ksm_mode_names[i]; i++)
    if (strcmp (s, sp_ksm_mode_names[i]) == 0)
      {
        *out = (enum sp_ksm_mode) i;
        return true;
      }
  return false;
}

void
sp_ksm_conf_clear (struct sp_ksm_conf *c)
{
  free (c->preload);
  c->preload = NULL;
  c->mode = SP_KSM_OFF;
}

static char *
trim (char *s)
{
  char *end;
  while (*s == ' ' || *s == '\t')
    s++;
  end = s + strlen (s);
  while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
    *--end = '\0';
  return s;
}

int
sp_ksm_conf_load (const char *path, struct sp_ksm_conf *out, sp_error_t *err)
{
  cleanup_free char *text = NULL;
  char *save = NULL;
  size_t lineno = 0;
  char *line;

  if (path == NULL)
    path = getenv ("SAMEPAGE_CONF") ? getenv ("SAMEPAGE_CONF") : SP_CONF_PATH;
  out->mode = SP_KSM_OFF;
  out->preload = sp_xstrdup (SAMEPAGE_LIBDIR "/" SP_KSM_PRELOAD_NAME);
  if (sp_read_file (path, &text, NULL, err) < 0)
    {
      if ((*err)->status == ENOENT)
        {
          sp_error_release (err);
          return 0;
        }
      sp_ksm_conf_clear (out);
      return -1;
    }
  /* strtok_r would skip empty lines and so miscount them. */
  for (line = text; line && *line; line = save)
    {
      char *eq, *key, *value;
      save = strchr (line, '\n');
      if (save)
        *save++ = '\0';
      lineno++;
      line = trim (line);
      if (*line == '\0' || *line == '#')
        continue;
      eq = strchr (line, '=');
      if (eq == NULL)
        {
          sp_ksm_conf_clear (out);
          return sp_error_make (err, 0, "%s:%zu: expected `key = value`, got `%s`", path, lineno, line);
        }
      *eq = '\0';
      key = trim (line);
      value = trim (eq + 1);
      if (strcmp (key, "ksm") == 0)
        {
          if (!sp_ksm_mode_parse (value, &out->mode))
            {
              sp_ksm_conf_clear (out);
              return sp_error_make (err, 0, "%s:%zu: ksm: unknown mode `%s` (off, merge-any or heap)", path,
                                    lineno, value);
            }
        }
      else if (strcmp (key, "ksm_preload") == 0)
        {
          if (value[0] != '/')
            {
              sp_ksm_conf_clear (out);
              return sp_error_make (err, 0, "%s:%zu: ksm_preload: `%s` is not an absolute path", path, lineno,
                                    value);
            }
          free (out->preload);
          out->preload = sp_xstrdup (value);
        }
      else
        sp_debug ("%s:%zu: key `%s` is not a KSM key; skipped", path, lineno, key);
    }
  return 0;
}

bool
sp_ksm_rootfs_has_glibc (const char *rootfs)
{
  /* Names only: the loader is often an absolute symlink that resolves
   * inside the container, not on the host. */
  static const char *const patterns[] = {
    "/lib*/ld-linux*.so*",
    "/lib*/*/ld-linux*.so*",
    "/usr/lib*/ld-linux*.so*",
    "/usr/lib*/*/ld-linux*.so*",
  };
  for (size_t i = 0; i < SP_ARRAY_SIZE (patterns); i++)
    {
      cleanup_free char *pattern = sp_xasprintf ("%s%s", rootfs, patterns[i]);
      glob_t g;
      int r = glob (pattern, GLOB_NOSORT, NULL, &g);
      if (r == 0)
        {
          bool found = g.gl_pathc > 0;
          globfree (&g);
          if (found)
            return true;
        }
    }
  return false;
}

char *
sp_ksm_ld_preload_join (const char *existing, const char *lib)
{
  size_t l = strlen (lib);
  const char *p;

  if (existing == NULL || *existing == '\0')
    return sp_xstrdup (lib);
  /* ld.so separates entries by spaces or colons. */
  for (p = existing; (p = strstr (p, lib)) != NULL; p += l)
    if ((p == existing || p[-1] == ':' || p[-1] == ' ') && (p[l] == '\0' || p[l] == ':' || p[l] == ' '))
      return sp_xstrdup (existing);
  return sp_xasprintf ("%s:%s", lib, existing);
}

static void
annotation_set (struct oci_config *c, const char *key, const char *value)
{
  for (size_t i = c->annotations_len; i-- > 0;)
    if (strcmp (c->annotations[i].key, key) == 0)
      {
        free (c->annotations[i].value);
        c->annotations[i].value = sp_xstrdup (value);
        return;
      }
  c->annotations = sp_xrealloc (c->annotations, (c->annotations_len + 1) * sizeof (*c->annotations));
  c->annotations[c->annotations_len].key = sp_xstrdup (key);
  c->annotations[c->annotations_len].value = sp_xstrdup (value);
  c->annotations_len++;
}

static void
env_set (struct oci_process *p, const char *name, const char *value)
{
  size_t l = strlen (name), n = sp_strv_len (p->env);
  for (size_t i = 0; i < n; i++)
    if (strncmp (p->env[i], name, l) == 0 && p->env[i][l] == '=')
      {
        free (p->env[i]);
        p->env[i] = sp_xasprintf ("%s=%s", name, value);
        return;
      }
  p->env = sp_xrealloc (p->env, (n + 2) * sizeof (char *));
  p->env[n] = sp_xasprintf ("%s=%s", name, value);
  p->env[n + 1] = NULL;
}

static const char *
env_get (char **env, const char *name)
{
  size_t l = strlen (name);
  for (char **e = env; e && *e; e++)
    if (strncmp (*e, name, l) == 0 && (*e)[l] == '=')
      return *e + l + 1;
  return NULL;
}

static void
add_preload_mount (struct oci_config *c, const char *lib)
{
  static const char *const options[] = { "bind", "ro", "nosuid", "nodev" };
  struct oci_mount *m;

  for (size_t i = 0; i < c->mounts_len; i++)
    if (strcmp (c->mounts[i].destination, SP_KSM_PRELOAD_DEST) == 0)
      return;
  c->mounts = sp_xrealloc (c->mounts, (c->mounts_len + 1) * sizeof (*c->mounts));
  m = &c->mounts[c->mounts_len++];
  memset (m, 0, sizeof *m);
  m->destination = sp_xstrdup (SP_KSM_PRELOAD_DEST);
  m->type = sp_xstrdup ("bind");
  m->source = sp_xstrdup (lib);
  m->options = sp_xmalloc0 ((SP_ARRAY_SIZE (options) + 1) * sizeof (char *));
  for (size_t i = 0; i < SP_ARRAY_SIZE (options); i++)
    m->options[i] = sp_xstrdup (options[i]);
}

static bool
kernel_has_merge_any (void)
{
  return prctl (PR_GET_MEMORY_MERGE, 0, 0, 0, 0) >= 0;
}

static int
check_aslr_annotation (const struct oci_config *c, bool *aslr_off, sp_error_t *err)
{
  const char *aslr = oci_config_annotation (c, SP_KSM_ASLR_ANNOTATION);
  *aslr_off = false;
  if (aslr == NULL || strcmp (aslr, "on") == 0)
    return 0;
  if (strcmp (aslr, "off") == 0)
    {
      *aslr_off = true;
      return 0;
    }
  return sp_error_make (err, 0, "config.json: annotations[\"%s\"]: unknown value `%s` (on or off)",
                        SP_KSM_ASLR_ANNOTATION, aslr);
}

int
sp_ksm_prepare_config_with (struct oci_config *c, const char *rootfs, const struct sp_ksm_conf *conf,
                            sp_error_t *err)
{
  const char *value = oci_config_annotation (c, SP_KSM_ANNOTATION);
  enum sp_ksm_mode mode = conf ? conf->mode : SP_KSM_OFF;
  bool aslr_off;
  cleanup_free char *preload = NULL;

  if (value && !sp_ksm_mode_parse (value, &mode))
    return sp_error_make (err, 0, "config.json: annotations[\"%s\"]: unknown mode `%s` (off, merge-any or heap)",
                          SP_KSM_ANNOTATION, value);
  if (check_aslr_annotation (c, &aslr_off, err) < 0)
    return -1;
  if (mode == SP_KSM_MERGE_ANY && !kernel_has_merge_any ())
    {
      sp_warn ("ksm: this kernel lacks PR_SET_MEMORY_MERGE (Linux 6.4+ with CONFIG_KSM): "
               "the container runs without merging");
      mode = SP_KSM_OFF;
    }
  if (mode == SP_KSM_HEAP)
    {
      const char *lib = conf && conf->preload ? conf->preload : SAMEPAGE_LIBDIR "/" SP_KSM_PRELOAD_NAME;
      if (c->process == NULL)
        mode = SP_KSM_OFF;
      else if (access (lib, R_OK) < 0)
        {
          sp_warn ("ksm: heap mode: preload library `%s`: %m (set ksm_preload in samepage.conf); "
                   "the container runs without merging",
                   lib);
          mode = SP_KSM_OFF;
        }
      else if (rootfs && !sp_ksm_rootfs_has_glibc (rootfs))
        {
          sp_warn ("ksm: heap mode needs a glibc userland, and `%s` has no /lib*/ld-linux*.so* (musl or static "
                   "image): the container runs without merging (merge-any works for any image)",
                   rootfs);
          mode = SP_KSM_OFF;
        }
      else
        {
          add_preload_mount (c, lib);
          preload = sp_ksm_ld_preload_join (env_get (c->process->env, "LD_PRELOAD"), SP_KSM_PRELOAD_DEST);
          env_set (c->process, "LD_PRELOAD", preload);
          env_set (c->process, "SAMEPAGE_KSM_MODE", "heap");
        }
    }
  /* Record the effective mode for the init and for `samepage ksm status`. */
  if (value || mode != SP_KSM_OFF)
    annotation_set (c, SP_KSM_ANNOTATION, sp_ksm_mode_names[mode]);
  return 0;
}

int
sp_ksm_prepare_config_at (struct oci_config *c, const char *bundle, sp_error_t *err)
{
  struct sp_ksm_conf conf = { 0 };
  cleanup_free char *rootfs = NULL;
  int ret;

  if (sp_ksm_conf_load (NULL, &conf, err) < 0)
    return -1;
  if (c->root && c->root->path)
    rootfs = c->root->path[0] == '/' || bundle == NULL ? sp_xstrdup (c->root->path)
                                                       : sp_xasprintf ("%s/%s", bundle, c->root->path);
  ret = sp_ksm_prepare_config_with (c, rootfs, &conf, err);
  sp_ksm_conf_clear (&conf);
  return ret;
}

int
sp_ksm_prepare_config (struct oci_config *c, sp_error_t *err)
{
  return sp_ksm_prepare_config_at (c, NULL, err);
}

int
sp_ksm_before_exec (const struct oci_config *c, sp_error_t *err)
{
  const char *value = oci_config_annotation (c, SP_KSM_ANNOTATION);
  enum sp_ksm_mode mode = SP_KSM_OFF;
  bool aslr_off;

  if (value && !sp_ksm_mode_parse (value, &mode))
    return sp_error_make (err, 0, "config.json: annotations[\"%s\"]: unknown mode `%s` (off, merge-any or heap)",
                          SP_KSM_ANNOTATION, value);
  if (check_aslr_annotation (c, &aslr_off, err) < 0)
    return -1;
  if (aslr_off)
    {
      int cur = personality (0xffffffff);
      if (cur < 0 || personality ((unsigned long) cur | ADDR_NO_RANDOMIZE) < 0)
        return sp_error_errno (err, "ksm: personality(ADDR_NO_RANDOMIZE) for %s=off", SP_KSM_ASLR_ANNOTATION);
    }
  if (mode == SP_KSM_MERGE_ANY && prctl (PR_SET_MEMORY_MERGE, 1, 0, 0, 0) < 0)
    {
      if (errno == EINVAL || errno == ENOSYS)
        sp_warn ("ksm: this kernel lacks PR_SET_MEMORY_MERGE (Linux 6.4+ with CONFIG_KSM): running without merging");
      else
        sp_warn ("ksm: prctl(PR_SET_MEMORY_MERGE): %m: running without merging");
    }
  return 0;
}
