/* casfs tree objects: one immutable, content-addressed directory listing.
 *
 * A tree is a directory's entries sorted by name (bytewise), each with the
 * full metadata of the entry and, for regular files and directories, the
 * SHA-256 digest of the file object or of the sub-tree's encoding.  The
 * encoding (docs/store-format.md) is canonical: equal trees encode to equal
 * bytes, so a tree's digest is the SHA-256 of its encoding (a Merkle tree). */
#ifndef SAMEPAGE_CASFS_TREE_H
#define SAMEPAGE_CASFS_TREE_H

#include <openssl/types.h>
#include <samepage/error.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CASFS_DIGEST_LEN 32
#define CASFS_DIGEST_HEX_LEN 64
#define CASFS_TREE_MAGIC "CASFSTR1" /* 8 bytes: format and version */
#define CASFS_NAME_MAX 255
#define CASFS_TARGET_MAX 4095
#define CASFS_XATTR_NAME_MAX 255
#define CASFS_XATTR_VALUE_MAX 65536
#define CASFS_TREE_ENTRIES_MAX (1u << 22)

struct casfs_digest
{
  uint8_t b[CASFS_DIGEST_LEN];
};

struct casfs_xattr
{
  char *name;
  uint8_t *value;
  uint32_t len;
};

struct casfs_entry
{
  char *name; /* one path component, no '/' or NUL, not "." or ".." */
  uint32_t mode; /* st_mode incl. S_IFMT type bits and setuid/setgid/sticky */
  uint32_t uid;
  uint32_t gid;
  int64_t mtime_sec;
  uint32_t mtime_nsec;
  uint64_t size; /* regular files: content length; symlinks: target length; else 0 */
  uint64_t rdev; /* character/block devices: makedev(major, minor); else 0 */
  /* Hardlinks: entries of one image tree with the same nonzero link_id are one
   * inode; nlink counts them.  Ids are numbered 1.. in the order a depth-first,
   * name-ordered walk of the image's root tree first meets them. */
  uint64_t link_id;
  uint32_t nlink;
  struct casfs_digest digest; /* S_ISREG: object; S_ISDIR: sub-tree; else zero */
  char *target; /* S_ISLNK: symlink target; else NULL */
  struct casfs_xattr *xattrs; /* sorted by name */
  size_t n_xattrs;
};

struct casfs_tree
{
  struct casfs_entry *entries; /* sorted by name, unique */
  size_t n;
};

void casfs_digest_hex (const struct casfs_digest *d, char out[CASFS_DIGEST_HEX_LEN + 1]);
/* Accepts exactly 64 lowercase hex digits, optionally prefixed "sha256:". */
int casfs_digest_parse (const char *hex, struct casfs_digest *out, sp_error_t *err);
bool casfs_digest_is_zero (const struct casfs_digest *d);
void casfs_digest_of (const void *data, size_t len, struct casfs_digest *out);
/* SHA-256, fetched from the provider once: EVP_sha256 () makes every
 * EVP_DigestInit fetch it again (~0.3-0.5 us, as much as hashing an entry). */
const EVP_MD *casfs_sha256 (void);

/* Sorts entries (and their xattrs) into canonical order and checks names;
 * duplicate names are an error naming the entry. */
int casfs_tree_canonicalize (struct casfs_tree *t, sp_error_t *err);
/* Encodes a canonical tree; *buf is malloc'd. */
int casfs_tree_encode (const struct casfs_tree *t, uint8_t **buf, size_t *len, sp_error_t *err);
/* Decodes and validates (bounds, order, names); never trusts the input. */
int casfs_tree_decode (const uint8_t *buf, size_t len, struct casfs_tree **out, sp_error_t *err);
/* Binary search by name; NULL when absent. */
const struct casfs_entry *casfs_tree_lookup (const struct casfs_tree *t, const char *name);
/* The xattr value of an entry, or NULL. */
const struct casfs_xattr *casfs_entry_xattr (const struct casfs_entry *e, const char *name);

void casfs_entry_clear (struct casfs_entry *e);
void casfs_tree_free (struct casfs_tree *t);

static inline void
casfs_tree_freep (struct casfs_tree **t)
{
  if (*t)
    casfs_tree_free (*t);
  *t = NULL;
}
#define cleanup_tree __attribute__ ((cleanup (casfs_tree_freep)))

#endif
