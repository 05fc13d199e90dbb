/* /etc/samepage/samepage.conf (include/samepage/settings.h). */
#include <samepage/settings.h>
#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
trim (char *s)
{
  char *e;
  while (isspace ((unsigned char) *s))
    s++;
  e = s + strlen (s);
  while (e > s && isspace ((unsigned char) e[-1]))
    *--e = '\0';
  return s;
}

static void
set_str (char **dst, const char *v)
{
  free (*dst);
  *dst = sp_xstrdup (v);
}

int
sp_settings_load (const char *path, struct sp_settings *out, sp_error_t *err)
{
  cleanup_free char *buf = NULL;
  char *save = NULL;
  int lineno = 0;

  memset (out, 0, sizeof *out);
  out->store = sp_xstrdup ("/var/lib/samepage/store");
  out->casfs = true;
  out->casfs_mountpoint = sp_xstrdup ("/run/samepage/casfs");
  out->casfs_io_uring = sp_xstrdup ("auto");
  out->ksm = sp_xstrdup ("off");
  out->ksm_preload = sp_xstrdup (SAMEPAGE_LIBDIR "/libsamepage-ksm.so");
  if (path == NULL)
    path = getenv ("SAMEPAGE_CONF") ? getenv ("SAMEPAGE_CONF") : SP_SETTINGS_PATH;
  if (sp_read_file (path, &buf, NULL, err) < 0)
    {
      if ((*err)->status == ENOENT)
        {
          sp_error_release (err);
          return 0;
        }
      return -1;
    }
  /* strtok_r would merge empty lines and break line numbers: split by hand. */
  for (char *line = buf; line; line = save)
    {
      char *nl = strchr (line, '\n'), *eq, *key, *val;
      save = nl ? nl + 1 : NULL;
      if (nl)
        *nl = '\0';
      lineno++;
      if (strchr (line, '#'))
        *strchr (line, '#') = '\0';
      line = trim (line);
      if (*line == '\0')
        continue;
      eq = strchr (line, '=');
      if (eq == NULL)
        {
          sp_settings_clear (out);
          return sp_error_make (err, EINVAL, "%s:%d: expected `key = value`", path, lineno);
        }
      *eq = '\0';
      key = trim (line);
      val = trim (eq + 1);
      if (strcmp (key, "store") == 0 && val[0] == '/')
        set_str (&out->store, val);
      else if (strcmp (key, "casfs_mountpoint") == 0 && val[0] == '/')
        set_str (&out->casfs_mountpoint, val);
      else if (strcmp (key, "ksm_preload") == 0 && val[0] == '/')
        set_str (&out->ksm_preload, val);
      else if (strcmp (key, "casfs_io_uring") == 0
               && (strcmp (val, "auto") == 0 || strcmp (val, "on") == 0 || strcmp (val, "off") == 0))
        set_str (&out->casfs_io_uring, val);
      else if (strcmp (key, "casfs") == 0 && (strcmp (val, "on") == 0 || strcmp (val, "off") == 0))
        out->casfs = strcmp (val, "on") == 0;
      else if (strcmp (key, "ksm") == 0
               && (strcmp (val, "off") == 0 || strcmp (val, "merge-any") == 0 || strcmp (val, "heap") == 0))
        set_str (&out->ksm, val);
      else
        {
          sp_error_make (err, EINVAL, "%s:%d: %s: invalid key or value `%s`", path, lineno, key, val);
          sp_settings_clear (out);
          return -1;
        }
    }
  return 0;
}

void
sp_settings_clear (struct sp_settings *s)
{
  free (s->store);
  free (s->casfs_mountpoint);
  free (s->casfs_io_uring);
  free (s->ksm);
  free (s->ksm_preload);
  memset (s, 0, sizeof *s);
}
