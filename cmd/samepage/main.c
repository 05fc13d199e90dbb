/* samepage: an OCI runtime with runc's command line.  Parsing and dispatch only. */
#include "verbs.h"

#include <samepage/log.h>
#include <samepage/util.h>

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct sp_verb sp_verbs[] = {
  { "create", cmd_create, "[--bundle DIR] [--pid-file F] [--console-socket S] [--preserve-fds N] [--no-pivot] [--no-new-keyring] ID", "create a container" },
  { "start", cmd_start, "ID", "run the created container's process" },
  { "run", cmd_run, "[create options] [--detach] [--keep] ID", "create and start a container" },
  { "state", cmd_state, "ID", "print the container's state as JSON" },
  { "list", cmd_list, "[--format table|json] [--quiet]", "list containers" },
  { "ps", cmd_ps, "[--format table|json] ID", "list the container's processes" },
  { "kill", cmd_kill, "[--all] ID [SIGNAL]", "send a signal (default TERM) to the container" },
  { "delete", cmd_delete, "[--force] ID", "delete a container" },
  { "exec", cmd_exec, "[--process F | options] ID [COMMAND ARGS...]", "run a process in a container" },
  { "pause", cmd_pause, "ID", "freeze every process of the container" },
  { "resume", cmd_resume, "ID", "thaw a paused container" },
  { "update", cmd_update, "[--resources F|-] [--memory N] [--cpu-shares N] [--pids-limit N] ... ID", "change cgroup limits" },
  { "spec", cmd_spec, "[--bundle DIR] [--rootless]", "write a default config.json" },
  { "features", cmd_features, "", "print the runtime's features as JSON" },
  { "casfs", cmd_casfs, "warm [--store DIR] [LAYER_DIR...]", "import engines' image layers into the casfs store ahead of time" },
  { "ksm", cmd_ksm, "status [--json] [ID] | tune [--pages-to-scan N] [--sleep-millisecs N] [--advisor scan-time|none] [--run 0|1|2]", "show what KSM merged per container; set KSM knobs" },
  { NULL, NULL, NULL, NULL },
};

static void
usage (FILE *out)
{
  fprintf (out, "usage: samepage [global options] COMMAND [options] ID\n\ncommands:\n");
  for (const struct sp_verb *v = sp_verbs; v->name; v++)
    fprintf (out, "  %-9s %s\n", v->name, v->summary);
  fprintf (out, "\nglobal options:\n"
                "  --root DIR              state directory (default " SP_DEFAULT_ROOT ")\n"
                "  --log FILE              also write errors to FILE\n"
                "  --log-format text|json  format of --log (default text)\n"
                "  --systemd-cgroup        use the systemd cgroup manager\n"
                "  --cgroup-manager M      cgroupfs, systemd or disabled\n"
                "  --debug                 debug output (also SAMEPAGE_DEBUG=1)\n"
                "  --version, --help\n");
}

int
sp_fail (sp_error_t *err)
{
  sp_log_error_release (err);
  return 1;
}

int
sp_usage_error (const char *verb, const char *fmt, ...)
{
  char buf[512];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (buf, sizeof buf, fmt, ap);
  va_end (ap);
  sp_error_log ("%s: %s", verb, buf);
  for (const struct sp_verb *v = sp_verbs; v->name; v++)
    if (strcmp (v->name, verb) == 0)
      fprintf (stderr, "usage: samepage %s %s\n", v->name, v->usage);
  return 1;
}

int
main (int argc, char **argv)
{
  static const struct option opts[] = {
    { "root", required_argument, NULL, 'r' },
    { "log", required_argument, NULL, 'l' },
    { "log-format", required_argument, NULL, 'f' },
    { "systemd-cgroup", no_argument, NULL, 's' },
    { "cgroup-manager", required_argument, NULL, 'c' },
    { "debug", no_argument, NULL, 'd' },
    { "criu", required_argument, NULL, 'C' },
    { "rootless", required_argument, NULL, 'R' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'v' },
    { NULL, 0, NULL, 0 },
  };
  struct sp_runtime rt = { .root = SP_DEFAULT_ROOT };
  const char *log_path = NULL;
  enum sp_log_format log_format = SP_LOG_TEXT;
  sp_error_t err = NULL;
  int c;

  sp_log_set_program ("samepage");
  opterr = 0;
  while ((c = getopt_long_only (argc, argv, "+hv", opts, NULL)) != -1)
    switch (c)
      {
      case 'r':
        rt.root = optarg;
        break;
      case 'l':
        log_path = optarg;
        break;
      case 'f':
        if (strcmp (optarg, "json") == 0)
          log_format = SP_LOG_JSON;
        else if (strcmp (optarg, "text") == 0)
          log_format = SP_LOG_TEXT;
        else
          {
            sp_error_log ("--log-format: unknown format `%s` (text or json)", optarg);
            return 1;
          }
        break;
      case 's':
        rt.systemd_cgroup = true;
        break;
      case 'c':
        if (strcmp (optarg, "cgroupfs") != 0 && strcmp (optarg, "systemd") != 0 && strcmp (optarg, "disabled") != 0)
          {
            sp_error_log ("--cgroup-manager: unknown manager `%s` (cgroupfs, systemd or disabled)", optarg);
            return 1;
          }
        rt.cgroup_manager = optarg;
        break;
      case 'd':
        sp_log_set_debug (true);
        break;
      case 'C':
      case 'R':
        break; /* accepted for runc compatibility; no effect */
      case 'h':
        usage (stdout);
        return 0;
      case 'v':
        printf ("samepage version %s\ncommit: %s\nspec: 1.2.0\n", SAMEPAGE_VERSION, SAMEPAGE_COMMIT);
        return 0;
      default:
        sp_error_log ("unknown global option `%s` (see `samepage --help`)", argv[optind - 1]);
        return 1;
      }
  if (sp_log_open (log_path, log_format, &err) < 0)
    return sp_fail (&err);
  if (optind >= argc)
    {
      usage (stderr);
      return 1;
    }
  for (const struct sp_verb *v = sp_verbs; v->name; v++)
    if (strcmp (v->name, argv[optind]) == 0)
      {
        int first = optind;
        optind = 0;
        return v->fn (&rt, argc - first, argv + first);
      }
  sp_error_log ("unknown command `%s` (see `samepage --help`)", argv[optind]);
  return 1;
}
