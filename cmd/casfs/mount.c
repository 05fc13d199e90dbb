/* casfs mount: serve the store's read-only FUSE view (one daemon per store). */
#include "verbs.h"

#include <samepage/casfs_fuse.h>
#include <samepage/log.h>
#include <samepage/util.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

int
casfs_cmd_mount (struct casfs_globals *g, int argc, char **argv)
{
  struct casfs_fuse_options o = { .store = g->store, .mountpoint = CASFS_FUSE_DEFAULT_MOUNTPOINT };
  static const struct option opts[] = {
    { "foreground", no_argument, NULL, 'f' },
    { "store", required_argument, NULL, 's' },
    { "pid-file", required_argument, NULL, 'p' },
    { "log", required_argument, NULL, 'l' },
    { "threads", required_argument, NULL, 't' },
    { "fuse-debug", no_argument, NULL, 'D' },
    { "io-uring", required_argument, NULL, 'U' },
    { NULL, 0, NULL, 0 },
  };
  sp_error_t err = NULL;
  long threads;
  int c;

  while ((c = getopt_long (argc, argv, "+fs:p:l:t:", opts, NULL)) != -1)
    switch (c)
      {
      case 'f':
        o.foreground = true;
        break;
      case 's':
        o.store = optarg;
        break;
      case 'p':
        o.pid_file = optarg;
        break;
      case 'l':
        o.log_file = optarg;
        break;
      case 't':
        if (!sp_parse_long (optarg, &threads) || threads < 1 || threads > 1024)
          return casfs_usage_error ("mount", "--threads: want 1..1024, got `%s`", optarg);
        o.max_threads = (unsigned) threads;
        break;
      case 'D':
        o.fuse_debug = true;
        break;
      case 'U':
        if (!casfs_uring_mode_parse (optarg, &o.io_uring))
          return casfs_usage_error ("mount", "--io-uring: want auto, on or off, got `%s`", optarg);
        break;
      default:
        return casfs_usage_error ("mount", "unknown option");
      }
  if (argc - optind > 1)
    return casfs_usage_error ("mount", "takes at most one MOUNTPOINT");
  if (optind < argc)
    o.mountpoint = argv[optind];
  if (casfs_fuse_mount (&o, &err) < 0)
    {
      sp_log_error_release (&err);
      return 1;
    }
  return 0;
}
