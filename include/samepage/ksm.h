/* KSM (kernel samepage merging) for containers: which anonymous memory of a
 * container the kernel may merge, and what it saved (see docs/ksm.md).
 *
 * Modes, chosen per container by the annotation `org.samepage.ksm` or by the
 * `ksm` key of samepage.conf:
 *   off        nothing is marked (the default)
 *   merge-any  prctl(PR_SET_MEMORY_MERGE) in the container init before execve:
 *              every anonymous page of the process tree is a candidate
 *   heap       libsamepage-ksm.so (LD_PRELOAD) marks malloc heaps and large
 *              anonymous mmaps MADV_MERGEABLE; needs a glibc userland
 * `org.samepage.ksm.aslr=off` also disables address space randomisation, so
 * that identical programs lay their heaps out identically (a security cost). */
#ifndef SAMEPAGE_KSM_H
#define SAMEPAGE_KSM_H

#include <samepage/container.h>
#include <samepage/error.h>
#include <samepage/oci_config.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SP_KSM_ANNOTATION "org.samepage.ksm"
#define SP_KSM_ASLR_ANNOTATION "org.samepage.ksm.aslr"
/* Where the preload library appears inside containers.  Runtimes create
 * mount targets, so the path need not exist in the image. */
#define SP_KSM_PRELOAD_DEST "/run/samepage/libsamepage-ksm.so"
#define SP_KSM_PRELOAD_NAME "libsamepage-ksm.so"
/* The runtime's configuration file; $SAMEPAGE_CONF overrides the path. */
#define SP_CONF_PATH "/etc/samepage/samepage.conf"
#define SP_KSM_SYSFS "/sys/kernel/mm/ksm"

enum sp_ksm_mode
{
  SP_KSM_OFF,
  SP_KSM_MERGE_ANY,
  SP_KSM_HEAP,
};
/* "off", "merge-any", "heap", indexed by enum sp_ksm_mode. */
extern const char *const sp_ksm_mode_names[];

/* false when s is not a mode name. */
bool sp_ksm_mode_parse (const char *s, enum sp_ksm_mode *out);

/* The KSM keys of samepage.conf (`key = value` lines, `#` comments; other
 * keys belong to other modules and are skipped). */
struct sp_ksm_conf
{
  enum sp_ksm_mode mode; /* key `ksm`, default off */
  char *preload; /* key `ksm_preload`, default SAMEPAGE_LIBDIR/libsamepage-ksm.so */
};
/* path NULL: $SAMEPAGE_CONF or SP_CONF_PATH.  A missing file gives the
 * defaults; a bad value fails with `FILE:LINE: ksm: ...`. */
int sp_ksm_conf_load (const char *path, struct sp_ksm_conf *out, sp_error_t *err);
void sp_ksm_conf_clear (struct sp_ksm_conf *c);

/* Whether a glibc dynamic loader (lib*, usr/lib*, and their multiarch
 * subdirectories: ld-linux*.so*) exists in the rootfs. */
bool sp_ksm_rootfs_has_glibc (const char *rootfs);

/* LD_PRELOAD value with lib first and the existing entries kept (caller
 * frees); an existing value that already names lib is returned unchanged. */
char *sp_ksm_ld_preload_join (const char *existing, const char *lib);

/* Called by `create` before setup.  Resolves the mode (annotation, else the
 * samepage.conf default) and records it in the annotation, so the container
 * init and `samepage ksm status` see the effective mode.  For `heap` it adds a
 * read-only bind mount of the preload library at SP_KSM_PRELOAD_DEST and
 * LD_PRELOAD (+ SAMEPAGE_KSM_MODE) to process.env; a rootfs without a glibc
 * loader (musl, static) keeps its config and gets a warning.  merge-any on a
 * kernel without PR_SET_MEMORY_MERGE warns and falls back to off.  Fails only
 * on a bad annotation value.  A relative root.path is taken from the current
 * directory; sp_ksm_prepare_config_at() takes it from the bundle. */
int sp_ksm_prepare_config (struct oci_config *c, sp_error_t *err);
int sp_ksm_prepare_config_at (struct oci_config *c, const char *bundle, sp_error_t *err);
/* The same with the configuration given (tests, samepage-hook). */
int sp_ksm_prepare_config_with (struct oci_config *c, const char *rootfs, const struct sp_ksm_conf *conf,
                                sp_error_t *err);

/* Called in the container init (and exec'd processes) just before execve:
 * merge-any -> prctl(PR_SET_MEMORY_MERGE, 1), warning when the kernel lacks
 * it; aslr=off -> personality(ADDR_NO_RANDOMIZE).  Returns < 0 only when the
 * requested ASLR change fails. */
int sp_ksm_before_exec (const struct oci_config *c, sp_error_t *err);

/* ---- reporting and tuning (shim/ksm_report.c) ---- */

/* /proc/PID/ksm_stat (Linux 6.1+; fields added up to 6.10). */
struct sp_ksm_proc_stat
{
  pid_t pid;
  long long rmap_items;
  long long zero_pages;
  long long merging_pages;
  long long process_profit; /* bytes, may be negative */
  bool merge_any; /* PR_SET_MEMORY_MERGE in effect */
  bool mergeable; /* has VM_MERGEABLE areas */
};
int sp_ksm_proc_stat_parse (const char *text, struct sp_ksm_proc_stat *out, sp_error_t *err);
int sp_ksm_proc_stat_read (pid_t pid, struct sp_ksm_proc_stat *out, sp_error_t *err);

/* Host totals from SP_KSM_SYSFS; absent files read as -1. */
struct sp_ksm_host
{
  long long run;
  long long pages_to_scan;
  long long sleep_millisecs;
  long long pages_shared;
  long long pages_sharing;
  long long pages_unshared;
  long long pages_volatile;
  long long full_scans;
  long long general_profit; /* bytes */
  long long ksm_zero_pages;
  char advisor_mode[16]; /* "none", "scan-time", or "" when absent */
  pid_t ksmd_pid; /* 0 when not found */
  double ksmd_cpu_seconds; /* utime + stime of ksmd */
};
/* sysdir NULL: SP_KSM_SYSFS.  Fails with ENOENT when KSM is not built in. */
int sp_ksm_host_read (const char *sysdir, struct sp_ksm_host *out, sp_error_t *err);
/* CPU seconds (utime + stime) from a /proc/PID/stat text. */
int sp_proc_stat_cpu_seconds (const char *text, double *out, sp_error_t *err);

/* Knobs for `samepage ksm tune`; < 0 (or NULL) leaves a knob as it is. */
struct sp_ksm_tune
{
  long long pages_to_scan;
  long long sleep_millisecs;
  long long run; /* 0 stop, 1 run, 2 stop and unmerge everything */
  const char *advisor_mode; /* "none" or "scan-time" */
};
int sp_ksm_tune_apply (const char *sysdir, const struct sp_ksm_tune *t, sp_error_t *err);

/* One container's processes summed. */
struct sp_ksm_container
{
  char *id;
  enum sp_status status;
  char *mode; /* the org.samepage.ksm annotation, or "off" */
  size_t nprocs;
  long long merging_pages;
  long long process_profit;
  bool merge_any; /* any process with PR_SET_MEMORY_MERGE */
  bool mergeable; /* any process with mergeable areas */
};
int sp_ksm_container_report (struct sp_runtime *rt, const char *id, struct sp_ksm_container *out, sp_error_t *err);
void sp_ksm_container_clear (struct sp_ksm_container *c);

#endif
