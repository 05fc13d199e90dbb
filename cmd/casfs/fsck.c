/* casfs fsck: verify the store; exit 0 clean, 1 problems. */
#include "verbs.h"

#include <samepage/casfs_fsck.h>
#include <samepage/log.h>
#include <getopt.h>
#include <stdio.h>

static void
print_problem (const char *msg, void *data)
{
  printf ("problem: %s\n", msg);
}

int
casfs_cmd_fsck (struct casfs_globals *g, int argc, char **argv)
{
  static const struct option opts[] = { { "repair", no_argument, NULL, 'r' }, { NULL, 0, NULL, 0 } };
  cleanup_store struct casfs_store *s = NULL;
  struct casfs_fsck_options o = { .on_problem = print_problem };
  struct casfs_fsck_result r;
  sp_error_t err = NULL;
  int c, status;

  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    switch (c)
      {
      case 'r':
        o.repair = true;
        break;
      default:
        return casfs_usage_error ("fsck", "bad option");
      }
  if (optind != argc)
    return casfs_usage_error ("fsck", "takes no arguments");
  if (casfs_open_store (g, false, &s) < 0)
    return 1;
  if (casfs_fsck (s, &o, &r, &err) < 0)
    {
      sp_log_error_release (&err);
      casfs_fsck_result_clear (&r);
      return 1;
    }
  for (char **a = r.affected; *a; a++)
    printf ("affected: %s\n", *a);
  printf ("checked %zu objects, %zu trees, %zu image records, %zu refs: %zu problems", r.objects_checked,
          r.trees_checked, r.images_checked, r.refs_checked, r.problems);
  if (o.repair)
    printf (", %zu files moved to %s/quarantine", r.quarantined, casfs_store_path (s));
  printf ("\n");
  if (r.problems && o.repair && r.affected[0])
    printf ("re-import the affected images to restore what was quarantined\n");
  status = r.problems ? 1 : 0;
  casfs_fsck_result_clear (&r);
  return status;
}
