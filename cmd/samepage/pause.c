/* samepage pause | resume */
#include "verbs.h"

static int
pause_or_resume (struct sp_runtime *rt, int argc, char **argv, bool pause)
{
  sp_error_t err = NULL;
  if (argc != 2 || argv[1][0] == '-')
    return sp_usage_error (argv[0], "want exactly one container ID");
  if (sp_container_pause (rt, argv[1], pause, &err) < 0)
    return sp_fail (&err);
  return 0;
}

int
cmd_pause (struct sp_runtime *rt, int argc, char **argv)
{
  return pause_or_resume (rt, argc, argv, true);
}

int
cmd_resume (struct sp_runtime *rt, int argc, char **argv)
{
  return pause_or_resume (rt, argc, argv, false);
}
