/* samepage kill | delete */
#include "verbs.h"

#include <getopt.h>
#include <signal.h>
#include <string.h>

int
cmd_kill (struct sp_runtime *rt, int argc, char **argv)
{
  static const struct option opts[] = {
    { "all", no_argument, NULL, 'a' },
    { NULL, 0, NULL, 0 },
  };
  bool all = false;
  int signo = SIGTERM;
  sp_error_t err = NULL;
  int c;

  while ((c = getopt_long_only (argc, argv, "+a", opts, NULL)) != -1)
    if (c == 'a')
      all = true;
    else
      return sp_usage_error ("kill", "unknown option `%s`", argv[optind - 1]);
  if (optind != argc - 1 && optind != argc - 2)
    return sp_usage_error ("kill", "want a container ID and an optional signal");
  if (optind == argc - 2 && (signo = sp_signal_parse (argv[argc - 1])) < 0)
    return sp_usage_error ("kill", "unknown signal `%s`", argv[argc - 1]);
  if (sp_container_kill (rt, argv[optind], signo, all, &err) < 0)
    return sp_fail (&err);
  return 0;
}

int
cmd_delete (struct sp_runtime *rt, int argc, char **argv)
{
  static const struct option opts[] = {
    { "force", no_argument, NULL, 'f' },
    { NULL, 0, NULL, 0 },
  };
  bool force = false;
  sp_error_t err = NULL;
  int c;

  while ((c = getopt_long_only (argc, argv, "+f", opts, NULL)) != -1)
    if (c == 'f')
      force = true;
    else
      return sp_usage_error ("delete", "unknown option `%s`", argv[optind - 1]);
  if (optind != argc - 1)
    return sp_usage_error ("delete", "want exactly one container ID");
  if (sp_container_delete (rt, argv[optind], force, &err) < 0)
    return sp_fail (&err);
  return 0;
}
