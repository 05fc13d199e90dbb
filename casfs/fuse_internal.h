/* Shared between the casfs FUSE server's files: fuse.c (session, daemon),
 * fuse_ops.c (operations), fuse_inodes.c (inode table), views.c (what each
 * directory of the mount contains). */
#ifndef CASFS_FUSE_INTERNAL_H
#define CASFS_FUSE_INTERNAL_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <samepage/casfs_fuse.h>
#include <samepage/casfs_store.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>

/* Fixed inode numbers of the synthetic directories and files. */
enum
{
  CF_INO_ROOT = FUSE_ROOT_ID, /* 1 */
  CF_INO_TREES = 2,
  CF_INO_REFS = 3,
  CF_INO_STATS = 4,
  CF_INO_FIRST_DYNAMIC = 16,
};

enum cf_kind
{
  CF_ROOT,
  CF_TREES,     /* trees/ */
  CF_REFS,      /* refs/ */
  CF_STATS,     /* stats */
  CF_TREE_ROOT, /* trees/<hex> */
  CF_REF_LINK,  /* refs/<name> */
  CF_ENTRY,     /* anything inside a tree */
};

struct cf_node
{
  fuse_ino_t ino;
  uint64_t nlookup; /* kernel references; the node is freed when it drops to 0 */
  bool permanent;   /* the synthetic nodes above: never freed */
  enum cf_kind kind;
  struct casfs_digest key; /* identity (see cf_key_*) */
  struct casfs_entry e;    /* attributes; e.digest is the object or sub-tree */
  fuse_ino_t parent;       /* directories: ".."; others: where first met */
  char *ref_name;          /* CF_REF_LINK: the unescaped ref name */
  struct cf_node *next_by_ino, *next_by_key;
};

struct cf_inodes;

/* Identities.  Regular files and other non-directories are keyed by their
 * whole entry except the name, so equal content with equal metadata is one
 * inode (and one FUSE page cache) wherever it appears.  Directories are keyed
 * by (parent inode, name): the kernel must never see one directory inode
 * under two parents. */
void cf_key_entry (const struct casfs_entry *e, struct casfs_digest *out);
void cf_key_dir (fuse_ino_t parent, const char *name, struct casfs_digest *out);
void cf_key_tree (const struct casfs_digest *tree, struct casfs_digest *out);
void cf_key_ref (const char *name, const struct casfs_digest *tree, struct casfs_digest *out);

struct cf_inodes *cf_inodes_new (void);
void cf_inodes_free (struct cf_inodes *t);
/* The node of a live inode number, or NULL. */
struct cf_node *cf_inodes_get (struct cf_inodes *t, fuse_ino_t ino);
/* Finds the node with tmpl->key or inserts a deep copy of tmpl; either way
 * adds one kernel reference and returns the node. */
struct cf_node *cf_inodes_ref (struct cf_inodes *t, const struct cf_node *tmpl);
/* The inode number a node with this key has or would get (for readdir's d_ino). */
fuse_ino_t cf_inodes_peek (struct cf_inodes *t, const struct casfs_digest *key);
/* The inode number of a node with this key that the kernel holds (nlookup > 0)
 * and that was first met in directory parent, or 0. */
fuse_ino_t cf_inodes_held_in (struct cf_inodes *t, const struct casfs_digest *key, fuse_ino_t parent);
void cf_inodes_forget (struct cf_inodes *t, fuse_ino_t ino, uint64_t n);
size_t cf_inodes_count (struct cf_inodes *t);
void cf_node_stat (const struct cf_node *n, struct stat *st);

/* Decoded trees, shared and bounded (least recently used ones are dropped). */
struct cf_tree_ref
{
  struct cf_cached_tree *ct;
  const struct casfs_tree *tree;
};
struct cf_tree_cache;
struct cf_tree_cache *cf_tree_cache_new (struct casfs_store *s, size_t max_entries);
void cf_tree_cache_free (struct cf_tree_cache *c);
int cf_tree_cache_get (struct cf_tree_cache *c, const struct casfs_digest *d, struct cf_tree_ref *out,
                       sp_error_t *err);
void cf_tree_cache_put (struct cf_tree_cache *c, struct cf_tree_ref *r);

struct cf_counters
{
  atomic_ullong lookup, forget, getattr, readdir, readdir_held, readlink, getxattr, listxattr, open, read,
      read_bytes, eio, trees_loaded, uring;
};
struct cf_uring;

struct cf_fs
{
  struct casfs_store *store;
  struct cf_inodes *inodes;
  struct cf_tree_cache *trees;
  struct cf_counters n;
  double tree_timeout; /* entries and attributes of immutable trees */
  double ref_timeout;  /* refs/ can change */
  atomic_int object_flags; /* O_DIRECT while the store's filesystem accepts it */
  struct cf_uring *uring;  /* FUSE over io_uring, when the kernel has it */
  pthread_mutex_t caps_lock;
  struct cf_caps_entry
  {
    pid_t pid;
    unsigned long long until_ns;
    bool admin;
  } caps[32];
};

/* views.c: the mount's namespace.  Looks name up in directory node dir and
 * returns a referenced child node (ENOENT / EIO through err->status). */
int cf_view_lookup (struct cf_fs *fs, struct cf_node *dir, const char *name, struct cf_node **out,
                    double *timeout, sp_error_t *err);
/* The referenced node of one entry of the tree of directory dir. */
struct cf_node *cf_view_child (struct cf_fs *fs, struct cf_node *dir, const struct casfs_entry *e);
/* readdir's inode number and type of an entry of dir's tree. */
fuse_ino_t cf_view_child_ino (struct cf_fs *fs, struct cf_node *dir, const struct casfs_entry *e);
/* For READDIRPLUS: *held is the entry's inode number if the kernel most
 * likely already has it under dir (see do_readdir), and NULL is returned;
 * else *held is 0 and the entry's node is returned referenced. */
struct cf_node *cf_view_child_plus (struct cf_fs *fs, struct cf_node *dir, const struct casfs_entry *e,
                                    fuse_ino_t *held);
bool cf_view_is_dir (const struct cf_node *n);
/* Names of the synthetic directories (root, trees/, refs/): NULL-terminated. */
int cf_view_list_synthetic (struct cf_fs *fs, struct cf_node *dir, char ***names, sp_error_t *err);
/* "../trees/<hex>" for a ref link. */
char *cf_view_ref_target (const struct cf_node *n);
/* Text of the stats file. */
char *cf_view_stats_text (struct cf_fs *fs);

/* fuse_ops.c */
extern const struct fuse_lowlevel_ops cf_ops;

/* fuse_uring.c */
bool cf_uring_enabled_in_kernel (void);
bool cf_uring_set_kernel (bool on);
struct cf_uring *cf_uring_attach (struct fuse_session *se, struct cf_fs *fs, bool restore_param);
void cf_uring_detach (struct cf_uring *u);

#endif
