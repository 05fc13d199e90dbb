/* Idmapped bind mounts (runtime-spec 1.2 mounts[].uidMappings/gidMappings,
 * options idmap/ridmap).  The runtime prepares each one in the host's
 * namespaces, where it has the privilege over the source filesystem: a
 * detached clone of the source (open_tree) with MOUNT_ATTR_IDMAP set to a
 * user namespace holding the mount's mappings.  Init then only moves the
 * prepared mount onto its target (move_mount), as runc does. */
#include "setup.h"

#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static bool
wants_idmap (const struct oci_mount *m, bool *recursive)
{
  bool opt = false;
  *recursive = false;
  for (char **o = m->options; o && *o; o++)
    {
      if (strcmp (*o, "idmap") == 0)
        opt = true;
      else if (strcmp (*o, "ridmap") == 0)
        opt = *recursive = true;
      else if (strcmp (*o, "rbind") == 0)
        *recursive = true;
    }
  return opt || m->uid_mappings_len > 0 || m->gid_mappings_len > 0;
}

static char *
format_map (const struct oci_id_mapping *m, size_t n)
{
  char *s = sp_xmalloc0 (32 * n + 1);
  size_t len = 0;
  for (size_t i = 0; i < n; i++)
    len += (size_t) sprintf (s + len, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
  return s;
}

/* A user namespace holding the mappings: made by a child that waits until
 * we have written its maps and opened its namespace. */
static int
userns_with_maps (const struct oci_mount *m, sp_error_t *err)
{
  cleanup_free char *uids = format_map (m->uid_mappings, m->uid_mappings_len);
  cleanup_free char *gids = format_map (m->gid_mappings, m->gid_mappings_len);
  char path[64];
  int go[2] = { -1, -1 }, ready[2] = { -1, -1 };
  int fd = -1;
  pid_t pid;
  char c;

  if (m->uid_mappings_len == 0 || m->gid_mappings_len == 0)
    return sp_error_make (err, EINVAL, "config.json: mounts: `%s`: idmapped mounts need uidMappings and gidMappings",
                          m->destination);
  if (pipe2 (go, O_CLOEXEC) < 0 || pipe2 (ready, O_CLOEXEC) < 0 || (pid = fork ()) < 0)
    {
      int saved = errno;
      for (int i = 0; i < 2; i++)
        {
          sp_closep (&go[i]);
          sp_closep (&ready[i]);
        }
      return sp_error_make (err, saved, "user namespace for the idmapped mount `%s`", m->destination);
    }
  if (pid == 0)
    {
      char r;
      close (go[1]);
      close (ready[0]);
      r = unshare (CLONE_NEWUSER) == 0 ? 'Y' : 'N';
      (void) !write (ready[1], &r, 1);
      (void) !read (go[0], &r, 1);
      _exit (0);
    }
  close (go[0]);
  close (ready[1]);
  if (read (ready[0], &c, 1) != 1 || c != 'Y')
    {
      sp_error_make (err, EPERM, "create a user namespace for the idmapped mount `%s`", m->destination);
      goto out;
    }
  snprintf (path, sizeof path, "/proc/%d/uid_map", pid);
  if (sp_write_file (path, uids, strlen (uids), 0, err) < 0)
    goto out;
  snprintf (path, sizeof path, "/proc/%d/gid_map", pid);
  if (sp_write_file (path, gids, strlen (gids), 0, err) < 0)
    goto out;
  snprintf (path, sizeof path, "/proc/%d/ns/user", pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    sp_error_errno (err, "open `%s`", path);
out:
  close (go[1]);
  close (ready[0]);
  waitpid (pid, NULL, 0);
  if (fd < 0)
    sp_error_wrap (err, "idmapped mount `%s`", m->destination);
  return fd;
}

int
sp_idmap_prepare (struct sp_setup *s, sp_error_t *err)
{
  struct oci_config *c = s->config;

  s->idmap_fds = sp_xmalloc0 ((c->mounts_len ? c->mounts_len : 1) * sizeof (int));
  for (size_t i = 0; i < c->mounts_len; i++)
    s->idmap_fds[i] = -1;
  for (size_t i = 0; i < c->mounts_len; i++)
    {
      struct oci_mount *m = &c->mounts[i];
      struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP };
      cleanup_free char *source = NULL;
      cleanup_close int userns = -1;
      cleanup_close int tree = -1;
      bool recursive;

      if (!wants_idmap (m, &recursive))
        continue;
      source = m->source && m->source[0] != '/' ? sp_xasprintf ("%s/%s", s->bundle, m->source)
                                                : sp_xstrdup (m->source ? m->source : "");
      if ((userns = userns_with_maps (m, err)) < 0)
        return -1;
      tree = (int) syscall (SYS_open_tree, AT_FDCWD, source,
                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
      if (tree < 0)
        return sp_error_errno (err, "idmapped mount `%s`: clone `%s`", m->destination, source);
      attr.userns_fd = (uint64_t) userns;
      if (syscall (SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr)
          < 0)
        return sp_error_errno (err, "idmapped mount `%s`: the filesystem of `%s` does not support idmapped mounts?",
                               m->destination, source);
      s->idmap_fds[i] = sp_steal_fd (&tree);
    }
  return 0;
}

int
sp_idmap_move (int tree_fd, int target_fd, sp_error_t *err)
{
  if (syscall (SYS_move_mount, tree_fd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return sp_error_errno (err, "attach idmapped mount");
  return 0;
}

void
sp_idmap_release (struct sp_setup *s)
{
  for (size_t i = 0; s->idmap_fds && i < s->config->mounts_len; i++)
    sp_closep (&s->idmap_fds[i]);
  free (s->idmap_fds);
  s->idmap_fds = NULL;
}
