/* samepage-hook: OCI hooks for containers run by other runtimes.
 *   samepage-hook [--library PATH] [--destination PATH] precreate
 * reads a runtime config on stdin and writes it, rewritten, on stdout
 * (oci-hooks(5) precreate stage).  See docs/samepage-hook.8. */
#include "hook.h"

#include <samepage/cleanup.h>
#include <samepage/ksm.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
usage (FILE *out)
{
  fprintf (out, "usage: samepage-hook [options] precreate < config.json > config.json\n\n"
                "Adds libsamepage-ksm.so (bind mount + LD_PRELOAD) to a container whose\n"
                "annotation " SP_KSM_ANNOTATION " is heap or merge-any.  An invalid config is\n"
                "refused with a message on stderr and passed through unchanged (exit 0).\n\n"
                "options:\n"
                "  --library PATH      host path of the library (default " SAMEPAGE_LIBDIR "/" SP_KSM_PRELOAD_NAME ")\n"
                "  --destination PATH  path inside the container (default " SP_KSM_PRELOAD_DEST ")\n"
                "  --debug             debug output (also SAMEPAGE_DEBUG=1)\n"
                "  --version, --help\n");
}

static int
precreate (const struct hook_options *o)
{
  cleanup_free char *in = NULL;
  cleanup_free char *out = NULL;
  size_t in_len = 0, out_len = 0;
  sp_error_t err = NULL;

  if (sp_read_fd (STDIN_FILENO, &in, &in_len, &err) < 0)
    {
      sp_error_wrap (&err, "precreate: read config from stdin");
      sp_log_error_release (&err);
      return 1;
    }
  if (hook_ksm_rewrite (in, in_len, o, &out, &out_len, &err) < 0)
    {
      /* KSM is an optimisation: the container runs as configured. */
      sp_warn ("precreate: refused: %s; passing the config through unchanged", err->msg);
      sp_error_release (&err);
    }
  if (out == NULL)
    {
      out = steal_pointer (&in);
      out_len = in_len;
    }
  if (sp_write_all (STDOUT_FILENO, out, out_len) < 0)
    {
      sp_error_errno (&err, "precreate: write config to stdout");
      sp_log_error_release (&err);
      return 1;
    }
  return 0;
}

int
main (int argc, char **argv)
{
  static const struct option opts[] = {
    { "library", required_argument, NULL, 'l' },
    { "destination", required_argument, NULL, 'd' },
    { "debug", no_argument, NULL, 'D' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'v' },
    { NULL, 0, NULL, 0 },
  };
  struct hook_options o = { .library = SAMEPAGE_LIBDIR "/" SP_KSM_PRELOAD_NAME, .destination = SP_KSM_PRELOAD_DEST };
  int c;

  sp_log_set_program ("samepage-hook");
  opterr = 0;
  while ((c = getopt_long_only (argc, argv, "+hv", opts, NULL)) != -1)
    switch (c)
      {
      case 'l':
        o.library = optarg;
        break;
      case 'd':
        o.destination = optarg;
        break;
      case 'D':
        sp_log_set_debug (true);
        break;
      case 'h':
        usage (stdout);
        return 0;
      case 'v':
        printf ("samepage-hook version %s\ncommit: %s\n", SAMEPAGE_VERSION, SAMEPAGE_COMMIT);
        return 0;
      default:
        sp_error_log ("unknown option `%s` (see `samepage-hook --help`)", argv[optind - 1]);
        return 1;
      }
  if (o.library[0] != '/' || o.destination[0] != '/')
    {
      sp_error_log ("--library and --destination must be absolute paths");
      return 1;
    }
  if (optind + 1 != argc)
    {
      usage (stderr);
      return 1;
    }
  if (strcmp (argv[optind], "precreate") == 0)
    return precreate (&o);
  sp_error_log ("unknown stage `%s` (samepage-hook handles precreate)", argv[optind]);
  return 1;
}
