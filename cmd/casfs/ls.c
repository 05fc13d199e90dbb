/* casfs ls: list a directory of a tree (ls -l like), or --dump the whole tree. */
#include "verbs.h"

#include <samepage/casfs_dump.h>
#include <samepage/casfs_walk.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

static void
mode_string (uint32_t mode, char out[11])
{
  static const char types[] = { [S_IFREG >> 12] = '-', [S_IFDIR >> 12] = 'd', [S_IFLNK >> 12] = 'l',
                                [S_IFCHR >> 12] = 'c', [S_IFBLK >> 12] = 'b', [S_IFIFO >> 12] = 'p',
                                [S_IFSOCK >> 12] = 's' };
  const char *rwx = "rwxrwxrwx";
  out[0] = types[(mode & S_IFMT) >> 12] ? types[(mode & S_IFMT) >> 12] : '?';
  for (int i = 0; i < 9; i++)
    out[i + 1] = mode & (1u << (8 - i)) ? rwx[i] : '-';
  if (mode & S_ISUID)
    out[3] = mode & S_IXUSR ? 's' : 'S';
  if (mode & S_ISGID)
    out[6] = mode & S_IXGRP ? 's' : 'S';
  if (mode & S_ISVTX)
    out[9] = mode & S_IXOTH ? 't' : 'T';
  out[10] = '\0';
}

static void
print_long (const struct casfs_entry *e, const char *name)
{
  char mode[11], when[32], size[48];
  time_t t = (time_t) e->mtime_sec;
  struct tm tm;

  mode_string (e->mode, mode);
  if (gmtime_r (&t, &tm) == NULL || strftime (when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm) == 0)
    snprintf (when, sizeof when, "@%" PRId64, e->mtime_sec);
  if (S_ISCHR (e->mode) || S_ISBLK (e->mode))
    snprintf (size, sizeof size, "%u, %u", major (e->rdev), minor (e->rdev));
  else
    snprintf (size, sizeof size, "%" PRIu64, e->size);
  printf ("%s %" PRIu32 " %" PRIu32 " %" PRIu32 " %10s %s %s", mode, e->nlink ? e->nlink : 1, e->uid, e->gid, size,
          when, name);
  if (e->target)
    printf (" -> %s", e->target);
  putchar ('\n');
}

int
casfs_cmd_ls (struct casfs_globals *g, int argc, char **argv)
{
  static const struct option opts[] = { { "dump", no_argument, NULL, 'D' }, { NULL, 0, NULL, 0 } };
  cleanup_store struct casfs_store *s = NULL;
  cleanup_tree_cache struct casfs_tree_cache *cache = NULL;
  const struct casfs_entry *e;
  const struct casfs_tree *t;
  const char *path, *problem;
  struct casfs_digest root, dir;
  sp_error_t err = NULL;
  bool dump = false;
  int c;

  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    switch (c)
      {
      case 'D':
        dump = true;
        break;
      default:
        return casfs_usage_error ("ls", "bad option");
      }
  if (argc - optind < 1 || argc - optind > 2)
    return casfs_usage_error ("ls", "want REF|DIGEST [PATH]");
  path = argc - optind == 2 ? argv[optind + 1] : "/";
  if (casfs_open_store (g, false, &s) < 0)
    return 1;
  cache = casfs_tree_cache_new (s);
  if (casfs_store_resolve (s, argv[optind], &root, &err) < 0
      || casfs_walk_resolve (cache, &root, path, false, &e, &dir, &err) < 0)
    goto fail;
  if (dump)
    {
      if (e && !S_ISDIR (e->mode))
        {
          sp_error_make (&err, ENOTDIR, "ls --dump `%s`", path);
          goto fail;
        }
      if (casfs_dump_tree (cache, &dir, stdout, &err) < 0)
        goto fail;
      return 0;
    }
  if (e && !S_ISDIR (e->mode))
    {
      print_long (e, path);
      return 0;
    }
  if (casfs_tree_cache_get (cache, &dir, &t, &problem, &err) < 0)
    goto fail;
  if (t == NULL)
    {
      sp_error_make (&err, EIO, "ls `%s`: %s", path, problem);
      goto fail;
    }
  for (size_t i = 0; i < t->n; i++)
    print_long (&t->entries[i], t->entries[i].name);
  return 0;
fail:
  sp_log_error_release (&err);
  return 1;
}
