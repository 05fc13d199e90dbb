/* The table of casfs subcommands.  Add a verb: one file cmd/casfs/<verb>.c
 * defining casfs_cmd_<verb>, one declaration and one row here. */
#include "verbs.h"

#include <stddef.h>

int casfs_cmd_refs (struct casfs_globals *g, int argc, char **argv);

const struct casfs_verb casfs_verbs[] = {
  { "refs", casfs_cmd_refs, "", "list refs and their tree digests" },
  { NULL, NULL, NULL, NULL },
};
