/* The runtime's half of a casfs rootfs: see shim/casfs_rootfs.h. */
#include "casfs_rootfs.h"

#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/settings.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

/* The super options of the overlay mounted at `path`, or NULL. */
static char *
overlay_options_at (const char *path)
{
  cleanup_file FILE *f = fopen ("/proc/self/mountinfo", "re");
  cleanup_free char *line = NULL;
  char *found = NULL;
  size_t cap = 0;

  if (f == NULL)
    return NULL;
  while (getline (&line, &cap, f) > 0)
    {
      char mp[4096], fstype[64];
      char *dash = strstr (line, " - "), *opts, *nl;
      if (dash == NULL || sscanf (line, "%*d %*d %*s %*s %4095s", mp) != 1)
        continue;
      sp_unescape_octal (mp);
      if (strcmp (mp, path) != 0 || sscanf (dash + 3, "%63s", fstype) != 1 || strcmp (fstype, "overlay") != 0)
        continue;
      /* " - overlay SOURCE OPTIONS" */
      opts = strchr (dash + 3, ' ');
      opts = opts ? strchr (opts + 1, ' ') : NULL;
      if (opts == NULL)
        continue;
      opts++;
      if ((nl = strchr (opts, '\n')))
        *nl = '\0';
      free (found);
      found = sp_xstrdup (opts); /* the last mount on top wins */
    }
  return found;
}

/* One FUSE view per store: the configured mountpoint for the configured
 * store, a sibling named after the store path for any other. */
static char *
view_for_store (const struct sp_settings *set, const char *store)
{
  unsigned long long h = 1469598103934665603ULL; /* FNV-1a: a name, not a security boundary */
  if (strcmp (store, set->store) == 0)
    return sp_xstrdup (set->casfs_mountpoint);
  for (const char *p = store; *p; p++)
    h = (h ^ (unsigned char) *p) * 1099511628211ULL;
  return sp_xasprintf ("%s-%016llx", set->casfs_mountpoint, h);
}

/* The casfs binary beside ours, else the one in PATH. */
static char *
casfs_binary (void)
{
  char self[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
  if (n > 0)
    {
      char *slash;
      self[n] = '\0';
      slash = strrchr (self, '/');
      if (slash)
        {
          char *cand;
          *slash = '\0';
          cand = sp_xasprintf ("%s/casfs", self);
          if (access (cand, X_OK) == 0)
            return cand;
          free (cand);
        }
    }
  return sp_xstrdup ("casfs");
}

/* Runs casfs with argv, input on its stdin; collects stdout, and stderr's
 * last line into the error on failure. */
static int
run_casfs (char **argv, const char *input, char **out, sp_error_t *err)
{
  int in[2] = { -1, -1 }, o[2] = { -1, -1 }, e[2] = { -1, -1 };
  cleanup_free char *bin = casfs_binary ();
  cleanup_free char *errtext = NULL;
  pid_t pid;
  int status;

  if (pipe2 (in, O_CLOEXEC) < 0 || pipe2 (o, O_CLOEXEC) < 0 || pipe2 (e, O_CLOEXEC) < 0
      || (pid = fork ()) < 0)
    {
      int saved = errno;
      for (int i = 0; i < 2; i++)
        {
          sp_closep (&in[i]);
          sp_closep (&o[i]);
          sp_closep (&e[i]);
        }
      return sp_error_make (err, saved, "start casfs");
    }
  if (pid == 0)
    {
      sp_log_forget ();
      if (dup2 (in[0], 0) < 0 || dup2 (o[1], 1) < 0 || dup2 (e[1], 2) < 0)
        _exit (127);
      argv[0] = bin;
      execvp (bin, argv);
      fprintf (stderr, "casfs: cannot run `%s`: %s\n", bin, strerror (errno));
      _exit (127);
    }
  close (in[0]);
  close (o[1]);
  close (e[1]);
  signal (SIGPIPE, SIG_IGN);
  if (input)
    (void) sp_write_all (in[1], input, strlen (input));
  close (in[1]);
  /* casfs writes little: read stdout fully, then stderr. */
  if (sp_read_fd (o[0], out, NULL, err) < 0 || sp_read_fd (e[0], &errtext, NULL, err) < 0)
    {
      close (o[0]);
      close (e[0]);
      waitpid (pid, NULL, 0);
      return -1;
    }
  close (o[0]);
  close (e[0]);
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return sp_error_errno (err, "wait for casfs");
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return 0;
  {
    size_t l = strlen (errtext);
    while (l && errtext[l - 1] == '\n')
      errtext[--l] = '\0';
    char *last = strrchr (errtext, '\n');
    const char *msg = last ? last + 1 : errtext;
    if (sp_str_has_prefix (msg, "casfs: "))
      msg += 7;
    return sp_error_make (err, 0, "%s", *msg ? msg : "casfs failed");
  }
}

int
sp_casfs_prepare (struct sp_runtime *rt, const char *id, struct oci_config *c, const char *bundle,
                  const char *rootfs, struct sp_casfs_plan *plan, sp_error_t *err)
{
  const char *tree = oci_config_annotation (c, SP_CASFS_TREE_ANNOTATION);
  const char *store_ann = oci_config_annotation (c, SP_CASFS_STORE_ANNOTATION);
  const char *sw = oci_config_annotation (c, SP_CASFS_SWITCH_ANNOTATION);
  cleanup_free char *engine_opts = NULL;
  cleanup_free char *view = NULL;
  cleanup_free char *out = NULL;
  struct sp_settings set = { 0 };
  const char *store;
  char *argv[16];
  int n = 0, ret = -1;
  unsigned long long t0 = sp_now_ns ();

  (void) rt;
  memset (plan, 0, sizeof *plan);
  if (sw && strcmp (sw, "off") == 0)
    return 0;
  if (tree == NULL && (engine_opts = overlay_options_at (rootfs)) == NULL)
    return 0; /* an ordinary rootfs */
  if (sp_settings_load (NULL, &set, err) < 0)
    return -1;
  if (tree == NULL && !set.casfs && !(sw && strcmp (sw, "on") == 0))
    {
      sp_settings_clear (&set);
      return 0;
    }
  store = store_ann ? store_ann : set.store;
  view = view_for_store (&set, store);
  argv[n++] = (char *) "casfs";
  argv[n++] = (char *) "--store";
  argv[n++] = (char *) store;
  argv[n++] = (char *) "runtime-prepare";
  argv[n++] = (char *) "--id";
  argv[n++] = (char *) id;
  argv[n++] = (char *) "--view";
  argv[n++] = view;
  if (tree)
    {
      argv[n++] = (char *) "--tree";
      argv[n++] = (char *) tree;
      argv[n++] = (char *) "--bundle";
      argv[n++] = (char *) bundle;
    }
  else
    {
      argv[n++] = (char *) "--rootfs";
      argv[n++] = (char *) rootfs;
      argv[n++] = (char *) "--engine-options";
      argv[n++] = engine_opts;
    }
  argv[n] = NULL;
  if (run_casfs (argv, NULL, &out, err) == 0 && sp_casfs_plan_parse (out, plan, err) == 0)
    {
      sp_debug ("casfs rootfs for `%s` ready in %.1f ms", id, (double) (sp_now_ns () - t0) / 1e6);
      ret = 0;
    }
  else if (tree == NULL)
    {
      /* Deduplication is an optimisation, never a new way to fail. */
      sp_warn ("casfs: container `%s` runs on the engine's rootfs: %s", id, (*err)->msg);
      sp_error_release (err);
      sp_casfs_plan_clear (plan);
      ret = 0;
    }
  else
    sp_error_wrap (err, "casfs rootfs of tree `%s`", tree);
  sp_settings_clear (&set);
  return ret;
}

int
sp_casfs_mount_layer_b (const struct sp_casfs_plan *plan, const char *rootfs, sp_error_t *err)
{
  cleanup_free char *opts = NULL;
  if (!plan->active)
    return 0;
  opts = sp_xasprintf ("lowerdir=%s,upperdir=%s,workdir=%s", plan->layer_a, plan->upper, plan->work);
  if (mount ("overlay", rootfs, "overlay", 0, opts) < 0)
    return sp_error_errno (err, "mount layer B (overlay -o %s) on `%s`", opts, rootfs);
  return 0;
}

int
sp_casfs_release (const char *id, const struct sp_casfs_plan *plan, sp_error_t *err)
{
  cleanup_free char *text = NULL;
  cleanup_free char *out = NULL;
  char *argv[] = { (char *) "casfs", (char *) "runtime-release", (char *) id, NULL };

  if (!plan->active)
    return 0;
  text = sp_casfs_plan_serialize (plan);
  return run_casfs (argv, text, &out, err);
}

int
sp_casfs_warm (const char *store, char **dirs, sp_error_t *err)
{
  cleanup_free char *bin = casfs_binary ();
  size_t n = sp_strv_len (dirs);
  char **argv = sp_xmalloc0 ((n + 5) * sizeof (char *));
  size_t k = 0;

  argv[k++] = bin;
  argv[k++] = (char *) "--store";
  argv[k++] = (char *) store;
  argv[k++] = (char *) "runtime-warm";
  for (size_t i = 0; i < n; i++)
    argv[k++] = dirs[i];
  fflush (stdout);
  execvp (bin, argv);
  free (argv);
  return sp_error_errno (err, "run `%s`", bin);
}
