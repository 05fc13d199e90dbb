/* Scope-bound release of resources (__attribute__((cleanup))).
 * Every closer is idempotent: it resets what it released. */
#ifndef SAMEPAGE_CLEANUP_H
#define SAMEPAGE_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void
sp_freep (void *p)
{
  void **pp = (void **) p;
  free (*pp);
  *pp = NULL;
}

static inline void
sp_closep (int *fd)
{
  if (*fd >= 0)
    {
      int saved = errno;
      close (*fd);
      errno = saved;
    }
  *fd = -1;
}

static inline void
sp_fclosep (FILE **f)
{
  if (*f)
    fclose (*f);
  *f = NULL;
}

static inline void
sp_closedirp (DIR **d)
{
  if (*d)
    closedir (*d);
  *d = NULL;
}

/* NULL-terminated vector of malloc'd strings. */
static inline void
sp_strvfreep (char ***v)
{
  if (*v)
    {
      for (char **s = *v; *s; s++)
        free (*s);
      free (*v);
    }
  *v = NULL;
}

#define cleanup_free __attribute__ ((cleanup (sp_freep)))
#define cleanup_close __attribute__ ((cleanup (sp_closep)))
#define cleanup_file __attribute__ ((cleanup (sp_fclosep)))
#define cleanup_dir __attribute__ ((cleanup (sp_closedirp)))
#define cleanup_strv __attribute__ ((cleanup (sp_strvfreep)))

/* Moves ownership out of a cleanup-managed variable. */
static inline void *
sp_steal_pointer (void *pp)
{
  void **p = (void **) pp;
  void *ret = *p;
  *p = NULL;
  return ret;
}
#define steal_pointer(pp) sp_steal_pointer (pp)

static inline int
sp_steal_fd (int *fd)
{
  int ret = *fd;
  *fd = -1;
  return ret;
}

#endif
