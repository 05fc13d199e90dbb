/* Layer tarballs (plain, gzip, zstd, xz, bzip2) read through libarchive into
 * an in-memory layer tree; file contents go to the hash+write pipeline.
 * Nothing is extracted: every entry is checked by the path rules and looked
 * up in the in-memory tree only (rules in casfs_import.h). */
#include "import_internal.h"

#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define SOURCE_BUF (256u << 10)

/* Bytes feeding libarchive, from a file or from an entry of an outer archive,
 * hashed on the way (layer digest verification) and counted for progress. */
struct archive_source
{
  int fd;
  struct archive *outer;
  EVP_MD_CTX *md;
  uint64_t bytes;
  uint8_t *buf;
  struct import_progress *progress;
  uint8_t tail[8]; /* the last 8 bytes read: a gzip trailer (CRC32, ISIZE) */
};

/* The decompressed stream between libarchive's filters (format "raw") and
 * the tar reader.  libarchive does not check gzip's CRC32, so it is checked
 * here: a corrupt stream that inflates without error is still an error. */
struct plain_source
{
  struct archive *raw;
  uint8_t *buf;
  bool gzip;
  uint32_t crc;
  uint64_t len;
};

static uint32_t crc_table[8][256];

static void
crc_init (void)
{
  for (uint32_t i = 0; i < 256; i++)
    {
      uint32_t c = i;
      for (int k = 0; k < 8; k++)
        c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      crc_table[0][i] = c;
    }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++)
      crc_table[t][i] = crc_table[0][crc_table[t - 1][i] & 0xff] ^ (crc_table[t - 1][i] >> 8);
}

static uint32_t
crc32_update (uint32_t crc, const uint8_t *p, size_t n)
{
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once (&once, crc_init);
  crc = ~crc;
  while (n >= 8)
    {
      uint32_t a = crc ^ ((uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24);
      crc = crc_table[7][a & 0xff] ^ crc_table[6][(a >> 8) & 0xff] ^ crc_table[5][(a >> 16) & 0xff]
            ^ crc_table[4][a >> 24] ^ crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]]
            ^ crc_table[0][p[7]];
      p += 8;
      n -= 8;
    }
  while (n--)
    crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

static la_ssize_t
plain_read (struct archive *a, void *client, const void **out)
{
  struct plain_source *ps = client;
  la_ssize_t n = archive_read_data (ps->raw, ps->buf, SOURCE_BUF);
  if (n < 0)
    {
      archive_set_error (a, archive_errno (ps->raw) > 0 ? archive_errno (ps->raw) : EIO, "%s",
                         archive_error_string (ps->raw) ? archive_error_string (ps->raw) : "decompression failed");
      return -1;
    }
  if (ps->gzip)
    ps->crc = crc32_update (ps->crc, ps->buf, (size_t) n);
  ps->len += (uint64_t) n;
  *out = ps->buf;
  return n;
}

static la_ssize_t
source_read (struct archive *a, void *client, const void **out)
{
  struct archive_source *src = client;
  la_ssize_t n;

  if (src->outer)
    {
      n = archive_read_data (src->outer, src->buf, SOURCE_BUF);
      if (n < 0)
        {
          archive_set_error (a, archive_errno (src->outer) ? archive_errno (src->outer) : EIO, "%s",
                             archive_error_string (src->outer));
          return -1;
        }
    }
  else
    {
      do
        n = read (src->fd, src->buf, SOURCE_BUF);
      while (n < 0 && errno == EINTR);
      if (n < 0)
        {
          archive_set_error (a, errno, "read failed");
          return -1;
        }
    }
  EVP_DigestUpdate (src->md, src->buf, (size_t) n);
  src->bytes += (uint64_t) n;
  if (n >= 8)
    memcpy (src->tail, src->buf + n - 8, 8);
  else if (n > 0)
    {
      memmove (src->tail, src->tail + n, (size_t) (8 - n));
      memcpy (src->tail + 8 - n, src->buf, (size_t) n);
    }
  if (src->progress)
    {
      src->progress->input_pos = src->outer ? (uint64_t) archive_filter_bytes (src->outer, -1) : src->bytes;
      import_progress_tick (src->progress, false);
    }
  *out = src->buf;
  return n;
}

static int
uint32_field (int64_t v, const char *field, const char *what, uint32_t *out, sp_error_t *err)
{
  if (v < 0 || v > (int64_t) UINT32_MAX - 1)
    return sp_error_make (err, ERANGE, "entry `%s`: %s %lld out of range", what, field, (long long) v);
  *out = (uint32_t) v;
  return 0;
}

static int
entry_xattrs (struct archive_entry *ae, struct casfs_entry *e, const char *what, sp_error_t *err)
{
  const char *name;
  const void *value;
  size_t size;
  int n = archive_entry_xattr_reset (ae);

  if (n <= 0)
    return 0;
  e->xattrs = sp_xmalloc0 ((size_t) n * sizeof (*e->xattrs));
  while (archive_entry_xattr_next (ae, &name, &value, &size) == ARCHIVE_OK && e->n_xattrs < (size_t) n)
    {
      struct casfs_xattr *x;
      size_t nl = name ? strlen (name) : 0;
      if (nl == 0 || nl > CASFS_XATTR_NAME_MAX)
        return sp_error_make (err, EINVAL, "entry `%s`: invalid xattr name", what);
      if (size > CASFS_XATTR_VALUE_MAX)
        return sp_error_make (err, E2BIG, "entry `%s`: xattr `%s` is %zu bytes (limit %d)", what, name, size,
                              CASFS_XATTR_VALUE_MAX);
      for (size_t j = 0; j < e->n_xattrs; j++)
        if (strcmp (e->xattrs[j].name, name) == 0)
          return sp_error_make (err, EINVAL, "entry `%s`: duplicate xattr `%s`", what, name);
      x = &e->xattrs[e->n_xattrs++];
      x->name = sp_xstrdup (name);
      x->value = sp_xmalloc0 (size + 1);
      if (size)
        memcpy (x->value, value, size);
      x->len = (uint32_t) size;
    }
  return 0;
}

static int
write_zeros (struct import_pipe *p, uint64_t n, sp_error_t *err)
{
  static const uint8_t zeros[65536];
  while (n > 0)
    {
      size_t k = n < sizeof zeros ? (size_t) n : sizeof zeros;
      if (import_pipe_write (p, zeros, k, err) < 0)
        return -1;
      n -= k;
    }
  return 0;
}

static int
entry_data (struct import_ctx *ctx, struct archive *a, struct mnode *node, const char *what, int64_t declared,
            sp_error_t *err)
{
  uint64_t pos = 0;
  const void *buf;
  size_t len;
  la_int64_t off;
  int r;

  if (import_pipe_begin (ctx->pipe, node, what, err) < 0)
    return -1;
  while ((r = archive_read_data_block (a, &buf, &len, &off)) == ARCHIVE_OK || r == ARCHIVE_WARN)
    {
      if (off < 0 || (uint64_t) off < pos || (uint64_t) off + len > CASFS_IMPORT_FILE_MAX)
        return sp_error_make (err, EINVAL, "entry `%s`: bad data block offset", what);
      if ((uint64_t) off > pos && write_zeros (ctx->pipe, (uint64_t) off - pos, err) < 0) /* sparse hole */
        return -1;
      if (len && import_pipe_write (ctx->pipe, buf, len, err) < 0)
        return -1;
      pos = (uint64_t) off + len;
    }
  if (r != ARCHIVE_EOF)
    return sp_error_make (err, archive_errno (a) > 0 ? archive_errno (a) : EIO, "entry `%s`: %s", what,
                          archive_error_string (a) ? archive_error_string (a) : "read error");
  if (declared > 0 && (uint64_t) declared > pos && write_zeros (ctx->pipe, (uint64_t) declared - pos, err) < 0)
    return -1; /* sparse tail */
  if (declared > 0 && (uint64_t) declared > pos)
    pos = (uint64_t) declared;
  node->e.size = pos;
  return import_pipe_end (ctx->pipe, err);
}

static int
add_hardlink (struct memtree *t, struct mnode *dir, struct casfs_entry *meta, const char *target, const char *what,
              sp_error_t *err)
{
  cleanup_free char *norm = NULL;
  struct mnode *tdir, *tn, *n;
  const char *tbase;

  if (casfs_path_normalize (target, &norm, err) < 0)
    return sp_error_wrap (err, "entry `%s`: hardlink target", what);
  if (*norm != '\0' && memtree_parent_of (t, norm, false, &tdir, &tbase, what, err) < 0 && (*err)->status != ENOENT)
    return sp_error_wrap (err, "hardlink to `%s`", target);
  sp_error_release (err);
  if (*norm == '\0' || memtree_parent_of (t, norm, false, &tdir, &tbase, what, NULL) < 0
      || (tn = mnode_child (tdir, tbase)) == NULL)
    {
      return sp_error_make (err, ENOENT, "entry `%s`: hardlink to `%s`, which is not an earlier entry of the archive",
                            what, target);
    }
  if (tn->is_dir || tn->is_whiteout)
    return sp_error_make (err, EINVAL, "entry `%s`: hardlink to %s `%s`", what,
                          tn->is_dir ? "directory" : "whiteout", target);
  meta->mode = tn->e.mode;
  if (memtree_put (t, dir, meta, what, &n, err) < 0)
    return -1;
  if (n == NULL)
    return 0; /* a hardlink named like a whiteout: the whiteout wins */
  if (tn->link_group == 0)
    tn->link_group = ++t->next_group;
  n->link_group = tn->link_group;
  n->link_primary = tn;
  if (t->n_links == t->cap_links)
    {
      t->cap_links = t->cap_links ? t->cap_links * 2 : 64;
      t->links = sp_xrealloc (t->links, t->cap_links * sizeof (*t->links));
    }
  t->links[t->n_links++] = n;
  return 0;
}

static int
import_entry (struct import_ctx *ctx, struct archive *a, struct archive_entry *ae, struct memtree *t,
              sp_error_t *err)
{
  const char *path = archive_entry_pathname (ae);
  const char *hardlink = archive_entry_hardlink (ae);
  cleanup_free char *norm = NULL;
  struct casfs_entry meta = { 0 };
  struct mnode *dir, *node;
  const char *base;
  mode_t type = archive_entry_filetype (ae);
  int ret = -1;

  if (path == NULL)
    return sp_error_make (err, EINVAL, "entry with an unreadable name");
  if (casfs_path_normalize (path, &norm, err) < 0)
    return sp_error_wrap (err, "entry `%s`", path);
  if (*norm == '\0')
    {
      /* "./": the layer root; trees keep no metadata for their own root. */
      if (type != AE_IFDIR || hardlink)
        return sp_error_make (err, EINVAL, "entry `%s`: the archive root is not a directory", path);
      return 0;
    }
  if (memtree_parent_of (t, norm, true, &dir, &base, path, err) < 0)
    return -1;
  meta.name = sp_xstrdup (base);
  meta.mode = (uint32_t) (archive_entry_mode (ae) & 07777);
  meta.nlink = 1;
  if (uint32_field (archive_entry_uid (ae), "uid", path, &meta.uid, err) < 0
      || uint32_field (archive_entry_gid (ae), "gid", path, &meta.gid, err) < 0)
    goto out;
  meta.mtime_sec = archive_entry_mtime (ae);
  meta.mtime_nsec = (uint32_t) archive_entry_mtime_nsec (ae);
  if (meta.mtime_nsec >= 1000000000u)
    meta.mtime_nsec = 0;
  if (entry_xattrs (ae, &meta, path, err) < 0)
    goto out;
  if (hardlink)
    {
      ret = add_hardlink (t, dir, &meta, hardlink, path, err);
      goto out;
    }
  switch (type)
    {
    case AE_IFREG:
      {
        int64_t size = archive_entry_size_is_set (ae) ? archive_entry_size (ae) : 0;
        if (size < 0 || (uint64_t) size > CASFS_IMPORT_FILE_MAX)
          {
            sp_error_make (err, EFBIG, "entry `%s`: size %lld out of range (limit %llu)", path, (long long) size,
                           (unsigned long long) CASFS_IMPORT_FILE_MAX);
            goto out;
          }
        meta.mode |= S_IFREG;
        if (memtree_put (t, dir, &meta, path, &node, err) < 0)
          goto out;
        ret = node ? entry_data (ctx, a, node, path, size, err) : 0;
        goto out;
      }
    case AE_IFDIR:
      meta.mode |= S_IFDIR;
      break;
    case AE_IFLNK:
      {
        const char *target = archive_entry_symlink (ae);
        size_t len = target ? strlen (target) : 0;
        if (len == 0 || len > CASFS_TARGET_MAX)
          {
            sp_error_make (err, EINVAL, "entry `%s`: symlink target is empty or longer than %d bytes", path,
                           CASFS_TARGET_MAX);
            goto out;
          }
        meta.mode |= S_IFLNK;
        meta.target = sp_xstrdup (target);
        meta.size = len;
        break;
      }
    case AE_IFCHR:
    case AE_IFBLK:
      /* Kept as metadata only: nothing is ever created on the host. */
      meta.mode |= type;
      meta.rdev = makedev (archive_entry_rdevmajor (ae), archive_entry_rdevminor (ae));
      break;
    case AE_IFIFO:
    case AE_IFSOCK:
      meta.mode |= type;
      break;
    default:
      sp_error_make (err, EINVAL, "entry `%s`: unsupported type 0%o", path, (unsigned) type);
      goto out;
    }
  ret = memtree_put (t, dir, &meta, path, &node, err);
out:
  casfs_entry_clear (&meta);
  return ret;
}

int
import_archive_entries (struct import_ctx *ctx, struct archive *a, const char *archive_name, struct memtree *t,
                        sp_error_t *err)
{
  struct archive_entry *ae;
  int r;

  for (;;)
    {
      r = archive_read_next_header (a, &ae);
      if (r == ARCHIVE_EOF)
        break;
      if (r < ARCHIVE_WARN)
        return sp_error_make (err, archive_errno (a) > 0 ? archive_errno (a) : EIO, "archive `%s`: %s", archive_name,
                              archive_error_string (a) ? archive_error_string (a) : "read error");
      ctx->stats.entries++;
      ctx->progress.entries++;
      if (import_entry (ctx, a, ae, t, err) < 0)
        return sp_error_wrap (err, "archive `%s`", archive_name);
    }
  return 0;
}

static int
archive_fail (struct archive *a, const char *name, const char *fallback, sp_error_t *err)
{
  return sp_error_make (err, archive_errno (a) > 0 ? archive_errno (a) : EINVAL, "archive `%s`: %s", name,
                        archive_error_string (a) ? archive_error_string (a) : fallback);
}

static uint32_t
le32 (const uint8_t *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static int
read_layer (struct import_ctx *ctx, struct archive_source *src, const char *name, struct memtree *t,
            struct casfs_digest *raw_digest, uint64_t *raw_size, sp_error_t *err)
{
  struct archive *raw = archive_read_new (), *tar = archive_read_new ();
  struct plain_source ps = { .raw = raw };
  struct archive_entry *ae;
  unsigned int dlen = 0;
  const void *dummy;
  la_ssize_t n;
  int ret = 0;

  src->md = EVP_MD_CTX_new ();
  src->buf = sp_xmalloc0 (SOURCE_BUF);
  ps.buf = sp_xmalloc0 (SOURCE_BUF);
  if (raw == NULL || tar == NULL || src->md == NULL || EVP_DigestInit_ex (src->md, casfs_sha256 (), NULL) != 1)
    {
      ret = sp_error_make (err, ENOMEM, "archive `%s`: cannot set up reader", name);
      goto out;
    }
  archive_read_support_filter_all (raw);
  archive_read_support_format_raw (raw);
  if (archive_read_open2 (raw, src, NULL, source_read, NULL, NULL) != ARCHIVE_OK
      || archive_read_next_header (raw, &ae) != ARCHIVE_OK)
    {
      ret = archive_fail (raw, name, "unreadable", err);
      goto out;
    }
  ps.gzip = archive_filter_code (raw, 0) == ARCHIVE_FILTER_GZIP;
  archive_read_support_format_tar (tar);
  archive_read_support_format_gnutar (tar);
  if (archive_read_open2 (tar, &ps, NULL, plain_read, NULL, NULL) != ARCHIVE_OK)
    {
      ret = archive_fail (tar, name, "not a tar archive", err);
      goto out;
    }
  ret = import_archive_entries (ctx, tar, name, t, err);
  /* Read what the tar reader left (end blocks, padding, the compressed
   * stream's trailer): all of it is checked and hashed. */
  while (ret == 0 && (n = plain_read (tar, &ps, &dummy)) != 0)
    if (n < 0)
      ret = archive_fail (tar, name, "read error", err);
  while (ret == 0 && (n = source_read (raw, src, &dummy)) != 0)
    if (n < 0)
      ret = archive_fail (raw, name, "read error", err);
  if (ret == 0 && ps.gzip)
    {
      /* One gzip member (the usual case): its trailer must match.  With
       * several members the last trailer covers only the last one. */
      if ((uint32_t) ps.len == le32 (src->tail + 4) && ps.crc != le32 (src->tail))
        ret = sp_error_make (err, EIO, "archive `%s`: corrupt gzip stream (CRC mismatch)", name);
      else if ((uint32_t) ps.len != le32 (src->tail + 4))
        sp_debug ("archive `%s`: several gzip members, CRC not checked", name);
    }
  if (ret == 0)
    {
      EVP_DigestFinal_ex (src->md, raw_digest->b, &dlen);
      *raw_size = src->bytes;
    }
out:
  if (tar)
    archive_read_free (tar);
  if (raw)
    archive_read_free (raw);
  EVP_MD_CTX_free (src->md);
  free (src->buf);
  free (ps.buf);
  return ret;
}

int
import_layer_fd (struct import_ctx *ctx, int fd, const char *name, struct memtree *t,
                 struct casfs_digest *raw_digest, uint64_t *raw_size, sp_error_t *err)
{
  struct archive_source src = { .fd = fd, .progress = &ctx->progress };
  return read_layer (ctx, &src, name, t, raw_digest, raw_size, err);
}

int
import_layer_nested (struct import_ctx *ctx, struct archive *outer, const char *name, struct memtree *t,
                     struct casfs_digest *raw_digest, uint64_t *raw_size, sp_error_t *err)
{
  struct archive_source src = { .fd = -1, .outer = outer, .progress = &ctx->progress };
  return read_layer (ctx, &src, name, t, raw_digest, raw_size, err);
}
