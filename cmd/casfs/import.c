/* casfs import: a layer tarball, OCI layout, docker archive or layer directory. */
#include "verbs.h"

#include <samepage/casfs_import.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct
{
  const char *name;
  enum casfs_import_kind kind;
} import_kinds[] = {
  { "auto", CASFS_IMPORT_AUTO },     { "layer", CASFS_IMPORT_LAYER }, { "oci", CASFS_IMPORT_OCI },
  { "docker", CASFS_IMPORT_DOCKER }, { "dir", CASFS_IMPORT_DIR },
};

int
casfs_cmd_import (struct casfs_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "ref", required_argument, NULL, 'r' },      { "platform", required_argument, NULL, 'p' },
    { "type", required_argument, NULL, 't' },     { "workers", required_argument, NULL, 'w' },
    { "progress", no_argument, NULL, 'P' },       { "no-progress", no_argument, NULL, 'N' },
    { "quiet", no_argument, NULL, 'q' },          { NULL, 0, NULL, 0 },
  };
  struct casfs_import_options o = { .kind = CASFS_IMPORT_AUTO, .progress = isatty (STDERR_FILENO) };
  struct casfs_import_result res;
  cleanup_store struct casfs_store *s = NULL;
  sp_error_t err = NULL;
  bool quiet = false;
  char hex[CASFS_DIGEST_HEX_LEN + 1];
  long workers;
  int c;

  while ((c = getopt_long (argc, argv, "+r:p:t:w:q", opts, NULL)) != -1)
    switch (c)
      {
      case 'r':
        o.ref = optarg;
        break;
      case 'p':
        o.platform = optarg;
        break;
      case 't':
        {
          size_t i;
          for (i = 0; i < SP_ARRAY_SIZE (import_kinds); i++)
            if (strcmp (optarg, import_kinds[i].name) == 0)
              break;
          if (i == SP_ARRAY_SIZE (import_kinds))
            return casfs_usage_error ("import", "--type: want auto, layer, oci, docker or dir, not `%s`", optarg);
          o.kind = import_kinds[i].kind;
          break;
        }
      case 'w':
        if (!sp_parse_long (optarg, &workers) || workers < 1 || workers > 16)
          return casfs_usage_error ("import", "--workers: want 1..16, not `%s`", optarg);
        o.workers = (unsigned) workers;
        break;
      case 'P':
        o.progress = true;
        break;
      case 'N':
        o.progress = false;
        break;
      case 'q':
        quiet = true;
        o.progress = false;
        break;
      default:
        return casfs_usage_error ("import", "unknown option");
      }
  if (optind + 1 != argc)
    return casfs_usage_error ("import", "want exactly one PATH");
  if (casfs_open_store (g, true, &s) < 0)
    return 1;
  if (casfs_import (s, argv[optind], &o, &res, &err) < 0)
    {
      sp_log_error_release (&err);
      return 1;
    }
  casfs_digest_hex (&res.merged, hex);
  printf ("%s\t%s\n", hex, res.ref ? res.ref : "");
  if (!quiet)
    {
      double mib = (double) res.stats.bytes / (1 << 20);
      fprintf (stderr,
               "imported %s: %zu layer%s, %llu entries, %llu files, %.1f MiB, %.1f MiB new, %.1f MiB/s, %.2f s\n",
               argv[optind], res.n_layers, res.n_layers == 1 ? "" : "s", (unsigned long long) res.stats.entries,
               (unsigned long long) res.stats.files, mib, (double) res.stats.new_bytes / (1 << 20),
               res.stats.seconds > 0 ? mib / res.stats.seconds : 0.0, res.stats.seconds);
      if (res.ref == NULL)
        sp_warn ("no ref set (--ref NAME): the tree is unreferenced and gc may remove it");
    }
  casfs_import_result_clear (&res);
  return 0;
}
