/* Small helpers: allocation, files, strings. */
#include <samepage/util.h>
#include <samepage/cleanup.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void *
sp_xmalloc0 (size_t size)
{
  void *p = calloc (1, size ? size : 1);
  if (p == NULL)
    abort ();
  return p;
}

void *
sp_xrealloc (void *p, size_t size)
{
  p = realloc (p, size ? size : 1);
  if (p == NULL)
    abort ();
  return p;
}

char *
sp_xstrdup (const char *s)
{
  char *r;
  if (s == NULL)
    return NULL;
  r = strdup (s);
  if (r == NULL)
    abort ();
  return r;
}

char *
sp_xasprintf (const char *fmt, ...)
{
  char *r;
  va_list ap;
  va_start (ap, fmt);
  if (vasprintf (&r, fmt, ap) < 0)
    abort ();
  va_end (ap);
  return r;
}

ssize_t
sp_read_all (int fd, void *buf, size_t len)
{
  size_t done = 0;
  while (done < len)
    {
      ssize_t n = read (fd, (char *) buf + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        break;
      done += (size_t) n;
    }
  return (ssize_t) done;
}

int
sp_write_all (int fd, const void *data, size_t len)
{
  const char *p = data;
  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      p += n;
      len -= (size_t) n;
    }
  return 0;
}

int
sp_read_fd (int fd, char **out, size_t *len_out, sp_error_t *err)
{
  size_t cap = 8192, len = 0;
  cleanup_free char *buf = sp_xmalloc0 (cap);

  for (;;)
    {
      ssize_t n;
      if (cap - len < 4096)
        {
          cap *= 2;
          buf = sp_xrealloc (buf, cap);
        }
      n = read (fd, buf + len, cap - len - 1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return sp_error_errno (err, "read");
      if (n == 0)
        break;
      len += (size_t) n;
    }
  buf[len] = '\0';
  if (len_out)
    *len_out = len;
  *out = steal_pointer (&buf);
  return 0;
}

int
sp_read_file_at (int dirfd, const char *path, char **out, size_t *len_out, sp_error_t *err)
{
  cleanup_close int fd = openat (dirfd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return sp_error_errno (err, "open `%s`", path);
  if (sp_read_fd (fd, out, len_out, err) < 0)
    return sp_error_wrap (err, "`%s`", path);
  return 0;
}

int
sp_read_file (const char *path, char **out, size_t *len_out, sp_error_t *err)
{
  return sp_read_file_at (AT_FDCWD, path, out, len_out, err);
}

int
sp_write_file_at (int dirfd, const char *path, const void *data, size_t len, mode_t mode, sp_error_t *err)
{
  cleanup_close int fd = openat (dirfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return sp_error_errno (err, "open `%s`", path);
  if (sp_write_all (fd, data, len) < 0)
    return sp_error_errno (err, "write `%s`", path);
  if (close (sp_steal_fd (&fd)) < 0)
    return sp_error_errno (err, "close `%s`", path);
  return 0;
}

int
sp_write_file (const char *path, const void *data, size_t len, mode_t mode, sp_error_t *err)
{
  return sp_write_file_at (AT_FDCWD, path, data, len, mode, err);
}

int
sp_write_file_atomic (const char *path, const void *data, size_t len, mode_t mode, sp_error_t *err)
{
  cleanup_free char *tmp = sp_xasprintf ("%s.tmp.%d", path, getpid ());
  cleanup_free char *dir = sp_xstrdup (path);
  cleanup_close int fd = -1;
  cleanup_close int dfd = -1;
  char *slash;

  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return sp_error_errno (err, "create `%s`", tmp);
  if (sp_write_all (fd, data, len) < 0 || fsync (fd) < 0)
    {
      sp_error_errno (err, "write `%s`", tmp);
      unlink (tmp);
      return -1;
    }
  if (close (sp_steal_fd (&fd)) < 0 || rename (tmp, path) < 0)
    {
      sp_error_errno (err, "rename `%s` to `%s`", tmp, path);
      unlink (tmp);
      return -1;
    }
  slash = strrchr (dir, '/');
  if (slash == dir)
    slash[1] = '\0';
  else if (slash)
    *slash = '\0';
  else
    strcpy (dir, ".");
  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || fsync (dfd) < 0)
    return sp_error_errno (err, "fsync directory `%s`", dir);
  return 0;
}

int
sp_write_file_replace (const char *path, const void *data, size_t len, mode_t mode, sp_error_t *err)
{
  cleanup_free char *tmp = sp_xasprintf ("%s.tmp.%d", path, getpid ());
  if (sp_write_file (tmp, data, len, mode, err) < 0)
    {
      unlink (tmp);
      return -1;
    }
  if (rename (tmp, path) < 0)
    {
      sp_error_errno (err, "rename `%s` to `%s`", tmp, path);
      unlink (tmp);
      return -1;
    }
  return 0;
}

int
sp_mkdir_p (const char *path, mode_t mode, sp_error_t *err)
{
  cleanup_free char *p = sp_xstrdup (path);
  char *s = p;

  while (*s == '/')
    s++;
  for (;;)
    {
      char *slash = strchr (s, '/');
      if (slash)
        *slash = '\0';
      if (*p && mkdir (p, mode) < 0 && errno != EEXIST)
        return sp_error_errno (err, "mkdir `%s`", p);
      if (slash == NULL)
        break;
      *slash = '/';
      s = slash + 1;
      while (*s == '/')
        s++;
      if (*s == '\0')
        break;
    }
  return 0;
}

static int
rm_rf_at (int parent, const char *name, dev_t dev, sp_error_t *err)
{
  struct stat st;
  cleanup_close int fd = -1;
  cleanup_dir DIR *d = NULL;
  struct dirent *de;

  if (fstatat (parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno == ENOENT)
        return 0;
      return sp_error_errno (err, "stat `%s`", name);
    }
  if (!S_ISDIR (st.st_mode))
    {
      if (unlinkat (parent, name, 0) < 0 && errno != ENOENT)
        return sp_error_errno (err, "unlink `%s`", name);
      return 0;
    }
  if (st.st_dev != dev)
    return sp_error_make (err, EBUSY, "refusing to remove `%s` across a mount point", name);
  fd = openat (parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return sp_error_errno (err, "open `%s`", name);
  d = fdopendir (fd);
  if (d == NULL)
    return sp_error_errno (err, "opendir `%s`", name);
  fd = -1; /* owned by d now */
  while ((de = readdir (d)))
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (rm_rf_at (dirfd (d), de->d_name, dev, err) < 0)
        return sp_error_wrap (err, "`%s`", name);
    }
  if (unlinkat (parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return sp_error_errno (err, "rmdir `%s`", name);
  return 0;
}

int
sp_rm_rf (const char *path, sp_error_t *err)
{
  struct stat st;
  if (lstat (path, &st) < 0)
    {
      if (errno == ENOENT)
        return 0;
      return sp_error_errno (err, "stat `%s`", path);
    }
  return rm_rf_at (AT_FDCWD, path, st.st_dev, err);
}

bool
sp_str_has_prefix (const char *s, const char *prefix)
{
  return strncmp (s, prefix, strlen (prefix)) == 0;
}

bool
sp_str_has_suffix (const char *s, const char *suffix)
{
  size_t a = strlen (s), b = strlen (suffix);
  return a >= b && strcmp (s + a - b, suffix) == 0;
}

bool
sp_parse_long (const char *s, long *out)
{
  char *end;
  long v;
  if (s == NULL || *s == '\0')
    return false;
  errno = 0;
  v = strtol (s, &end, 10);
  if (errno || *end)
    return false;
  *out = v;
  return true;
}

bool
sp_parse_u64 (const char *s, unsigned long long *out)
{
  char *end;
  unsigned long long v;
  if (s == NULL || *s == '\0' || *s == '-')
    return false;
  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno || *end)
    return false;
  *out = v;
  return true;
}

void
sp_unescape_octal (char *s)
{
  char *o = s;
  for (; *s; s++)
    {
      if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7')
        {
          *o++ = (char) ((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
          s += 3;
        }
      else
        *o++ = *s;
    }
  *o = '\0';
}

size_t
sp_strv_len (char *const *v)
{
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

int
sp_mark_cloexec_from (int from, sp_error_t *err)
{
#ifdef SYS_close_range
  /* One syscall on Linux >= 5.11 (CLOSE_RANGE_CLOEXEC = 4). */
  if (syscall (SYS_close_range, (unsigned) from, ~0U, 4) == 0)
    return 0;
#endif
  cleanup_dir DIR *d = opendir ("/proc/self/fd");
  struct dirent *de;

  if (d == NULL)
    return sp_error_errno (err, "open /proc/self/fd");
  while ((de = readdir (d)))
    {
      long fd;
      if (!sp_parse_long (de->d_name, &fd) || fd < from || fd == dirfd (d))
        continue;
      if (fcntl ((int) fd, F_SETFD, FD_CLOEXEC) < 0 && errno != EBADF)
        return sp_error_errno (err, "set FD_CLOEXEC on fd %ld", fd);
    }
  return 0;
}

int
sp_close_range (int first, int last)
{
#ifdef SYS_close_range
  if (syscall (SYS_close_range, (unsigned) first, (unsigned) last, 0) == 0)
    return 0;
#endif
  {
    cleanup_dir DIR *d = opendir ("/proc/self/fd");
    struct dirent *de;
    if (d == NULL)
      return -1;
    while ((de = readdir (d)))
      {
        long fd;
        if (sp_parse_long (de->d_name, &fd) && fd >= first && fd <= last && fd != dirfd (d))
          close ((int) fd);
      }
  }
  return 0;
}

int
sp_close_fds_from (int from, sp_error_t *err)
{
#ifdef SYS_close_range
  if (syscall (SYS_close_range, (unsigned) from, ~0U, 0) == 0)
    return 0;
#endif
  cleanup_dir DIR *d = opendir ("/proc/self/fd");
  struct dirent *de;

  if (d == NULL)
    return sp_error_errno (err, "open /proc/self/fd");
  while ((de = readdir (d)))
    {
      long fd;
      if (!sp_parse_long (de->d_name, &fd) || fd < from || fd == dirfd (d))
        continue;
      close ((int) fd);
    }
  return 0;
}

unsigned long long
sp_now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (unsigned long long) ts.tv_sec * 1000000000ULL + (unsigned long long) ts.tv_nsec;
}
