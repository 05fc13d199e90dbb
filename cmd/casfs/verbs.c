/* The table of casfs subcommands.  Add a verb: one file cmd/casfs/<verb>.c
 * defining casfs_cmd_<verb>, one declaration and one row here. */
#include "verbs.h"

#include <stddef.h>

int casfs_cmd_refs (struct casfs_globals *g, int argc, char **argv);
int casfs_cmd_mount (struct casfs_globals *g, int argc, char **argv);
int casfs_cmd_umount (struct casfs_globals *g, int argc, char **argv);

const struct casfs_verb casfs_verbs[] = {
  { "refs", casfs_cmd_refs, "", "list refs and their tree digests" },
  { "mount", casfs_cmd_mount, "[-f] [OPTIONS] [MOUNTPOINT]",
    "serve the read-only FUSE view (default /run/samepage/casfs)" },
  { "umount", casfs_cmd_umount, "[-f|--force] [-l|--lazy] [MOUNTPOINT]", "unmount the view, stop its daemon" },
  { NULL, NULL, NULL, NULL },
};
