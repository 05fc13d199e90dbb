/* One error type for the whole project (see docs/errors.md).
 *
 * A fallible function takes `sp_error_t *err` last, returns a negative value on
 * failure and fills *err with errno and a message; callers add context with
 * sp_error_wrap() and pass the same negative value up.  Success is >= 0. */
#ifndef SAMEPAGE_ERROR_H
#define SAMEPAGE_ERROR_H

#include <stdarg.h>

struct sp_error_s
{
  int status; /* errno, or 0 when the failure has no errno */
  char *msg;
};
typedef struct sp_error_s *sp_error_t;

/* Sets *err (if err is not NULL and *err is still empty) and returns -1.
 * With status != 0 the message ends with ": strerror(status)". */
int sp_error_make (sp_error_t *err, int status, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
int sp_error_makev (sp_error_t *err, int status, const char *fmt, va_list ap);

/* Prepends "context: " to the message already in *err; returns -1. */
int sp_error_wrap (sp_error_t *err, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

/* Frees the error and resets *err to NULL; safe on NULL. */
void sp_error_release (sp_error_t *err);

/* Convenience: failure from errno. */
#define sp_error_errno(err, ...) sp_error_make ((err), errno, __VA_ARGS__)

#endif
