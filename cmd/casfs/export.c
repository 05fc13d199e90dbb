/* casfs export: write a tree as a pax tar ("-" for stdout). */
#include "verbs.h"

#include <samepage/casfs_export.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
casfs_cmd_export (struct casfs_globals *g, int argc, char **argv)
{
  cleanup_store struct casfs_store *s = NULL;
  cleanup_free char *tmp = NULL;
  cleanup_close int fd = -1;
  struct casfs_digest root;
  sp_error_t err = NULL;
  const char *out;

  if (argc != 3)
    return casfs_usage_error ("export", "want REF|DIGEST OUT.tar");
  out = argv[2];
  if (casfs_open_store (g, false, &s) < 0)
    return 1;
  if (casfs_store_resolve (s, argv[1], &root, &err) < 0)
    goto fail;
  if (strcmp (out, "-") == 0)
    {
      if (casfs_export_tar (s, &root, STDOUT_FILENO, &err) < 0)
        goto fail;
      return 0;
    }
  /* a failed export leaves no partial OUT.tar behind */
  tmp = sp_xasprintf ("%s.tmp.%d", out, getpid ());
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      sp_error_errno (&err, "create `%s`", tmp);
      goto fail;
    }
  if (casfs_export_tar (s, &root, fd, &err) < 0)
    goto fail_unlink;
  if (fsync (fd) < 0 || close (sp_steal_fd (&fd)) < 0 || rename (tmp, out) < 0)
    {
      sp_error_errno (&err, "write `%s`", out);
      goto fail_unlink;
    }
  return 0;
fail_unlink:
  unlink (tmp);
fail:
  sp_log_error_release (&err);
  return 1;
}
