/* Digest-keyed hash map and the decoded-tree cache used by store walkers. */
#include <samepage/casfs_walk.h>
#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct slot
{
  struct casfs_digest key;
  void *value;
  bool used;
};

struct casfs_digest_map
{
  struct slot *slots;
  size_t cap; /* power of two */
  size_t n;
};

struct casfs_digest_map *
casfs_digest_map_new (void)
{
  struct casfs_digest_map *m = sp_xmalloc0 (sizeof (*m));
  m->cap = 64;
  m->slots = sp_xmalloc0 (m->cap * sizeof (*m->slots));
  return m;
}

void
casfs_digest_map_free (struct casfs_digest_map *m, void (*free_value) (void *))
{
  if (m == NULL)
    return;
  if (free_value)
    for (size_t i = 0; i < m->cap; i++)
      if (m->slots[i].used && m->slots[i].value)
        free_value (m->slots[i].value);
  free (m->slots);
  free (m);
}

/* SHA-256 output is uniformly distributed: its first bytes are a fine hash. */
static size_t
hash_of (const struct casfs_digest *d)
{
  uint64_t h;
  memcpy (&h, d->b, sizeof h);
  return (size_t) h;
}

static struct slot *
probe (const struct casfs_digest_map *m, const struct casfs_digest *d)
{
  size_t i = hash_of (d) & (m->cap - 1);
  while (m->slots[i].used && memcmp (m->slots[i].key.b, d->b, CASFS_DIGEST_LEN) != 0)
    i = (i + 1) & (m->cap - 1);
  return &m->slots[i];
}

static void
grow (struct casfs_digest_map *m)
{
  struct slot *old = m->slots;
  size_t old_cap = m->cap;

  m->cap *= 2;
  m->slots = sp_xmalloc0 (m->cap * sizeof (*m->slots));
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].used)
      *probe (m, &old[i].key) = old[i];
  free (old);
}

void **
casfs_digest_map_insert (struct casfs_digest_map *m, const struct casfs_digest *d, bool *added)
{
  struct slot *sl;

  if ((m->n + 1) * 4 > m->cap * 3)
    grow (m);
  sl = probe (m, d);
  *added = !sl->used;
  if (!sl->used)
    {
      sl->used = true;
      sl->key = *d;
      sl->value = NULL;
      m->n++;
    }
  return &sl->value;
}

void **
casfs_digest_map_find (const struct casfs_digest_map *m, const struct casfs_digest *d)
{
  struct slot *sl = probe (m, d);
  return sl->used ? &sl->value : NULL;
}

size_t
casfs_digest_map_size (const struct casfs_digest_map *m)
{
  return m->n;
}

bool
casfs_digest_map_next (const struct casfs_digest_map *m, size_t *pos, const struct casfs_digest **d,
                       void ***value)
{
  for (; *pos < m->cap; (*pos)++)
    if (m->slots[*pos].used)
      {
        *d = &m->slots[*pos].key;
        *value = &m->slots[*pos].value;
        (*pos)++;
        return true;
      }
  return false;
}

int
casfs_walk_load_tree (struct casfs_store *s, const struct casfs_digest *d, struct casfs_tree **out,
                      char **problem, sp_error_t *err)
{
  cleanup_free char *rel = casfs_object_relpath (d);
  cleanup_free char *buf = NULL;
  struct casfs_digest check;
  sp_error_t derr = NULL;
  size_t len;

  *out = NULL;
  *problem = NULL;
  if (sp_read_file_at (casfs_store_trees_fd (s), rel, &buf, &len, err) < 0)
    {
      if ((*err)->status != ENOENT)
        return sp_error_wrap (err, "store `%s`: tree", casfs_store_path (s));
      sp_error_release (err);
      *problem = sp_xasprintf ("tree %s is missing", rel);
      return 0;
    }
  casfs_digest_of (buf, len, &check);
  if (memcmp (check.b, d->b, CASFS_DIGEST_LEN) != 0)
    {
      *problem = sp_xasprintf ("tree %s does not match its digest", rel);
      return 0;
    }
  if (casfs_tree_decode ((const uint8_t *) buf, len, out, &derr) < 0)
    {
      *problem = sp_xasprintf ("tree %s: %s", rel, derr->msg);
      sp_error_release (&derr);
      return 0;
    }
  return 0;
}

/* A cache value: the tree, or the reason it could not be loaded. */
struct cached
{
  struct casfs_tree *tree;
  char *problem;
};

struct casfs_tree_cache
{
  struct casfs_store *store;
  struct casfs_digest_map *map;
};

struct casfs_tree_cache *
casfs_tree_cache_new (struct casfs_store *s)
{
  struct casfs_tree_cache *c = sp_xmalloc0 (sizeof (*c));
  c->store = s;
  c->map = casfs_digest_map_new ();
  return c;
}

static void
free_cached (void *p)
{
  struct cached *v = p;
  casfs_tree_free (v->tree);
  free (v->problem);
  free (v);
}

void
casfs_tree_cache_free (struct casfs_tree_cache *c)
{
  if (c == NULL)
    return;
  casfs_digest_map_free (c->map, free_cached);
  free (c);
}

int
casfs_tree_cache_get (struct casfs_tree_cache *c, const struct casfs_digest *d, const struct casfs_tree **out,
                      const char **problem, sp_error_t *err)
{
  bool added;
  void **slot = casfs_digest_map_find (c->map, d);
  struct cached *v;

  if (slot == NULL)
    {
      struct casfs_tree *t = NULL;
      char *why = NULL;
      if (casfs_walk_load_tree (c->store, d, &t, &why, err) < 0)
        return -1;
      v = sp_xmalloc0 (sizeof (*v));
      v->tree = t;
      v->problem = why;
      slot = casfs_digest_map_insert (c->map, d, &added);
      *slot = v;
    }
  v = *slot;
  *out = v->tree;
  *problem = v->problem;
  return 0;
}

int
casfs_walk_fanout (struct casfs_store *s, const char *part, casfs_fanout_fn fn, void *data, sp_error_t *err)
{
  cleanup_close int part_fd = openat (casfs_store_root_fd (s), part, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (part_fd < 0)
    return sp_error_errno (err, "open `%s/%s`", casfs_store_path (s), part);
  for (int i = 0; i < 256; i++)
    {
      char sub[3];
      cleanup_close int fd = -1;
      cleanup_dir DIR *dir = NULL;
      struct dirent *de;

      snprintf (sub, sizeof sub, "%02x", i);
      fd = openat (part_fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0)
        {
          if (errno == ENOENT)
            continue;
          return sp_error_errno (err, "open `%s/%s/%s`", casfs_store_path (s), part, sub);
        }
      if ((dir = fdopendir (fd)) == NULL)
        return sp_error_errno (err, "read `%s/%s/%s`", casfs_store_path (s), part, sub);
      fd = -1;
      errno = 0;
      while ((de = readdir (dir)))
        {
          char hex[CASFS_DIGEST_HEX_LEN + 1];
          cleanup_free char *rel = NULL;
          struct casfs_digest d;
          bool named = false;

          if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
            continue;
          rel = sp_xasprintf ("%s/%s/%s", part, sub, de->d_name);
          if (strlen (de->d_name) == CASFS_DIGEST_HEX_LEN - 2)
            {
              sp_error_t perr = NULL;
              memcpy (hex, sub, 2);
              memcpy (hex + 2, de->d_name, CASFS_DIGEST_HEX_LEN - 2);
              hex[CASFS_DIGEST_HEX_LEN] = '\0';
              named = casfs_digest_parse (hex, &d, &perr) == 0;
              sp_error_release (&perr);
            }
          if (fn (dirfd (dir), de->d_name, rel, named ? &d : NULL, data, err) < 0)
            return -1;
          errno = 0;
        }
      if (errno != 0)
        return sp_error_errno (err, "read `%s/%s/%s`", casfs_store_path (s), part, sub);
    }
  return 0;
}

#define MAX_SYMLINK_HOPS 40

/* One step of resolution: the remaining path is kept as a string that symlink
 * targets are spliced into. */
int
casfs_walk_resolve (struct casfs_tree_cache *c, const struct casfs_digest *root, const char *path,
                    bool follow_final, const struct casfs_entry **entry, struct casfs_digest *tree,
                    sp_error_t *err)
{
  /* stack of directories from the root to the current one */
  cleanup_free struct casfs_digest *stack = sp_xmalloc0 (sizeof (*stack));
  cleanup_free const struct casfs_entry **entries = sp_xmalloc0 (sizeof (*entries));
  cleanup_free char *rest = sp_xstrdup (path);
  size_t depth = 0;
  int hops = 0;

  stack[0] = *root;
  entries[0] = NULL;
  for (;;)
    {
      char *p = rest, *slash, *next;
      const struct casfs_tree *t;
      const struct casfs_entry *e;
      const char *problem;
      bool last;

      while (*p == '/')
        p++;
      if (*p == '\0')
        break;
      slash = strchr (p, '/');
      next = slash ? slash + 1 : p + strlen (p);
      if (slash)
        *slash = '\0';
      while (*next == '/')
        next++;
      last = *next == '\0';
      if (strcmp (p, ".") == 0 || strcmp (p, "..") == 0)
        {
          if (p[1] == '.' && depth > 0)
            depth--;
          memmove (rest, next, strlen (next) + 1);
          continue;
        }
      if (!S_ISDIR (entries[depth] ? entries[depth]->mode : S_IFDIR))
        return sp_error_make (err, ENOTDIR, "`%s`", path);
      if (casfs_tree_cache_get (c, &stack[depth], &t, &problem, err) < 0)
        return -1;
      if (t == NULL)
        return sp_error_make (err, EIO, "`%s`: %s", path, problem);
      e = casfs_tree_lookup (t, p);
      if (e == NULL)
        return sp_error_make (err, ENOENT, "`%s`", path);
      if (S_ISLNK (e->mode) && (!last || follow_final))
        {
          char *spliced;
          if (++hops > MAX_SYMLINK_HOPS)
            return sp_error_make (err, ELOOP, "`%s`", path);
          if (e->target[0] == '/')
            depth = 0;
          spliced = sp_xasprintf ("%s/%s", e->target, next);
          free (rest);
          rest = spliced;
          continue;
        }
      depth++;
      stack = sp_xrealloc (stack, (depth + 1) * sizeof (*stack));
      entries = sp_xrealloc (entries, (depth + 1) * sizeof (*entries));
      stack[depth] = e->digest;
      entries[depth] = e;
      memmove (rest, next, strlen (next) + 1);
    }
  *entry = entries[depth];
  *tree = stack[depth];
  return 0;
}

size_t
casfs_tree_cache_size (const struct casfs_tree_cache *c)
{
  return casfs_digest_map_size (c->map);
}
