/* /etc/samepage/samepage.conf: site defaults that command-line options and
 * annotations override.  Format: `key = value` lines, `#` comments.
 *
 *   store = /var/lib/samepage/store     casfs store for drop-in rebasing
 *   casfs = on | off                    rebase engine overlays onto casfs
 *   casfs_mountpoint = /run/samepage/casfs
 *   ksm = off | merge-any | heap        default of org.samepage.ksm
 *   ksm_preload = /usr/local/lib/samepage/libsamepage-ksm.so
 */
#ifndef SAMEPAGE_SETTINGS_H
#define SAMEPAGE_SETTINGS_H

#include <samepage/error.h>
#include <stdbool.h>

#define SP_SETTINGS_PATH "/etc/samepage/samepage.conf"

struct sp_settings
{
  char *store;
  bool casfs;
  char *casfs_mountpoint;
  char *casfs_io_uring; /* auto | on | off: casfs mount --io-uring */
  char *ksm;
  char *ksm_preload;
};

/* Loads path (SAMEPAGE_CONF overrides the default; a missing file gives the
 * built-in defaults).  Unknown keys and bad values are errors naming the
 * file, line and key. */
int sp_settings_load (const char *path, struct sp_settings *out, sp_error_t *err);
void sp_settings_clear (struct sp_settings *s);

#endif
