/* Small helpers shared by every module: files, strings, paths. */
#ifndef SAMEPAGE_UTIL_H
#define SAMEPAGE_UTIL_H

#include <samepage/error.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SP_ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

/* malloc/strdup/asprintf that abort on exhaustion: out of memory is not a
 * condition any caller here can recover from. */
void *sp_xmalloc0 (size_t size);
void *sp_xrealloc (void *p, size_t size);
char *sp_xstrdup (const char *s);
char *sp_xasprintf (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/* Reads a whole file (NUL-terminated; *len_out without the NUL). */
int sp_read_file (const char *path, char **out, size_t *len_out, sp_error_t *err);
int sp_read_file_at (int dirfd, const char *path, char **out, size_t *len_out, sp_error_t *err);
int sp_read_fd (int fd, char **out, size_t *len_out, sp_error_t *err);
/* Writes data to path (truncating). */
int sp_write_file (const char *path, const void *data, size_t len, mode_t mode, sp_error_t *err);
int sp_write_file_at (int dirfd, const char *path, const void *data, size_t len, mode_t mode, sp_error_t *err);
/* temp file + fsync + rename + fsync(dir): readers see the old or the new file. */
int sp_write_file_atomic (const char *path, const void *data, size_t len, mode_t mode, sp_error_t *err);
/* temp file + rename without fsync: readers never see a partial file, but
 * the content may not survive a power loss (runtime state lives on tmpfs). */
int sp_write_file_replace (const char *path, const void *data, size_t len, mode_t mode, sp_error_t *err);
int sp_write_all (int fd, const void *data, size_t len);
ssize_t sp_read_all (int fd, void *buf, size_t len);

/* mkdir -p with the given mode for created components. */
int sp_mkdir_p (const char *path, mode_t mode, sp_error_t *err);
/* rm -rf that never crosses a mount point. */
int sp_rm_rf (const char *path, sp_error_t *err);

bool sp_str_has_prefix (const char *s, const char *prefix);
bool sp_str_has_suffix (const char *s, const char *suffix);
/* Parses a decimal integer; false on junk or overflow. */
bool sp_parse_long (const char *s, long *out);
bool sp_parse_u64 (const char *s, unsigned long long *out);

/* Undoes the \\ooo escapes of /proc/self/mountinfo and overlayfs options, in place. */
void sp_unescape_octal (char *s);

/* Number of elements of a NULL-terminated vector. */
size_t sp_strv_len (char *const *v);

/* Sets FD_CLOEXEC on every fd >= from except those < keep_below. */
int sp_close_fds_from (int from, sp_error_t *err);
int sp_mark_cloexec_from (int from, sp_error_t *err);
/* close_range(2) of [first, last], with a loop over /proc/self/fd where it is missing. */
int sp_close_range (int first, int last);

/* Monotonic time in nanoseconds. */
unsigned long long sp_now_ns (void);

#endif
