/* samepage update: change a container's cgroup limits, from an OCI
 * LinuxResources JSON (--resources FILE or -) or runc's flags. */
#include "verbs.h"

#include <samepage/cleanup.h>
#include <samepage/util.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const sections[] = { "memory", "cpu", "pids", "blockIO" };
static char *section_body[4];

/* Adds "key":value to one section of the resources object. */
static void
add (char **body, const char *section, const char *key, const char *value)
{
  for (size_t i = 0; i < 4; i++)
    if (strcmp (sections[i], section) == 0)
      {
        char *n = sp_xasprintf ("%s%s\"%s\":%s", section_body[i] ? section_body[i] : "",
                                section_body[i] ? "," : "", key, value);
        free (section_body[i]);
        section_body[i] = n;
      }
  if (*body == NULL)
    *body = sp_xstrdup ("");
}

static char *
render_body (void)
{
  char *out = sp_xstrdup ("");
  for (size_t i = 0; i < 4; i++)
    if (section_body[i])
      {
        char *n = sp_xasprintf ("%s%s\"%s\":{%s}", out, *out ? "," : "", sections[i], section_body[i]);
        free (out);
        free (section_body[i]);
        section_body[i] = NULL;
        out = n;
      }
  return out;
}

int
cmd_update (struct sp_runtime *rt, int argc, char **argv)
{
  static const struct option opts[] = {
    { "resources", required_argument, NULL, 'r' },
    { "memory", required_argument, NULL, 'm' },
    { "memory-reservation", required_argument, NULL, 'R' },
    { "memory-swap", required_argument, NULL, 'S' },
    { "cpu-shares", required_argument, NULL, 's' },
    { "cpu-quota", required_argument, NULL, 'q' },
    { "cpu-period", required_argument, NULL, 'p' },
    { "cpuset-cpus", required_argument, NULL, 'c' },
    { "cpuset-mems", required_argument, NULL, 'M' },
    { "pids-limit", required_argument, NULL, 'P' },
    { "blkio-weight", required_argument, NULL, 'b' },
    { NULL, 0, NULL, 0 },
  };
  cleanup_free char *json = NULL;
  cleanup_free char *body = NULL;
  const char *resources = NULL;
  sp_error_t err = NULL;
  int c;

  while ((c = getopt_long_only (argc, argv, "+r:", opts, NULL)) != -1)
    {
      cleanup_free char *quoted = NULL;
      long long v;
      if (c == 'r')
        {
          resources = optarg;
          continue;
        }
      if (c == '?' || c == ':')
        return sp_usage_error ("update", "unknown option `%s`", argv[optind - 1]);
      if (c == 'c' || c == 'M')
        quoted = sp_xasprintf ("\"%s\"", optarg);
      else if (sscanf (optarg, "%lld", &v) != 1)
        return sp_usage_error ("update", "`%s` is not a number", optarg);
      switch (c)
        {
        case 'm':
          add (&body, "memory", "limit", optarg);
          break;
        case 'R':
          add (&body, "memory", "reservation", optarg);
          break;
        case 'S':
          add (&body, "memory", "swap", optarg);
          break;
        case 's':
          add (&body, "cpu", "shares", optarg);
          break;
        case 'q':
          add (&body, "cpu", "quota", optarg);
          break;
        case 'p':
          add (&body, "cpu", "period", optarg);
          break;
        case 'c':
          add (&body, "cpu", "cpus", quoted);
          break;
        case 'M':
          add (&body, "cpu", "mems", quoted);
          break;
        case 'P':
          add (&body, "pids", "limit", optarg);
          break;
        case 'b':
          add (&body, "blockIO", "weight", optarg);
          break;
        }
    }
  if (optind != argc - 1)
    return sp_usage_error ("update", "want exactly one container ID");
  if (resources && body)
    return sp_usage_error ("update", "--resources cannot be combined with other limits");
  if (resources)
    {
      if (strcmp (resources, "-") == 0 ? sp_read_fd (0, &json, NULL, &err) < 0
                                       : sp_read_file (resources, &json, NULL, &err) < 0)
        return sp_fail (&err);
    }
  else if (body)
    {
      cleanup_free char *rendered = render_body ();
      json = sp_xasprintf ("{%s}", rendered);
    }
  else
    return sp_usage_error ("update", "nothing to update");
  if (sp_container_update (rt, argv[optind], json, &err) < 0)
    return sp_fail (&err);
  return 0;
}
