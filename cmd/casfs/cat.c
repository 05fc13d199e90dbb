/* casfs cat: a file's content from a tree (symlinks followed inside the tree only). */
#include "verbs.h"

#include <samepage/casfs_walk.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int
casfs_cmd_cat (struct casfs_globals *g, int argc, char **argv)
{
  cleanup_store struct casfs_store *s = NULL;
  cleanup_tree_cache struct casfs_tree_cache *cache = NULL;
  cleanup_close int fd = -1;
  const struct casfs_entry *e;
  struct casfs_digest root, dir;
  sp_error_t err = NULL;
  char buf[65536];
  ssize_t n;

  if (argc != 3)
    return casfs_usage_error ("cat", "want REF|DIGEST PATH");
  if (casfs_open_store (g, false, &s) < 0)
    return 1;
  cache = casfs_tree_cache_new (s);
  if (casfs_store_resolve (s, argv[1], &root, &err) < 0
      || casfs_walk_resolve (cache, &root, argv[2], true, &e, &dir, &err) < 0)
    goto fail;
  if (e == NULL || S_ISDIR (e->mode))
    {
      sp_error_make (&err, EISDIR, "cat `%s`", argv[2]);
      goto fail;
    }
  if (!S_ISREG (e->mode))
    {
      sp_error_make (&err, 0, "cat `%s`: not a regular file", argv[2]);
      goto fail;
    }
  if ((fd = casfs_store_open_object (s, &e->digest, 0, &err)) < 0)
    goto fail;
  while ((n = read (fd, buf, sizeof buf)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          sp_error_errno (&err, "cat `%s`: read object", argv[2]);
          goto fail;
        }
      if (sp_write_all (STDOUT_FILENO, buf, (size_t) n) < 0)
        {
          sp_error_errno (&err, "cat `%s`: write", argv[2]);
          goto fail;
        }
    }
  return 0;
fail:
  sp_log_error_release (&err);
  return 1;
}
