/* Text dump of a casfs tree (`casfs ls --dump`), one line per entry, in a
 * depth-first, name-ordered walk; the format is stable (golden files in
 * tests/data/casfs/) and documented in docs/store-format.md:
 *
 *   PATH TYPE MODE UID GID SIZE MTIME RDEV NLINK/LINK_ID DIGEST TARGET [XATTR=VALUE...]
 *
 * The first line is the root: "/ dir - - - - - - - <tree hex> -". */
#ifndef SAMEPAGE_CASFS_DUMP_H
#define SAMEPAGE_CASFS_DUMP_H

#include <samepage/casfs_tree.h>
#include <samepage/casfs_walk.h>
#include <samepage/error.h>
#include <stdint.h>
#include <stdio.h>

/* Escapes a field: bytes outside '!'..'~', '\\' and '=' become \xHH; a lone
 * "-" is escaped too, so "-" always means "none". */
char *casfs_dump_escape (const void *s, size_t len);
/* "reg", "dir", "lnk", "chr", "blk", "fifo", "sock". */
const char *casfs_dump_type (uint32_t mode);
/* Writes one entry line (path is the entry's full path). */
void casfs_dump_entry (FILE *out, const char *path, const struct casfs_entry *e);
int casfs_dump_tree (struct casfs_tree_cache *c, const struct casfs_digest *root, FILE *out, sp_error_t *err);

#endif
