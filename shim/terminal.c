/* process.terminal: a pty whose master goes to --console-socket (SCM_RIGHTS)
 * and whose slave becomes the process' stdio and controlling terminal. */
#include "setup.h"
#include "sync.h"

#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

/* Connects to the console socket; called before pivot_root, while the host
 * path is still visible. */
int
sp_console_connect (const char *path, sp_error_t *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  cleanup_close int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return sp_error_errno (err, "socket");
  if (strlen (path) >= sizeof addr.sun_path)
    return sp_error_make (err, ENAMETOOLONG, "console socket path `%s` is too long", path);
  strcpy (addr.sun_path, path);
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    return sp_error_errno (err, "connect to console socket `%s`", path);
  return sp_steal_fd (&fd);
}

/* Creates the pty in the container's devpts, sends the master, makes the
 * slave our stdio and controlling terminal. */
int
sp_terminal_setup_fd (struct oci_process *p, int console_fd, sp_error_t *err)
{
  cleanup_close int master = -1;
  cleanup_close int slave = -1;
  char name[128];

  master = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0)
    return sp_error_errno (err, "open /dev/ptmx");
  if (unlockpt (master) < 0 || ptsname_r (master, name, sizeof name) != 0)
    return sp_error_errno (err, "unlock pty");
  slave = open (name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0)
    return sp_error_errno (err, "open pty `%s`", name);
  if (p->console_size)
    {
      struct winsize ws = { .ws_row = (unsigned short) p->console_size->height,
                            .ws_col = (unsigned short) p->console_size->width };
      if (ioctl (slave, TIOCSWINSZ, &ws) < 0)
        return sp_error_errno (err, "set console size");
    }
  if (sp_send_fd (console_fd, master, err) < 0)
    return sp_error_wrap (err, "send pty master to console socket");
  if (ioctl (slave, TIOCSCTTY, 0) < 0)
    return sp_error_errno (err, "set controlling terminal");
  for (int i = 0; i < 3; i++)
    if (dup2 (slave, i) < 0)
      return sp_error_errno (err, "dup pty to fd %d", i);
  return 0;
}
