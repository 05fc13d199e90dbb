/* samepage ksm status [--json] [ID] | ksm tune [--pages-to-scan N] [--sleep-millisecs N]
 *                                         [--advisor scan-time|none] [--run 0|1|2] */
#include "verbs.h"

#include <samepage/cleanup.h>
#include <samepage/ksm.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
print_host_json (const struct sp_ksm_host *h)
{
  printf ("\"host\":{\"run\":%lld,\"pages_to_scan\":%lld,\"sleep_millisecs\":%lld,\"advisor_mode\":\"%s\","
          "\"pages_shared\":%lld,\"pages_sharing\":%lld,\"pages_unshared\":%lld,\"pages_volatile\":%lld,"
          "\"full_scans\":%lld,\"general_profit\":%lld,\"ksm_zero_pages\":%lld,\"ksmd_pid\":%d,"
          "\"ksmd_cpu_seconds\":%.2f}",
          h->run, h->pages_to_scan, h->sleep_millisecs, h->advisor_mode, h->pages_shared, h->pages_sharing,
          h->pages_unshared, h->pages_volatile, h->full_scans, h->general_profit, h->ksm_zero_pages, h->ksmd_pid,
          h->ksmd_cpu_seconds);
}

static void
print_host_text (const struct sp_ksm_host *h)
{
  long ps = sysconf (_SC_PAGESIZE);
  printf ("host: run=%lld pages_to_scan=%lld sleep_millisecs=%lld advisor=%s\n", h->run, h->pages_to_scan,
          h->sleep_millisecs, h->advisor_mode[0] ? h->advisor_mode : "-");
  printf ("host: pages_shared=%lld pages_sharing=%lld (%.1f MiB saved) full_scans=%lld general_profit=%.1f MiB "
          "ksmd_cpu=%.2fs\n",
          h->pages_shared, h->pages_sharing, (double) h->pages_sharing * (double) ps / 1048576.0, h->full_scans,
          (double) h->general_profit / 1048576.0, h->ksmd_cpu_seconds);
}

static int
ksm_status (struct sp_runtime *rt, int argc, char **argv)
{
  static const struct option opts[] = {
    { "json", no_argument, NULL, 'j' },
    { NULL, 0, NULL, 0 },
  };
  struct sp_container_summary *list = NULL;
  struct sp_ksm_container *rows = NULL;
  struct sp_ksm_host host;
  size_t n = 0;
  bool json = false;
  sp_error_t err = NULL;
  int c, ret = 1;

  while ((c = getopt_long_only (argc, argv, "+", opts, NULL)) != -1)
    if (c == 'j')
      json = true;
    else
      return sp_usage_error ("ksm", "status: unknown option `%s`", argv[optind - 1]);
  if (argc - optind > 1)
    return sp_usage_error ("ksm", "status: at most one container ID");
  if (sp_ksm_host_read (NULL, &host, &err) < 0)
    return sp_fail (&err);

  if (optind < argc)
    {
      rows = sp_xmalloc0 (sizeof *rows);
      if (sp_ksm_container_report (rt, argv[optind], &rows[0], &err) < 0)
        {
          free (rows);
          return sp_fail (&err);
        }
      n = 1;
    }
  else
    {
      if (sp_container_list (rt, &list, &n, &err) < 0)
        return sp_fail (&err);
      rows = sp_xmalloc0 ((n ? n : 1) * sizeof *rows);
      for (size_t i = 0; i < n; i++)
        if (sp_ksm_container_report (rt, list[i].id, &rows[i], &err) < 0)
          {
            /* Deleted since the listing: report the others. */
            sp_debug ("ksm status: %s", err->msg);
            sp_error_release (&err);
            rows[i].id = sp_xstrdup (list[i].id);
            rows[i].mode = sp_xstrdup ("?");
            rows[i].status = SP_STATUS_STOPPED;
          }
      sp_container_summaries_free (list, n);
    }

  if (json)
    {
      printf ("{");
      print_host_json (&host);
      printf (",\"containers\":[");
      for (size_t i = 0; i < n; i++)
        {
          cleanup_free char *id = sp_json_escape (rows[i].id);
          cleanup_free char *mode = sp_json_escape (rows[i].mode);
          printf ("%s{\"id\":\"%s\",\"status\":\"%s\",\"mode\":\"%s\",\"processes\":%zu,\"ksm_merging_pages\":%lld,"
                  "\"ksm_process_profit\":%lld,\"merge_any\":%s,\"mergeable\":%s}",
                  i ? "," : "", id, sp_status_names[rows[i].status], mode, rows[i].nprocs, rows[i].merging_pages,
                  rows[i].process_profit, rows[i].merge_any ? "true" : "false",
                  rows[i].mergeable ? "true" : "false");
        }
      printf ("]}\n");
    }
  else
    {
      printf ("%-24s %-9s %-9s %5s %14s %12s\n", "CONTAINER", "STATUS", "MODE", "PROCS", "MERGING_PAGES",
              "PROFIT_MIB");
      for (size_t i = 0; i < n; i++)
        printf ("%-24s %-9s %-9s %5zu %14lld %12.1f\n", rows[i].id, sp_status_names[rows[i].status], rows[i].mode,
                rows[i].nprocs, rows[i].merging_pages, (double) rows[i].process_profit / 1048576.0);
      print_host_text (&host);
    }
  ret = 0;
  for (size_t i = 0; i < n; i++)
    sp_ksm_container_clear (&rows[i]);
  free (rows);
  return ret;
}

static bool
parse_knob (const char *opt, const char *s, long long max, long long *out)
{
  unsigned long long v;
  if (!sp_parse_u64 (s, &v) || v > (unsigned long long) max)
    {
      sp_usage_error ("ksm", "tune: %s: `%s` is not a number from 0 to %lld", opt, s, max);
      return false;
    }
  *out = (long long) v;
  return true;
}

static int
ksm_tune (int argc, char **argv)
{
  static const struct option opts[] = {
    { "pages-to-scan", required_argument, NULL, 'p' },
    { "sleep-millisecs", required_argument, NULL, 's' },
    { "advisor", required_argument, NULL, 'a' },
    { "run", required_argument, NULL, 'r' },
    { NULL, 0, NULL, 0 },
  };
  struct sp_ksm_tune t = { .pages_to_scan = -1, .sleep_millisecs = -1, .run = -1 };
  sp_error_t err = NULL;
  bool any = false;
  int c;

  while ((c = getopt_long_only (argc, argv, "+", opts, NULL)) != -1)
    {
      any = true;
      switch (c)
        {
        case 'p':
          if (!parse_knob ("--pages-to-scan", optarg, 100000000, &t.pages_to_scan))
            return 1;
          break;
        case 's':
          if (!parse_knob ("--sleep-millisecs", optarg, 3600000, &t.sleep_millisecs))
            return 1;
          break;
        case 'r':
          if (!parse_knob ("--run", optarg, 2, &t.run))
            return 1;
          break;
        case 'a':
          if (strcmp (optarg, "none") != 0 && strcmp (optarg, "scan-time") != 0)
            return sp_usage_error ("ksm", "tune: --advisor: `%s` is not scan-time or none", optarg);
          t.advisor_mode = optarg;
          break;
        default:
          return sp_usage_error ("ksm", "tune: unknown option `%s`", argv[optind - 1]);
        }
    }
  if (!any || optind != argc)
    return sp_usage_error ("ksm", "tune: give at least one knob and no other arguments");
  if (sp_ksm_tune_apply (NULL, &t, &err) < 0)
    return sp_fail (&err);
  return 0;
}

int
cmd_ksm (struct sp_runtime *rt, int argc, char **argv)
{
  if (argc < 2)
    return sp_usage_error ("ksm", "want a subcommand: status or tune");
  if (strcmp (argv[1], "status") == 0)
    return ksm_status (rt, argc - 1, argv + 1);
  if (strcmp (argv[1], "tune") == 0)
    return ksm_tune (argc - 1, argv + 1);
  return sp_usage_error ("ksm", "unknown subcommand `%s` (status or tune)", argv[1]);
}
