/* casfs export: a tree as a pax tar (libarchive) that an import turns back
 * into the same tree: modes, owners, nanosecond mtimes, xattrs (including
 * security.capability), hardlinks as hardlinks (by link_id), devices, fifos
 * and symlinks.  The root directory has no metadata in a tree and gets no
 * entry; paths are relative ("usr/bin/sh"). */
#ifndef SAMEPAGE_CASFS_EXPORT_H
#define SAMEPAGE_CASFS_EXPORT_H

#include <samepage/casfs_store.h>
#include <samepage/error.h>

/* Writes the tar to fd (not closed). */
int casfs_export_tar (struct casfs_store *s, const struct casfs_digest *root, int fd, sp_error_t *err);

#endif
