/* The casfs FUSE server: session setup, the multi-threaded loop, the daemon
 * (pid file, ready signal), and the helpers the runtime and `casfs umount`
 * use to find, start and stop it. */
#include "fuse_internal.h"

#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/settings.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define TREE_TIMEOUT 86400.0
#define REF_TIMEOUT 1.0
#define TREE_CACHE_ENTRIES 200000

/* Mountpoint without trailing slashes (caller frees). */
static char *
clean_mountpoint (const char *mp)
{
  char *s = sp_xstrdup (mp);
  size_t n = strlen (s);
  while (n > 1 && s[n - 1] == '/')
    s[--n] = '\0';
  return s;
}

char *
casfs_fuse_pid_file (const char *mountpoint)
{
  cleanup_free char *mp = clean_mountpoint (mountpoint);
  return sp_xasprintf ("%s.pid", mp);
}

char *
casfs_fuse_tree_path (const char *mountpoint, const struct casfs_digest *d)
{
  cleanup_free char *mp = clean_mountpoint (mountpoint);
  char hex[CASFS_DIGEST_HEX_LEN + 1];
  casfs_digest_hex (d, hex);
  return sp_xasprintf ("%s/trees/%s", mp, hex);
}

/* Absolute path of mp without stat'ing mp itself (a dead FUSE mount fails
 * every stat with ENOTCONN). */
static int
canonical_mountpoint (const char *mountpoint, char **out, sp_error_t *err)
{
  cleanup_free char *mp = clean_mountpoint (mountpoint);
  cleanup_free char *d = sp_xstrdup (mp);
  cleanup_free char *b = sp_xstrdup (mp);
  char parent[PATH_MAX];
  const char *base = basename (b);

  if (strcmp (mp, "/") == 0)
    return sp_error_make (err, EINVAL, "mountpoint `/`");
  if (realpath (dirname (d), parent) == NULL)
    return sp_error_errno (err, "mountpoint `%s`", mountpoint);
  *out = sp_xasprintf ("%s/%s", strcmp (parent, "/") == 0 ? "" : parent, base);
  return 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void
unescape_octal (char *s)
{
  char *o = s;
  for (char *p = s; *p; p++)
    {
      if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7')
        {
          *o++ = (char) ((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
          p += 3;
        }
      else
        *o++ = *p;
    }
  *o = '\0';
}

struct mount_info
{
  bool found;
  unsigned major, minor;
  char fstype[64];
  char source[PATH_MAX];
};

/* The topmost mount at the canonical path mp. */
static int
find_mount (const char *mp, struct mount_info *mi, sp_error_t *err)
{
  cleanup_file FILE *f = fopen ("/proc/self/mountinfo", "re");
  cleanup_free char *line = NULL;
  size_t cap = 0;

  memset (mi, 0, sizeof (*mi));
  if (f == NULL)
    return sp_error_errno (err, "open /proc/self/mountinfo");
  while (getline (&line, &cap, f) > 0)
    {
      char *fields[10] = { 0 }, *save = NULL, *dash;
      int n = 0;

      dash = strstr (line, " - ");
      if (dash == NULL)
        continue;
      *dash = '\0';
      for (char *t = strtok_r (line, " ", &save); t && n < 5; t = strtok_r (NULL, " ", &save))
        fields[n++] = t;
      if (n < 5)
        continue;
      unescape_octal (fields[4]);
      if (strcmp (fields[4], mp) != 0)
        continue;
      save = NULL;
      {
        char *fstype = strtok_r (dash + 3, " ", &save);
        char *source = strtok_r (NULL, " ", &save);
        if (fstype == NULL || source == NULL || sscanf (fields[2], "%u:%u", &mi->major, &mi->minor) != 2)
          continue;
        unescape_octal (source);
        mi->found = true;
        snprintf (mi->fstype, sizeof mi->fstype, "%s", fstype);
        snprintf (mi->source, sizeof mi->source, "%s", source);
      }
    }
  return 0;
}

int
casfs_fuse_probe (const char *store, const char *mountpoint, sp_error_t *err)
{
  cleanup_free char *mp = NULL;
  char store_real[PATH_MAX];
  struct mount_info mi;
  struct statfs sfs;

  if (canonical_mountpoint (mountpoint, &mp, err) < 0 || find_mount (mp, &mi, err) < 0)
    return -1;
  if (!mi.found)
    return CASFS_FUSE_NOT_MOUNTED;
  if (strcmp (mi.fstype, CASFS_FUSE_FSTYPE) != 0)
    return sp_error_make (err, EBUSY, "`%s` is a %s mount, not casfs", mp, mi.fstype);
  if (realpath (store, store_real) == NULL)
    return sp_error_errno (err, "store `%s`", store);
  if (strcmp (mi.source, store_real) != 0)
    return sp_error_make (err, EBUSY, "`%s` is the casfs mount of another store (`%s`)", mp, mi.source);
  /* statfs always reaches the daemon; stat may be answered from the cache. */
  if (statfs (mp, &sfs) < 0)
    {
      if (errno == ENOTCONN || errno == ECONNABORTED)
        return CASFS_FUSE_DEAD;
      return sp_error_errno (err, "statfs `%s`", mp);
    }
  return CASFS_FUSE_LIVE;
}

/* Fails every request still waiting on the connection, so nothing hangs. */
static void
abort_connection (const struct mount_info *mi)
{
  cleanup_free char *path = NULL;
  int fd;

  if (!mi->found || strncmp (mi->fstype, "fuse", 4) != 0)
    return;
  /* The directory is named by the kernel's dev_t: major << 20 | minor. */
  path = sp_xasprintf ("/sys/fs/fuse/connections/%u/abort", mi->major << 20 | mi->minor);
  fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return; /* fusectl not mounted: the detach below still frees the path */
  if (write (fd, "1", 1) < 0)
    sp_debug ("abort %s: %s", path, strerror (errno));
  close (fd);
}

/* The daemon's pid from the pid file, if that process is still a casfs daemon. */
static pid_t
daemon_pid (const char *mountpoint)
{
  cleanup_free char *pidfile = casfs_fuse_pid_file (mountpoint);
  cleanup_free char *text = NULL;
  cleanup_free char *comm_path = NULL;
  cleanup_free char *comm = NULL;
  long pid;

  if (sp_read_file (pidfile, &text, NULL, NULL) < 0)
    return 0;
  text[strcspn (text, "\n")] = '\0';
  if (!sp_parse_long (text, &pid) || pid <= 1)
    return 0;
  comm_path = sp_xasprintf ("/proc/%ld/comm", pid);
  if (sp_read_file (comm_path, &comm, NULL, NULL) < 0)
    return 0;
  comm[strcspn (comm, "\n")] = '\0';
  return strcmp (comm, CASFS_FUSE_COMM) == 0 ? (pid_t) pid : 0;
}

static bool
wait_gone (pid_t pid, unsigned ms)
{
  for (unsigned i = 0; i < ms / 20; i++)
    {
      if (kill (pid, 0) < 0 && errno == ESRCH)
        return true;
      /* Our own child (foreground tests) must be reaped to disappear. */
      if (waitpid (pid, NULL, WNOHANG) == pid)
        return true;
      usleep (20000);
    }
  return false;
}

int
casfs_fuse_unmount (const char *mountpoint, unsigned flags, sp_error_t *err)
{
  cleanup_free char *mp = NULL;
  cleanup_free char *pidfile = casfs_fuse_pid_file (mountpoint);
  struct mount_info mi;
  pid_t pid = daemon_pid (mountpoint);

  if (canonical_mountpoint (mountpoint, &mp, err) < 0 || find_mount (mp, &mi, err) < 0)
    return -1;
  if (mi.found && strcmp (mi.fstype, CASFS_FUSE_FSTYPE) != 0)
    return sp_error_make (err, EINVAL, "`%s` is a %s mount, not casfs", mp, mi.fstype);
  if (!mi.found && pid == 0)
    return sp_error_make (err, EINVAL, "`%s` is not a casfs mount", mp);
  if (mi.found)
    {
      if (flags & CASFS_UMOUNT_FORCE)
        abort_connection (&mi);
      if (umount2 (mp, (flags & (CASFS_UMOUNT_FORCE | CASFS_UMOUNT_LAZY)) ? MNT_DETACH : 0) < 0)
        {
          if (errno == EBUSY)
            return sp_error_errno (err, "unmount `%s` (in use; `casfs umount -l` detaches it)", mp);
          return sp_error_errno (err, "unmount `%s`", mp);
        }
    }
  if (pid > 0)
    {
      /* After a lazy detach the daemon serves open files until they close. */
      if (flags & CASFS_UMOUNT_LAZY)
        return 0;
      if (!wait_gone (pid, (flags & CASFS_UMOUNT_FORCE) ? 2000 : 10000))
        {
          if (!(flags & CASFS_UMOUNT_FORCE))
            return sp_error_make (err, ETIMEDOUT, "casfs daemon %d did not exit after unmount", (int) pid);
          kill (pid, SIGKILL);
          wait_gone (pid, 2000);
        }
    }
  if (unlink (pidfile) < 0 && errno != ENOENT)
    return sp_error_errno (err, "remove `%s`", pidfile);
  return 0;
}

/* "-o" options for the kernel mount: read-only, shared by every user (the
 * kernel checks the image's modes: default_permissions), named by store. */
static char *
mount_options (const char *store_real)
{
  size_t n = strlen (store_real);
  char *esc = sp_xmalloc0 (2 * n + 1), *o = esc;
  char *opts;
  for (const char *p = store_real; *p; p++)
    {
      if (*p == ',' || *p == '\\')
        *o++ = '\\';
      *o++ = *p;
    }
  opts = sp_xasprintf ("ro,allow_other,default_permissions,subtype=casfs,fsname=%s", esc);
  free (esc);
  return opts;
}

static void
signal_ready (int ready_fd, const char *msg)
{
  if (ready_fd >= 0)
    {
      if (sp_write_all (ready_fd, msg, strlen (msg)) < 0)
        sp_warn ("report readiness: %s", strerror (errno));
      close (ready_fd);
    }
}

static int
serve (const struct casfs_fuse_options *o, int ready_fd, sp_error_t *err)
{
  cleanup_store struct casfs_store *store = NULL;
  cleanup_free char *mp = NULL;
  cleanup_free char *opts = NULL;
  cleanup_free char *pidfile = NULL;
  cleanup_free char *pidtext = NULL;
  char store_real[PATH_MAX];
  struct fuse_args args = FUSE_ARGS_INIT (0, NULL);
  struct fuse_session *se = NULL;
  struct fuse_loop_config *cfg = NULL;
  struct cf_uring *uring = NULL;
  bool enabled_param = false;
  struct cf_fs fs;
  int state, ret = -1;

  memset (&fs, 0, sizeof (fs));
  if (canonical_mountpoint (o->mountpoint, &mp, err) < 0)
    return -1;
  if (realpath (o->store, store_real) == NULL)
    return sp_error_errno (err, "store `%s`", o->store);
  if (casfs_store_open (store_real, false, &store, err) < 0)
    return -1;
  state = casfs_fuse_probe (store_real, mp, err);
  if (state < 0)
    return -1;
  if (state == CASFS_FUSE_LIVE)
    return sp_error_make (err, EBUSY, "`%s` is already a live casfs mount of `%s`", mp, store_real);
  if (state == CASFS_FUSE_DEAD)
    {
      /* The last daemon died: take the mountpoint back. */
      struct mount_info mi;
      if (find_mount (mp, &mi, err) < 0)
        return -1;
      abort_connection (&mi);
      if (umount2 (mp, MNT_DETACH) < 0)
        return sp_error_errno (err, "detach dead casfs mount `%s`", mp);
      sp_info ("detached the dead casfs mount at `%s`", mp);
    }
  if (sp_mkdir_p (mp, 0755, err) < 0)
    return -1;

  fs.store = store;
  fs.inodes = cf_inodes_new ();
  fs.trees = cf_tree_cache_new (store, TREE_CACHE_ENTRIES);
  fs.tree_timeout = TREE_TIMEOUT;
  fs.ref_timeout = REF_TIMEOUT;
  fs.object_flags = O_DIRECT;
  pthread_mutex_init (&fs.caps_lock, NULL);

  opts = mount_options (store_real);
  if (fuse_opt_add_arg (&args, "casfs") != 0 || fuse_opt_add_arg (&args, "-o") != 0
      || fuse_opt_add_arg (&args, opts) != 0 || (o->fuse_debug && fuse_opt_add_arg (&args, "-d") != 0))
    {
      sp_error_make (err, ENOMEM, "FUSE arguments");
      goto out;
    }
  se = fuse_session_new (&args, &cf_ops, sizeof (cf_ops), &fs);
  if (se == NULL)
    {
      sp_error_make (err, 0, "create FUSE session (is the fuse3 module loaded?)");
      goto out;
    }
  if (fuse_set_signal_handlers (se) != 0)
    {
      sp_error_make (err, 0, "install signal handlers");
      goto out;
    }
  if (o->io_uring == CASFS_URING_ON && !cf_uring_enabled_in_kernel ())
    enabled_param = cf_uring_set_kernel (true);
  if (fuse_session_mount (se, mp) != 0)
    {
      if (enabled_param)
        cf_uring_set_kernel (false);
      sp_error_make (err, 0, "mount FUSE at `%s` (is /dev/fuse there?)", mp);
      fuse_remove_signal_handlers (se);
      goto out;
    }
  /* FUSE over io_uring where the kernel offers it: requests are then served
   * on the CPU that made them (see fuse_uring.c). */
  if (enabled_param || (o->io_uring == CASFS_URING_AUTO && cf_uring_enabled_in_kernel ()))
    uring = cf_uring_attach (se, &fs, enabled_param); /* it puts the parameter back */
  pidfile = o->pid_file ? sp_xstrdup (o->pid_file) : casfs_fuse_pid_file (mp);
  pidtext = sp_xasprintf ("%d\n", (int) getpid ());
  if (sp_write_file_atomic (pidfile, pidtext, strlen (pidtext), 0644, err) < 0)
    {
      fuse_session_unmount (se);
      fuse_remove_signal_handlers (se);
      goto out;
    }
  sp_info ("serving store `%s` at `%s` (pid %d)", store_real, mp, (int) getpid ());
  signal_ready (ready_fd, "OK");
  ready_fd = -1;
  (void) sd_notify (0, "READY=1");

  cfg = fuse_loop_cfg_create ();
  fuse_loop_cfg_set_clone_fd (cfg, 1);
  /* Measured on 2 cores: more workers than CPUs only adds hand-offs (a cold
   * walk through overlayfs took 2.5x as long with 16 as with 1 or 2). */
  fuse_loop_cfg_set_max_threads (cfg, o->max_threads ? o->max_threads : (unsigned) sysconf (_SC_NPROCESSORS_ONLN));
  ret = fuse_session_loop_mt (se, cfg);
  fuse_loop_cfg_destroy (cfg);
  fuse_session_unmount (se);
  fuse_remove_signal_handlers (se);
  {
    /* Remove the pid file unless a newer daemon has written its own. */
    cleanup_free char *now = NULL;
    if (sp_read_file (pidfile, &now, NULL, NULL) == 0 && strcmp (now, pidtext) == 0)
      unlink (pidfile);
  }
  sp_info ("stopped serving `%s`", mp);
  if (ret < 0)
    sp_error_make (err, -ret, "FUSE loop at `%s`", mp);
  else
    ret = 0;

out:
  /* Also when serving never began: the rings' threads stop, and a kernel
   * parameter turned on for this mount goes back off. */
  cf_uring_detach (uring);
  fs.uring = NULL;
  if (se)
    fuse_session_destroy (se);
  fuse_opt_free_args (&args);
  cf_tree_cache_free (fs.trees);
  cf_inodes_free (fs.inodes);
  if (fs.inodes)
    pthread_mutex_destroy (&fs.caps_lock);
  return ret;
}

/* Child side of the daemon: new session, stdio to the log, serve. */
static void __attribute__ ((noreturn))
run_daemon (const struct casfs_fuse_options *o, int ready_fd)
{
  cleanup_free char *mp = clean_mountpoint (o->mountpoint);
  cleanup_free char *log = o->log_file ? sp_xstrdup (o->log_file) : sp_xasprintf ("%s.log", mp);
  sp_error_t err = NULL;
  int fd;

  (void) prctl (PR_SET_NAME, CASFS_FUSE_COMM, 0, 0, 0);
  if (chdir ("/") < 0 || (fd = open ("/dev/null", O_RDWR | O_CLOEXEC)) < 0 || dup2 (fd, 0) < 0 || dup2 (fd, 1) < 0)
    {
      signal_ready (ready_fd, "cannot redirect the daemon's standard input");
      _exit (1);
    }
  close (fd);
  fd = open (log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || dup2 (fd, 2) < 0)
    {
      cleanup_free char *msg = sp_xasprintf ("open log `%s`: %s", log, strerror (errno));
      signal_ready (ready_fd, msg);
      _exit (1);
    }
  close (fd);
  /* Timestamped lines in the log file; libfuse's own messages go to fd 2. */
  if (sp_log_open (log, SP_LOG_TEXT, &err) == 0)
    sp_log_set_stderr (false);
  else
    sp_error_release (&err);
  if (serve (o, ready_fd, &err) < 0)
    {
      signal_ready (ready_fd, err->msg);
      sp_log_error_release (&err);
      _exit (1);
    }
  _exit (0);
}

/* The daemon runs in "/": make every path absolute first. */
static char *
absolute (const char *path)
{
  char cwd[PATH_MAX];
  if (path == NULL || path[0] == '/' || getcwd (cwd, sizeof cwd) == NULL)
    return path ? sp_xstrdup (path) : NULL;
  return sp_xasprintf ("%s/%s", cwd, path);
}

int
casfs_fuse_mount (const struct casfs_fuse_options *opts, sp_error_t *err)
{
  cleanup_free char *msg = NULL;
  cleanup_free char *store = absolute (opts->store);
  cleanup_free char *mountpoint = absolute (opts->mountpoint);
  cleanup_free char *pid_file = absolute (opts->pid_file);
  cleanup_free char *log_file = absolute (opts->log_file);
  struct casfs_fuse_options abs = *opts;
  const struct casfs_fuse_options *o = &abs;
  int pipefd[2];
  pid_t child;
  int status;

  abs.store = store;
  abs.mountpoint = mountpoint;
  abs.pid_file = pid_file;
  abs.log_file = log_file;
  if (o->foreground)
    return serve (o, -1, err);
  if (pipe2 (pipefd, O_CLOEXEC) < 0)
    return sp_error_errno (err, "pipe");
  child = fork ();
  if (child < 0)
    {
      close (pipefd[0]);
      close (pipefd[1]);
      return sp_error_errno (err, "fork");
    }
  if (child == 0)
    {
      /* Detach from the caller's session and process tree (double fork). */
      close (pipefd[0]);
      /* The caller's --log fd may be 3 or get closed below: not ours any more. */
      sp_log_forget ();
      if (dup2 (pipefd[1], 3) < 0 || sp_close_fds_from (4, NULL) < 0 || setsid () < 0)
        _exit (1);
      child = fork ();
      if (child < 0)
        _exit (1);
      if (child > 0)
        _exit (0);
      run_daemon (o, 3);
    }
  close (pipefd[1]);
  while (waitpid (child, &status, 0) < 0 && errno == EINTR)
    ;
  if (sp_read_fd (pipefd[0], &msg, NULL, err) < 0)
    {
      close (pipefd[0]);
      return sp_error_wrap (err, "wait for the casfs daemon");
    }
  close (pipefd[0]);
  if (strcmp (msg, "OK") == 0)
    return 0;
  return sp_error_make (err, 0, "casfs daemon for `%s`: %s", opts->mountpoint,
                        *msg ? msg : "exited before the mount was ready");
}

int
casfs_fuse_ensure_running (const char *store, const char *mountpoint, sp_error_t *err)
{
  cleanup_free char *mp = clean_mountpoint (mountpoint);
  cleanup_free char *parent = sp_xstrdup (mp);
  cleanup_free char *lockpath = sp_xasprintf ("%s.lock", mp);
  cleanup_close int lock = -1;
  struct casfs_fuse_options o = { .store = store, .mountpoint = mp };
  struct sp_settings conf;
  sp_error_t conf_err = NULL;
  int state;

  if (sp_mkdir_p (dirname (parent), 0755, err) < 0)
    return -1;
  lock = open (lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0)
    return sp_error_errno (err, "open `%s`", lockpath);
  while (flock (lock, LOCK_EX) < 0)
    if (errno != EINTR)
      return sp_error_errno (err, "lock `%s`", lockpath);
  state = casfs_fuse_probe (store, mp, err);
  if (state < 0)
    return -1;
  if (state == CASFS_FUSE_LIVE)
    return 0;
  /* Only a daemon being started needs samepage.conf's casfs_io_uring. */
  if (sp_settings_load (NULL, &conf, &conf_err) == 0)
    {
      (void) casfs_uring_mode_parse (conf.casfs_io_uring, &o.io_uring);
      sp_settings_clear (&conf);
    }
  else
    sp_error_release (&conf_err); /* the runtime has reported it already */
  /* A dead mount is detached by the new daemon itself. */
  if (casfs_fuse_mount (&o, err) < 0)
    return sp_error_wrap (err, "start casfs for store `%s`", store);
  return 0;
}
