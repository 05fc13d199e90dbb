/* samepage-hook: OCI hooks for engines that run other runtimes (podman with
 * crun or runc).  See docs/samepage-hook.8. */
#ifndef SAMEPAGE_HOOK_H
#define SAMEPAGE_HOOK_H

#include <samepage/error.h>
#include <stdbool.h>
#include <stddef.h>

struct hook_options
{
  const char *library; /* host path of libsamepage-ksm.so */
  const char *destination; /* where it appears in the container */
};

/* precreate: rewrites a runtime config (JSON text) so the container's
 * process runs with the preload library: a read-only bind mount plus
 * LD_PRELOAD and SAMEPAGE_KSM_MODE in process.env.  Every other value is
 * re-emitted as it was (key order, duplicates, numbers digit for digit).
 * *out is NULL when the config needs no change (mode off or absent).
 * Fails (and the caller passes the input through) on invalid configs. */
int hook_ksm_rewrite (const char *json, size_t len, const struct hook_options *o, char **out, size_t *out_len,
                      sp_error_t *err);

#endif
