/* casfs FUSE view: one read-only daemon per store (docs/overlay-recipe.md).
 *
 *   MOUNTPOINT/trees/<tree digest>/...   an image's tree, resolved lazily on lookup
 *   MOUNTPOINT/refs/<escaped ref name>   symlink to ../trees/<digest> ('/' is "%2F")
 *   MOUNTPOINT/stats                     the daemon's request counters (text)
 *
 * Every regular file also answers trusted.overlay.metacopy (empty) and
 * trusted.overlay.redirect (/ab/cdef..., the object under STORE/objects), so
 *   mount -t overlay -o ro,metacopy=on,redirect_dir=follow,lowerdir=VIEW::STORE/objects
 * reads file data straight from the object files. */
#ifndef SAMEPAGE_CASFS_FUSE_H
#define SAMEPAGE_CASFS_FUSE_H

#include <samepage/casfs_tree.h>
#include <samepage/error.h>
#include <stdbool.h>
#include <sys/types.h>

#define CASFS_FUSE_DEFAULT_MOUNTPOINT "/run/samepage/casfs"
#define CASFS_FUSE_FSTYPE "fuse.casfs" /* fstype in /proc/self/mountinfo */
#define CASFS_FUSE_COMM "casfs-fuse"   /* the daemon's /proc/PID/comm */

/* FUSE over io_uring: AUTO uses it when the kernel offers it
 * (fuse.enable_uring=1); ON turns the kernel's offer on for this mount until
 * its rings are registered, then back off; OFF never. */
enum casfs_uring_mode
{
  CASFS_URING_AUTO,
  CASFS_URING_ON,
  CASFS_URING_OFF,
};

/* "auto", "on" or "off" (samepage.conf casfs_io_uring, casfs mount
 * --io-uring); false for anything else. */
bool casfs_uring_mode_parse (const char *s, enum casfs_uring_mode *out);

struct casfs_fuse_options
{
  const char *store;
  const char *mountpoint;
  bool foreground;      /* serve in this process until unmounted or SIGTERM/SIGINT */
  const char *pid_file; /* NULL: MOUNTPOINT.pid */
  const char *log_file; /* NULL: stderr in the foreground, MOUNTPOINT.log when daemonised */
  bool fuse_debug;      /* libfuse's request trace on stderr */
  unsigned max_threads; /* worker threads; 0: one per online CPU */
  enum casfs_uring_mode io_uring;
};

/* Mounts the view.  In the foreground it returns when the mount goes away;
 * otherwise it forks a daemon and returns once the mount is usable (0) or the
 * daemon failed to start (< 0, with the daemon's error). */
int casfs_fuse_mount (const struct casfs_fuse_options *opts, sp_error_t *err);

enum casfs_fuse_state
{
  CASFS_FUSE_NOT_MOUNTED = 0,
  CASFS_FUSE_LIVE = 1, /* a casfs mount of this store that answers */
  CASFS_FUSE_DEAD = 2, /* a casfs mount whose daemon is gone (ENOTCONN) */
};
/* What is mounted at mountpoint.  A casfs mount of another store, or a
 * mount of anything else, is an error (EBUSY). */
int casfs_fuse_probe (const char *store, const char *mountpoint, sp_error_t *err);

/* Starts a daemon for store at mountpoint unless a live one is there already;
 * a dead mount is detached first.  Idempotent and safe under concurrent
 * callers (flock on MOUNTPOINT.lock). */
int casfs_fuse_ensure_running (const char *store, const char *mountpoint, sp_error_t *err);

enum
{
  CASFS_UMOUNT_LAZY = 1 << 0,  /* MNT_DETACH */
  CASFS_UMOUNT_FORCE = 1 << 1, /* abort the FUSE connection, detach, stop the daemon */
};
/* Unmounts and waits (up to 10 s) for the daemon named in MOUNTPOINT.pid to exit. */
int casfs_fuse_unmount (const char *mountpoint, unsigned flags, sp_error_t *err);

/* "MOUNTPOINT/trees/<hex>" (caller frees). */
char *casfs_fuse_tree_path (const char *mountpoint, const struct casfs_digest *d);
/* "MOUNTPOINT.pid" for a mountpoint without trailing slashes (caller frees). */
char *casfs_fuse_pid_file (const char *mountpoint);

/* The escaped name of a ref under MOUNTPOINT/refs/ (caller frees), and back. */
char *casfs_fuse_escape_ref (const char *name);
char *casfs_fuse_unescape_ref (const char *escaped);

#endif
