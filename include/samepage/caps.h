/* Capabilities: process.capabilities applied to the container init with
 * libcap, in two steps around the uid change:
 *
 *   sp_caps_prepare (caps)          still uid 0 in the container
 *   setgroups / setgid / setuid     permitted survives thanks to KEEPCAPS
 *   sp_caps_apply (caps)            exact sets, ambient, KEEPCAPS off
 *   execve
 *
 * A capability the runtime itself does not hold (e.g. outside the host's
 * bounding set) cannot be granted: it is skipped with a warning, as crun
 * does, instead of failing the container.  Names unknown to libcap or to this
 * kernel are warned about and ignored, like runc; malformed names are errors. */
#ifndef SAMEPAGE_CAPS_H
#define SAMEPAGE_CAPS_H

#include <samepage/error.h>
#include <samepage/oci_config.h>
#include <stdint.h>

/* Every capability name libcap knows and this kernel supports ("CAP_CHOWN",
 * ...), NULL-terminated, in CAP_* number order, for `features`. */
const char *const *sp_caps_known (void);

/* Converts names to a bitmask by CAP_* number (bit n = capability n).
 * names may be NULL (empty set).  Matching is case-insensitive; an entry
 * that is not of the form CAP_[A-Z0-9_]+ is an error naming its index,
 * a well-formed but unknown one a warning. */
int sp_caps_parse_names (char *const *names, uint64_t *mask, sp_error_t *err);

/* Step 1: drops from the bounding set everything not in c->bounding
 * (PR_CAPBSET_DROP; needs CAP_SETPCAP) and sets PR_SET_KEEPCAPS so the
 * permitted set survives setuid.  c == NULL leaves capabilities untouched. */
int sp_caps_prepare (const struct oci_capabilities *c, sp_error_t *err);

/* Step 2, after setgroups/setgid/setuid: sets effective, permitted and
 * inheritable exactly (capset), then the ambient set (clear all, raise each),
 * then clears KEEPCAPS.  A NULL set means empty; c == NULL leaves the
 * capability sets untouched (only KEEPCAPS is cleared). */
int sp_caps_apply (const struct oci_capabilities *c, sp_error_t *err);

#endif
