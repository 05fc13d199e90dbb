/* casfs du: per image, logical vs unique bytes and what it shares. */
#include "verbs.h"

#include <samepage/casfs_stats.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *
size_col (uint64_t v, bool bytes, char buf[32])
{
  if (bytes)
    snprintf (buf, 32, "%" PRIu64, v);
  else
    casfs_stats_human (v, buf);
  return buf;
}

int
casfs_cmd_du (struct casfs_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "json", no_argument, NULL, 'j' },
    { "bytes", no_argument, NULL, 'b' },
    { NULL, 0, NULL, 0 },
  };
  cleanup_store struct casfs_store *s = NULL;
  struct casfs_store_stats st;
  sp_error_t err = NULL;
  bool json = g->json, bytes = false;
  char *const *only;
  char a[32], b[32], c2[32];
  int c, status = 0;

  while ((c = getopt_long (argc, argv, "b", opts, NULL)) != -1)
    switch (c)
      {
      case 'j':
        json = true;
        break;
      case 'b':
        bytes = true;
        break;
      default:
        return casfs_usage_error ("du", "bad option");
      }
  only = optind < argc ? argv + optind : NULL;
  if (casfs_open_store (g, false, &s) < 0)
    return 1;
  if (casfs_stats_compute (s, &st, &err) < 0)
    {
      sp_log_error_release (&err);
      casfs_stats_clear (&st);
      return 1;
    }
  for (char *const *o = only; o && *o; o++)
    {
      bool found = false;
      for (size_t i = 0; i < st.n_images; i++)
        found = found || strcmp (st.images[i].ref, *o) == 0;
      if (!found)
        {
          sp_error_log ("du: no ref `%s` in store `%s`", *o, casfs_store_path (s));
          status = 1;
        }
    }
  if (json)
    {
      cleanup_free char *text = NULL;
      if (casfs_stats_to_json (&st, only, &text, &err) < 0)
        {
          sp_log_error_release (&err);
          casfs_stats_clear (&st);
          return 1;
        }
      fputs (text, stdout);
    }
  else
    {
      printf ("%-40s %8s %10s %10s %8s %10s %6s\n", "REF", "FILES", "LOGICAL", "UNIQUE", "SHARED", "SHARED_B",
              "RATIO");
      for (size_t i = 0; i < st.n_images; i++)
        {
          const struct casfs_image_stats *im = &st.images[i];
          bool want = only == NULL;
          for (char *const *o = only; o && *o; o++)
            want = want || strcmp (*o, im->ref) == 0;
          if (!want)
            continue;
          printf ("%-40s %8" PRIu64 " %10s %10s %8" PRIu64 " %10s %6.2f\n", im->ref, im->files,
                  size_col (im->logical_bytes, bytes, a), size_col (im->unique_bytes, bytes, b), im->shared_objects,
                  size_col (im->shared_bytes, bytes, c2), casfs_stats_ratio (im->logical_bytes, im->unique_bytes));
        }
      printf ("%-40s %8" PRIu64 " %10s %10s %8" PRIu64 " %10s %6.2f\n", "TOTAL", st.files,
              size_col (st.logical_bytes, bytes, a), size_col (st.unique_bytes, bytes, b), st.shared_objects,
              size_col (st.shared_bytes, bytes, c2), casfs_stats_ratio (st.logical_bytes, st.unique_bytes));
    }
  if (st.problems)
    status = 1;
  casfs_stats_clear (&st);
  return status;
}
