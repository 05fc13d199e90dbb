/* casfs bundle: config.json and an empty rootfs/ for an image in the store.
 * The runtime parts (mounts, namespaces, capabilities, rlimits, masked
 * paths) come from `samepage spec`'s own default config, so the two never
 * drift apart; the process comes from the image config. */
#include <samepage/casfs_bundle.h>
#include <samepage/casfs_images.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/oci_config.h>
#include <samepage/util.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define DEFAULT_HOSTNAME "samepage"

/* What the image config says about the process (all optional). */
struct image_process
{
  char **args; /* Entrypoint + Cmd */
  char **env;
  char *cwd;
  char *user;
  char *hostname;
};

static void
image_process_clear (struct image_process *p)
{
  sp_strvfreep (&p->args);
  sp_strvfreep (&p->env);
  free (p->cwd);
  free (p->user);
  free (p->hostname);
}

static void
strv_push (char ***v, size_t *n, const char *s)
{
  *v = sp_xrealloc (*v, (*n + 2) * sizeof (char *));
  (*v)[(*n)++] = sp_xstrdup (s);
  (*v)[*n] = NULL;
}

/* Appends the strings of config.<key> (an array of strings, or null). */
static int
append_strings (yajl_val cfg, const char *key, char ***v, size_t *n, sp_error_t *err)
{
  const char *path[] = { key, NULL };
  yajl_val a = cfg ? yajl_tree_get (cfg, path, yajl_t_any) : NULL;
  if (a == NULL || YAJL_IS_NULL (a))
    return 0;
  if (!YAJL_IS_ARRAY (a))
    return sp_error_make (err, EINVAL, "image config: `config.%s` must be an array of strings", key);
  for (size_t i = 0; i < YAJL_GET_ARRAY (a)->len; i++)
    {
      yajl_val s = YAJL_GET_ARRAY (a)->values[i];
      if (!YAJL_IS_STRING (s))
        return sp_error_make (err, EINVAL, "image config: `config.%s[%zu]` is not a string", key, i);
      strv_push (v, n, s->u.string);
    }
  return 0;
}

static int
get_string (yajl_val cfg, const char *key, char **out, sp_error_t *err)
{
  const char *path[] = { key, NULL };
  yajl_val s = cfg ? yajl_tree_get (cfg, path, yajl_t_any) : NULL;
  *out = NULL;
  if (s == NULL || YAJL_IS_NULL (s))
    return 0;
  if (!YAJL_IS_STRING (s))
    return sp_error_make (err, EINVAL, "image config: `config.%s` must be a string", key);
  if (*s->u.string)
    *out = sp_xstrdup (s->u.string);
  return 0;
}

static int
parse_image_config (const char *json, size_t len, struct image_process *p, sp_error_t *err)
{
  cleanup_free char *text = sp_xmalloc0 (len + 1);
  const char *cfg_path[] = { "config", NULL };
  char msg[256] = "";
  size_t n_args = 0, n_env = 0;
  yajl_val root, cfg;
  int ret;

  memcpy (text, json, len);
  root = yajl_tree_parse (text, msg, sizeof msg);
  if (root == NULL)
    return sp_error_make (err, EINVAL, "image config: invalid JSON: %s", msg);
  if (!YAJL_IS_OBJECT (root))
    {
      yajl_tree_free (root);
      return sp_error_make (err, EINVAL, "image config: not a JSON object");
    }
  cfg = yajl_tree_get (root, cfg_path, yajl_t_any);
  if (cfg && !YAJL_IS_OBJECT (cfg) && !YAJL_IS_NULL (cfg))
    ret = sp_error_make (err, EINVAL, "image config: `config` must be an object");
  else
    {
      if (cfg && YAJL_IS_NULL (cfg))
        cfg = NULL;
      ret = append_strings (cfg, "Entrypoint", &p->args, &n_args, err);
      if (ret == 0)
        ret = append_strings (cfg, "Cmd", &p->args, &n_args, err);
      if (ret == 0)
        ret = append_strings (cfg, "Env", &p->env, &n_env, err);
      if (ret == 0)
        ret = get_string (cfg, "WorkingDir", &p->cwd, err);
      if (ret == 0)
        ret = get_string (cfg, "User", &p->user, err);
      if (ret == 0)
        ret = get_string (cfg, "Hostname", &p->hostname, err);
    }
  yajl_tree_free (root);
  return ret;
}

/* ---- generation */

static void
gen_str (yajl_gen g, const char *s)
{
  yajl_gen_string (g, (const unsigned char *) s, strlen (s));
}

static void
gen_strv (yajl_gen g, const char *key, char *const *v)
{
  gen_str (g, key);
  yajl_gen_array_open (g);
  for (; v && *v; v++)
    gen_str (g, *v);
  yajl_gen_array_close (g);
}

/* Copies a parsed JSON value (from the default config) into g. */
static void
gen_value (yajl_gen g, yajl_val v)
{
  if (YAJL_IS_OBJECT (v))
    {
      yajl_gen_map_open (g);
      for (size_t i = 0; i < YAJL_GET_OBJECT (v)->len; i++)
        {
          gen_str (g, YAJL_GET_OBJECT (v)->keys[i]);
          gen_value (g, YAJL_GET_OBJECT (v)->values[i]);
        }
      yajl_gen_map_close (g);
    }
  else if (YAJL_IS_ARRAY (v))
    {
      yajl_gen_array_open (g);
      for (size_t i = 0; i < YAJL_GET_ARRAY (v)->len; i++)
        gen_value (g, YAJL_GET_ARRAY (v)->values[i]);
      yajl_gen_array_close (g);
    }
  else if (YAJL_IS_STRING (v))
    gen_str (g, v->u.string);
  else if (YAJL_IS_NUMBER (v))
    yajl_gen_number (g, YAJL_GET_NUMBER (v), strlen (YAJL_GET_NUMBER (v)));
  else if (YAJL_IS_TRUE (v) || YAJL_IS_FALSE (v))
    yajl_gen_bool (g, YAJL_IS_TRUE (v));
  else
    yajl_gen_null (g);
}

/* Copies key from the template object, if it has it. */
static void
gen_from (yajl_gen g, yajl_val obj, const char *key)
{
  const char *path[] = { key, NULL };
  yajl_val v = obj ? yajl_tree_get (obj, path, yajl_t_any) : NULL;
  if (v == NULL)
    return;
  gen_str (g, key);
  gen_value (g, v);
}

struct bundle_facts
{
  char *const *args;
  char *const *env;
  const char *cwd;
  const char *hostname;
  const struct casfs_user *user;
  char tree_hex[CASFS_DIGEST_HEX_LEN + 1];
  const char *store; /* absolute */
};

static void
gen_process (yajl_gen g, yajl_val template_process, const struct bundle_facts *f)
{
  gen_str (g, "process");
  yajl_gen_map_open (g);
  gen_str (g, "terminal");
  yajl_gen_bool (g, false);
  gen_str (g, "user");
  yajl_gen_map_open (g);
  gen_str (g, "uid");
  yajl_gen_integer (g, f->user->uid);
  gen_str (g, "gid");
  yajl_gen_integer (g, f->user->gid);
  if (f->user->n_additional_gids)
    {
      gen_str (g, "additionalGids");
      yajl_gen_array_open (g);
      for (size_t i = 0; i < f->user->n_additional_gids; i++)
        yajl_gen_integer (g, f->user->additional_gids[i]);
      yajl_gen_array_close (g);
    }
  yajl_gen_map_close (g);
  gen_strv (g, "args", f->args);
  gen_strv (g, "env", f->env);
  gen_str (g, "cwd");
  gen_str (g, f->cwd);
  gen_from (g, template_process, "capabilities");
  gen_from (g, template_process, "rlimits");
  gen_from (g, template_process, "noNewPrivileges");
  yajl_gen_map_close (g);
}

static int
gen_config (const struct bundle_facts *f, char **json, size_t *len, sp_error_t *err)
{
  cleanup_free char *template_text = oci_config_default_json (false);
  const char *process_path[] = { "process", NULL };
  yajl_val template;
  yajl_gen g;
  const unsigned char *buf;
  size_t buf_len;
  char msg[128];
  int ret = 0;

  template = yajl_tree_parse (template_text, msg, sizeof msg);
  if (template == NULL)
    return sp_error_make (err, EINVAL, "default config: %s", msg);
  g = yajl_gen_alloc (NULL);
  if (g == NULL)
    {
      yajl_tree_free (template);
      return sp_error_make (err, ENOMEM, "allocate JSON generator");
    }
  yajl_gen_config (g, yajl_gen_beautify, 1);
  yajl_gen_config (g, yajl_gen_indent_string, "\t");
  yajl_gen_config (g, yajl_gen_validate_utf8, 1);
  yajl_gen_map_open (g);
  gen_str (g, "ociVersion");
  gen_str (g, CASFS_BUNDLE_OCI_VERSION);
  gen_process (g, yajl_tree_get (template, process_path, yajl_t_object), f);
  gen_str (g, "root");
  yajl_gen_map_open (g);
  gen_str (g, "path");
  gen_str (g, "rootfs");
  /* samepage mounts a writable overlay over the tree (layer B) */
  gen_str (g, "readonly");
  yajl_gen_bool (g, false);
  yajl_gen_map_close (g);
  gen_str (g, "hostname");
  gen_str (g, f->hostname);
  gen_from (g, template, "mounts");
  gen_from (g, template, "linux");
  gen_str (g, "annotations");
  yajl_gen_map_open (g);
  gen_str (g, CASFS_ANNOTATION_TREE);
  gen_str (g, f->tree_hex);
  gen_str (g, CASFS_ANNOTATION_STORE);
  gen_str (g, f->store);
  yajl_gen_map_close (g);
  yajl_gen_map_close (g);
  if (yajl_gen_get_buf (g, &buf, &buf_len) != yajl_gen_status_ok)
    ret = sp_error_make (err, EINVAL, "config.json: generation failed (a string in the image config is not UTF-8?)");
  else
    {
      *json = sp_xmalloc0 (buf_len + 2);
      memcpy (*json, buf, buf_len);
      (*json)[buf_len] = '\n';
      *len = buf_len + 1;
    }
  yajl_gen_free (g);
  yajl_tree_free (template);
  return ret;
}

/* The ref's tree and, when it has one, its image record; a tree digest is
 * accepted as a bare tree. */
static int
lookup_image (struct casfs_store *s, const char *ref, struct casfs_digest *tree, struct casfs_image **img,
              sp_error_t *err)
{
  struct casfs_ref r;

  *img = NULL;
  if (casfs_store_read_ref (s, ref, &r, err) < 0)
    {
      if ((*err)->status != ENOENT)
        return -1;
      sp_error_release (err);
      if (casfs_store_resolve (s, ref, tree, err) < 0)
        return -1;
      sp_warn ("`%s` is a bare tree without an image record: process.args is [\"/bin/sh\"]", ref);
      return 0;
    }
  *tree = r.tree;
  if (!r.has_image)
    {
      sp_warn ("ref `%s` has no image record (imported as a plain tree): process.args is [\"/bin/sh\"]", ref);
      return 0;
    }
  if (casfs_image_read (s, &r.image, img, err) < 0)
    return sp_error_wrap (err, "ref `%s`", ref);
  return 0;
}

int
casfs_bundle_config (struct casfs_store *s, const char *ref, const struct casfs_bundle_options *opts,
                     char **json, size_t *len, sp_error_t *err)
{
  cleanup_image struct casfs_image *img = NULL;
  cleanup_free char *store = realpath (casfs_store_path (s), NULL);
  cleanup_strv char **env = NULL;
  struct image_process p = { 0 };
  struct casfs_user user = { 0 };
  struct casfs_digest tree;
  struct bundle_facts f = { 0 };
  char *const bare_args[] = { (char *) "/bin/sh", NULL };
  size_t n_env = 0;
  bool has_path = false;
  int ret = -1;

  if (store == NULL)
    return sp_error_errno (err, "store `%s`", casfs_store_path (s));
  if (lookup_image (s, ref, &tree, &img, err) < 0)
    return -1;
  if (img && img->config && parse_image_config (img->config, img->config_len, &p, err) < 0)
    {
      sp_error_wrap (err, "image `%s` (config %s)", ref, img->config_digest);
      goto out;
    }
  if (casfs_user_resolve (s, &tree, p.user, &user, err) < 0)
    {
      sp_error_wrap (err, "image `%s`", ref);
      goto out;
    }
  for (char **e = p.env; e && *e; e++)
    has_path = has_path || sp_str_has_prefix (*e, "PATH=");
  if (!has_path)
    strv_push (&env, &n_env, CASFS_BUNDLE_DEFAULT_PATH);
  for (char **e = p.env; e && *e; e++)
    strv_push (&env, &n_env, *e);
  f.args = opts && opts->args && opts->args[0] ? opts->args : p.args && p.args[0] ? p.args : bare_args;
  if (img && f.args == bare_args)
    sp_warn ("image `%s` has no Entrypoint or Cmd: process.args is [\"/bin/sh\"]", ref);
  f.env = env;
  f.cwd = p.cwd ? p.cwd : "/";
  if (f.cwd[0] != '/')
    {
      sp_error_make (err, EINVAL, "image `%s`: WorkingDir `%s` is not absolute", ref, f.cwd);
      goto out;
    }
  f.hostname = p.hostname ? p.hostname : DEFAULT_HOSTNAME;
  f.user = &user;
  casfs_digest_hex (&tree, f.tree_hex);
  f.store = store;
  ret = gen_config (&f, json, len, err);
out:
  casfs_user_clear (&user);
  image_process_clear (&p);
  return ret;
}

/* DIR/rootfs: created, or an existing empty directory. */
static int
make_rootfs (int dirfd, const char *dir, sp_error_t *err)
{
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  int fd;

  if (mkdirat (dirfd, "rootfs", 0755) == 0)
    return 0;
  if (errno != EEXIST)
    return sp_error_errno (err, "mkdir `%s/rootfs`", dir);
  fd = openat (dirfd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || (d = fdopendir (fd)) == NULL)
    {
      sp_error_errno (err, "`%s/rootfs` exists and is not a directory", dir);
      if (fd >= 0)
        close (fd);
      return -1;
    }
  errno = 0;
  while ((de = readdir (d)))
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
      return sp_error_make (err, EEXIST, "`%s/rootfs` exists and is not empty", dir);
  if (errno != 0)
    return sp_error_errno (err, "read `%s/rootfs`", dir);
  return 0;
}

int
casfs_bundle_write (struct casfs_store *s, const char *ref, const char *dir, const struct casfs_bundle_options *opts,
                    sp_error_t *err)
{
  cleanup_free char *json = NULL;
  cleanup_free char *tmp = NULL;
  cleanup_close int dirfd = -1;
  cleanup_close int fd = -1;
  size_t len;

  if (casfs_bundle_config (s, ref, opts, &json, &len, err) < 0)
    return -1;
  if (sp_mkdir_p (dir, 0755, err) < 0)
    return sp_error_wrap (err, "bundle `%s`", dir);
  dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return sp_error_errno (err, "open bundle `%s`", dir);
  if (faccessat (dirfd, "config.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return sp_error_make (err, EEXIST, "`%s/config.json` exists: not overwriting it", dir);
  if (make_rootfs (dirfd, dir, err) < 0)
    return -1;
  tmp = sp_xasprintf ("config.json.tmp.%d", (int) getpid ());
  fd = openat (dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return sp_error_errno (err, "create `%s/%s`", dir, tmp);
  if (sp_write_all (fd, json, len) < 0 || fsync (fd) < 0)
    {
      sp_error_errno (err, "write `%s/%s`", dir, tmp);
      unlinkat (dirfd, tmp, 0);
      return -1;
    }
  /* NOREPLACE: a config.json that appeared meanwhile is still never overwritten. */
  if (renameat2 (dirfd, tmp, dirfd, "config.json", RENAME_NOREPLACE) < 0)
    {
      sp_error_errno (err, "`%s/config.json`", dir);
      unlinkat (dirfd, tmp, 0);
      return -1;
    }
  if (fsync (dirfd) < 0)
    return sp_error_errno (err, "fsync `%s`", dir);
  return 0;
}
