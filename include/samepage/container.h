/* The container lifecycle: what each `samepage` verb does (shim/). */
#ifndef SAMEPAGE_CONTAINER_H
#define SAMEPAGE_CONTAINER_H

#include <samepage/error.h>
#include <samepage/oci_config.h>
#include <stdbool.h>
#include <sys/types.h>

#define SP_DEFAULT_ROOT "/run/samepage"

/* Global options shared by every verb. */
struct sp_runtime
{
  const char *root; /* state directory (--root) */
  bool systemd_cgroup; /* --systemd-cgroup */
  const char *cgroup_manager; /* --cgroup-manager cgroupfs|systemd|disabled, or NULL */
};

struct sp_create_options
{
  const char *bundle;
  const char *pid_file;
  const char *console_socket;
  int preserve_fds;
  bool no_pivot;
  bool no_new_keyring;
  bool detach; /* run only */
  bool keep; /* run only: keep state after exit */
};

struct sp_exec_options
{
  const char *process_file; /* --process: a process JSON; else built from the fields below */
  const char *pid_file;
  const char *console_socket;
  bool tty;
  bool detach;
  const char *cwd;
  char **env; /* extra KEY=VALUE, NULL-terminated */
  const char *user; /* UID[:GID] */
  char **caps; /* extra capabilities */
  char **args; /* command when no --process */
  int preserve_fds;
  bool no_new_privs;
};

enum sp_status
{
  SP_STATUS_CREATING,
  SP_STATUS_CREATED,
  SP_STATUS_RUNNING,
  SP_STATUS_PAUSED,
  SP_STATUS_STOPPED,
};
extern const char *const sp_status_names[];

int sp_container_create (struct sp_runtime *rt, const char *id, struct sp_create_options *o, sp_error_t *err);
int sp_container_start (struct sp_runtime *rt, const char *id, sp_error_t *err);
/* run = create + start; without detach it waits and returns the exit status (>= 0). */
int sp_container_run (struct sp_runtime *rt, const char *id, struct sp_create_options *o, sp_error_t *err);
int sp_container_state (struct sp_runtime *rt, const char *id, char **json_out, sp_error_t *err);
int sp_container_kill (struct sp_runtime *rt, const char *id, int signo, bool all, sp_error_t *err);
int sp_container_delete (struct sp_runtime *rt, const char *id, bool force, sp_error_t *err);
int sp_container_pause (struct sp_runtime *rt, const char *id, bool pause, sp_error_t *err);
int sp_container_ps (struct sp_runtime *rt, const char *id, pid_t **pids, size_t *n, sp_error_t *err);
int sp_container_update (struct sp_runtime *rt, const char *id, const char *resources_json, sp_error_t *err);
/* Returns the exit status of the process when not detached. */
int sp_container_exec (struct sp_runtime *rt, const char *id, struct sp_exec_options *o, sp_error_t *err);
/* One entry per container in root: id, pid, status, bundle, created (ISO 8601), owner. */
struct sp_container_summary
{
  char *id;
  pid_t pid;
  enum sp_status status;
  char *bundle;
  char *created;
  char *owner;
};
int sp_container_list (struct sp_runtime *rt, struct sp_container_summary **out, size_t *n, sp_error_t *err);
void sp_container_summaries_free (struct sp_container_summary *s, size_t n);

/* Signal by name ("TERM", "SIGTERM") or number; -1 when unknown. */
int sp_signal_parse (const char *s);

#endif
