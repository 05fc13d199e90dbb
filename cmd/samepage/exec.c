/* samepage exec */
#include "verbs.h"

#include <samepage/cleanup.h>
#include <samepage/util.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void
strv_push (char ***v, const char *s)
{
  size_t n = sp_strv_len (*v);
  *v = sp_xrealloc (*v, (n + 2) * sizeof (char *));
  (*v)[n] = sp_xstrdup (s);
  (*v)[n + 1] = NULL;
}

int
cmd_exec (struct sp_runtime *rt, int argc, char **argv)
{
  static const struct option opts[] = {
    { "process", required_argument, NULL, 'p' },
    { "pid-file", required_argument, NULL, 'P' },
    { "console-socket", required_argument, NULL, 'c' },
    { "tty", no_argument, NULL, 't' },
    { "detach", no_argument, NULL, 'd' },
    { "cwd", required_argument, NULL, 'w' },
    { "env", required_argument, NULL, 'e' },
    { "user", required_argument, NULL, 'u' },
    { "cap", required_argument, NULL, 'C' },
    { "preserve-fds", required_argument, NULL, 'F' },
    { "no-new-privs", no_argument, NULL, 'n' },
    { "process-label", required_argument, NULL, 'L' },
    { "apparmor", required_argument, NULL, 'A' },
    { "additional-gids", required_argument, NULL, 'g' },
    { "ignore-paused", no_argument, NULL, 'I' },
    { NULL, 0, NULL, 0 },
  };
  struct sp_exec_options o = { 0 };
  cleanup_strv char **env = NULL;
  cleanup_strv char **caps = NULL;
  sp_error_t err = NULL;
  long n;
  int c, status;

  while ((c = getopt_long_only (argc, argv, "+p:tdw:e:u:", opts, NULL)) != -1)
    switch (c)
      {
      case 'p':
        o.process_file = optarg;
        break;
      case 'P':
        o.pid_file = optarg;
        break;
      case 'c':
        o.console_socket = optarg;
        break;
      case 't':
        o.tty = true;
        break;
      case 'd':
        o.detach = true;
        break;
      case 'w':
        o.cwd = optarg;
        break;
      case 'e':
        strv_push (&env, optarg);
        break;
      case 'u':
        o.user = optarg;
        break;
      case 'C':
        strv_push (&caps, optarg);
        break;
      case 'F':
        if (!sp_parse_long (optarg, &n) || n < 0 || n > 65536)
          return sp_usage_error ("exec", "--preserve-fds: not a number of fds: `%s`", optarg);
        o.preserve_fds = (int) n;
        break;
      case 'n':
        o.no_new_privs = true;
        break;
      case 'L':
      case 'A':
      case 'g':
      case 'I':
        break; /* no SELinux/AppArmor here; accepted for runc compatibility */
      default:
        return sp_usage_error ("exec", "unknown option `%s`", argv[optind - 1]);
      }
  if (optind >= argc)
    return sp_usage_error ("exec", "want a container ID");
  if (o.process_file == NULL && optind + 1 >= argc)
    return sp_usage_error ("exec", "want --process FILE or a command");
  o.env = env;
  o.caps = caps;
  o.args = argv + optind + 1;
  status = sp_container_exec (rt, argv[optind], &o, &err);
  if (status < 0)
    return sp_fail (&err);
  return status;
}
