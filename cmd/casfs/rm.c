/* casfs rm: remove refs (the data goes at the next gc). */
#include "verbs.h"

#include <samepage/log.h>

int
casfs_cmd_rm (struct casfs_globals *g, int argc, char **argv)
{
  cleanup_store struct casfs_store *s = NULL;
  sp_error_t err = NULL;
  int status = 0;

  if (argc < 2)
    return casfs_usage_error ("rm", "want REF...");
  if (casfs_open_store (g, false, &s) < 0)
    return 1;
  for (int i = 1; i < argc; i++)
    if (casfs_store_delete_ref (s, argv[i], &err) < 0)
      {
        sp_log_error_release (&err);
        status = 1;
      }
  return status;
}
