/* The runtime's plan of a casfs rootfs, as text (include/samepage/casfs_plan.h). */
#include <samepage/casfs_plan.h>
#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void
sp_casfs_plan_clear (struct sp_casfs_plan *p)
{
  free (p->store);
  free (p->tree_hex);
  free (p->view);
  free (p->layer_a);
  free (p->upper);
  free (p->work);
  free (p->own_dirs);
  memset (p, 0, sizeof *p);
}

char *
sp_casfs_plan_serialize (const struct sp_casfs_plan *p)
{
  if (!p->active)
    return NULL;
  /* Fields are paths without newlines; '\n'-separated keeps them unambiguous. */
  return sp_xasprintf ("v1\n%d\n%s\n%s\n%s\n%s\n%s\n%s\n%s", p->dropin, p->store, p->tree_hex, p->view,
                       p->layer_a, p->upper, p->work, p->own_dirs ? p->own_dirs : "");
}

int
sp_casfs_plan_parse (const char *line, struct sp_casfs_plan *p, sp_error_t *err)
{
  cleanup_free char *copy = sp_xstrdup (line);
  char *f[9];
  size_t n = 0;
  char *save = NULL;

  memset (p, 0, sizeof *p);
  for (char *t = strtok_r (copy, "\n", &save); t && n < 9; t = strtok_r (NULL, "\n", &save))
    f[n++] = t;
  if (n < 8 || strcmp (f[0], "v1") != 0)
    return sp_error_make (err, EINVAL, "corrupt casfs state `%s`", line);
  p->active = true;
  p->dropin = strcmp (f[1], "1") == 0;
  p->store = sp_xstrdup (f[2]);
  p->tree_hex = sp_xstrdup (f[3]);
  p->view = sp_xstrdup (f[4]);
  p->layer_a = sp_xstrdup (f[5]);
  p->upper = sp_xstrdup (f[6]);
  p->work = sp_xstrdup (f[7]);
  p->own_dirs = n > 8 ? sp_xstrdup (f[8]) : NULL;
  return 0;
}

