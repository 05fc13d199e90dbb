/* The table of casfs subcommands.  Add a verb: one file cmd/casfs/<verb>.c
 * defining casfs_cmd_<verb>, one declaration and one row here. */
#include "verbs.h"

#include <stddef.h>

int casfs_cmd_refs (struct casfs_globals *g, int argc, char **argv);
int casfs_cmd_import (struct casfs_globals *g, int argc, char **argv);

const struct casfs_verb casfs_verbs[] = {
  { "refs", casfs_cmd_refs, "", "list refs and their tree digests" },
  { "import", casfs_cmd_import, "[--ref NAME] [--platform OS/ARCH] [--type KIND] PATH",
    "import a layer tarball, OCI layout, docker archive or layer directory" },
  { NULL, NULL, NULL, NULL },
};
