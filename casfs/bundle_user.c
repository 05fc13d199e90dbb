/* The image's user: `User` of an image config resolved against the tree's
 * own /etc/passwd and /etc/group (never the host's: names differ between
 * images and hosts). */
#include <samepage/casfs_bundle.h>
#include <samepage/casfs_walk.h>
#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int
casfs_tree_read_file (struct casfs_store *s, const struct casfs_digest *root, const char *path, size_t max,
                      char **out, size_t *len, sp_error_t *err)
{
  cleanup_tree_cache struct casfs_tree_cache *cache = casfs_tree_cache_new (s);
  cleanup_close int fd = -1;
  const struct casfs_entry *e = NULL;
  struct casfs_digest dir;
  size_t got = 0;

  if (casfs_walk_resolve (cache, root, path, true, &e, &dir, err) < 0)
    return -1;
  if (e == NULL || !S_ISREG (e->mode))
    return sp_error_make (err, EINVAL, "`%s` is not a regular file", path);
  if (e->size > max)
    return sp_error_make (err, EFBIG, "`%s` is larger than %zu bytes", path, max);
  if ((fd = casfs_store_open_object (s, &e->digest, 0, err)) < 0 || sp_read_fd (fd, out, &got, err) < 0)
    return sp_error_wrap (err, "`%s`", path);
  if (got != e->size)
    {
      free (steal_pointer (out));
      return sp_error_make (err, EIO, "`%s`: object has %zu bytes, the tree says %llu", path, got,
                            (unsigned long long) e->size);
    }
  if (len)
    *len = got;
  return 0;
}

/* A uid or gid: decimal, below 2^32 - 1 (-1 means "unchanged" to chown). */
static bool
parse_id (const char *s, uint32_t *out)
{
  unsigned long long v;
  if (*s == '\0' || strspn (s, "0123456789") != strlen (s) || !sp_parse_u64 (s, &v) || v >= UINT32_MAX)
    return false;
  *out = (uint32_t) v;
  return true;
}

/* Splits one line of /etc/passwd or /etc/group into up to n ':' fields;
 * returns how many there were. */
static size_t
split_fields (char *line, char **fields, size_t n)
{
  size_t i = 0;
  char *p = line;
  while (i < n && p)
    fields[i++] = strsep (&p, ":");
  return i;
}

/* Calls fn on every line's fields until it returns true. */
typedef bool (*account_fn) (char **fields, size_t n, void *data);

static void
each_account (char *text, size_t n_fields, account_fn fn, void *data)
{
  char *save = NULL;
  for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      char *fields[7];
      size_t n;
      if (line[0] == '#' || line[0] == '+' || line[0] == '-')
        continue;
      n = split_fields (line, fields, n_fields);
      if (n >= 3 && fn (fields, n, data))
        return;
    }
}

struct passwd_match
{
  const char *name; /* match by name, or */
  bool by_uid;
  uint32_t uid;
  bool found;
  char *found_name;
  uint32_t found_uid, found_gid;
};

static bool
passwd_line (char **f, size_t n, void *data)
{
  struct passwd_match *m = data;
  uint32_t uid, gid;
  if (n < 4 || !parse_id (f[2], &uid) || !parse_id (f[3], &gid))
    return false;
  if (m->by_uid ? uid != m->uid : strcmp (f[0], m->name) != 0)
    return false;
  m->found = true;
  m->found_name = sp_xstrdup (f[0]);
  m->found_uid = uid;
  m->found_gid = gid;
  return true;
}

struct group_match
{
  const char *name; /* a group name to find, or NULL */
  bool found;
  uint32_t gid;
  const char *member; /* collect the groups listing this user, or NULL */
  uint32_t primary;
  uint32_t *gids;
  size_t n_gids;
};

static bool
group_line (char **f, size_t n, void *data)
{
  struct group_match *m = data;
  uint32_t gid;
  if (!parse_id (f[2], &gid))
    return false;
  if (m->name && !m->found && strcmp (f[0], m->name) == 0)
    {
      m->found = true;
      m->gid = gid;
    }
  if (m->member && n >= 4 && gid != m->primary)
    {
      char *save = NULL;
      for (char *u = strtok_r (f[3], ",", &save); u; u = strtok_r (NULL, ",", &save))
        if (strcmp (u, m->member) == 0)
          {
            bool dup = false;
            for (size_t i = 0; i < m->n_gids; i++)
              dup = dup || m->gids[i] == gid;
            if (!dup)
              {
                m->gids = sp_xrealloc (m->gids, (m->n_gids + 1) * sizeof (*m->gids));
                m->gids[m->n_gids++] = gid;
              }
            break;
          }
    }
  return false;
}

/* The tree's /etc/<name>, or NULL when it has none (not an error unless a
 * name must be looked up in it). */
static int
read_accounts (struct casfs_store *s, const struct casfs_digest *root, const char *path, char **out,
               sp_error_t *err)
{
  *out = NULL;
  if (casfs_tree_read_file (s, root, path, CASFS_BUNDLE_ACCOUNTS_MAX, out, NULL, err) < 0)
    {
      if ((*err)->status != ENOENT)
        return -1;
      sp_error_release (err);
    }
  return 0;
}

int
casfs_user_resolve (struct casfs_store *s, const struct casfs_digest *root, const char *user,
                    struct casfs_user *out, sp_error_t *err)
{
  cleanup_free char *spec = sp_xstrdup (user ? user : "");
  cleanup_free char *passwd = NULL;
  cleanup_free char *group = NULL;
  struct passwd_match pm = { 0 };
  struct group_match gm = { 0 };
  char *colon = strchr (spec, ':');
  const char *uname = spec, *gname = colon ? colon + 1 : NULL;
  bool uid_numeric;

  memset (out, 0, sizeof (*out));
  if (colon)
    *colon = '\0';
  if (*uname == '\0' && (gname == NULL || *gname == '\0'))
    return 0; /* root */
  if (*uname == '\0' || (gname && *gname == '\0'))
    return sp_error_make (err, EINVAL, "user `%s`: want USER[:GROUP]", user);
  if (read_accounts (s, root, "/etc/passwd", &passwd, err) < 0)
    return -1;
  uid_numeric = parse_id (uname, &out->uid);
  pm.name = uname;
  pm.by_uid = uid_numeric;
  pm.uid = out->uid;
  if (passwd)
    {
      cleanup_free char *copy = sp_xstrdup (passwd);
      each_account (copy, 7, passwd_line, &pm);
    }
  if (!uid_numeric && !pm.found)
    return sp_error_make (err, ENOENT, "user `%s`: no such user in the image's /etc/passwd%s", uname,
                          passwd ? "" : " (the image has none)");
  cleanup_free char *found_name = pm.found_name;
  if (pm.found)
    {
      out->uid = pm.found_uid;
      out->gid = pm.found_gid;
    }
  if (gname && !parse_id (gname, &out->gid))
    gm.name = gname;
  /* Supplementary groups come with a user known by name, as with login. */
  gm.member = pm.found ? found_name : NULL;
  gm.primary = out->gid;
  if (gm.name || gm.member)
    {
      if (read_accounts (s, root, "/etc/group", &group, err) < 0)
        return -1;
      if (group)
        each_account (group, 4, group_line, &gm);
      if (gm.name && !gm.found)
        {
          free (gm.gids);
          return sp_error_make (err, ENOENT, "user `%s`: no group `%s` in the image's /etc/group%s", user, gname,
                                group ? "" : " (the image has none)");
        }
      if (gm.name)
        out->gid = gm.gid;
    }
  /* Listed as a member of its own primary group: not a supplementary one. */
  for (size_t i = 0; i < gm.n_gids; i++)
    if (gm.gids[i] != out->gid)
      gm.gids[out->n_additional_gids++] = gm.gids[i];
  out->additional_gids = gm.gids;
  if (out->n_additional_gids == 0)
    {
      free (gm.gids);
      out->additional_gids = NULL;
    }
  return 0;
}

void
casfs_user_clear (struct casfs_user *u)
{
  free (u->additional_gids);
  memset (u, 0, sizeof (*u));
}
