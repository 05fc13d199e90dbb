/* The heavy half of a container's casfs rootfs, run as `casfs runtime-*`
 * by the runtime: imports an engine's layers (cached), composes them,
 * starts the store's FUSE view, mounts layer A (shared per tree, counted
 * per container) and keeps the tree from gc.  See include/samepage/casfs_plan.h. */
#include <samepage/casfs_fuse.h>
#include <samepage/casfs_import.h>
#include <samepage/casfs_plan.h>
#include <samepage/casfs_store.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

/* Value of key=... in a comma-separated option list (\ooo-escaped). */
static char *
option_value (const char *opts, const char *key)
{
  size_t kl = strlen (key);
  const char *p = opts;
  while (p && *p)
    {
      const char *end = strchr (p, ',');
      size_t len = end ? (size_t) (end - p) : strlen (p);
      if (len > kl && strncmp (p, key, kl) == 0 && p[kl] == '=')
        {
          char *v = strndup (p + kl + 1, len - kl - 1);
          if (v)
            sp_unescape_octal (v);
          return v;
        }
      p = end ? end + 1 : NULL;
    }
  return NULL;
}

static bool
is_overlay_mount (const char *path)
{
  struct statfs sf;
  struct stat a, b;
  cleanup_free char *parent = sp_xasprintf ("%s/..", path);
  return statfs (path, &sf) == 0 && sf.f_type == OVERLAYFS_SUPER_MAGIC && stat (path, &a) == 0
         && stat (parent, &b) == 0 && a.st_dev != b.st_dev;
}

static char *
layer_a_dir (const char *store, const char *hex)
{
  char real[PATH_MAX];
  struct casfs_digest d;
  char shex[CASFS_DIGEST_HEX_LEN + 1];
  const char *p = realpath (store, real) ? real : store;
  casfs_digest_of (p, strlen (p), &d);
  casfs_digest_hex (&d, shex);
  return sp_xasprintf ("%s/%.12s-%s", SP_LAYERS_DIR, shex, hex);
}

/* Mounts layer A for the tree unless mounted, and registers the container
 * as a user; both under the tree's lock so a concurrent last release
 * cannot unmount it between the check and the registration. */
static int
acquire_layer_a (const char *id, const char *store, const char *view_mp, const char *hex, char **mnt_out,
                 sp_error_t *err)
{
  /* One layer A per store and tree: a tree of another store reads other objects. */
  cleanup_free char *dir = layer_a_dir (store, hex);
  cleanup_free char *lock_path = sp_xasprintf ("%s/lock", dir);
  cleanup_free char *mnt = sp_xasprintf ("%s/mnt", dir);
  cleanup_free char *users = sp_xasprintf ("%s/users", dir);
  cleanup_free char *user = sp_xasprintf ("%s/users/%s", dir, id);
  cleanup_free char *opts = NULL;
  cleanup_close int lock = -1;
  cleanup_close int ufd = -1;

  if (sp_mkdir_p (mnt, 0755, err) < 0 || sp_mkdir_p (users, 0700, err) < 0)
    return -1;
  lock = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || flock (lock, LOCK_EX) < 0)
    return sp_error_errno (err, "lock `%s`", lock_path);
  if (!is_overlay_mount (mnt))
    {
      opts = sp_xasprintf ("ro,metacopy=on,redirect_dir=follow,lowerdir=%s/trees/%s::%s/objects", view_mp, hex, store);
      if (mount ("overlay", mnt, "overlay", MS_RDONLY | MS_NODEV, opts) < 0)
        return sp_error_errno (err, "mount layer A (overlay -o %s) on `%s`", opts, mnt);
    }
  ufd = open (user, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (ufd < 0)
    return sp_error_errno (err, "register `%s`", user);
  *mnt_out = steal_pointer (&mnt);
  return 0;
}

static int
release_layer_a (const char *id, const char *layer_a, sp_error_t *err)
{
  cleanup_free char *dir = sp_xstrdup (layer_a);
  cleanup_free char *lock_path = NULL;
  cleanup_free char *user = NULL;
  cleanup_free char *users = NULL;
  cleanup_close int lock = -1;
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  bool others = false;
  char *slash = strrchr (dir, '/');

  if (slash == NULL)
    return 0;
  *slash = '\0'; /* layer_a is DIR/mnt */
  lock_path = sp_xasprintf ("%s/lock", dir);
  user = sp_xasprintf ("%s/users/%s", dir, id);
  users = sp_xasprintf ("%s/users", dir);
  lock = open (lock_path, O_RDWR | O_CLOEXEC);
  if (lock < 0)
    return errno == ENOENT ? 0 : sp_error_errno (err, "open `%s`", lock_path);
  if (flock (lock, LOCK_EX) < 0)
    return sp_error_errno (err, "lock `%s`", lock_path);
  if (unlink (user) < 0 && errno != ENOENT)
    return sp_error_errno (err, "unregister `%s`", user);
  d = opendir (users);
  while (d && (de = readdir (d)))
    if (de->d_name[0] != '.')
      others = true;
  if (others)
    return 0;
  if (is_overlay_mount (layer_a) && umount2 (layer_a, MNT_DETACH) < 0)
    return sp_error_errno (err, "unmount layer A `%s`", layer_a);
  /* The directory goes; the lock file goes last, still held. */
  rmdir (users);
  rmdir (layer_a);
  unlink (lock_path);
  rmdir (dir);
  return 0;
}

/* The FUSE daemon serves as long as some container uses the store: users
 * are files in VIEW.users/, changed under VIEW.users.lock; the last one out
 * unmounts the view while holding the lock, so a concurrent start either
 * registers first (and keeps it) or starts a new daemon after. */
static int
view_users_lock (const char *view, sp_error_t *err)
{
  cleanup_free char *path = sp_xasprintf ("%s.users.lock", view);
  cleanup_close int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || flock (fd, LOCK_EX) < 0)
    return sp_error_errno (err, "lock `%s`", path);
  return sp_steal_fd (&fd);
}

static int
register_view_user (const char *view, const char *id, sp_error_t *err)
{
  cleanup_free char *dir = sp_xasprintf ("%s.users", view);
  cleanup_free char *user = sp_xasprintf ("%s.users/%s", view, id);
  cleanup_close int lock = view_users_lock (view, err);
  cleanup_close int fd = -1;

  if (lock < 0 || sp_mkdir_p (dir, 0700, err) < 0)
    return -1;
  fd = open (user, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return sp_error_errno (err, "register `%s`", user);
  return 0;
}

static int
release_view_user (const char *view, const char *store, const char *id, sp_error_t *err)
{
  cleanup_free char *dir = sp_xasprintf ("%s.users", view);
  cleanup_free char *user = sp_xasprintf ("%s.users/%s", view, id);
  cleanup_close int lock = view_users_lock (view, err);
  cleanup_dir DIR *d = NULL;
  struct dirent *de;

  if (lock < 0)
    return -1;
  if (unlink (user) < 0 && errno != ENOENT)
    return sp_error_errno (err, "unregister `%s`", user);
  d = opendir (dir);
  while (d && (de = readdir (d)))
    if (de->d_name[0] != '.')
      return 0;
  if (casfs_fuse_probe (store, view, err) == CASFS_FUSE_NOT_MOUNTED)
    return 0;
  sp_error_release (err);
  if (casfs_fuse_unmount (view, CASFS_UMOUNT_LAZY, err) < 0)
    return sp_error_wrap (err, "stop the casfs view at `%s`", view);
  return 0;
}

static bool
tree_exists (struct casfs_store *s, const struct casfs_digest *d)
{
  cleanup_free char *rel = casfs_object_relpath (d);
  return faccessat (casfs_store_trees_fd (s), rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Composes layer trees (bottom first) once: cached by the list of layer
 * digests, so later containers of an image skip the walk. */
static int
merge_layers_cached (struct casfs_store *s, const struct casfs_digest *trees, size_t n, struct casfs_digest *merged,
                     sp_error_t *err)
{
  cleanup_free char *cache_dir = sp_xasprintf ("%s/cache/merged", casfs_store_path (s));
  cleanup_free char *cache = NULL;
  cleanup_free char *cached = NULL;
  struct casfs_digest kd;
  char khex[CASFS_DIGEST_HEX_LEN + 1], mhex[CASFS_DIGEST_HEX_LEN + 2];
  sp_error_t ignore = NULL;

  casfs_digest_of (trees, n * sizeof (*trees), &kd);
  casfs_digest_hex (&kd, khex);
  cache = sp_xasprintf ("%s/%s", cache_dir, khex);
  if (sp_read_file (cache, &cached, NULL, &ignore) == 0)
    {
      cached[strcspn (cached, "\n")] = '\0';
      if (casfs_digest_parse (cached, merged, &ignore) == 0 && tree_exists (s, merged))
        return 0;
    }
  sp_error_release (&ignore);
  if (casfs_layers_merge (s, trees, n, merged, err) < 0)
    return -1;
  casfs_digest_hex (merged, mhex);
  strcat (mhex, "\n");
  if (sp_mkdir_p (cache_dir, 0700, err) < 0 || sp_write_file_replace (cache, mhex, strlen (mhex), 0600, err) < 0)
    sp_log_error_release (err); /* only the cache is lost */
  return 0;
}

/* Imports an engine layer directory once: cached by path and identity. */
static int
import_layer_cached (struct casfs_store *s, const char *dir, struct casfs_digest *tree, bool *imported,
                     sp_error_t *err)
{
  struct stat st;
  cleanup_free char *key = NULL;
  cleanup_free char *cache_dir = sp_xasprintf ("%s/cache/layers", casfs_store_path (s));
  cleanup_free char *cache = NULL;
  cleanup_free char *cached = NULL;
  struct casfs_digest kd;
  char khex[CASFS_DIGEST_HEX_LEN + 1], thex[CASFS_DIGEST_HEX_LEN + 2];
  sp_error_t ignore = NULL;

  if (stat (dir, &st) < 0)
    return sp_error_errno (err, "layer `%s`", dir);
  key = sp_xasprintf ("%s\n%lu\n%lu\n%lld.%09ld", dir, (unsigned long) st.st_dev, (unsigned long) st.st_ino,
                      (long long) st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
  casfs_digest_of (key, strlen (key), &kd);
  casfs_digest_hex (&kd, khex);
  cache = sp_xasprintf ("%s/%s", cache_dir, khex);
  if (sp_read_file (cache, &cached, NULL, &ignore) == 0)
    {
      cached[strcspn (cached, "\n")] = '\0';
      if (casfs_digest_parse (cached, tree, &ignore) == 0)
        {
          /* gc may have collected it since. */
          if (tree_exists (s, tree))
            {
              *imported = false;
              return 0;
            }
        }
    }
  sp_error_release (&ignore);
  if (casfs_import_dir (s, dir, tree, err) < 0)
    return sp_error_wrap (err, "import layer `%s`", dir);
  *imported = true;
  casfs_digest_hex (tree, thex);
  strcat (thex, "\n");
  if (sp_mkdir_p (cache_dir, 0700, err) < 0 || sp_write_file_replace (cache, thex, strlen (thex), 0600, err) < 0)
    sp_log_error_release (err); /* only the cache is lost */
  return 0;
}

/* Splits an overlay lowerdir list (top first, ':' separated, "::" for
 * data-only layers, '\' escapes) into absolute paths, bottom first. */
static char **
split_lowerdirs (const char *lower, const char *base, size_t *n_out, bool *data_only)
{
  char **v = NULL;
  size_t n = 0;
  cleanup_free char *cur = sp_xmalloc0 (strlen (lower) + 1);
  size_t len = 0;

  *data_only = false;
  for (const char *p = lower;; p++)
    {
      if (*p == '\\' && p[1])
        {
          cur[len++] = *++p;
          continue;
        }
      if (*p == ':' || *p == '\0')
        {
          cur[len] = '\0';
          if (len)
            {
              v = sp_xrealloc (v, (n + 2) * sizeof (char *));
              v[n++] = cur[0] == '/' ? sp_xstrdup (cur) : sp_xasprintf ("%s/%s", base, cur);
              v[n] = NULL;
            }
          len = 0;
          if (*p == '\0')
            break;
          if (p[1] == ':')
            {
              *data_only = true;
              p++;
            }
          continue;
        }
      cur[len++] = *p;
    }
  for (size_t i = 0; i < n / 2; i++)
    {
      char *t = v[i];
      v[i] = v[n - 1 - i];
      v[n - 1 - i] = t;
    }
  *n_out = n;
  return v;
}

static int
prepare_dropin (struct casfs_store *s, const char *rootfs, const char *opts, struct sp_casfs_plan *plan,
                struct casfs_digest *merged, sp_error_t *err)
{
  cleanup_free char *lower = option_value (opts, "lowerdir");
  cleanup_free char *upper = option_value (opts, "upperdir");
  cleanup_free char *work = option_value (opts, "workdir");
  cleanup_free char *base = NULL;
  cleanup_free struct casfs_digest *trees = NULL;
  cleanup_strv char **dirs = NULL;
  unsigned long long t0 = sp_now_ns ();
  size_t n = 0, fresh = 0;
  bool data_only;

  if (lower == NULL || upper == NULL || work == NULL)
    return sp_error_make (err, ENOTSUP, "engine overlay at `%s` has no upperdir/workdir (read-only rootfs?)", rootfs);
  /* podman passes lowerdirs relative to its overlay directory ("l/ABC"). */
  base = sp_xstrdup (upper);
  for (int i = 0; i < 2 && strrchr (base, '/'); i++)
    *strrchr (base, '/') = '\0';
  dirs = split_lowerdirs (lower, base, &n, &data_only);
  if (data_only || n == 0)
    return sp_error_make (err, ENOTSUP, "engine overlay at `%s`: unsupported lowerdir `%s`", rootfs, lower);
  trees = sp_xmalloc0 (n * sizeof (*trees));
  for (size_t i = 0; i < n; i++)
    {
      bool imported = false;
      if (import_layer_cached (s, dirs[i], &trees[i], &imported, err) < 0)
        return -1;
      fresh += imported;
    }
  if (merge_layers_cached (s, trees, n, merged, err) < 0)
    return sp_error_wrap (err, "compose layers of `%s`", rootfs);
  if (fresh)
    sp_info ("casfs: imported %zu of %zu layers of `%s` in %.1f ms", fresh, n, rootfs,
             (double) (sp_now_ns () - t0) / 1e6);
  plan->dropin = true;
  plan->upper = steal_pointer (&upper);
  {
    /* Our own workdir beside the engine's: overlayfs empties a workdir at
     * mount time, so two mounts must never share one. */
    cleanup_free char *parent = sp_xstrdup (work);
    if (strrchr (parent, '/'))
      *strrchr (parent, '/') = '\0';
    plan->own_dirs = sp_xasprintf ("%s/samepage-work", parent);
    plan->work = sp_xasprintf ("%s/work", plan->own_dirs);
    if (sp_mkdir_p (plan->work, 0700, err) < 0)
      return -1;
  }
  return 0;
}

int
casfs_runtime_prepare (const struct casfs_runtime_request *rq, struct sp_casfs_plan *plan, sp_error_t *err)
{
  cleanup_store struct casfs_store *s = NULL;
  struct casfs_digest tree;
  char hex[CASFS_DIGEST_HEX_LEN + 1];
  bool bundle_mode = rq->tree != NULL;
  int ret = -1;

  memset (plan, 0, sizeof *plan);
  plan->store = sp_xstrdup (rq->store);
  if (casfs_store_open (rq->store, !bundle_mode, &s, err) < 0)
    goto out;
  if (bundle_mode)
    {
      if (casfs_store_resolve (s, rq->tree, &tree, err) < 0)
        goto out;
      plan->own_dirs = sp_xasprintf ("%s/casfs-layer", rq->bundle);
      plan->upper = sp_xasprintf ("%s/upper", plan->own_dirs);
      plan->work = sp_xasprintf ("%s/work", plan->own_dirs);
      if (sp_mkdir_p (plan->upper, 0755, err) < 0 || sp_mkdir_p (plan->work, 0700, err) < 0)
        goto out;
    }
  else if (prepare_dropin (s, rq->rootfs, rq->engine_options, plan, &tree, err) < 0)
    goto out;
  casfs_digest_hex (&tree, hex);
  plan->tree_hex = sp_xstrdup (hex);
  /* Keep the tree from gc while the container exists. */
  if (casfs_store_add_root (s, rq->id, &tree, 1, err) < 0)
    goto out;
  if (register_view_user (rq->view, rq->id, err) < 0)
    goto out;
  plan->view = sp_xstrdup (rq->view);
  if (casfs_fuse_ensure_running (rq->store, rq->view, err) < 0)
    goto out;
  if (acquire_layer_a (rq->id, rq->store, rq->view, hex, &plan->layer_a, err) < 0)
    goto out;
  plan->active = true;
  ret = 0;
out:
  if (ret < 0)
    {
      sp_error_t e2 = NULL;
      if (s && casfs_store_remove_root (s, rq->id, &e2) < 0)
        sp_error_release (&e2);
      if (plan->view && release_view_user (plan->view, plan->store, rq->id, &e2) < 0)
        sp_error_release (&e2);
      if (plan->own_dirs && sp_rm_rf (plan->own_dirs, &e2) < 0)
        sp_error_release (&e2);
      sp_casfs_plan_clear (plan);
    }
  return ret;
}

int
casfs_runtime_warm (const char *store, const char *dir, sp_error_t *err)
{
  cleanup_store struct casfs_store *s = NULL;
  struct casfs_digest tree;
  bool imported = false;

  if (casfs_store_open (store, true, &s, err) < 0 || import_layer_cached (s, dir, &tree, &imported, err) < 0)
    return -1;
  return imported ? 1 : 0;
}

int
casfs_runtime_release (const char *id, const struct sp_casfs_plan *p, sp_error_t *err)
{
  cleanup_store struct casfs_store *s = NULL;
  int ret = 0;

  if (!p->active)
    return 0;
  if (release_layer_a (id, p->layer_a, err) < 0)
    ret = -1;
  if (casfs_store_open (p->store, false, &s, ret < 0 ? NULL : err) == 0)
    {
      if (casfs_store_remove_root (s, id, ret < 0 ? NULL : err) < 0)
        ret = -1;
    }
  else
    ret = -1;
  if (p->own_dirs && *p->own_dirs && sp_rm_rf (p->own_dirs, ret < 0 ? NULL : err) < 0)
    ret = -1;
  if (p->view && release_view_user (p->view, p->store, id, ret < 0 ? NULL : err) < 0)
    ret = -1;
  return ret;
}
