/* The OCI runtime-spec 1.2 Linux configuration (config.json) as C structs.
 *
 * Parsed by oci/config.c with yajl.  Unknown fields are ignored; a wrong type
 * or a missing required field fails with a one-line error naming the field
 * path, e.g. `config.json: linux.namespaces[2].type: unknown namespace "foo"`
 * (map keys as `annotations["key"]`; malformed JSON as `config.json: invalid
 * JSON at line 3, column 20: lexical error: invalid char in json text`).
 * JSON null counts as absent; of duplicate keys the last wins (as in Go).
 * Absent optional values: NULL pointers, 0 counts, and `has_*` flags for
 * scalars whose zero value is meaningful.  Strings are NUL-terminated copies;
 * vectors (char **) are NULL-terminated. */
#ifndef SAMEPAGE_OCI_CONFIG_H
#define SAMEPAGE_OCI_CONFIG_H

#include <samepage/error.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct oci_kv
{
  char *key;
  char *value;
};

struct oci_rlimit
{
  char *type; /* "RLIMIT_NOFILE" */
  int resource; /* RLIMIT_* resolved at parse time */
  uint64_t soft;
  uint64_t hard;
};

struct oci_capabilities
{
  /* NULL = set not given (left as inherited/empty); names like "CAP_CHOWN". */
  char **bounding;
  char **effective;
  char **inheritable;
  char **permitted;
  char **ambient;
};

struct oci_console_size
{
  unsigned height;
  unsigned width;
};

struct oci_user
{
  uint32_t uid;
  uint32_t gid;
  bool has_umask;
  uint32_t umask;
  uint32_t *additional_gids;
  size_t additional_gids_len;
  char *username; /* windows only; kept for completeness */
};

struct oci_io_priority
{
  char *class_; /* IOPRIO_CLASS_RT|BE|IDLE */
  int priority;
};

struct oci_scheduler
{
  char *policy; /* SCHED_OTHER, ... */
  int nice;
  int priority;
  char **flags;
  uint64_t runtime;
  uint64_t deadline;
  uint64_t period;
};

struct oci_exec_cpu_affinity
{
  char *initial;
  char *final;
};

struct oci_process
{
  bool terminal;
  struct oci_console_size *console_size;
  struct oci_user user;
  char **args;
  char *command_line; /* windows only */
  char **env;
  char *cwd;
  struct oci_capabilities *capabilities;
  struct oci_rlimit *rlimits;
  size_t rlimits_len;
  bool no_new_privileges;
  char *apparmor_profile;
  bool has_oom_score_adj;
  int oom_score_adj;
  char *selinux_label;
  struct oci_scheduler *scheduler;
  struct oci_io_priority *io_priority;
  struct oci_exec_cpu_affinity *exec_cpu_affinity;
};

struct oci_root
{
  char *path;
  bool readonly;
};

struct oci_mount
{
  char *destination;
  char *type;
  char *source;
  char **options;
  /* idmapped mounts (runtime-spec 1.2) */
  struct oci_id_mapping *uid_mappings;
  size_t uid_mappings_len;
  struct oci_id_mapping *gid_mappings;
  size_t gid_mappings_len;
};

struct oci_hook
{
  char *path;
  char **args;
  char **env;
  bool has_timeout;
  int timeout; /* seconds, > 0 */
};

enum oci_hook_stage
{
  OCI_HOOK_PRESTART,
  OCI_HOOK_CREATE_RUNTIME,
  OCI_HOOK_CREATE_CONTAINER,
  OCI_HOOK_START_CONTAINER,
  OCI_HOOK_POSTSTART,
  OCI_HOOK_POSTSTOP,
  OCI_HOOK_STAGES,
};

struct oci_hooks
{
  struct oci_hook *stage[OCI_HOOK_STAGES];
  size_t stage_len[OCI_HOOK_STAGES];
};

/* Names as they appear in config.json, indexed by enum oci_hook_stage. */
extern const char *const oci_hook_stage_names[OCI_HOOK_STAGES];

enum oci_namespace_type
{
  OCI_NS_PID,
  OCI_NS_NETWORK,
  OCI_NS_MOUNT,
  OCI_NS_IPC,
  OCI_NS_UTS,
  OCI_NS_USER,
  OCI_NS_CGROUP,
  OCI_NS_TIME,
  OCI_NS_TYPES,
};

struct oci_namespace_info
{
  const char *name; /* config.json spelling: "pid", "network", ... */
  const char *proc_name; /* /proc/PID/ns/<proc_name>: "pid", "net", ... */
  int clone_flag; /* CLONE_NEWPID, ... */
};
/* One table, used by the parser, the runtime and `features`. */
extern const struct oci_namespace_info oci_namespaces[OCI_NS_TYPES];

struct oci_namespace
{
  enum oci_namespace_type type;
  char *path; /* NULL: create a new one */
};

struct oci_id_mapping
{
  uint32_t container_id;
  uint32_t host_id;
  uint32_t size;
};

struct oci_device
{
  char *path;
  char type; /* 'c', 'b', 'u', 'p' */
  int64_t major;
  int64_t minor;
  bool has_file_mode;
  uint32_t file_mode;
  bool has_uid;
  uint32_t uid;
  bool has_gid;
  uint32_t gid;
};

struct oci_device_cgroup
{
  bool allow;
  char type; /* 'a', 'c', 'b'; 'a' when absent */
  bool has_major;
  int64_t major;
  bool has_minor;
  int64_t minor;
  char *access; /* "rwm" subset; NULL = all */
};

struct oci_memory
{
  bool has_limit;
  int64_t limit;
  bool has_reservation;
  int64_t reservation;
  bool has_swap;
  int64_t swap;
  bool has_kernel;
  int64_t kernel;
  bool has_kernel_tcp;
  int64_t kernel_tcp;
  bool has_swappiness;
  uint64_t swappiness;
  bool has_disable_oom_killer;
  bool disable_oom_killer;
  bool has_use_hierarchy;
  bool use_hierarchy;
  bool has_check_before_update;
  bool check_before_update;
};

struct oci_cpu
{
  bool has_shares;
  uint64_t shares;
  bool has_quota;
  int64_t quota;
  bool has_burst;
  uint64_t burst;
  bool has_period;
  uint64_t period;
  bool has_realtime_runtime;
  int64_t realtime_runtime;
  bool has_realtime_period;
  uint64_t realtime_period;
  char *cpus;
  char *mems;
  bool has_idle;
  int64_t idle;
};

struct oci_pids
{
  bool has_limit;
  int64_t limit;
};

struct oci_weight_device
{
  int64_t major;
  int64_t minor;
  bool has_weight;
  uint16_t weight;
  bool has_leaf_weight;
  uint16_t leaf_weight;
};

struct oci_throttle_device
{
  int64_t major;
  int64_t minor;
  uint64_t rate;
};

struct oci_block_io
{
  bool has_weight;
  uint16_t weight;
  bool has_leaf_weight;
  uint16_t leaf_weight;
  struct oci_weight_device *weight_device;
  size_t weight_device_len;
  struct oci_throttle_device *throttle_read_bps_device;
  size_t throttle_read_bps_device_len;
  struct oci_throttle_device *throttle_write_bps_device;
  size_t throttle_write_bps_device_len;
  struct oci_throttle_device *throttle_read_iops_device;
  size_t throttle_read_iops_device_len;
  struct oci_throttle_device *throttle_write_iops_device;
  size_t throttle_write_iops_device_len;
};

struct oci_hugepage_limit
{
  char *page_size; /* "2MB" */
  uint64_t limit;
};

struct oci_network_priority
{
  char *name;
  uint32_t priority;
};

struct oci_network
{
  bool has_class_id;
  uint32_t class_id;
  struct oci_network_priority *priorities;
  size_t priorities_len;
};

struct oci_rdma
{
  char *device;
  bool has_hca_handles;
  uint32_t hca_handles;
  bool has_hca_objects;
  uint32_t hca_objects;
};

struct oci_resources
{
  struct oci_device_cgroup *devices;
  size_t devices_len;
  struct oci_memory *memory;
  struct oci_cpu *cpu;
  struct oci_pids *pids;
  struct oci_block_io *block_io;
  struct oci_hugepage_limit *hugepage_limits;
  size_t hugepage_limits_len;
  struct oci_network *network;
  struct oci_rdma *rdma;
  size_t rdma_len;
  struct oci_kv *unified; /* cgroup v2 key/value files */
  size_t unified_len;
};

struct oci_seccomp_arg
{
  unsigned index;
  uint64_t value;
  uint64_t value_two;
  char *op; /* SCMP_CMP_NE, ... */
};

struct oci_seccomp_syscall
{
  char **names;
  char *action;
  bool has_errno_ret;
  unsigned errno_ret;
  struct oci_seccomp_arg *args;
  size_t args_len;
};

struct oci_seccomp
{
  char *default_action;
  bool has_default_errno_ret;
  unsigned default_errno_ret;
  char **architectures;
  char **flags;
  char *listener_path;
  char *listener_metadata;
  struct oci_seccomp_syscall *syscalls;
  size_t syscalls_len;
};

struct oci_intel_rdt
{
  char *clos_id;
  char *l3_cache_schema;
  char *mem_bw_schema;
  bool enable_cmt; /* cache monitoring (runtime-spec 1.1) */
  bool enable_mbm; /* memory bandwidth monitoring */
};

struct oci_personality
{
  char *domain; /* LINUX, LINUX32 */
  char **flags;
};

struct oci_time_offset
{
  int64_t secs;
  uint32_t nanosecs;
};

struct oci_linux
{
  struct oci_id_mapping *uid_mappings;
  size_t uid_mappings_len;
  struct oci_id_mapping *gid_mappings;
  size_t gid_mappings_len;
  struct oci_kv *sysctl;
  size_t sysctl_len;
  struct oci_resources *resources;
  char *cgroups_path;
  struct oci_namespace *namespaces;
  size_t namespaces_len;
  struct oci_device *devices;
  size_t devices_len;
  struct oci_seccomp *seccomp;
  char *rootfs_propagation;
  char **masked_paths;
  char **readonly_paths;
  char *mount_label;
  struct oci_intel_rdt *intel_rdt;
  struct oci_personality *personality;
  /* time namespace offsets */
  bool has_time_monotonic;
  struct oci_time_offset time_monotonic;
  bool has_time_boottime;
  struct oci_time_offset time_boottime;
};

struct oci_config
{
  char *oci_version;
  struct oci_root *root;
  struct oci_mount *mounts;
  size_t mounts_len;
  struct oci_process *process;
  char *hostname;
  char *domainname;
  struct oci_hooks *hooks;
  struct oci_kv *annotations;
  size_t annotations_len;
  struct oci_linux *linux_;
};

/* Parses config.json text; `source` names the file in error messages. */
int oci_config_parse (const char *json, size_t len, const char *source, struct oci_config **out, sp_error_t *err);
/* Reads and parses path; errors start with the path. */
int oci_config_load (const char *path, struct oci_config **out, sp_error_t *err);
void oci_config_free (struct oci_config *c);
/* For `exec --process FILE`: a lone process object. */
int oci_process_parse (const char *json, size_t len, const char *source, struct oci_process **out, sp_error_t *err);
void oci_process_free (struct oci_process *p);

/* Annotation lookup; NULL when absent. */
const char *oci_config_annotation (const struct oci_config *c, const char *key);

/* Generates the default config.json written by `samepage spec` (caller frees). */
char *oci_config_default_json (bool rootless);

static inline void
oci_config_freep (struct oci_config **c)
{
  if (*c)
    oci_config_free (*c);
  *c = NULL;
}
#define cleanup_config __attribute__ ((cleanup (oci_config_freep)))

#endif
