/* The table of casfs subcommands.  Add a verb: one file cmd/casfs/<verb>.c
 * defining casfs_cmd_<verb>, one declaration and one row here. */
#include "verbs.h"

#include <stddef.h>

int casfs_cmd_refs (struct casfs_globals *g, int argc, char **argv);
int casfs_cmd_ls (struct casfs_globals *g, int argc, char **argv);
int casfs_cmd_cat (struct casfs_globals *g, int argc, char **argv);
int casfs_cmd_export (struct casfs_globals *g, int argc, char **argv);
int casfs_cmd_rm (struct casfs_globals *g, int argc, char **argv);
int casfs_cmd_gc (struct casfs_globals *g, int argc, char **argv);
int casfs_cmd_fsck (struct casfs_globals *g, int argc, char **argv);
int casfs_cmd_du (struct casfs_globals *g, int argc, char **argv);
int casfs_cmd_stats (struct casfs_globals *g, int argc, char **argv);
int casfs_cmd_import (struct casfs_globals *g, int argc, char **argv);
int casfs_cmd_mount (struct casfs_globals *g, int argc, char **argv);
int casfs_cmd_umount (struct casfs_globals *g, int argc, char **argv);
int casfs_cmd_bundle (struct casfs_globals *g, int argc, char **argv);

int casfs_cmd_runtime_prepare (struct casfs_globals *g, int argc, char **argv);
int casfs_cmd_runtime_release (struct casfs_globals *g, int argc, char **argv);
int casfs_cmd_runtime_warm (struct casfs_globals *g, int argc, char **argv);

const struct casfs_verb casfs_verbs[] = {
  { "import", casfs_cmd_import, "[--ref NAME] [--platform OS/ARCH] [--type KIND] PATH",
    "import a layer tarball, OCI layout, docker archive or layer directory" },
  { "refs", casfs_cmd_refs, "", "list refs and their tree digests" },
  { "ls", casfs_cmd_ls, "[--dump] REF|DIGEST [PATH]", "list a directory (ls -l), or dump the whole tree" },
  { "cat", casfs_cmd_cat, "REF|DIGEST PATH", "print a file's content" },
  { "export", casfs_cmd_export, "REF|DIGEST OUT.tar", "write a tree as a pax tar (- for stdout)" },
  { "rm", casfs_cmd_rm, "REF...", "remove refs (gc frees the data)" },
  { "gc", casfs_cmd_gc, "[--dry-run] [--verbose]", "free what no ref or root reaches" },
  { "fsck", casfs_cmd_fsck, "[--repair]", "verify every object, tree and ref" },
  { "du", casfs_cmd_du, "[--json] [--bytes] [REF...]", "per image: logical, unique and shared bytes" },
  { "stats", casfs_cmd_stats, "[--json]", "store totals and deduplication ratio" },
  { "mount", casfs_cmd_mount, "[-f] [OPTIONS] [MOUNTPOINT]",
    "serve the read-only FUSE view (default /run/samepage/casfs)" },
  { "umount", casfs_cmd_umount, "[-f|--force] [-l|--lazy] [MOUNTPOINT]", "unmount the view, stop its daemon" },
  { "bundle", casfs_cmd_bundle, "[--store DIR] REF DIR [-- ARGS...]", "write an OCI bundle (config.json, rootfs/)" },
  /* Run by the samepage runtime (it links none of the store code). */
  { "runtime-prepare", casfs_cmd_runtime_prepare, "--id ID --view DIR (--tree T --bundle B | --rootfs R --engine-options O)",
    "(runtime) set up a container's casfs layers; prints the plan" },
  { "runtime-release", casfs_cmd_runtime_release, "ID < PLAN", "(runtime) release a container's casfs layers" },
  { "runtime-warm", casfs_cmd_runtime_warm, "LAYER_DIR...", "(runtime) import engine layer directories ahead of time" },
  { NULL, NULL, NULL, NULL },
};
