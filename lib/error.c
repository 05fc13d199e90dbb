/* The project's one error type: see include/samepage/error.h. */
#include <samepage/error.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
sp_error_makev (sp_error_t *err, int status, const char *fmt, va_list ap)
{
  char *msg = NULL;
  struct sp_error_s *e;

  if (err == NULL || *err != NULL)
    return -1; /* keep the first, most precise error */
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  if (msg && status)
    {
      char *full = NULL;
      if (asprintf (&full, "%s: %s", msg, strerror (status)) >= 0)
        {
          free (msg);
          msg = full;
        }
    }
  e = calloc (1, sizeof (*e));
  if (e == NULL)
    {
      free (msg);
      return -1;
    }
  e->status = status;
  e->msg = msg ? msg : strdup ("out of memory");
  *err = e;
  return -1;
}

int
sp_error_make (sp_error_t *err, int status, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  sp_error_makev (err, status, fmt, ap);
  va_end (ap);
  return -1;
}

int
sp_error_wrap (sp_error_t *err, const char *fmt, ...)
{
  char *ctx = NULL, *full = NULL;
  va_list ap;

  if (err == NULL || *err == NULL)
    return -1;
  va_start (ap, fmt);
  if (vasprintf (&ctx, fmt, ap) < 0)
    ctx = NULL;
  va_end (ap);
  if (ctx && asprintf (&full, "%s: %s", ctx, (*err)->msg) >= 0)
    {
      free ((*err)->msg);
      (*err)->msg = full;
    }
  free (ctx);
  return -1;
}

void
sp_error_release (sp_error_t *err)
{
  if (err == NULL || *err == NULL)
    return;
  free ((*err)->msg);
  free (*err);
  *err = NULL;
}
