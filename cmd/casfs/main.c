/* casfs: the content-addressed store and its FUSE view.  Parsing and dispatch only. */
#include "verbs.h"

#include <samepage/log.h>
#include <samepage/util.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage (FILE *out)
{
  fprintf (out, "usage: casfs [--store DIR] [--debug] COMMAND [ARGS]\n\ncommands:\n");
  for (const struct casfs_verb *v = casfs_verbs; v->name; v++)
    fprintf (out, "  %-8s %-34s %s\n", v->name, v->usage, v->summary);
  fprintf (out, "\nThe store defaults to $CASFS_STORE or %s.\n", CASFS_DEFAULT_STORE);
}

int
casfs_open_store (struct casfs_globals *g, bool create, struct casfs_store **out)
{
  sp_error_t err = NULL;
  if (casfs_store_open (g->store, create, out, &err) < 0)
    {
      sp_log_error_release (&err);
      return -1;
    }
  return 0;
}

int
casfs_usage_error (const char *verb, const char *fmt, ...)
{
  va_list ap;
  fprintf (stderr, "casfs %s: ", verb);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  for (const struct casfs_verb *v = casfs_verbs; v->name; v++)
    if (strcmp (v->name, verb) == 0)
      fprintf (stderr, "\nusage: casfs %s %s\n", v->name, v->usage);
  return 2;
}

int
main (int argc, char **argv)
{
  struct casfs_globals g = { .store = getenv ("CASFS_STORE") };
  static const struct option opts[] = {
    { "store", required_argument, NULL, 's' },
    { "debug", no_argument, NULL, 'd' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
  };
  int c;

  sp_log_set_program ("casfs");
  if (g.store == NULL || *g.store == '\0')
    g.store = CASFS_DEFAULT_STORE;
  while ((c = getopt_long (argc, argv, "+s:dhV", opts, NULL)) != -1)
    switch (c)
      {
      case 's':
        g.store = optarg;
        break;
      case 'd':
        sp_log_set_debug (true);
        break;
      case 'h':
        usage (stdout);
        return 0;
      case 'V':
        printf ("casfs version %s\n", SAMEPAGE_VERSION);
        return 0;
      default:
        usage (stderr);
        return 2;
      }
  if (optind >= argc)
    {
      usage (stderr);
      return 2;
    }
  for (const struct casfs_verb *v = casfs_verbs; v->name; v++)
    if (strcmp (v->name, argv[optind]) == 0)
      {
        int first = optind;
        optind = 0; /* verbs run their own getopt_long over their argv */
        return v->fn (&g, argc - first, argv + first);
      }
  fprintf (stderr, "casfs: unknown command `%s` (see `casfs --help`)\n", argv[optind]);
  return 2;
}
