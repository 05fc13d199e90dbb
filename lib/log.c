/* Diagnostics to stderr and the --log file (text or JSON lines). */
#include <samepage/log.h>
#include <samepage/cleanup.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *program = "samepage";
static int log_fd = -1;
static enum sp_log_format log_format = SP_LOG_TEXT;
static int debug_on = -1;
static bool to_stderr = true;

static const char *const level_names[] = {
  [SP_LOG_ERROR] = "error",
  [SP_LOG_WARNING] = "warning",
  [SP_LOG_INFO] = "info",
  [SP_LOG_DEBUG] = "debug",
};

void
sp_log_set_program (const char *name)
{
  program = name;
}

void
sp_log_set_debug (bool on)
{
  debug_on = on;
}

bool
sp_log_debug_enabled (void)
{
  if (debug_on < 0)
    {
      const char *e = getenv ("SAMEPAGE_DEBUG");
      debug_on = e && *e && strcmp (e, "0") != 0;
    }
  return debug_on;
}

void
sp_log_set_stderr (bool on)
{
  to_stderr = on;
}

int
sp_log_open (const char *path, enum sp_log_format format, sp_error_t *err)
{
  int fd;

  log_format = format;
  if (path == NULL)
    return 0;
  fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return sp_error_errno (err, "open log file `%s`", path);
  sp_log_close ();
  log_fd = fd;
  return 0;
}

void
sp_log_close (void)
{
  sp_closep (&log_fd);
}

void
sp_log_forget (void)
{
  log_fd = -1;
}

char *
sp_json_escape (const char *s)
{
  size_t len = strlen (s);
  char *out = malloc (len * 6 + 1), *o = out;

  if (out == NULL)
    return NULL;
  for (; *s; s++)
    {
      unsigned char c = (unsigned char) *s;
      switch (c)
        {
        case '"':
          *o++ = '\\';
          *o++ = '"';
          break;
        case '\\':
          *o++ = '\\';
          *o++ = '\\';
          break;
        case '\n':
          *o++ = '\\';
          *o++ = 'n';
          break;
        case '\t':
          *o++ = '\\';
          *o++ = 't';
          break;
        case '\r':
          *o++ = '\\';
          *o++ = 'r';
          break;
        default:
          if (c < 0x20)
            o += sprintf (o, "\\u%04x", c);
          else
            *o++ = (char) c;
        }
    }
  *o = '\0';
  return out;
}

static void
write_all (int fd, const char *buf, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, buf, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return; /* nowhere left to report a failing log */
      buf += n;
      len -= (size_t) n;
    }
}

void
sp_log (enum sp_log_level level, const char *fmt, ...)
{
  cleanup_free char *msg = NULL;
  cleanup_free char *line = NULL;
  int saved = errno;
  va_list ap;
  int n;

  va_start (ap, fmt);
  n = vasprintf (&msg, fmt, ap);
  va_end (ap);
  if (n < 0)
    return;

  /* With a log file, only errors also go to stderr: engines pass the
   * container's own stderr to the runtime, and warnings there would show up
   * as the container's output. */
  if (log_fd < 0 || (to_stderr && level == SP_LOG_ERROR))
    {
      if (asprintf (&line, "%s: %s%s\n", program,
                    level == SP_LOG_ERROR ? "" : level == SP_LOG_WARNING ? "warning: " : level == SP_LOG_DEBUG ? "debug: " : "",
                    msg)
          >= 0)
        write_all (2, line, strlen (line));
      free (line);
      line = NULL;
    }

  if (log_fd >= 0)
    {
      struct timeval tv;
      struct tm tm;
      char ts[64];

      gettimeofday (&tv, NULL);
      gmtime_r (&tv.tv_sec, &tm);
      n = (int) strftime (ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
      snprintf (ts + n, sizeof ts - (size_t) n, ".%06ldZ", (long) tv.tv_usec);
      if (log_format == SP_LOG_JSON)
        {
          cleanup_free char *esc = sp_json_escape (msg);
          if (esc && asprintf (&line, "{\"level\":\"%s\",\"msg\":\"%s\",\"time\":\"%s\"}\n", level_names[level], esc, ts) < 0)
            line = NULL;
        }
      else if (asprintf (&line, "%s %s: %s\n", ts, level_names[level], msg) < 0)
        line = NULL;
      if (line)
        write_all (log_fd, line, strlen (line));
    }
  errno = saved;
}

void
sp_log_error_release (sp_error_t *err)
{
  if (err && *err)
    sp_log (SP_LOG_ERROR, "%s", (*err)->msg);
  sp_error_release (err);
}
