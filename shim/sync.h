/* Messages between the runtime and the container's setup processes, over a
 * SOCK_SEQPACKET socketpair (one datagram per message). */
#ifndef SHIM_SYNC_H
#define SHIM_SYNC_H

#include <samepage/error.h>
#include <sys/types.h>

enum sp_sync_type
{
  SYNC_GO = 1, /* runtime -> child: continue */
  SYNC_USERMAP, /* child -> runtime: write uid/gid maps for value=pid */
  SYNC_INIT_PID, /* stage 1 -> runtime: value = init's pid (host view) */
  SYNC_HOOKS, /* init -> runtime: namespaces exist, run prestart/createRuntime hooks */
  SYNC_READY, /* init -> runtime: set up, waiting for `start` */
  SYNC_ERROR, /* child -> runtime: msg says why; value = errno */
  SYNC_EXEC_OK, /* exec'd process about to execve */
  SYNC_USERNS_JOINED, /* stage 1 -> runtime: joined a user namespace by path; chown exec.fifo */
};

struct sp_sync_msg
{
  int type;
  int value;
  char msg[32768];
};

int sp_sync_send (int fd, int type, int value, const char *msg);
/* Receives one message; a closed peer is an error ("setup process exited"). */
int sp_sync_recv (int fd, struct sp_sync_msg *m, sp_error_t *err);
/* Receives and requires `type`; SYNC_ERROR becomes *err with the child's message. */
int sp_sync_expect (int fd, int type, struct sp_sync_msg *m, sp_error_t *err);
/* In a child: reports err to the runtime and exits. */
void sp_sync_fail (int fd, sp_error_t *err) __attribute__ ((noreturn));

/* SCM_RIGHTS helpers. */
int sp_send_fd (int sock, int fd, sp_error_t *err);
int sp_recv_fd (int sock, sp_error_t *err);

#endif
