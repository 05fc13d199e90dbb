/* casfs gc: free what no ref and no root (running container) reaches. */
#include "verbs.h"

#include <samepage/casfs_gc.h>
#include <samepage/casfs_stats.h>
#include <samepage/log.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

static void
print_freed (const char *rel, uint64_t bytes, void *data)
{
  printf ("%s %s (%" PRIu64 " bytes)\n", *(bool *) data ? "would remove" : "removed", rel, bytes);
}

int
casfs_cmd_gc (struct casfs_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "dry-run", no_argument, NULL, 'n' },
    { "verbose", no_argument, NULL, 'v' },
    { NULL, 0, NULL, 0 },
  };
  cleanup_store struct casfs_store *s = NULL;
  struct casfs_gc_options o = { 0 };
  struct casfs_gc_result r;
  sp_error_t err = NULL;
  char human[16];
  int c;

  while ((c = getopt_long (argc, argv, "nv", opts, NULL)) != -1)
    switch (c)
      {
      case 'n':
        o.dry_run = true;
        break;
      case 'v':
        o.on_free = print_freed;
        break;
      default:
        return casfs_usage_error ("gc", "bad option");
      }
  if (optind != argc)
    return casfs_usage_error ("gc", "takes no arguments");
  o.data = &o.dry_run;
  if (casfs_open_store (g, false, &s) < 0)
    return 1;
  if (casfs_gc (s, &o, &r, &err) < 0)
    {
      sp_log_error_release (&err);
      return 1;
    }
  printf ("%s %zu trees, %zu objects, %zu image records, %zu temporary files: %s (%" PRIu64 " bytes)\n",
          o.dry_run ? "would free" : "freed", r.trees_freed, r.objects_freed, r.images_freed, r.tmp_freed,
          casfs_stats_human (r.bytes_freed, human), r.bytes_freed);
  printf ("kept %zu trees, %zu objects, %zu image records\n", r.trees_kept, r.objects_kept, r.images_kept);
  if (r.problems)
    {
      printf ("%zu problems met while marking: run `casfs fsck`\n", r.problems);
      return 1;
    }
  return 0;
}
