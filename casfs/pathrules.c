/* Hostile-input rules for entry paths and xattrs of imported archives.
 *
 * Normalisations (harmless spellings of the same path): a leading "./",
 * repeated slashes, trailing slashes and "." components are dropped.
 * Errors: absolute paths, ".." anywhere, empty paths, components longer than
 * CASFS_NAME_MAX, paths longer than CASFS_IMPORT_PATH_MAX or deeper than
 * CASFS_IMPORT_DEPTH_MAX.  Nothing here touches the host filesystem: paths
 * are only ever looked up in the in-memory tree of the layer. */
#include <samepage/casfs_import.h>
#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
casfs_path_normalize (const char *path, char **out, sp_error_t *err)
{
  size_t len;
  cleanup_free char *buf = NULL;
  char *o;
  unsigned depth = 0;

  if (path == NULL || *path == '\0')
    return sp_error_make (err, EINVAL, "empty path");
  len = strlen (path);
  if (len > CASFS_IMPORT_PATH_MAX)
    return sp_error_make (err, ENAMETOOLONG, "path is %zu bytes (limit %d)", len, CASFS_IMPORT_PATH_MAX);
  if (path[0] == '/')
    return sp_error_make (err, EINVAL, "absolute path `%s`", path);
  buf = sp_xmalloc0 (len + 1);
  o = buf;
  for (const char *p = path; *p;)
    {
      const char *slash = strchr (p, '/');
      size_t n = slash ? (size_t) (slash - p) : strlen (p);

      if (n == 2 && p[0] == '.' && p[1] == '.')
        return sp_error_make (err, EINVAL, "path `%s` has a `..` component", path);
      if (n > CASFS_NAME_MAX)
        return sp_error_make (err, ENAMETOOLONG, "path `%.64s...` has a component of %zu bytes (limit %d)", path, n,
                              CASFS_NAME_MAX);
      if (n > 0 && !(n == 1 && p[0] == '.'))
        {
          if (++depth > CASFS_IMPORT_DEPTH_MAX)
            return sp_error_make (err, ENAMETOOLONG, "path `%.64s...` is deeper than %d components", path,
                                  CASFS_IMPORT_DEPTH_MAX);
          if (o != buf)
            *o++ = '/';
          memcpy (o, p, n);
          o += n;
        }
      p += n;
      while (*p == '/')
        p++;
    }
  *o = '\0';
  *out = steal_pointer (&buf);
  return 0;
}

/* Kept: user data and file capabilities (security.capability), ACLs, IMA.
 * Dropped: overlayfs' own attributes (trusted.overlay.*, user.overlay.*),
 * which the FUSE view computes itself (a layer must never inject a redirect
 * or metacopy), except the opaque marker which the importer normalises; and
 * security.selinux, a label of the host that made the layer. */
bool
casfs_import_keep_xattr (const char *name)
{
  if (sp_str_has_prefix (name, "trusted.overlay.") || sp_str_has_prefix (name, "user.overlay.")
      || sp_str_has_prefix (name, "trusted.casfs."))
    return false;
  if (strcmp (name, "security.selinux") == 0)
    return false;
  return sp_str_has_prefix (name, "user.") || sp_str_has_prefix (name, "security.")
         || sp_str_has_prefix (name, "trusted.") || sp_str_has_prefix (name, "system.");
}
