/* The FUSE inode table: nodes keyed by identity and by inode number, with
 * kernel lookup counts, freed on forget so memory follows the kernel's inode
 * cache (libfuse's passthrough_hp keeps its table the same way). */
#include "fuse_internal.h"

#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* Inode numbers come from the identity so they are stable across daemon
 * restarts; 47 bits leave overlayfs' xino the high bits it wants. */
#define CF_INO_BITS 47

struct cf_inodes
{
  pthread_mutex_t lock;
  struct cf_node **by_ino, **by_key;
  size_t buckets, count;
};

static void
key_of_parts (const void *a, size_t alen, const void *b, size_t blen, const void *c, size_t clen,
              struct casfs_digest *out)
{
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  unsigned int n = 0;
  if (md == NULL || EVP_DigestInit_ex (md, casfs_sha256 (), NULL) != 1 || EVP_DigestUpdate (md, a, alen) != 1
      || EVP_DigestUpdate (md, b, blen) != 1 || EVP_DigestUpdate (md, c, clen) != 1
      || EVP_DigestFinal_ex (md, out->b, &n) != 1)
    abort (); /* only fails on allocation failure, like sp_xmalloc0 */
  EVP_MD_CTX_free (md);
}

void
cf_key_entry (const struct casfs_entry *e, struct casfs_digest *out)
{
  /* The canonical encoding of the entry under a fixed name covers every
   * attribute, the content digest, the symlink target and the xattrs. */
  struct casfs_entry anon = *e;
  struct casfs_tree one = { &anon, 1 };
  cleanup_free uint8_t *buf = NULL;
  size_t len = 0;

  anon.name = (char *) "-";
  if (casfs_tree_encode (&one, &buf, &len, NULL) < 0)
    {
      /* Decoded entries always encode; keep a distinct key anyway. */
      key_of_parts ("x", 1, e->name, strlen (e->name), &e->mode, sizeof e->mode, out);
      return;
    }
  key_of_parts ("f", 1, buf, len, "", 0, out);
}

void
cf_key_dir (fuse_ino_t parent, const char *name, struct casfs_digest *out)
{
  uint64_t p = parent;
  key_of_parts ("d", 1, &p, sizeof p, name, strlen (name), out);
}

void
cf_key_tree (const struct casfs_digest *tree, struct casfs_digest *out)
{
  key_of_parts ("t", 1, tree->b, CASFS_DIGEST_LEN, "", 0, out);
}

void
cf_key_ref (const char *name, const struct casfs_digest *tree, struct casfs_digest *out)
{
  key_of_parts ("r", 1, tree->b, CASFS_DIGEST_LEN, name, strlen (name) + 1, out);
}

static uint64_t
key_hash (const struct casfs_digest *k)
{
  uint64_t h;
  memcpy (&h, k->b + 8, sizeof h);
  return h;
}

static fuse_ino_t
key_ino (const struct casfs_digest *k)
{
  uint64_t v;
  memcpy (&v, k->b, sizeof v);
  v &= (1ULL << CF_INO_BITS) - 1;
  return v < CF_INO_FIRST_DYNAMIC ? v + CF_INO_FIRST_DYNAMIC : v;
}

static struct cf_node *
find_ino_locked (struct cf_inodes *t, fuse_ino_t ino)
{
  for (struct cf_node *n = t->by_ino[ino % t->buckets]; n; n = n->next_by_ino)
    if (n->ino == ino)
      return n;
  return NULL;
}

static struct cf_node *
find_key_locked (struct cf_inodes *t, const struct casfs_digest *k)
{
  for (struct cf_node *n = t->by_key[key_hash (k) % t->buckets]; n; n = n->next_by_key)
    if (memcmp (n->key.b, k->b, CASFS_DIGEST_LEN) == 0)
      return n;
  return NULL;
}

static void
link_locked (struct cf_inodes *t, struct cf_node *n)
{
  size_t bi = n->ino % t->buckets, bk = key_hash (&n->key) % t->buckets;
  n->next_by_ino = t->by_ino[bi];
  t->by_ino[bi] = n;
  n->next_by_key = t->by_key[bk];
  t->by_key[bk] = n;
}

static void
grow_locked (struct cf_inodes *t)
{
  struct cf_node **old = t->by_ino;
  size_t old_buckets = t->buckets;

  t->buckets *= 2;
  t->by_ino = sp_xmalloc0 (t->buckets * sizeof (*t->by_ino));
  free (t->by_key);
  t->by_key = sp_xmalloc0 (t->buckets * sizeof (*t->by_key));
  for (size_t i = 0; i < old_buckets; i++)
    for (struct cf_node *n = old[i], *next; n; n = next)
      {
        next = n->next_by_ino;
        link_locked (t, n);
      }
  free (old);
}

static void
unlink_locked (struct cf_inodes *t, struct cf_node *n)
{
  struct cf_node **pp;
  for (pp = &t->by_ino[n->ino % t->buckets]; *pp != n; pp = &(*pp)->next_by_ino)
    ;
  *pp = n->next_by_ino;
  for (pp = &t->by_key[key_hash (&n->key) % t->buckets]; *pp != n; pp = &(*pp)->next_by_key)
    ;
  *pp = n->next_by_key;
}

static void
node_free (struct cf_node *n)
{
  casfs_entry_clear (&n->e);
  free (n->ref_name);
  free (n);
}

static struct cf_node *
node_copy (const struct cf_node *tmpl)
{
  struct cf_node *n = sp_xmalloc0 (sizeof (*n));
  *n = *tmpl;
  n->next_by_ino = n->next_by_key = NULL;
  n->e.name = NULL; /* one node may have many names */
  n->e.target = tmpl->e.target ? sp_xstrdup (tmpl->e.target) : NULL;
  n->e.xattrs = NULL;
  n->e.n_xattrs = 0;
  if (tmpl->e.n_xattrs)
    {
      n->e.xattrs = sp_xmalloc0 (tmpl->e.n_xattrs * sizeof (*n->e.xattrs));
      n->e.n_xattrs = tmpl->e.n_xattrs;
      for (size_t i = 0; i < tmpl->e.n_xattrs; i++)
        {
          const struct casfs_xattr *x = &tmpl->e.xattrs[i];
          n->e.xattrs[i].name = sp_xstrdup (x->name);
          n->e.xattrs[i].len = x->len;
          n->e.xattrs[i].value = sp_xmalloc0 (x->len + 1);
          memcpy (n->e.xattrs[i].value, x->value, x->len);
        }
    }
  n->ref_name = tmpl->ref_name ? sp_xstrdup (tmpl->ref_name) : NULL;
  return n;
}

static void
add_permanent (struct cf_inodes *t, fuse_ino_t ino, enum cf_kind kind, uint32_t mode)
{
  struct cf_node *n = sp_xmalloc0 (sizeof (*n));
  n->ino = ino;
  n->kind = kind;
  n->permanent = true;
  n->nlookup = 1;
  n->e.mode = mode;
  n->e.nlink = S_ISDIR (mode) ? 2 : 1;
  n->parent = CF_INO_ROOT;
  /* Synthetic keys can never equal a SHA-256 of real input in practice. */
  n->key.b[0] = (uint8_t) ino;
  link_locked (t, n);
  t->count++;
}

struct cf_inodes *
cf_inodes_new (void)
{
  struct cf_inodes *t = sp_xmalloc0 (sizeof (*t));
  pthread_mutex_init (&t->lock, NULL);
  t->buckets = 1024;
  t->by_ino = sp_xmalloc0 (t->buckets * sizeof (*t->by_ino));
  t->by_key = sp_xmalloc0 (t->buckets * sizeof (*t->by_key));
  add_permanent (t, CF_INO_ROOT, CF_ROOT, S_IFDIR | 0555);
  add_permanent (t, CF_INO_TREES, CF_TREES, S_IFDIR | 0555);
  add_permanent (t, CF_INO_REFS, CF_REFS, S_IFDIR | 0555);
  add_permanent (t, CF_INO_STATS, CF_STATS, S_IFREG | 0444);
  return t;
}

void
cf_inodes_free (struct cf_inodes *t)
{
  if (t == NULL)
    return;
  for (size_t i = 0; i < t->buckets; i++)
    for (struct cf_node *n = t->by_ino[i], *next; n; n = next)
      {
        next = n->next_by_ino;
        node_free (n);
      }
  free (t->by_ino);
  free (t->by_key);
  pthread_mutex_destroy (&t->lock);
  free (t);
}

struct cf_node *
cf_inodes_get (struct cf_inodes *t, fuse_ino_t ino)
{
  struct cf_node *n;
  pthread_mutex_lock (&t->lock);
  n = find_ino_locked (t, ino);
  pthread_mutex_unlock (&t->lock);
  return n;
}

struct cf_node *
cf_inodes_ref (struct cf_inodes *t, const struct cf_node *tmpl)
{
  struct cf_node *n, *fresh;

  pthread_mutex_lock (&t->lock);
  n = find_key_locked (t, &tmpl->key);
  if (n)
    {
      n->nlookup++;
      pthread_mutex_unlock (&t->lock);
      return n;
    }
  pthread_mutex_unlock (&t->lock);

  fresh = node_copy (tmpl); /* outside the lock: xattrs can be large */
  pthread_mutex_lock (&t->lock);
  n = find_key_locked (t, &tmpl->key);
  if (n == NULL)
    {
      fuse_ino_t ino = key_ino (&tmpl->key);
      /* A 47-bit collision: probe to the next free number. */
      while (find_ino_locked (t, ino))
        ino = ino + 1 >= (1ULL << CF_INO_BITS) ? CF_INO_FIRST_DYNAMIC : ino + 1;
      fresh->ino = ino;
      fresh->nlookup = 0;
      fresh->permanent = false;
      if (t->count + 1 > t->buckets * 2)
        grow_locked (t);
      link_locked (t, fresh);
      t->count++;
      n = steal_pointer (&fresh);
    }
  n->nlookup++;
  pthread_mutex_unlock (&t->lock);
  if (fresh)
    node_free (fresh);
  return n;
}

fuse_ino_t
cf_inodes_peek (struct cf_inodes *t, const struct casfs_digest *key)
{
  struct cf_node *n;
  fuse_ino_t ino;
  pthread_mutex_lock (&t->lock);
  n = find_key_locked (t, key);
  ino = n ? n->ino : key_ino (key);
  pthread_mutex_unlock (&t->lock);
  return ino;
}

fuse_ino_t
cf_inodes_held_in (struct cf_inodes *t, const struct casfs_digest *key, fuse_ino_t parent)
{
  struct cf_node *n;
  fuse_ino_t ino = 0;
  pthread_mutex_lock (&t->lock);
  n = find_key_locked (t, key);
  if (n && n->nlookup > 0 && n->parent == parent)
    ino = n->ino;
  pthread_mutex_unlock (&t->lock);
  return ino;
}

void
cf_inodes_forget (struct cf_inodes *t, fuse_ino_t ino, uint64_t count)
{
  struct cf_node *n;
  pthread_mutex_lock (&t->lock);
  n = find_ino_locked (t, ino);
  if (n == NULL || n->permanent)
    {
      pthread_mutex_unlock (&t->lock);
      return;
    }
  n->nlookup = count >= n->nlookup ? 0 : n->nlookup - count;
  if (n->nlookup == 0)
    {
      unlink_locked (t, n);
      t->count--;
    }
  else
    n = NULL;
  pthread_mutex_unlock (&t->lock);
  if (n)
    node_free (n);
}

size_t
cf_inodes_count (struct cf_inodes *t)
{
  size_t c;
  pthread_mutex_lock (&t->lock);
  c = t->count;
  pthread_mutex_unlock (&t->lock);
  return c;
}

void
cf_node_stat (const struct cf_node *n, struct stat *st)
{
  memset (st, 0, sizeof (*st));
  st->st_ino = n->ino;
  st->st_mode = n->e.mode;
  st->st_nlink = n->e.nlink ? n->e.nlink : 1;
  st->st_uid = n->e.uid;
  st->st_gid = n->e.gid;
  st->st_rdev = n->e.rdev;
  st->st_size = (off_t) n->e.size;
  st->st_blksize = 4096;
  st->st_blocks = (blkcnt_t) ((n->e.size + 511) / 512);
  /* Trees keep one time per entry: mtime; ctime and atime show the same. */
  st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = (time_t) n->e.mtime_sec;
  st->st_mtim.tv_nsec = st->st_ctim.tv_nsec = st->st_atim.tv_nsec = (long) n->e.mtime_nsec;
}
