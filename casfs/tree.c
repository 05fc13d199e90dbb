/* Canonical encoding of casfs tree objects (docs/store-format.md). */
#include <samepage/casfs_tree.h>
#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void
casfs_digest_hex (const struct casfs_digest *d, char out[CASFS_DIGEST_HEX_LEN + 1])
{
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < CASFS_DIGEST_LEN; i++)
    {
      out[2 * i] = hex[d->b[i] >> 4];
      out[2 * i + 1] = hex[d->b[i] & 0xf];
    }
  out[CASFS_DIGEST_HEX_LEN] = '\0';
}

static int
hexval (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

int
casfs_digest_parse (const char *hex, struct casfs_digest *out, sp_error_t *err)
{
  const char *p = hex;
  if (sp_str_has_prefix (p, "sha256:"))
    p += 7;
  if (strlen (p) != CASFS_DIGEST_HEX_LEN)
    return sp_error_make (err, 0, "invalid digest `%s`: want 64 lowercase hex digits", hex);
  for (size_t i = 0; i < CASFS_DIGEST_LEN; i++)
    {
      int hi = hexval (p[2 * i]), lo = hexval (p[2 * i + 1]);
      if (hi < 0 || lo < 0)
        return sp_error_make (err, 0, "invalid digest `%s`: want 64 lowercase hex digits", hex);
      out->b[i] = (uint8_t) (hi << 4 | lo);
    }
  return 0;
}

bool
casfs_digest_is_zero (const struct casfs_digest *d)
{
  for (size_t i = 0; i < CASFS_DIGEST_LEN; i++)
    if (d->b[i])
      return false;
  return true;
}

static EVP_MD *sha256_fetched;

static void
fetch_sha256 (void)
{
  sha256_fetched = EVP_MD_fetch (NULL, "SHA256", NULL);
}

const EVP_MD *
casfs_sha256 (void)
{
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once (&once, fetch_sha256);
  return sha256_fetched ? sha256_fetched : EVP_sha256 ();
}

void
casfs_digest_of (const void *data, size_t len, struct casfs_digest *out)
{
  unsigned int n = 0;
  EVP_Digest (data, len, out->b, &n, casfs_sha256 (), NULL);
}

static bool
valid_name (const char *name)
{
  size_t len = strlen (name);
  return len > 0 && len <= CASFS_NAME_MAX && strchr (name, '/') == NULL && strcmp (name, ".") != 0
         && strcmp (name, "..") != 0;
}

static int
cmp_entry (const void *a, const void *b)
{
  return strcmp (((const struct casfs_entry *) a)->name, ((const struct casfs_entry *) b)->name);
}

static int
cmp_xattr (const void *a, const void *b)
{
  return strcmp (((const struct casfs_xattr *) a)->name, ((const struct casfs_xattr *) b)->name);
}

int
casfs_tree_canonicalize (struct casfs_tree *t, sp_error_t *err)
{
  for (size_t i = 0; i < t->n; i++)
    {
      struct casfs_entry *e = &t->entries[i];
      if (!valid_name (e->name))
        return sp_error_make (err, 0, "invalid entry name `%s`", e->name);
      if (e->n_xattrs > 1)
        qsort (e->xattrs, e->n_xattrs, sizeof (*e->xattrs), cmp_xattr);
      for (size_t j = 1; j < e->n_xattrs; j++)
        if (strcmp (e->xattrs[j - 1].name, e->xattrs[j].name) == 0)
          return sp_error_make (err, 0, "entry `%s`: duplicate xattr `%s`", e->name, e->xattrs[j].name);
    }
  if (t->n > 1)
    qsort (t->entries, t->n, sizeof (*t->entries), cmp_entry);
  for (size_t i = 1; i < t->n; i++)
    if (strcmp (t->entries[i - 1].name, t->entries[i].name) == 0)
      return sp_error_make (err, 0, "duplicate entry `%s`", t->entries[i].name);
  return 0;
}

/* A growable byte buffer for the encoder. */
struct buf
{
  uint8_t *p;
  size_t len, cap;
};

static void
put (struct buf *b, const void *data, size_t len)
{
  if (b->len + len > b->cap)
    {
      while (b->len + len > b->cap)
        b->cap = b->cap ? b->cap * 2 : 4096;
      b->p = sp_xrealloc (b->p, b->cap);
    }
  memcpy (b->p + b->len, data, len);
  b->len += len;
}

static void
put_u16 (struct buf *b, uint16_t v)
{
  uint8_t x[2] = { (uint8_t) v, (uint8_t) (v >> 8) };
  put (b, x, 2);
}

static void
put_u32 (struct buf *b, uint32_t v)
{
  uint8_t x[4];
  for (int i = 0; i < 4; i++)
    x[i] = (uint8_t) (v >> (8 * i));
  put (b, x, 4);
}

static void
put_u64 (struct buf *b, uint64_t v)
{
  uint8_t x[8];
  for (int i = 0; i < 8; i++)
    x[i] = (uint8_t) (v >> (8 * i));
  put (b, x, 8);
}

int
casfs_tree_encode (const struct casfs_tree *t, uint8_t **out, size_t *out_len, sp_error_t *err)
{
  struct buf b = { 0 };

  if (t->n > CASFS_TREE_ENTRIES_MAX)
    return sp_error_make (err, 0, "tree has too many entries (%zu)", t->n);
  put (&b, CASFS_TREE_MAGIC, 8);
  put_u32 (&b, (uint32_t) t->n);
  for (size_t i = 0; i < t->n; i++)
    {
      const struct casfs_entry *e = &t->entries[i];
      size_t nlen = strlen (e->name), tlen = e->target ? strlen (e->target) : 0;

      if (i > 0 && strcmp (t->entries[i - 1].name, e->name) >= 0)
        {
          free (b.p);
          return sp_error_make (err, 0, "tree not canonical at entry `%s`", e->name);
        }
      if (!valid_name (e->name) || tlen > CASFS_TARGET_MAX || e->n_xattrs > UINT16_MAX)
        {
          free (b.p);
          return sp_error_make (err, 0, "entry `%s`: name, target or xattrs out of bounds", e->name);
        }
      put_u16 (&b, (uint16_t) nlen);
      put (&b, e->name, nlen);
      put_u32 (&b, e->mode);
      put_u32 (&b, e->uid);
      put_u32 (&b, e->gid);
      put_u64 (&b, (uint64_t) e->mtime_sec);
      put_u32 (&b, e->mtime_nsec);
      put_u64 (&b, e->size);
      put_u64 (&b, e->rdev);
      put_u64 (&b, e->link_id);
      put_u32 (&b, e->nlink);
      put (&b, e->digest.b, CASFS_DIGEST_LEN);
      put_u16 (&b, (uint16_t) tlen);
      put (&b, e->target ? e->target : "", tlen);
      put_u16 (&b, (uint16_t) e->n_xattrs);
      for (size_t j = 0; j < e->n_xattrs; j++)
        {
          const struct casfs_xattr *x = &e->xattrs[j];
          size_t xl = strlen (x->name);
          if (xl == 0 || xl > CASFS_XATTR_NAME_MAX || x->len > CASFS_XATTR_VALUE_MAX
              || (j > 0 && strcmp (e->xattrs[j - 1].name, x->name) >= 0))
            {
              free (b.p);
              return sp_error_make (err, 0, "entry `%s`: invalid xattr `%s`", e->name, x->name);
            }
          put_u16 (&b, (uint16_t) xl);
          put (&b, x->name, xl);
          put_u32 (&b, x->len);
          put (&b, x->value ? (const void *) x->value : "", x->len);
        }
    }
  *out = b.p;
  *out_len = b.len;
  return 0;
}

/* Bounds-checked reader for the decoder. */
struct rd
{
  const uint8_t *p;
  size_t len, off;
};

static bool
get (struct rd *r, void *dst, size_t n)
{
  if (r->len - r->off < n)
    return false;
  memcpy (dst, r->p + r->off, n);
  r->off += n;
  return true;
}

static bool
get_u16 (struct rd *r, uint16_t *v)
{
  uint8_t x[2];
  if (!get (r, x, 2))
    return false;
  *v = (uint16_t) (x[0] | x[1] << 8);
  return true;
}

static bool
get_u32 (struct rd *r, uint32_t *v)
{
  uint8_t x[4];
  if (!get (r, x, 4))
    return false;
  *v = (uint32_t) x[0] | (uint32_t) x[1] << 8 | (uint32_t) x[2] << 16 | (uint32_t) x[3] << 24;
  return true;
}

static bool
get_u64 (struct rd *r, uint64_t *v)
{
  uint8_t x[8];
  if (!get (r, x, 8))
    return false;
  *v = 0;
  for (int i = 7; i >= 0; i--)
    *v = *v << 8 | x[i];
  return true;
}

static bool
get_str (struct rd *r, size_t n, char **out)
{
  char *s;
  if (r->len - r->off < n)
    return false;
  s = sp_xmalloc0 (n + 1);
  memcpy (s, r->p + r->off, n);
  r->off += n;
  if (memchr (s, '\0', n))
    {
      free (s);
      return false;
    }
  *out = s;
  return true;
}

static bool
decode_entry (struct rd *r, struct casfs_entry *e)
{
  uint16_t nlen, tlen, nx;
  uint64_t mtime;

  if (!get_u16 (r, &nlen) || !get_str (r, nlen, &e->name) || !valid_name (e->name))
    return false;
  if (!get_u32 (r, &e->mode) || !get_u32 (r, &e->uid) || !get_u32 (r, &e->gid) || !get_u64 (r, &mtime)
      || !get_u32 (r, &e->mtime_nsec) || !get_u64 (r, &e->size) || !get_u64 (r, &e->rdev)
      || !get_u64 (r, &e->link_id) || !get_u32 (r, &e->nlink) || !get (r, e->digest.b, CASFS_DIGEST_LEN))
    return false;
  e->mtime_sec = (int64_t) mtime;
  if (e->mtime_nsec >= 1000000000u)
    return false;
  switch (e->mode & S_IFMT)
    {
    case S_IFREG:
    case S_IFDIR:
    case S_IFLNK:
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
    case S_IFSOCK:
      break;
    default:
      return false;
    }
  if (!get_u16 (r, &tlen) || tlen > CASFS_TARGET_MAX)
    return false;
  if (S_ISLNK (e->mode))
    {
      if (tlen == 0 || !get_str (r, tlen, &e->target))
        return false;
    }
  else if (tlen != 0)
    return false;
  if (!get_u16 (r, &nx))
    return false;
  e->xattrs = nx ? sp_xmalloc0 (nx * sizeof (*e->xattrs)) : NULL;
  for (uint16_t j = 0; j < nx; j++)
    {
      struct casfs_xattr *x = &e->xattrs[j];
      uint16_t xl;
      e->n_xattrs = j + 1u;
      if (!get_u16 (r, &xl) || xl == 0 || xl > CASFS_XATTR_NAME_MAX || !get_str (r, xl, &x->name))
        return false;
      if (j > 0 && strcmp (e->xattrs[j - 1].name, x->name) >= 0)
        return false;
      if (!get_u32 (r, &x->len) || x->len > CASFS_XATTR_VALUE_MAX || r->len - r->off < x->len)
        return false;
      x->value = sp_xmalloc0 (x->len + 1);
      get (r, x->value, x->len);
    }
  return true;
}

int
casfs_tree_decode (const uint8_t *buf, size_t len, struct casfs_tree **out, sp_error_t *err)
{
  struct rd r = { buf, len, 0 };
  char magic[8];
  uint32_t n;
  cleanup_tree struct casfs_tree *t = sp_xmalloc0 (sizeof (*t));

  if (!get (&r, magic, 8) || memcmp (magic, CASFS_TREE_MAGIC, 8) != 0)
    return sp_error_make (err, 0, "not a casfs tree object (bad magic)");
  if (!get_u32 (&r, &n) || n > CASFS_TREE_ENTRIES_MAX || (size_t) n > len / 64)
    return sp_error_make (err, 0, "corrupt tree object: bad entry count");
  t->entries = sp_xmalloc0 ((n ? n : 1) * sizeof (*t->entries));
  for (uint32_t i = 0; i < n; i++)
    {
      t->n = i + 1u;
      if (!decode_entry (&r, &t->entries[i]))
        return sp_error_make (err, 0, "corrupt tree object: entry %u", i);
      if (i > 0 && strcmp (t->entries[i - 1].name, t->entries[i].name) >= 0)
        return sp_error_make (err, 0, "corrupt tree object: entries out of order at %u", i);
    }
  if (r.off != len)
    return sp_error_make (err, 0, "corrupt tree object: %zu trailing bytes", len - r.off);
  *out = steal_pointer (&t);
  return 0;
}

const struct casfs_entry *
casfs_tree_lookup (const struct casfs_tree *t, const char *name)
{
  size_t lo = 0, hi = t->n;
  while (lo < hi)
    {
      size_t mid = lo + (hi - lo) / 2;
      int c = strcmp (name, t->entries[mid].name);
      if (c == 0)
        return &t->entries[mid];
      if (c < 0)
        hi = mid;
      else
        lo = mid + 1;
    }
  return NULL;
}

const struct casfs_xattr *
casfs_entry_xattr (const struct casfs_entry *e, const char *name)
{
  for (size_t i = 0; i < e->n_xattrs; i++)
    if (strcmp (e->xattrs[i].name, name) == 0)
      return &e->xattrs[i];
  return NULL;
}

void
casfs_entry_clear (struct casfs_entry *e)
{
  free (e->name);
  free (e->target);
  for (size_t j = 0; j < e->n_xattrs; j++)
    {
      free (e->xattrs[j].name);
      free (e->xattrs[j].value);
    }
  free (e->xattrs);
  memset (e, 0, sizeof (*e));
}

void
casfs_tree_free (struct casfs_tree *t)
{
  if (t == NULL)
    return;
  for (size_t i = 0; i < t->n; i++)
    casfs_entry_clear (&t->entries[i]);
  free (t->entries);
  free (t);
}
