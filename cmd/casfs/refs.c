/* casfs refs: list refs and the trees they name. */
#include "verbs.h"

#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <stdio.h>

int
casfs_cmd_refs (struct casfs_globals *g, int argc, char **argv)
{
  cleanup_store struct casfs_store *s = NULL;
  cleanup_strv char **names = NULL;
  sp_error_t err = NULL;

  if (argc != 1)
    return casfs_usage_error ("refs", "takes no arguments");
  if (casfs_open_store (g, false, &s) < 0)
    return 1;
  if (casfs_store_list_refs (s, &names, &err) < 0)
    {
      sp_log_error_release (&err);
      return 1;
    }
  for (char **n = names; *n; n++)
    {
      struct casfs_digest d;
      char hex[CASFS_DIGEST_HEX_LEN + 1];
      if (casfs_store_resolve_ref (s, *n, &d, &err) < 0)
        {
          sp_log_error_release (&err);
          continue;
        }
      casfs_digest_hex (&d, hex);
      printf ("%s\t%s\n", hex, *n);
    }
  return 0;
}
