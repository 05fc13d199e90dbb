/* casfs bundle: an OCI runtime bundle (config.json + empty rootfs/) for an
 * image in the store.
 *
 * The config is runtime-spec 1.0.2 (so crun and runc take it as well as
 * samepage), with the mounts, namespaces, capabilities, rlimits and masked
 * paths of `samepage spec`, non-terminal, and the process from the image
 * config: args = Entrypoint + Cmd, env = Env (PATH added when missing), cwd
 * = WorkingDir or "/", user from User resolved against the image's own
 * /etc/passwd and /etc/group (never the host's).  The annotations
 * org.samepage.casfs.tree (merged tree, hex) and org.samepage.casfs.store
 * (absolute store path) tell samepage to mount the tree as the rootfs. */
#ifndef SAMEPAGE_CASFS_BUNDLE_H
#define SAMEPAGE_CASFS_BUNDLE_H

#include <samepage/casfs_store.h>
#include <samepage/casfs_tree.h>
#include <samepage/error.h>
#include <stddef.h>
#include <stdint.h>

#define CASFS_BUNDLE_OCI_VERSION "1.0.2"
#define CASFS_BUNDLE_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CASFS_ANNOTATION_TREE "org.samepage.casfs.tree"
#define CASFS_ANNOTATION_STORE "org.samepage.casfs.store"
/* /etc/passwd and /etc/group larger than this are refused. */
#define CASFS_BUNDLE_ACCOUNTS_MAX (4u << 20)

struct casfs_user
{
  uint32_t uid;
  uint32_t gid;
  uint32_t *additional_gids; /* groups of /etc/group listing the user by name, without gid */
  size_t n_additional_gids;
};

/* Resolves an image config `User` inside the tree `root`: "" (root), "uid",
 * "uid:gid", "name", "name:group", "uid:group", "name:gid".  Names are
 * looked up in the tree's /etc/passwd and /etc/group (symlinks followed
 * inside the tree only); a numeric uid found in /etc/passwd gets its
 * primary group, else gid 0.  An unknown name is an error naming it. */
int casfs_user_resolve (struct casfs_store *s, const struct casfs_digest *root, const char *user,
                        struct casfs_user *out, sp_error_t *err);
void casfs_user_clear (struct casfs_user *u);

/* Reads a regular file of the tree (symlinks followed inside the tree) of at
 * most `max` bytes; NUL-terminated.  ENOENT (err->status) when absent. */
int casfs_tree_read_file (struct casfs_store *s, const struct casfs_digest *root, const char *path, size_t max,
                          char **out, size_t *len, sp_error_t *err);

struct casfs_bundle_options
{
  char *const *args; /* NULL-terminated; replaces Entrypoint + Cmd when non-NULL and non-empty */
};

/* The config.json text for `ref` (a ref name, or a tree digest: a bare
 * tree).  A ref without an image record gives args ["/bin/sh"] and a
 * warning; an unknown ref is an error naming it and the store. */
int casfs_bundle_config (struct casfs_store *s, const char *ref, const struct casfs_bundle_options *opts,
                         char **json, size_t *len, sp_error_t *err);
/* Writes DIR/config.json and an empty DIR/rootfs (creating DIR).  Refuses
 * (EEXIST) when DIR/config.json exists, or DIR/rootfs is not an empty
 * directory; nothing is written when the config cannot be made. */
int casfs_bundle_write (struct casfs_store *s, const char *ref, const char *dir,
                        const struct casfs_bundle_options *opts, sp_error_t *err);

#endif
