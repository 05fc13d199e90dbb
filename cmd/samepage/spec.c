/* samepage spec: writes a default config.json (like runc spec). */
#include "verbs.h"

#include <samepage/cleanup.h>
#include <samepage/oci_config.h>
#include <samepage/util.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>

int
cmd_spec (struct sp_runtime *rt, int argc, char **argv)
{
  static const struct option opts[] = {
    { "bundle", required_argument, NULL, 'b' },
    { "rootless", no_argument, NULL, 'r' },
    { NULL, 0, NULL, 0 },
  };
  const char *bundle = ".";
  bool rootless = false;
  cleanup_free char *json = NULL;
  cleanup_free char *path = NULL;
  cleanup_close int fd = -1;
  sp_error_t err = NULL;
  int c;

  (void) rt;
  while ((c = getopt_long_only (argc, argv, "+b:", opts, NULL)) != -1)
    if (c == 'b')
      bundle = optarg;
    else if (c == 'r')
      rootless = true;
    else
      return sp_usage_error ("spec", "unknown option `%s`", argv[optind - 1]);
  if (optind != argc)
    return sp_usage_error ("spec", "takes no arguments");
  json = oci_config_default_json (rootless);
  path = sp_xasprintf ("%s/config.json", bundle);
  fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      if (errno == EEXIST)
        {
          sp_error_make (&err, EEXIST, "`%s` exists already; remove it first", path);
          return sp_fail (&err);
        }
      sp_error_errno (&err, "create `%s`", path);
      return sp_fail (&err);
    }
  if (sp_write_all (fd, json, strlen (json)) < 0 || sp_write_all (fd, "\n", 1) < 0)
    {
      sp_error_errno (&err, "write `%s`", path);
      return sp_fail (&err);
    }
  return 0;
}
