/* casfs umount: unmount the FUSE view and stop its daemon. */
#include "verbs.h"

#include <samepage/casfs_fuse.h>
#include <samepage/log.h>
#include <getopt.h>

int
casfs_cmd_umount (struct casfs_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "force", no_argument, NULL, 'f' },
    { "lazy", no_argument, NULL, 'l' },
    { NULL, 0, NULL, 0 },
  };
  const char *mountpoint = CASFS_FUSE_DEFAULT_MOUNTPOINT;
  sp_error_t err = NULL;
  unsigned flags = 0;
  int c;

  while ((c = getopt_long (argc, argv, "+fl", opts, NULL)) != -1)
    switch (c)
      {
      case 'f':
        flags |= CASFS_UMOUNT_FORCE;
        break;
      case 'l':
        flags |= CASFS_UMOUNT_LAZY;
        break;
      default:
        return casfs_usage_error ("umount", "unknown option");
      }
  if (argc - optind > 1)
    return casfs_usage_error ("umount", "takes at most one MOUNTPOINT");
  if (optind < argc)
    mountpoint = argv[optind];
  if (casfs_fuse_unmount (mountpoint, flags, &err) < 0)
    {
      sp_log_error_release (&err);
      return 1;
    }
  return 0;
}
