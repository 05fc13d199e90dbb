/* casfs bundle: an OCI bundle (config.json + empty rootfs/) for an image. */
#include "verbs.h"

#include <samepage/casfs_bundle.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

int
casfs_cmd_bundle (struct casfs_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "store", required_argument, NULL, 's' },
    { NULL, 0, NULL, 0 },
  };
  cleanup_store struct casfs_store *s = NULL;
  struct casfs_bundle_options o = { 0 };
  sp_error_t err = NULL;
  int c;

  while ((c = getopt_long (argc, argv, "+s:", opts, NULL)) != -1)
    switch (c)
      {
      case 's':
        g->store = optarg;
        break;
      default:
        return casfs_usage_error ("bundle", "unknown option");
      }
  if (argc - optind < 2)
    return casfs_usage_error ("bundle", "want REF DIR");
  /* getopt stops at REF ("+"), so options of the command need no "--"; one is allowed */
  if (argc - optind > 2)
    o.args = argv + optind + 2 + (strcmp (argv[optind + 2], "--") == 0);
  if (casfs_open_store (g, false, &s) < 0)
    return 1;
  if (casfs_bundle_write (s, argv[optind], argv[optind + 1], &o, &err) < 0)
    {
      sp_log_error_release (&err);
      return 1;
    }
  return 0;
}
