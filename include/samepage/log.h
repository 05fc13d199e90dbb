/* Diagnostics: to stderr and, with --log, to a file as text or JSON lines
 * ({"level":"error","msg":"...","time":"..."}), which containerd's shim and
 * conmon read back.  SAMEPAGE_DEBUG=1 (or --debug) enables debug lines. */
#ifndef SAMEPAGE_LOG_H
#define SAMEPAGE_LOG_H

#include <samepage/error.h>
#include <stdbool.h>

enum sp_log_level
{
  SP_LOG_ERROR,
  SP_LOG_WARNING,
  SP_LOG_INFO,
  SP_LOG_DEBUG,
};

enum sp_log_format
{
  SP_LOG_TEXT,
  SP_LOG_JSON,
};

/* Program name used in stderr lines. */
void sp_log_set_program (const char *name);
/* Opens (append) the log file; path NULL keeps stderr only. */
int sp_log_open (const char *path, enum sp_log_format format, sp_error_t *err);
void sp_log_set_debug (bool on);
bool sp_log_debug_enabled (void);
/* Whether messages also go to stderr (default yes). */
void sp_log_set_stderr (bool on);
void sp_log_close (void);
/* In a forked child that closes or reuses inherited fds: forget the log file
 * without closing its fd (the number may belong to something else now). */
void sp_log_forget (void);

void sp_log (enum sp_log_level level, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
#define sp_error_log(...) sp_log (SP_LOG_ERROR, __VA_ARGS__)
#define sp_warn(...) sp_log (SP_LOG_WARNING, __VA_ARGS__)
#define sp_info(...) sp_log (SP_LOG_INFO, __VA_ARGS__)
#define sp_debug(...)                                                                      \
  do                                                                                       \
    {                                                                                      \
      if (sp_log_debug_enabled ())                                                         \
        sp_log (SP_LOG_DEBUG, __VA_ARGS__);                                                \
    }                                                                                      \
  while (0)

/* Logs err as an error line and releases it. */
void sp_log_error_release (sp_error_t *err);

/* Appends s to buf as a JSON string body (no quotes), escaping as needed. */
char *sp_json_escape (const char *s);

#endif
