/* samepage: an OCI runtime with runc's command line.  Parsing and dispatch only. */
#include <samepage/log.h>
#include <stdio.h>
#include <string.h>

int
main (int argc, char **argv)
{
  sp_log_set_program ("samepage");
  if (argc > 1 && (strcmp (argv[1], "--version") == 0 || strcmp (argv[1], "-v") == 0))
    {
      printf ("samepage version %s\ncommit: %s\nspec: 1.2.0\n", SAMEPAGE_VERSION, SAMEPAGE_COMMIT);
      return 0;
    }
  sp_error_log ("no command given (see `samepage --help`)");
  return 1;
}
