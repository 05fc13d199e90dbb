/* What KSM merged: per process (/proc/PID/ksm_stat), per container (its
 * cgroup's processes), and for the host (/sys/kernel/mm/ksm, ksmd's CPU);
 * and the knobs `samepage ksm tune` writes. */
#include "state.h"

#include <samepage/cleanup.h>
#include <samepage/ksm.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
sp_ksm_proc_stat_parse (const char *text, struct sp_ksm_proc_stat *out, sp_error_t *err)
{
  const char *line = text;
  bool any = false;

  memset (out, 0, sizeof *out);
  while (line && *line)
    {
      const char *nl = strchr (line, '\n');
      size_t len = nl ? (size_t) (nl - line) : strlen (line);
      char buf[128], key[64], val[64];
      if (len >= sizeof buf)
        return sp_error_make (err, 0, "ksm_stat: line too long");
      memcpy (buf, line, len);
      buf[len] = '\0';
      line = nl ? nl + 1 : NULL;
      if (len == 0)
        continue;
      /* "ksm_merging_pages 12" or "ksm_merge_any: yes" */
      if (sscanf (buf, "%63[^: ]%*[: ]%63s", key, val) != 2)
        return sp_error_make (err, 0, "ksm_stat: unexpected line `%s`", buf);
      any = true;
      if (strcmp (key, "ksm_merge_any") == 0)
        out->merge_any = strcmp (val, "yes") == 0;
      else if (strcmp (key, "ksm_mergeable") == 0)
        out->mergeable = strcmp (val, "yes") == 0;
      else
        {
          long long *dst = NULL;
          char *end;
          long long v;
          if (strcmp (key, "ksm_rmap_items") == 0)
            dst = &out->rmap_items;
          else if (strcmp (key, "ksm_zero_pages") == 0)
            dst = &out->zero_pages;
          else if (strcmp (key, "ksm_merging_pages") == 0)
            dst = &out->merging_pages;
          else if (strcmp (key, "ksm_process_profit") == 0)
            dst = &out->process_profit;
          else
            continue; /* fields of newer kernels */
          errno = 0;
          v = strtoll (val, &end, 10);
          if (errno || *end)
            return sp_error_make (err, 0, "ksm_stat: %s: `%s` is not a number", key, val);
          *dst = v;
        }
    }
  if (!any)
    return sp_error_make (err, 0, "ksm_stat: empty");
  return 0;
}

int
sp_ksm_proc_stat_read (pid_t pid, struct sp_ksm_proc_stat *out, sp_error_t *err)
{
  char path[64];
  cleanup_free char *text = NULL;

  snprintf (path, sizeof path, "/proc/%d/ksm_stat", pid);
  if (sp_read_file (path, &text, NULL, err) < 0)
    return -1;
  if (sp_ksm_proc_stat_parse (text, out, err) < 0)
    return sp_error_wrap (err, "%s", path);
  out->pid = pid;
  return 0;
}

int
sp_proc_stat_cpu_seconds (const char *text, double *out, sp_error_t *err)
{
  /* The command name may hold spaces and parentheses: fields start after
   * the last ')'.  utime and stime are fields 14 and 15. */
  const char *p = strrchr (text, ')');
  unsigned long long utime, stime;
  long hz = sysconf (_SC_CLK_TCK);

  if (p == NULL
      || sscanf (p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return sp_error_make (err, 0, "stat: cannot find utime and stime");
  *out = (double) (utime + stime) / (double) (hz > 0 ? hz : 100);
  return 0;
}

/* ksmd is a kernel thread: child of kthreadd (pid 2), named "ksmd". */
static pid_t
find_ksmd (void)
{
  cleanup_dir DIR *d = opendir ("/proc");
  struct dirent *de;
  if (d == NULL)
    return 0;
  while ((de = readdir (d)))
    {
      char path[300];
      char comm[32] = "";
      long pid;
      cleanup_file FILE *f = NULL;
      if (!sp_parse_long (de->d_name, &pid))
        continue;
      snprintf (path, sizeof path, "/proc/%ld/comm", pid);
      f = fopen (path, "re");
      if (f && fgets (comm, sizeof comm, f) && strcmp (comm, "ksmd\n") == 0)
        return (pid_t) pid;
    }
  return 0;
}

static long long
read_knob (const char *dir, const char *name)
{
  cleanup_free char *path = sp_xasprintf ("%s/%s", dir, name);
  cleanup_free char *text = NULL;
  sp_error_t err = NULL;
  long long v;
  char *end;

  if (sp_read_file (path, &text, NULL, &err) < 0)
    {
      sp_error_release (&err);
      return -1;
    }
  errno = 0;
  v = strtoll (text, &end, 10);
  if (errno || end == text)
    return -1;
  return v;
}

int
sp_ksm_host_read (const char *sysdir, struct sp_ksm_host *out, sp_error_t *err)
{
  const char *dir = sysdir ? sysdir : SP_KSM_SYSFS;
  cleanup_free char *advisor_path = sp_xasprintf ("%s/advisor_mode", dir);
  cleanup_free char *advisor = NULL;
  static const struct
  {
    const char *name;
    size_t off;
  } knobs[] = {
#define K(n) { #n, offsetof (struct sp_ksm_host, n) }
    K (run),           K (pages_to_scan),  K (sleep_millisecs), K (pages_shared),   K (pages_sharing),
    K (pages_unshared), K (pages_volatile), K (full_scans),      K (general_profit), K (ksm_zero_pages),
#undef K
  };

  memset (out, 0, sizeof *out);
  if (access (dir, F_OK) < 0)
    return sp_error_errno (err, "`%s` (kernel without CONFIG_KSM?)", dir);
  for (size_t i = 0; i < SP_ARRAY_SIZE (knobs); i++)
    *(long long *) ((char *) out + knobs[i].off) = read_knob (dir, knobs[i].name);
  /* "[none] scan-time": the bracketed word is the current mode. */
  if (sp_read_file (advisor_path, &advisor, NULL, err) == 0)
    {
      char *open = strchr (advisor, '['), *close = open ? strchr (open, ']') : NULL;
      if (open && close && (size_t) (close - open - 1) < sizeof out->advisor_mode)
        memcpy (out->advisor_mode, open + 1, (size_t) (close - open - 1));
    }
  else
    sp_error_release (err);
  if (sysdir == NULL && (out->ksmd_pid = find_ksmd ()) > 0)
    {
      char path[64];
      cleanup_free char *stat = NULL;
      snprintf (path, sizeof path, "/proc/%d/stat", out->ksmd_pid);
      if (sp_read_file (path, &stat, NULL, err) < 0 || sp_proc_stat_cpu_seconds (stat, &out->ksmd_cpu_seconds, err) < 0)
        return sp_error_wrap (err, "ksmd");
    }
  return 0;
}

static int
write_knob (const char *dir, const char *name, const char *value, sp_error_t *err)
{
  cleanup_free char *path = sp_xasprintf ("%s/%s", dir, name);
  if (sp_write_file (path, value, strlen (value), 0644, err) < 0)
    return sp_error_wrap (err, "ksm tune: %s=%s", name, value);
  return 0;
}

int
sp_ksm_tune_apply (const char *sysdir, const struct sp_ksm_tune *t, sp_error_t *err)
{
  const char *dir = sysdir ? sysdir : SP_KSM_SYSFS;
  char buf[32];

  if (access (dir, F_OK) < 0)
    return sp_error_errno (err, "`%s` (kernel without CONFIG_KSM?)", dir);
  if (t->advisor_mode && strcmp (t->advisor_mode, "none") != 0 && strcmp (t->advisor_mode, "scan-time") != 0)
    return sp_error_make (err, 0, "ksm tune: --advisor: `%s` is not none or scan-time", t->advisor_mode);
  if (t->run > 2)
    return sp_error_make (err, 0, "ksm tune: --run: %lld is not 0, 1 or 2", t->run);
  /* The kernel refuses pages_to_scan while the advisor sets it: switch the
   * advisor off first, on last. */
  if (t->advisor_mode && strcmp (t->advisor_mode, "none") == 0 && write_knob (dir, "advisor_mode", "none", err) < 0)
    return -1;
  if (t->pages_to_scan >= 0)
    {
      snprintf (buf, sizeof buf, "%lld", t->pages_to_scan);
      if (write_knob (dir, "pages_to_scan", buf, err) < 0)
        return -1;
    }
  if (t->sleep_millisecs >= 0)
    {
      snprintf (buf, sizeof buf, "%lld", t->sleep_millisecs);
      if (write_knob (dir, "sleep_millisecs", buf, err) < 0)
        return -1;
    }
  if (t->advisor_mode && strcmp (t->advisor_mode, "scan-time") == 0
      && write_knob (dir, "advisor_mode", "scan-time", err) < 0)
    return -1;
  if (t->run >= 0)
    {
      snprintf (buf, sizeof buf, "%lld", t->run);
      if (write_knob (dir, "run", buf, err) < 0)
        return -1;
    }
  return 0;
}

void
sp_ksm_container_clear (struct sp_ksm_container *c)
{
  free (c->id);
  free (c->mode);
  memset (c, 0, sizeof *c);
}

int
sp_ksm_container_report (struct sp_runtime *rt, const char *id, struct sp_ksm_container *out, sp_error_t *err)
{
  cleanup_state struct sp_state *st = NULL;
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;

  memset (out, 0, sizeof *out);
  if (sp_state_load (rt, id, &st, err) < 0)
    return -1;
  out->id = sp_xstrdup (id);
  out->status = sp_state_status (rt, st);
  for (char **a = st->annotations; a && a[0] && a[1]; a += 2)
    if (strcmp (a[0], SP_KSM_ANNOTATION) == 0)
      {
        free (out->mode);
        out->mode = sp_xstrdup (a[1]);
      }
  if (out->mode == NULL)
    out->mode = sp_xstrdup ("off");
  if (out->status == SP_STATUS_STOPPED)
    return 0;
  if (sp_container_ps (rt, id, &pids, &n, err) < 0)
    {
      sp_ksm_container_clear (out);
      return sp_error_wrap (err, "container `%s`", id);
    }
  for (size_t i = 0; i < n; i++)
    {
      struct sp_ksm_proc_stat ps;
      if (sp_ksm_proc_stat_read (pids[i], &ps, err) < 0)
        {
          /* A process that exited since the cgroup listed it. */
          if ((*err)->status == ENOENT || (*err)->status == ESRCH)
            {
              sp_error_release (err);
              continue;
            }
          sp_ksm_container_clear (out);
          return -1;
        }
      out->nprocs++;
      out->merging_pages += ps.merging_pages;
      out->process_profit += ps.process_profit;
      out->merge_any |= ps.merge_any;
      out->mergeable |= ps.mergeable;
    }
  return 0;
}
