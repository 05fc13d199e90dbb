/* Capabilities: names -> masks, bounding set, exact sets, ambient (libcap). */
#include <samepage/caps.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#define CAPS_MAX 64 /* our masks are uint64_t */
#define BIT(n) (UINT64_C (1) << (n))

static const char *known_names[CAPS_MAX + 1]; /* dense, NULL-terminated */
/* By number; libcap's name, or "41" for a kernel capability libcap cannot
 * name (so it is still dropped and reported, but never matches a name). */
static const char *name_of[CAPS_MAX];
static int kernel_caps; /* capabilities 0 .. kernel_caps-1 exist on this kernel */
static pthread_once_t known_once = PTHREAD_ONCE_INIT;

static void
fill_known (void)
{
  int max = cap_max_bits (); /* what the running kernel supports */

  if (max > CAPS_MAX)
    max = CAPS_MAX;
  kernel_caps = max;
  for (int i = 0, n = 0; i < max; i++)
    {
      char *name = cap_to_name (i);
      char *upper;

      if (name == NULL || isdigit ((unsigned char) name[0]))
        {
          cap_free (name);
          name_of[i] = sp_xasprintf ("%d", i);
          continue;
        }
      upper = sp_xstrdup (name);
      cap_free (name);
      for (char *p = upper; *p; p++)
        *p = (char) toupper ((unsigned char) *p);
      known_names[n++] = upper;
      name_of[i] = upper;
    }
}

const char *const *
sp_caps_known (void)
{
  pthread_once (&known_once, fill_known);
  return known_names;
}

/* Capability number of a known name (case-insensitive), or -1. */
static int
cap_number (const char *name)
{
  sp_caps_known ();
  for (int i = 0; i < kernel_caps; i++)
    if (strcasecmp (name_of[i], name) == 0)
      return i;
  return -1;
}

static const char *
cap_name (int cap)
{
  return name_of[cap];
}

static bool
well_formed (const char *name)
{
  if (name == NULL || strncasecmp (name, "CAP_", 4) != 0 || name[4] == '\0')
    return false;
  for (const char *p = name + 4; *p; p++)
    if (!isalnum ((unsigned char) *p) && *p != '_')
      return false;
  return true;
}

/* `field` names the set in messages: "process.capabilities.bounding". */
static int
parse_set (char *const *names, const char *field, uint64_t *mask, sp_error_t *err)
{
  *mask = 0;
  for (size_t i = 0; names && names[i]; i++)
    {
      int cap;

      if (!well_formed (names[i]))
        return sp_error_make (err, 0, "%s[%zu]: malformed capability name \"%s\"", field, i, names[i]);
      cap = cap_number (names[i]);
      if (cap < 0)
        {
          sp_warn ("%s[%zu]: unknown capability \"%s\" ignored (not known to libcap or this kernel)", field, i,
                   names[i]);
          continue;
        }
      *mask |= BIT (cap);
    }
  return 0;
}

int
sp_caps_parse_names (char *const *names, uint64_t *mask, sp_error_t *err)
{
  return parse_set (names, "capabilities", mask, err);
}

int
sp_caps_prepare (const struct oci_capabilities *c, sp_error_t *err)
{
  uint64_t bounding;

  if (c == NULL)
    return 0;
  sp_caps_known (); /* sets kernel_caps */
  if (parse_set (c->bounding, "process.capabilities.bounding", &bounding, err) < 0)
    return -1;

  for (int cap = 0; cap < kernel_caps; cap++)
    {
      int in_bounding = cap_get_bound (cap);

      if (in_bounding < 0)
        continue; /* not on this kernel */
      if ((bounding & BIT (cap)) && !in_bounding)
        sp_warn ("capability %s is not in the runtime's bounding set, skipped", cap_name (cap));
      else if (!(bounding & BIT (cap)) && in_bounding && cap_drop_bound (cap) < 0)
        return sp_error_errno (err, "drop %s from the bounding set", cap_name (cap));
    }
  if (prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return sp_error_errno (err, "prctl(PR_SET_KEEPCAPS, 1)");
  return 0;
}

static void
cap_freep (cap_t *caps)
{
  if (*caps)
    cap_free (*caps);
  *caps = NULL;
}

static int
read_flag (cap_t caps, cap_flag_t flag, uint64_t *mask, sp_error_t *err)
{
  *mask = 0;
  for (int cap = 0; cap < kernel_caps; cap++)
    {
      cap_flag_value_t v;

      if (cap_get_flag (caps, cap, flag, &v) < 0)
        return sp_error_errno (err, "cap_get_flag(%s)", cap_name (cap));
      if (v == CAP_SET)
        *mask |= BIT (cap);
    }
  return 0;
}

static int
set_flag (cap_t caps, cap_flag_t flag, uint64_t mask, sp_error_t *err)
{
  for (int cap = 0; cap < kernel_caps; cap++)
    {
      cap_value_t v = cap;

      if ((mask & BIT (cap)) && cap_set_flag (caps, flag, 1, &v, CAP_SET) < 0)
        return sp_error_errno (err, "cap_set_flag(%s)", cap_name (cap));
    }
  return 0;
}

enum cap_set_index
{
  SET_EFFECTIVE,
  SET_PERMITTED,
  SET_INHERITABLE,
  SET_AMBIENT,
  SET_COUNT,
};

static const char *const set_names[SET_COUNT] = { "effective", "permitted", "inheritable", "ambient" };

/* Why a held capability cannot go into a set, by set. */
static const char *const set_rules[SET_COUNT] = {
  "effective needs it in permitted",
  "",
  "inheritable needs it in the bounding set (and in permitted without CAP_SETPCAP)",
  "ambient needs it in permitted and inheritable",
};

/* Warns about every capability that cannot be granted: one line naming the
 * sets when the runtime does not hold it, else one line per set with the
 * kernel rule that the requested sets break. */
static void
warn_skipped (const uint64_t requested[SET_COUNT], const uint64_t granted[SET_COUNT], uint64_t held)
{
  for (int cap = 0; cap < kernel_caps; cap++)
    {
      char sets[64] = "";

      for (int s = 0; s < SET_COUNT; s++)
        if ((requested[s] & BIT (cap)) && !(granted[s] & BIT (cap)))
          {
            if (held & BIT (cap))
              sp_warn ("capability %s skipped from %s: %s", cap_name (cap), set_names[s], set_rules[s]);
            else
              {
                if (sets[0])
                  strcat (sets, ", ");
                strcat (sets, set_names[s]);
              }
          }
      if (sets[0])
        sp_warn ("capability %s is not held by the runtime (outside its bounding set), skipped from %s",
                 cap_name (cap), sets);
    }
}

int
sp_caps_apply (const struct oci_capabilities *c, sp_error_t *err)
{
  __attribute__ ((cleanup (cap_freep))) cap_t current = NULL;
  __attribute__ ((cleanup (cap_freep))) cap_t wanted = NULL;
  uint64_t req[SET_COUNT], got[SET_COUNT];
  uint64_t cur_permitted, cur_inheritable, cur_effective, bounding = 0, inheritable_ok;

  if (c == NULL)
    goto keepcaps_off;
  sp_caps_known (); /* sets kernel_caps */
  if (parse_set (c->effective, "process.capabilities.effective", &req[SET_EFFECTIVE], err) < 0
      || parse_set (c->permitted, "process.capabilities.permitted", &req[SET_PERMITTED], err) < 0
      || parse_set (c->inheritable, "process.capabilities.inheritable", &req[SET_INHERITABLE], err) < 0
      || parse_set (c->ambient, "process.capabilities.ambient", &req[SET_AMBIENT], err) < 0)
    return -1;

  current = cap_get_proc ();
  if (current == NULL)
    return sp_error_errno (err, "cap_get_proc");
  if (read_flag (current, CAP_PERMITTED, &cur_permitted, err) < 0
      || read_flag (current, CAP_INHERITABLE, &cur_inheritable, err) < 0
      || read_flag (current, CAP_EFFECTIVE, &cur_effective, err) < 0)
    return -1;
  for (int cap = 0; cap < kernel_caps; cap++)
    if (cap_get_bound (cap) > 0)
      bounding |= BIT (cap);

  /* What capset(2) and PR_CAP_AMBIENT_RAISE accept from here. */
  inheritable_ok = cur_inheritable | bounding;
  if (!(cur_effective & BIT (CAP_SETPCAP)))
    inheritable_ok &= cur_inheritable | cur_permitted;
  got[SET_PERMITTED] = req[SET_PERMITTED] & cur_permitted;
  got[SET_EFFECTIVE] = req[SET_EFFECTIVE] & got[SET_PERMITTED];
  got[SET_INHERITABLE] = req[SET_INHERITABLE] & inheritable_ok;
  got[SET_AMBIENT] = req[SET_AMBIENT] & got[SET_PERMITTED] & got[SET_INHERITABLE];
  warn_skipped (req, got, cur_permitted);

  wanted = cap_init ();
  if (wanted == NULL)
    return sp_error_errno (err, "cap_init");
  if (set_flag (wanted, CAP_EFFECTIVE, got[SET_EFFECTIVE], err) < 0
      || set_flag (wanted, CAP_PERMITTED, got[SET_PERMITTED], err) < 0
      || set_flag (wanted, CAP_INHERITABLE, got[SET_INHERITABLE], err) < 0)
    return -1;
  if (cap_set_proc (wanted) < 0)
    return sp_error_errno (err, "set the capabilities (capset)");

  if (cap_reset_ambient () < 0)
    return sp_error_errno (err, "clear the ambient capabilities");
  for (int cap = 0; cap < kernel_caps; cap++)
    if ((got[SET_AMBIENT] & BIT (cap)) && cap_set_ambient (cap, CAP_SET) < 0)
      return sp_error_errno (err, "raise ambient capability %s", cap_name (cap));

keepcaps_off:
  if (prctl (PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
    return sp_error_errno (err, "prctl(PR_SET_KEEPCAPS, 0)");
  return 0;
}
