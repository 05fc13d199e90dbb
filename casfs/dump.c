/* Text dump of a tree (include/samepage/casfs_dump.h). */
#include <samepage/casfs_dump.h>
#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

char *
casfs_dump_escape (const void *s, size_t len)
{
  const uint8_t *p = s;
  char *out = sp_xmalloc0 (len * 4 + 5), *o = out;

  if (len == 1 && p[0] == '-')
    {
      strcpy (out, "\\x2d");
      return out;
    }
  for (size_t i = 0; i < len; i++)
    {
      if (p[i] < 0x21 || p[i] > 0x7e || p[i] == '\\' || p[i] == '=')
        o += sprintf (o, "\\x%02x", p[i]);
      else
        *o++ = (char) p[i];
    }
  return out;
}

const char *
casfs_dump_type (uint32_t mode)
{
  switch (mode & S_IFMT)
    {
    case S_IFREG:
      return "reg";
    case S_IFDIR:
      return "dir";
    case S_IFLNK:
      return "lnk";
    case S_IFCHR:
      return "chr";
    case S_IFBLK:
      return "blk";
    case S_IFIFO:
      return "fifo";
    default:
      return "sock";
    }
}

void
casfs_dump_entry (FILE *out, const char *path, const struct casfs_entry *e)
{
  cleanup_free char *epath = casfs_dump_escape (path, strlen (path));
  char hex[CASFS_DIGEST_HEX_LEN + 1] = "-";
  char rdev[48] = "-";

  if (S_ISREG (e->mode) || S_ISDIR (e->mode))
    casfs_digest_hex (&e->digest, hex);
  if (S_ISCHR (e->mode) || S_ISBLK (e->mode))
    snprintf (rdev, sizeof rdev, "%u:%u", major (e->rdev), minor (e->rdev));
  fprintf (out, "%s %s %04o %" PRIu32 " %" PRIu32 " %" PRIu64 " %" PRId64 ".%09" PRIu32 " %s %" PRIu32 "/%" PRIu64
                " %s ",
           epath, casfs_dump_type (e->mode), e->mode & 07777, e->uid, e->gid, e->size, e->mtime_sec, e->mtime_nsec,
           rdev, e->nlink, e->link_id, hex);
  if (e->target)
    {
      cleanup_free char *t = casfs_dump_escape (e->target, strlen (e->target));
      fputs (t, out);
    }
  else
    fputc ('-', out);
  for (size_t i = 0; i < e->n_xattrs; i++)
    {
      cleanup_free char *n = casfs_dump_escape (e->xattrs[i].name, strlen (e->xattrs[i].name));
      cleanup_free char *v = e->xattrs[i].len ? casfs_dump_escape (e->xattrs[i].value, e->xattrs[i].len) : NULL;
      fprintf (out, " %s=%s", n, v ? v : "");
    }
  fputc ('\n', out);
}

static int
dump_dir (struct casfs_tree_cache *c, const struct casfs_digest *d, const char *prefix, FILE *out,
          sp_error_t *err)
{
  const struct casfs_tree *t;
  const char *problem;

  if (casfs_tree_cache_get (c, d, &t, &problem, err) < 0)
    return -1;
  if (t == NULL)
    return sp_error_make (err, EIO, "dump `%s/`: %s", prefix, problem);
  for (size_t i = 0; i < t->n; i++)
    {
      const struct casfs_entry *e = &t->entries[i];
      cleanup_free char *path = sp_xasprintf ("%s/%s", prefix, e->name);
      casfs_dump_entry (out, path, e);
      if (S_ISDIR (e->mode) && dump_dir (c, &e->digest, path, out, err) < 0)
        return -1;
    }
  return 0;
}

int
casfs_dump_tree (struct casfs_tree_cache *c, const struct casfs_digest *root, FILE *out, sp_error_t *err)
{
  char hex[CASFS_DIGEST_HEX_LEN + 1];
  casfs_digest_hex (root, hex);
  fprintf (out, "/ dir - - - - - - - %s -\n", hex);
  if (dump_dir (c, root, "", out, err) < 0)
    return -1;
  if (fflush (out) != 0 || ferror (out))
    return sp_error_errno (err, "write dump");
  return 0;
}
