/* samepage create | run | start */
#include "verbs.h"

#include <samepage/util.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static int
parse_create (const char *verb, int argc, char **argv, struct sp_create_options *o, const char **id)
{
  static const struct option opts[] = {
    { "bundle", required_argument, NULL, 'b' },
    { "pid-file", required_argument, NULL, 'p' },
    { "console-socket", required_argument, NULL, 'c' },
    { "preserve-fds", required_argument, NULL, 'P' },
    { "no-pivot", no_argument, NULL, 'n' },
    { "no-new-keyring", no_argument, NULL, 'k' },
    { "detach", no_argument, NULL, 'd' },
    { "keep", no_argument, NULL, 'K' },
    { "no-subreaper", no_argument, NULL, 'S' },
    { NULL, 0, NULL, 0 },
  };
  bool is_run = strcmp (verb, "run") == 0;
  long n;
  int c;

  memset (o, 0, sizeof *o);
  while ((c = getopt_long_only (argc, argv, "+b:d", opts, NULL)) != -1)
    switch (c)
      {
      case 'b':
        o->bundle = optarg;
        break;
      case 'p':
        o->pid_file = optarg;
        break;
      case 'c':
        o->console_socket = optarg;
        break;
      case 'P':
        if (!sp_parse_long (optarg, &n) || n < 0 || n > 65536)
          return sp_usage_error (verb, "--preserve-fds: not a number of fds: `%s`", optarg);
        o->preserve_fds = (int) n;
        break;
      case 'n':
        o->no_pivot = true;
        break;
      case 'k':
        o->no_new_keyring = true;
        break;
      case 'd':
        if (!is_run)
          return sp_usage_error (verb, "--detach is only for run");
        o->detach = true;
        break;
      case 'K':
        o->keep = true;
        break;
      case 'S':
        break;
      default:
        return sp_usage_error (verb, "unknown option `%s`", argv[optind - 1]);
      }
  if (optind != argc - 1)
    return sp_usage_error (verb, "want exactly one container ID");
  *id = argv[optind];
  return 0;
}

int
cmd_create (struct sp_runtime *rt, int argc, char **argv)
{
  struct sp_create_options o;
  const char *id;
  sp_error_t err = NULL;

  if (parse_create ("create", argc, argv, &o, &id) != 0)
    return 1;
  if (sp_container_create (rt, id, &o, &err) < 0)
    return sp_fail (&err);
  return 0;
}

int
cmd_run (struct sp_runtime *rt, int argc, char **argv)
{
  struct sp_create_options o;
  const char *id;
  sp_error_t err = NULL;
  int status;

  if (parse_create ("run", argc, argv, &o, &id) != 0)
    return 1;
  status = sp_container_run (rt, id, &o, &err);
  if (status < 0)
    return sp_fail (&err);
  return status;
}

int
cmd_start (struct sp_runtime *rt, int argc, char **argv)
{
  sp_error_t err = NULL;
  if (argc != 2 || argv[1][0] == '-')
    return sp_usage_error ("start", "want exactly one container ID");
  if (sp_container_start (rt, argv[1], &err) < 0)
    return sp_fail (&err);
  return 0;
}
