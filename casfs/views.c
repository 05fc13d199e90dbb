/* What the casfs mount shows: the root (trees/, refs/, stats), tree views
 * resolved lazily from tree objects, and refs as symlinks to them.  Decoded
 * trees are shared through a bounded LRU cache. */
#include "fuse_internal.h"

#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cf_cached_tree
{
  struct casfs_digest d;
  struct casfs_tree *tree;
  unsigned refs;
  struct cf_cached_tree *prev, *next; /* LRU list, most recent first */
  struct cf_cached_tree *hnext;       /* hash chain */
};

#define CF_TREE_BUCKETS 16384

struct cf_tree_cache
{
  pthread_mutex_t lock;
  struct casfs_store *store;
  struct cf_cached_tree *head, *tail;
  struct cf_cached_tree *buckets[CF_TREE_BUCKETS];
  size_t n_entries, max_entries, n_trees;
  atomic_ullong loads;
};

struct cf_tree_cache *
cf_tree_cache_new (struct casfs_store *s, size_t max_entries)
{
  struct cf_tree_cache *c = sp_xmalloc0 (sizeof (*c));
  pthread_mutex_init (&c->lock, NULL);
  c->store = s;
  c->max_entries = max_entries;
  return c;
}

static void
lru_unlink (struct cf_tree_cache *c, struct cf_cached_tree *t)
{
  if (t->prev)
    t->prev->next = t->next;
  else
    c->head = t->next;
  if (t->next)
    t->next->prev = t->prev;
  else
    c->tail = t->prev;
  t->prev = t->next = NULL;
}

static void
lru_push_front (struct cf_tree_cache *c, struct cf_cached_tree *t)
{
  t->prev = NULL;
  t->next = c->head;
  if (c->head)
    c->head->prev = t;
  c->head = t;
  if (c->tail == NULL)
    c->tail = t;
}

void
cf_tree_cache_free (struct cf_tree_cache *c)
{
  if (c == NULL)
    return;
  for (struct cf_cached_tree *t = c->head, *next; t; t = next)
    {
      next = t->next;
      casfs_tree_free (t->tree);
      free (t);
    }
  pthread_mutex_destroy (&c->lock);
  free (c);
}

static struct cf_cached_tree **
bucket_of (struct cf_tree_cache *c, const struct casfs_digest *d)
{
  uint32_t h;
  memcpy (&h, d->b, sizeof h);
  return &c->buckets[h % CF_TREE_BUCKETS];
}

static struct cf_cached_tree *
find_locked (struct cf_tree_cache *c, const struct casfs_digest *d)
{
  for (struct cf_cached_tree *t = *bucket_of (c, d); t; t = t->hnext)
    if (memcmp (t->d.b, d->b, CASFS_DIGEST_LEN) == 0)
      return t;
  return NULL;
}

/* Drops unreferenced trees from the cold end until the cache fits (in
 * entries, and in trees: small trees still cost their headers). */
static void
evict_locked (struct cf_tree_cache *c, struct cf_cached_tree **dropped)
{
  for (struct cf_cached_tree *t = c->tail, *prev;
       t && (c->n_entries > c->max_entries || c->n_trees > c->max_entries / 8); t = prev)
    {
      struct cf_cached_tree **pp;
      prev = t->prev;
      if (t->refs)
        continue;
      lru_unlink (c, t);
      for (pp = bucket_of (c, &t->d); *pp != t; pp = &(*pp)->hnext)
        ;
      *pp = t->hnext;
      c->n_entries -= t->tree->n;
      c->n_trees--;
      t->next = *dropped;
      *dropped = t;
    }
}

int
cf_tree_cache_get (struct cf_tree_cache *c, const struct casfs_digest *d, struct cf_tree_ref *out,
                   sp_error_t *err)
{
  struct cf_cached_tree *t, *dropped = NULL;
  struct casfs_tree *tree = NULL;

  pthread_mutex_lock (&c->lock);
  t = find_locked (c, d);
  if (t)
    {
      t->refs++;
      lru_unlink (c, t);
      lru_push_front (c, t);
      pthread_mutex_unlock (&c->lock);
      out->ct = t;
      out->tree = t->tree;
      return 0;
    }
  pthread_mutex_unlock (&c->lock);

  if (casfs_store_read_tree (c->store, d, &tree, err) < 0)
    return -1;
  c->loads++;
  pthread_mutex_lock (&c->lock);
  t = find_locked (c, d); /* another thread may have loaded it meanwhile */
  if (t)
    casfs_tree_free (tree);
  else
    {
      t = sp_xmalloc0 (sizeof (*t));
      t->d = *d;
      t->tree = tree;
      c->n_entries += tree->n;
      c->n_trees++;
      t->hnext = *bucket_of (c, d);
      *bucket_of (c, d) = t;
      lru_push_front (c, t);
    }
  t->refs++;
  lru_unlink (c, t);
  lru_push_front (c, t);
  evict_locked (c, &dropped);
  pthread_mutex_unlock (&c->lock);
  while (dropped)
    {
      struct cf_cached_tree *next = dropped->next;
      casfs_tree_free (dropped->tree);
      free (dropped);
      dropped = next;
    }
  out->ct = t;
  out->tree = t->tree;
  return 0;
}

void
cf_tree_cache_put (struct cf_tree_cache *c, struct cf_tree_ref *r)
{
  if (r->ct == NULL)
    return;
  pthread_mutex_lock (&c->lock);
  r->ct->refs--;
  pthread_mutex_unlock (&c->lock);
  r->ct = NULL;
  r->tree = NULL;
}

/* The same escaping as the store's refs/ directory: '/' "%2F", '%' "%25",
 * and a leading '.'. */
char *
casfs_fuse_escape_ref (const char *name)
{
  char *out = sp_xmalloc0 (strlen (name) * 3 + 1), *o = out;
  for (const char *p = name; *p; p++)
    {
      if (*p == '/' || *p == '%' || (p == name && *p == '.'))
        o += sprintf (o, "%%%02X", (unsigned char) *p);
      else
        *o++ = *p;
    }
  return out;
}

char *
casfs_fuse_unescape_ref (const char *name)
{
  char *out = sp_xmalloc0 (strlen (name) + 1), *o = out;
  for (const char *p = name; *p; p++)
    {
      unsigned v;
      if (*p == '%' && sscanf (p + 1, "%2X", &v) == 1)
        {
          *o++ = (char) v;
          p += 2;
        }
      else
        *o++ = *p;
    }
  return out;
}

bool
cf_view_is_dir (const struct cf_node *n)
{
  return S_ISDIR (n->e.mode);
}

/* Directories report 2 + their sub-directories, as local filesystems do. */
static uint32_t
dir_nlink (struct cf_fs *fs, const struct casfs_digest *tree)
{
  struct cf_tree_ref r = { 0 };
  sp_error_t err = NULL;
  uint32_t n = 2;

  if (cf_tree_cache_get (fs->trees, tree, &r, &err) < 0)
    {
      sp_error_release (&err); /* the error is reported when the directory is read */
      return 2;
    }
  for (size_t i = 0; i < r.tree->n; i++)
    if (S_ISDIR (r.tree->entries[i].mode))
      n++;
  cf_tree_cache_put (fs->trees, &r);
  return n;
}

/* The identity of an entry of dir's tree (see cf_key_*). */
static void
child_key (struct cf_node *dir, const struct casfs_entry *e, struct casfs_digest *key)
{
  if (S_ISDIR (e->mode))
    cf_key_dir (dir->ino, e->name, key);
  else
    cf_key_entry (e, key);
}

static struct cf_node *
child_ref (struct cf_fs *fs, struct cf_node *dir, const struct casfs_entry *e, const struct casfs_digest *key)
{
  struct cf_node tmpl = { 0 };

  tmpl.kind = CF_ENTRY;
  tmpl.e = *e;
  tmpl.parent = dir->ino;
  tmpl.key = *key;
  if (S_ISDIR (e->mode))
    tmpl.e.nlink = dir_nlink (fs, &e->digest);
  return cf_inodes_ref (fs->inodes, &tmpl);
}

struct cf_node *
cf_view_child (struct cf_fs *fs, struct cf_node *dir, const struct casfs_entry *e)
{
  struct casfs_digest key;
  child_key (dir, e, &key);
  return child_ref (fs, dir, e, &key);
}

struct cf_node *
cf_view_child_plus (struct cf_fs *fs, struct cf_node *dir, const struct casfs_entry *e, fuse_ino_t *held)
{
  struct casfs_digest key;
  child_key (dir, e, &key);
  *held = cf_inodes_held_in (fs->inodes, &key, dir->ino);
  return *held ? NULL : child_ref (fs, dir, e, &key);
}

fuse_ino_t
cf_view_child_ino (struct cf_fs *fs, struct cf_node *dir, const struct casfs_entry *e)
{
  struct casfs_digest key;
  child_key (dir, e, &key);
  return cf_inodes_peek (fs->inodes, &key);
}

static int
lookup_tree_root (struct cf_fs *fs, const char *name, struct cf_node **out, sp_error_t *err)
{
  struct cf_node tmpl = { 0 };
  struct casfs_digest d;

  if (strlen (name) != CASFS_DIGEST_HEX_LEN || casfs_digest_parse (name, &d, NULL) < 0)
    return sp_error_make (err, ENOENT, "`%s` is not a tree digest", name);
  tmpl.kind = CF_TREE_ROOT;
  tmpl.e.digest = d;
  tmpl.parent = CF_INO_TREES;
  /* An image's tree has no entry for its own root: show it as a plain
   * root-owned 0755 directory. */
  tmpl.e.mode = S_IFDIR | 0755;
  {
    struct cf_tree_ref r = { 0 };
    if (cf_tree_cache_get (fs->trees, &d, &r, err) < 0)
      {
        if ((*err)->status != ENOENT)
          {
            fs->n.eio++;
            sp_warn ("tree view %s: %s", name, (*err)->msg);
            (*err)->status = EIO;
          }
        return -1;
      }
    tmpl.e.nlink = 2;
    for (size_t i = 0; i < r.tree->n; i++)
      if (S_ISDIR (r.tree->entries[i].mode))
        tmpl.e.nlink++;
    cf_tree_cache_put (fs->trees, &r);
  }
  cf_key_tree (&d, &tmpl.key);
  *out = cf_inodes_ref (fs->inodes, &tmpl);
  return 0;
}

static int
lookup_ref (struct cf_fs *fs, const char *name, struct cf_node **out, sp_error_t *err)
{
  cleanup_free char *ref = casfs_fuse_unescape_ref (name);
  cleanup_free char *target = NULL;
  struct cf_node tmpl = { 0 };
  struct casfs_digest d;

  if (casfs_store_resolve_ref (fs->store, ref, &d, err) < 0)
    {
      if ((*err)->status != ENOENT)
        {
          sp_warn ("ref `%s`: %s", ref, (*err)->msg);
          (*err)->status = ENOENT;
        }
      return -1;
    }
  tmpl.kind = CF_REF_LINK;
  tmpl.e.mode = S_IFLNK | 0777;
  tmpl.e.digest = d;
  tmpl.ref_name = ref;
  tmpl.e.size = strlen ("../trees/") + CASFS_DIGEST_HEX_LEN;
  cf_key_ref (ref, &d, &tmpl.key);
  *out = cf_inodes_ref (fs->inodes, &tmpl);
  return 0;
}

int
cf_view_lookup (struct cf_fs *fs, struct cf_node *dir, const char *name, struct cf_node **out, double *timeout,
                sp_error_t *err)
{
  *timeout = fs->tree_timeout;
  switch (dir->kind)
    {
    case CF_ROOT:
      {
        static const struct
        {
          const char *name;
          fuse_ino_t ino;
        } fixed[] = { { "trees", CF_INO_TREES }, { "refs", CF_INO_REFS }, { "stats", CF_INO_STATS } };
        for (size_t i = 0; i < SP_ARRAY_SIZE (fixed); i++)
          if (strcmp (name, fixed[i].name) == 0)
            {
              *out = cf_inodes_get (fs->inodes, fixed[i].ino);
              if (fixed[i].ino == CF_INO_STATS)
                *timeout = 0;
              return 0;
            }
        return sp_error_make (err, ENOENT, "no `%s` in the mount's root", name);
      }
    case CF_TREES:
      return lookup_tree_root (fs, name, out, err);
    case CF_REFS:
      *timeout = fs->ref_timeout;
      return lookup_ref (fs, name, out, err);
    case CF_TREE_ROOT:
    case CF_ENTRY:
      {
        struct cf_tree_ref r = { 0 };
        const struct casfs_entry *e;
        char hex[CASFS_DIGEST_HEX_LEN + 1];

        if (!S_ISDIR (dir->e.mode))
          return sp_error_make (err, ENOTDIR, "lookup in a non-directory");
        if (cf_tree_cache_get (fs->trees, &dir->e.digest, &r, err) < 0)
          {
            casfs_digest_hex (&dir->e.digest, hex);
            fs->n.eio++;
            sp_warn ("tree %s: %s", hex, (*err)->msg);
            (*err)->status = EIO;
            return -1;
          }
        e = casfs_tree_lookup (r.tree, name);
        if (e == NULL)
          {
            cf_tree_cache_put (fs->trees, &r);
            return sp_error_make (err, ENOENT, "no `%s`", name);
          }
        *out = cf_view_child (fs, dir, e);
        cf_tree_cache_put (fs->trees, &r);
        return 0;
      }
    default:
      return sp_error_make (err, ENOTDIR, "lookup in a non-directory");
    }
}

int
cf_view_list_synthetic (struct cf_fs *fs, struct cf_node *dir, char ***out, sp_error_t *err)
{
  cleanup_strv char **refs = NULL;
  cleanup_strv char **v = NULL;
  size_t n = 0;

  if (dir->kind == CF_ROOT)
    {
      v = sp_xmalloc0 (4 * sizeof (char *));
      v[0] = sp_xstrdup ("trees");
      v[1] = sp_xstrdup ("refs");
      v[2] = sp_xstrdup ("stats");
      *out = steal_pointer (&v);
      return 0;
    }
  if (casfs_store_list_refs (fs->store, &refs, err) < 0)
    return -1;
  v = sp_xmalloc0 ((sp_strv_len (refs) + 1) * sizeof (char *));
  for (char **r = refs; *r; r++)
    {
      struct casfs_digest d;
      char hex[CASFS_DIGEST_HEX_LEN + 1];
      bool seen = false;

      if (dir->kind == CF_REFS)
        {
          v[n++] = casfs_fuse_escape_ref (*r);
          continue;
        }
      /* trees/ lists the trees refs name; any other tree is found on lookup. */
      if (casfs_store_resolve_ref (fs->store, *r, &d, err) < 0)
        {
          sp_error_release (err);
          continue;
        }
      casfs_digest_hex (&d, hex);
      for (size_t i = 0; i < n && !seen; i++)
        seen = strcmp (v[i], hex) == 0;
      if (!seen)
        v[n++] = sp_xstrdup (hex);
    }
  *out = steal_pointer (&v);
  return 0;
}

char *
cf_view_ref_target (const struct cf_node *n)
{
  char hex[CASFS_DIGEST_HEX_LEN + 1];
  casfs_digest_hex (&n->e.digest, hex);
  return sp_xasprintf ("../trees/%s", hex);
}

char *
cf_view_stats_text (struct cf_fs *fs)
{
  return sp_xasprintf ("lookup %llu\nforget %llu\ngetattr %llu\nreaddir %llu\nreaddir_held %llu\n"
                       "readlink %llu\ngetxattr %llu\nlistxattr %llu\nopen %llu\nread %llu\nread_bytes %llu\n"
                       "eio %llu\ntrees_loaded %llu\nuring %llu\ninodes %zu\n",
                       (unsigned long long) fs->n.lookup, (unsigned long long) fs->n.forget,
                       (unsigned long long) fs->n.getattr, (unsigned long long) fs->n.readdir,
                       (unsigned long long) fs->n.readdir_held,
                       (unsigned long long) fs->n.readlink, (unsigned long long) fs->n.getxattr,
                       (unsigned long long) fs->n.listxattr, (unsigned long long) fs->n.open,
                       (unsigned long long) fs->n.read, (unsigned long long) fs->n.read_bytes,
                       (unsigned long long) fs->n.eio, (unsigned long long) fs->trees->loads,
                       (unsigned long long) fs->n.uring, cf_inodes_count (fs->inodes));
}
