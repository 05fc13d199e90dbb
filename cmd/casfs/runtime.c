/* casfs runtime-prepare | runtime-release | runtime-warm: the casfs half of
 * a container's rootfs, run by the samepage runtime (which links none of
 * the store, import or FUSE code).  Not for people; see samepage(8). */
#include "verbs.h"

#include <samepage/casfs_plan.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
casfs_cmd_runtime_prepare (struct casfs_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "id", required_argument, NULL, 'i' },
    { "view", required_argument, NULL, 'v' },
    { "tree", required_argument, NULL, 't' },
    { "bundle", required_argument, NULL, 'b' },
    { "rootfs", required_argument, NULL, 'r' },
    { "engine-options", required_argument, NULL, 'o' },
    { NULL, 0, NULL, 0 },
  };
  struct casfs_runtime_request rq = { .store = g->store };
  struct sp_casfs_plan plan;
  cleanup_free char *text = NULL;
  sp_error_t err = NULL;
  int c;

  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    switch (c)
      {
      case 'i':
        rq.id = optarg;
        break;
      case 'v':
        rq.view = optarg;
        break;
      case 't':
        rq.tree = optarg;
        break;
      case 'b':
        rq.bundle = optarg;
        break;
      case 'r':
        rq.rootfs = optarg;
        break;
      case 'o':
        rq.engine_options = optarg;
        break;
      default:
        return casfs_usage_error ("runtime-prepare", "unknown option");
      }
  if (rq.id == NULL || rq.view == NULL || (rq.tree ? rq.bundle == NULL : (rq.rootfs == NULL || rq.engine_options == NULL)))
    return casfs_usage_error ("runtime-prepare", "want --id, --view and --tree/--bundle or --rootfs/--engine-options");
  if (casfs_runtime_prepare (&rq, &plan, &err) < 0)
    {
      sp_log_error_release (&err);
      return 1;
    }
  text = sp_casfs_plan_serialize (&plan);
  printf ("%s\n", text);
  sp_casfs_plan_clear (&plan);
  return 0;
}

int
casfs_cmd_runtime_release (struct casfs_globals *g, int argc, char **argv)
{
  cleanup_free char *text = NULL;
  struct sp_casfs_plan plan;
  sp_error_t err = NULL;
  int ret;

  (void) g;
  if (argc != 2)
    return casfs_usage_error ("runtime-release", "want the container id (and the plan on stdin)");
  if (sp_read_fd (0, &text, NULL, &err) < 0 || sp_casfs_plan_parse (text, &plan, &err) < 0)
    {
      sp_log_error_release (&err);
      return 1;
    }
  ret = casfs_runtime_release (argv[1], &plan, &err);
  sp_casfs_plan_clear (&plan);
  if (ret < 0)
    {
      sp_log_error_release (&err);
      return 1;
    }
  return 0;
}

int
casfs_cmd_runtime_warm (struct casfs_globals *g, int argc, char **argv)
{
  int imported = 0, cached = 0, failed = 0;

  for (int i = 1; i < argc; i++)
    {
      sp_error_t err = NULL;
      unsigned long long t0 = sp_now_ns ();
      int r = casfs_runtime_warm (g->store, argv[i], &err);
      if (r < 0)
        {
          sp_log_error_release (&err);
          failed++;
        }
      else if (r == 1)
        {
          imported++;
          printf ("imported %s in %.1f ms\n", argv[i], (double) (sp_now_ns () - t0) / 1e6);
        }
      else
        cached++;
    }
  printf ("%d layers imported, %d already in the store, %d failed (store %s)\n", imported, cached, failed, g->store);
  return failed ? 1 : 0;
}
