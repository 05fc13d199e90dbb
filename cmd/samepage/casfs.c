/* samepage casfs warm: import engines' image layers into the store ahead of
 * time, so the first container of an image starts without the import. */
#include "verbs.h"

#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/settings.h>
#include <samepage/util.h>

#include <getopt.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>

#include "../../shim/casfs_rootfs.h"

#define PODMAN_LAYERS "/var/lib/containers/storage/overlay/*/diff"
#define CONTAINERD_LAYERS "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/*/fs"

static int
warm_one (const char *store, const char *dir, int *imported, int *cached)
{
  sp_error_t err = NULL;
  unsigned long long t0 = sp_now_ns ();
  int r = sp_casfs_warm_layer (store, dir, &err);
  if (r < 0)
    {
      sp_log_error_release (&err);
      return -1;
    }
  if (r == 1)
    {
      (*imported)++;
      printf ("imported %s in %.1f ms\n", dir, (double) (sp_now_ns () - t0) / 1e6);
    }
  else
    (*cached)++;
  return 0;
}

int
cmd_casfs (struct sp_runtime *rt, int argc, char **argv)
{
  static const struct option opts[] = {
    { "store", required_argument, NULL, 's' },
    { NULL, 0, NULL, 0 },
  };
  struct sp_settings set;
  const char *store = NULL;
  sp_error_t err = NULL;
  int c, imported = 0, cached = 0, failed = 0;

  (void) rt;
  if (argc < 2 || strcmp (argv[1], "warm") != 0)
    return sp_usage_error ("casfs", "want `casfs warm [--store DIR] [LAYER_DIR...]`");
  argc--;
  argv++;
  while ((c = getopt_long (argc, argv, "+s:", opts, NULL)) != -1)
    if (c == 's')
      store = optarg;
    else
      return sp_usage_error ("casfs", "unknown option `%s`", argv[optind - 1]);
  if (sp_settings_load (NULL, &set, &err) < 0)
    return sp_fail (&err);
  if (store == NULL)
    store = set.store;
  if (optind < argc)
    for (int i = optind; i < argc; i++)
      failed += warm_one (store, argv[i], &imported, &cached) < 0;
  else
    {
      /* Every layer of podman's and containerd's default storage. */
      static const char *const patterns[] = { PODMAN_LAYERS, CONTAINERD_LAYERS };
      for (size_t p = 0; p < SP_ARRAY_SIZE (patterns); p++)
        {
          glob_t g;
          if (glob (patterns[p], GLOB_ONLYDIR, NULL, &g) != 0)
            continue;
          for (size_t i = 0; i < g.gl_pathc; i++)
            failed += warm_one (store, g.gl_pathv[i], &imported, &cached) < 0;
          globfree (&g);
        }
    }
  printf ("%d layers imported, %d already in the store, %d failed (store %s)\n", imported, cached, failed, store);
  sp_settings_clear (&set);
  return failed ? 1 : 0;
}
