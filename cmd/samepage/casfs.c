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
  int c;

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
    {
      sp_casfs_warm (store, argv + optind, &err); /* returns only on failure */
      return sp_fail (&err);
    }
  else
    {
      /* Every layer of podman's and containerd's default storage. */
      static const char *const patterns[] = { PODMAN_LAYERS, CONTAINERD_LAYERS };
      char **dirs = NULL;
      size_t n = 0;
      for (size_t p = 0; p < SP_ARRAY_SIZE (patterns); p++)
        {
          glob_t g;
          if (glob (patterns[p], GLOB_ONLYDIR, NULL, &g) != 0)
            continue;
          dirs = sp_xrealloc (dirs, (n + g.gl_pathc + 1) * sizeof (char *));
          for (size_t i = 0; i < g.gl_pathc; i++)
            dirs[n++] = sp_xstrdup (g.gl_pathv[i]);
          globfree (&g);
        }
      if (n == 0)
        {
          printf ("no podman or containerd layers found\n");
          return 0;
        }
      dirs[n] = NULL;
      sp_casfs_warm (store, dirs, &err);
      return sp_fail (&err);
    }

}
