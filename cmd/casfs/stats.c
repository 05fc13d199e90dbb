/* casfs stats: the store as a whole (see also casfs du). */
#include "verbs.h"

#include <samepage/casfs_stats.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

static void
row (const char *key, uint64_t v, bool bytes)
{
  char human[16];
  if (bytes)
    printf ("%-16s %s (%" PRIu64 " bytes)\n", key, casfs_stats_human (v, human), v);
  else
    printf ("%-16s %" PRIu64 "\n", key, v);
}

int
casfs_cmd_stats (struct casfs_globals *g, int argc, char **argv)
{
  static const struct option opts[] = { { "json", no_argument, NULL, 'j' }, { NULL, 0, NULL, 0 } };
  cleanup_store struct casfs_store *s = NULL;
  struct casfs_store_stats st;
  sp_error_t err = NULL;
  bool json = g->json;
  int c, status;

  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    switch (c)
      {
      case 'j':
        json = true;
        break;
      default:
        return casfs_usage_error ("stats", "bad option");
      }
  if (optind != argc)
    return casfs_usage_error ("stats", "takes no arguments");
  if (casfs_open_store (g, false, &s) < 0)
    return 1;
  if (casfs_stats_compute (s, &st, &err) < 0)
    {
      sp_log_error_release (&err);
      casfs_stats_clear (&st);
      return 1;
    }
  if (json)
    {
      cleanup_free char *text = NULL;
      if (casfs_stats_to_json (&st, NULL, &text, &err) < 0)
        {
          sp_log_error_release (&err);
          casfs_stats_clear (&st);
          return 1;
        }
      fputs (text, stdout);
    }
  else
    {
      printf ("%-16s %s\n", "store", casfs_store_path (s));
      row ("images", st.n_images, false);
      row ("trees", st.trees, false);
      row ("files", st.files, false);
      row ("logical", st.logical_bytes, true);
      row ("unique objects", st.unique_objects, false);
      row ("unique", st.unique_bytes, true);
      printf ("%-16s %.2f\n", "dedup ratio", casfs_stats_ratio (st.logical_bytes, st.unique_bytes));
      row ("shared objects", st.shared_objects, false);
      row ("shared", st.shared_bytes, true);
      row ("objects on disk", st.disk_objects, false);
      row ("on disk", st.disk_bytes, true);
      if (st.problems)
        row ("problems", st.problems, false);
    }
  status = st.problems ? 1 : 0;
  casfs_stats_clear (&st);
  return status;
}
