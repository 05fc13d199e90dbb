/* samepage state | list | ps */
#include "verbs.h"

#include <samepage/cleanup.h>
#include <samepage/util.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <samepage/log.h>

int
cmd_state (struct sp_runtime *rt, int argc, char **argv)
{
  cleanup_free char *json = NULL;
  sp_error_t err = NULL;
  if (argc != 2 || argv[1][0] == '-')
    return sp_usage_error ("state", "want exactly one container ID");
  if (sp_container_state (rt, argv[1], &json, &err) < 0)
    return sp_fail (&err);
  printf ("%s\n", json);
  return 0;
}

static bool
want_json (const char *verb, int argc, char **argv, bool *quiet, int *idx)
{
  static const struct option opts[] = {
    { "format", required_argument, NULL, 'f' },
    { "quiet", no_argument, NULL, 'q' },
    { NULL, 0, NULL, 0 },
  };
  bool json = false;
  int c;
  while ((c = getopt_long_only (argc, argv, "+f:q", opts, NULL)) != -1)
    switch (c)
      {
      case 'f':
        if (strcmp (optarg, "json") == 0)
          json = true;
        else if (strcmp (optarg, "table") != 0)
          {
            sp_usage_error (verb, "--format: `%s` is not table or json", optarg);
            exit (1);
          }
        break;
      case 'q':
        if (quiet)
          *quiet = true;
        break;
      default:
        sp_usage_error (verb, "unknown option `%s`", argv[optind - 1]);
        exit (1);
      }
  *idx = optind;
  return json;
}

int
cmd_list (struct sp_runtime *rt, int argc, char **argv)
{
  struct sp_container_summary *v = NULL;
  size_t n = 0;
  bool quiet = false;
  int idx;
  bool json = want_json ("list", argc, argv, &quiet, &idx);
  sp_error_t err = NULL;

  if (idx != argc)
    return sp_usage_error ("list", "takes no arguments");
  if (sp_container_list (rt, &v, &n, &err) < 0)
    return sp_fail (&err);
  if (json)
    {
      printf ("[");
      for (size_t i = 0; i < n; i++)
        {
          cleanup_free char *bundle = sp_json_escape (v[i].bundle);
          printf ("%s{\"id\":\"%s\",\"pid\":%d,\"status\":\"%s\",\"bundle\":\"%s\",\"created\":\"%s\",\"owner\":\"%s\"}",
                  i ? "," : "", v[i].id, v[i].status == SP_STATUS_STOPPED ? 0 : v[i].pid,
                  sp_status_names[v[i].status], bundle, v[i].created, v[i].owner);
        }
      printf ("]\n");
    }
  else if (quiet)
    for (size_t i = 0; i < n; i++)
      printf ("%s\n", v[i].id);
  else
    {
      printf ("%-20s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
      for (size_t i = 0; i < n; i++)
        printf ("%-20s %-8d %-10s %-40s %-32s %s\n", v[i].id, v[i].status == SP_STATUS_STOPPED ? 0 : v[i].pid,
                sp_status_names[v[i].status], v[i].bundle, v[i].created, v[i].owner);
    }
  sp_container_summaries_free (v, n);
  return 0;
}

int
cmd_ps (struct sp_runtime *rt, int argc, char **argv)
{
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  int idx;
  bool json = want_json ("ps", argc, argv, NULL, &idx);
  sp_error_t err = NULL;

  if (idx >= argc)
    return sp_usage_error ("ps", "want a container ID");
  if (sp_container_ps (rt, argv[idx], &pids, &n, &err) < 0)
    return sp_fail (&err);
  if (json)
    {
      printf ("[");
      for (size_t i = 0; i < n; i++)
        printf ("%s%d", i ? "," : "", pids[i]);
      printf ("]\n");
      return 0;
    }
  /* Table mode: hand the pids to ps(1) like runc does, with extra args. */
  {
    size_t extra = (size_t) (argc - idx - 1);
    char **av = sp_xmalloc0 ((extra + 5) * sizeof (char *));
    size_t k = 0, len = 0;
    char *list = sp_xmalloc0 (n * 12 + 2);
    av[k++] = (char *) "ps";
    for (size_t i = 0; i < (size_t) extra; i++)
      av[k++] = argv[idx + 1 + i];
    if (extra == 0)
      av[k++] = (char *) "-f";
    av[k++] = (char *) "-p";
    for (size_t i = 0; i < n; i++)
      len += (size_t) sprintf (list + len, "%s%d", i ? "," : "", pids[i]);
    av[k++] = n ? list : (char *) "0";
    av[k] = NULL;
    fflush (stdout);
    execvp ("ps", av);
    sp_error_errno (&err, "exec ps");
    return sp_fail (&err);
  }
}
