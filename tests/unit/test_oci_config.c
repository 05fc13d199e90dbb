/* config.json parsing: golden values from tests/data/oci/valid, exact error
 * lines for every tests/data/oci/invalid/NAME.json (expected in NAME.err),
 * `exec --process` files, and the default spec round trip. */
#include <samepage/cleanup.h>
#include <samepage/error.h>
#include <samepage/oci_config.h>
#include <samepage/util.h>

#include <dirent.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <cmocka.h>

/* tests/run-tests exports SAMEPAGE_TOP; fall back to the cwd. */
static char *
data_path (const char *rel)
{
  const char *top = getenv ("SAMEPAGE_TOP");
  return sp_xasprintf ("%s/tests/data/oci/%s", top && *top ? top : ".", rel);
}

static char *
read_data (const char *rel, size_t *len)
{
  cleanup_free char *path = data_path (rel);
  sp_error_t err = NULL;
  char *text = NULL;
  if (sp_read_file (path, &text, len, &err) < 0)
    fail_msg ("%s", err->msg);
  return text;
}

static struct oci_config *
parse_valid (const char *name)
{
  cleanup_free char *rel = sp_xasprintf ("valid/%s", name);
  size_t len = 0;
  cleanup_free char *text = read_data (rel, &len);
  struct oci_config *c = NULL;
  sp_error_t err = NULL;
  if (oci_config_parse (text, len, "config.json", &c, &err) < 0)
    fail_msg ("%s: %s", name, err->msg);
  assert_non_null (c);
  return c;
}

/* The parse error for an inline text; the caller frees it. */
static char *
parse_error (const char *json)
{
  struct oci_config *c = NULL;
  sp_error_t err = NULL;
  char *msg;
  assert_int_equal (oci_config_parse (json, strlen (json), "config.json", &c, &err), -1);
  assert_null (c);
  assert_non_null (err);
  msg = sp_xstrdup (err->msg);
  sp_error_release (&err);
  return msg;
}

static void
assert_strv (char **v, ...)
{
  va_list ap;
  size_t i = 0;
  const char *want;
  assert_non_null (v);
  va_start (ap, v);
  while ((want = va_arg (ap, const char *)) != NULL)
    {
      assert_non_null (v[i]);
      assert_string_equal (v[i], want);
      i++;
    }
  va_end (ap);
  assert_null (v[i]);
}

static void
test_full_process_and_mounts (void **state)
{
  cleanup_config struct oci_config *c = parse_valid ("full.json");
  struct oci_process *p = c->process;
  (void) state;

  assert_string_equal (c->oci_version, "1.2.0");
  assert_string_equal (c->root->path, "/var/lib/samepage/bundles/full/rootfs");
  assert_true (c->root->readonly);
  assert_string_equal (c->hostname, "full-host");
  assert_string_equal (c->domainname, "example.org");

  assert_int_equal (c->mounts_len, 2);
  assert_string_equal (c->mounts[0].destination, "/proc");
  assert_string_equal (c->mounts[0].type, "proc");
  assert_null (c->mounts[0].options);
  assert_string_equal (c->mounts[1].source, "/srv/data");
  assert_strv (c->mounts[1].options, "rbind", "rw", "idmap", NULL);
  assert_int_equal (c->mounts[1].uid_mappings_len, 1);
  assert_int_equal (c->mounts[1].uid_mappings[0].host_id, 100000);
  assert_int_equal (c->mounts[1].uid_mappings[0].size, 65536);
  assert_int_equal (c->mounts[1].gid_mappings_len, 1);
  assert_int_equal (c->mounts[1].gid_mappings[0].host_id, 200000);

  assert_true (p->terminal);
  assert_int_equal (p->console_size->height, 25);
  assert_int_equal (p->console_size->width, 80);
  assert_int_equal (p->user.uid, 1000);
  assert_int_equal (p->user.gid, 1001);
  assert_true (p->user.has_umask);
  assert_int_equal (p->user.umask, 022);
  assert_int_equal (p->user.additional_gids_len, 3);
  assert_int_equal (p->user.additional_gids[0], 5);
  assert_true (p->user.additional_gids[2] == UINT32_MAX);
  assert_strv (p->args, "/usr/bin/python3", "-c", "print('hi')", NULL);
  assert_strv (p->env, "PATH=/usr/bin:/bin", "TERM=xterm", "EMPTY=", NULL);
  assert_string_equal (p->cwd, "/home/app");
  assert_strv (p->capabilities->bounding, "CAP_CHOWN", "CAP_KILL", NULL);
  assert_strv (p->capabilities->effective, "CAP_KILL", NULL);
  assert_strv (p->capabilities->inheritable, NULL);
  assert_strv (p->capabilities->permitted, "CAP_CHOWN", "CAP_KILL", NULL);
  assert_strv (p->capabilities->ambient, "CAP_NET_BIND_SERVICE", NULL);

  assert_int_equal (p->rlimits_len, 3);
  assert_string_equal (p->rlimits[0].type, "RLIMIT_NOFILE");
  assert_int_equal (p->rlimits[0].resource, RLIMIT_NOFILE);
  assert_true (p->rlimits[0].soft == 1024 && p->rlimits[0].hard == 4096);
  assert_int_equal (p->rlimits[1].resource, RLIMIT_CORE);
  assert_true (p->rlimits[1].soft == UINT64_MAX && p->rlimits[1].hard == UINT64_MAX);
  assert_int_equal (p->rlimits[2].resource, RLIMIT_RTTIME);

  assert_true (p->no_new_privileges);
  assert_string_equal (p->apparmor_profile, "samepage-default");
  assert_true (p->has_oom_score_adj);
  assert_int_equal (p->oom_score_adj, -999);
  assert_string_equal (p->selinux_label, "system_u:system_r:container_t:s0:c1,c2");
  assert_string_equal (p->scheduler->policy, "SCHED_DEADLINE");
  assert_int_equal (p->scheduler->nice, -5);
  assert_strv (p->scheduler->flags, "SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM", NULL);
  assert_true (p->scheduler->runtime == 10000000);
  assert_true (p->scheduler->deadline == 30000000);
  assert_true (p->scheduler->period == UINT64_MAX);
  assert_string_equal (p->io_priority->class_, "IOPRIO_CLASS_BE");
  assert_int_equal (p->io_priority->priority, 7);
  assert_string_equal (p->exec_cpu_affinity->initial, "0");
  assert_string_equal (p->exec_cpu_affinity->final, "0-3,7");
}

static void
test_full_hooks_and_annotations (void **state)
{
  cleanup_config struct oci_config *c = parse_valid ("full.json");
  struct oci_hooks *h = c->hooks;
  (void) state;

  assert_int_equal (h->stage_len[OCI_HOOK_PRESTART], 1);
  assert_string_equal (h->stage[OCI_HOOK_PRESTART][0].path, "/usr/bin/legacy-prestart");
  assert_false (h->stage[OCI_HOOK_PRESTART][0].has_timeout);
  assert_int_equal (h->stage_len[OCI_HOOK_CREATE_RUNTIME], 2);
  assert_strv (h->stage[OCI_HOOK_CREATE_RUNTIME][0].args, "netns-setup", "--verbose", NULL);
  assert_strv (h->stage[OCI_HOOK_CREATE_RUNTIME][0].env, "A=1", NULL);
  assert_true (h->stage[OCI_HOOK_CREATE_RUNTIME][0].has_timeout);
  assert_int_equal (h->stage[OCI_HOOK_CREATE_RUNTIME][0].timeout, 5);
  assert_int_equal (h->stage[OCI_HOOK_CREATE_CONTAINER][0].timeout, INT32_MAX);
  assert_string_equal (h->stage[OCI_HOOK_START_CONTAINER][0].path, "/usr/bin/sc");
  assert_string_equal (h->stage[OCI_HOOK_POSTSTART][0].path, "/usr/bin/ps-hook");
  assert_int_equal (h->stage[OCI_HOOK_POSTSTOP][0].timeout, 1);

  assert_int_equal (c->annotations_len, 3);
  assert_string_equal (oci_config_annotation (c, "org.samepage.ksm"), "merge-any");
  assert_string_equal (oci_config_annotation (c, "org.samepage.casfs.tree"), "sha256:0123456789abcdef");
  assert_string_equal (oci_config_annotation (c, "empty.value"), "");
  assert_null (oci_config_annotation (c, "absent"));
}

static void
test_full_linux (void **state)
{
  cleanup_config struct oci_config *c = parse_valid ("full.json");
  struct oci_linux *lx = c->linux_;
  (void) state;

  assert_int_equal (lx->uid_mappings_len, 2);
  assert_int_equal (lx->uid_mappings[1].container_id, 1);
  assert_int_equal (lx->uid_mappings[1].host_id, 100000);
  assert_int_equal (lx->gid_mappings_len, 1);
  assert_int_equal (lx->sysctl_len, 2);
  assert_string_equal (lx->sysctl[0].key, "net.ipv4.ip_forward");
  assert_string_equal (lx->sysctl[0].value, "1");
  assert_string_equal (lx->cgroups_path, "/samepage/full");

  assert_int_equal (lx->namespaces_len, OCI_NS_TYPES);
  assert_int_equal (lx->namespaces[0].type, OCI_NS_PID);
  assert_null (lx->namespaces[0].path);
  assert_int_equal (lx->namespaces[1].type, OCI_NS_NETWORK);
  assert_string_equal (lx->namespaces[1].path, "/var/run/netns/full");
  assert_int_equal (lx->namespaces[6].type, OCI_NS_CGROUP);
  assert_int_equal (lx->namespaces[7].type, OCI_NS_TIME);

  assert_int_equal (lx->devices_len, 4);
  assert_string_equal (lx->devices[0].path, "/dev/fuse");
  assert_int_equal (lx->devices[0].type, 'c');
  assert_int_equal (lx->devices[0].major, 10);
  assert_int_equal (lx->devices[0].minor, 229);
  assert_true (lx->devices[0].has_file_mode);
  assert_int_equal (lx->devices[0].file_mode, 0666);
  assert_true (lx->devices[0].has_uid && lx->devices[0].has_gid);
  assert_false (lx->devices[1].has_file_mode);
  assert_int_equal (lx->devices[2].type, 'p');
  assert_int_equal (lx->devices[3].type, 'u');
  assert_false (lx->devices[3].has_uid);
  assert_true (lx->devices[3].has_gid);
  assert_int_equal (lx->devices[3].gid, 5);

  assert_string_equal (lx->seccomp->default_action, "SCMP_ACT_ERRNO");
  assert_true (lx->seccomp->has_default_errno_ret);
  assert_int_equal (lx->seccomp->default_errno_ret, 38);
  assert_strv (lx->seccomp->architectures, "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", NULL);
  assert_strv (lx->seccomp->flags, "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", NULL);
  assert_string_equal (lx->seccomp->listener_path, "/run/seccomp-agent.sock");
  assert_string_equal (lx->seccomp->listener_metadata, "profile=full");
  assert_int_equal (lx->seccomp->syscalls_len, 4);
  assert_strv (lx->seccomp->syscalls[0].names, "read", "write", "exit_group", NULL);
  assert_false (lx->seccomp->syscalls[0].has_errno_ret);
  assert_int_equal (lx->seccomp->syscalls[1].args_len, 2);
  assert_int_equal (lx->seccomp->syscalls[1].args[1].index, 5);
  assert_true (lx->seccomp->syscalls[1].args[1].value == UINT64_MAX);
  assert_true (lx->seccomp->syscalls[1].args[1].value_two == UINT32_MAX);
  assert_string_equal (lx->seccomp->syscalls[1].args[1].op, "SCMP_CMP_MASKED_EQ");
  assert_string_equal (lx->seccomp->syscalls[2].action, "SCMP_ACT_NOTIFY");
  assert_true (lx->seccomp->syscalls[3].has_errno_ret);
  assert_int_equal (lx->seccomp->syscalls[3].errno_ret, 1);

  assert_string_equal (lx->rootfs_propagation, "rslave");
  assert_strv (lx->masked_paths, "/proc/kcore", "/sys/firmware", NULL);
  assert_strv (lx->readonly_paths, "/proc/sys", "/proc/sysrq-trigger", NULL);
  assert_string_equal (lx->mount_label, "system_u:object_r:container_file_t:s0:c1,c2");
  assert_string_equal (lx->intel_rdt->clos_id, "guaranteed_group");
  assert_string_equal (lx->intel_rdt->l3_cache_schema, "L3:0=7f0;1=1f");
  assert_string_equal (lx->intel_rdt->mem_bw_schema, "MB:0=20;1=70");
  assert_true (lx->intel_rdt->enable_cmt);
  assert_false (lx->intel_rdt->enable_mbm);
  assert_string_equal (lx->personality->domain, "LINUX32");
  assert_strv (lx->personality->flags, NULL);
  assert_true (lx->has_time_monotonic);
  assert_true (lx->time_monotonic.secs == INT64_MIN);
  assert_int_equal (lx->time_monotonic.nanosecs, 999999999);
  assert_true (lx->has_time_boottime);
  assert_int_equal (lx->time_boottime.secs, 86400);
  assert_int_equal (lx->time_boottime.nanosecs, 0);
}

static void
test_full_resources (void **state)
{
  cleanup_config struct oci_config *c = parse_valid ("full.json");
  struct oci_resources *r = c->linux_->resources;
  struct oci_block_io *b = r->block_io;
  (void) state;

  assert_int_equal (r->devices_len, 3);
  assert_false (r->devices[0].allow);
  assert_int_equal (r->devices[0].type, 'a');
  assert_false (r->devices[0].has_major);
  assert_string_equal (r->devices[0].access, "rwm");
  assert_int_equal (r->devices[1].type, 'c');
  assert_true (r->devices[1].has_major && r->devices[1].major == 10);
  assert_true (r->devices[2].has_minor && r->devices[2].minor == -1);
  assert_null (r->devices[2].access);

  assert_true (r->memory->has_limit && r->memory->limit == INT64_MAX);
  assert_true (r->memory->has_reservation && r->memory->reservation == 268435456);
  assert_true (r->memory->has_swap && r->memory->swap == -1);
  assert_true (r->memory->has_kernel && r->memory->kernel == 0);
  assert_true (r->memory->has_kernel_tcp && r->memory->kernel_tcp == 1048576);
  assert_true (r->memory->has_swappiness && r->memory->swappiness == 60);
  assert_true (r->memory->has_disable_oom_killer && r->memory->disable_oom_killer);
  assert_true (r->memory->has_use_hierarchy && !r->memory->use_hierarchy);
  assert_true (r->memory->has_check_before_update && r->memory->check_before_update);

  assert_true (r->cpu->has_shares && r->cpu->shares == 1024);
  assert_true (r->cpu->has_quota && r->cpu->quota == -1);
  assert_true (r->cpu->has_burst && r->cpu->burst == 50000);
  assert_true (r->cpu->has_period && r->cpu->period == 100000);
  assert_true (r->cpu->has_realtime_runtime && r->cpu->realtime_runtime == 950000);
  assert_true (r->cpu->has_realtime_period && r->cpu->realtime_period == 1000000);
  assert_string_equal (r->cpu->cpus, "0-1");
  assert_string_equal (r->cpu->mems, "0");
  assert_true (r->cpu->has_idle && r->cpu->idle == 1);
  assert_true (r->pids->has_limit && r->pids->limit == -1);

  assert_true (b->has_weight && b->weight == 500);
  assert_true (b->has_leaf_weight && b->leaf_weight == 300);
  assert_int_equal (b->weight_device_len, 2);
  assert_true (b->weight_device[0].has_leaf_weight && b->weight_device[0].leaf_weight == 200);
  assert_true (b->weight_device[1].has_weight && !b->weight_device[1].has_leaf_weight);
  assert_int_equal (b->weight_device[1].minor, 16);
  assert_int_equal (b->throttle_read_bps_device_len, 1);
  assert_true (b->throttle_read_bps_device[0].rate == 104857600);
  assert_true (b->throttle_write_bps_device[0].rate == UINT64_MAX);
  assert_true (b->throttle_read_iops_device[0].rate == 1000);
  assert_int_equal (b->throttle_write_iops_device_len, 2);
  assert_int_equal (b->throttle_write_iops_device[1].major, 259);

  assert_int_equal (r->hugepage_limits_len, 2);
  assert_string_equal (r->hugepage_limits[0].page_size, "2MB");
  assert_true (r->hugepage_limits[0].limit == 209715200);
  assert_true (r->network->has_class_id && r->network->class_id == 1048577);
  assert_int_equal (r->network->priorities_len, 2);
  assert_string_equal (r->network->priorities[1].name, "lo");
  assert_int_equal (r->network->priorities[1].priority, 1000);
  assert_int_equal (r->rdma_len, 2);
  assert_string_equal (r->rdma[0].device, "mlx5_1");
  assert_true (r->rdma[0].has_hca_handles && r->rdma[0].hca_handles == 3);
  assert_true (r->rdma[0].has_hca_objects && r->rdma[0].hca_objects == 10000);
  assert_string_equal (r->rdma[1].device, "mlx4_0");
  assert_false (r->rdma[1].has_hca_handles);
  assert_int_equal (r->unified_len, 2);
  assert_string_equal (r->unified[1].key, "io.weight");
  assert_string_equal (r->unified[1].value, "default 100");
}

static void
test_runc_spec (void **state)
{
  cleanup_config struct oci_config *c = parse_valid ("runc-spec.json");
  (void) state;
  assert_string_equal (c->root->path, "rootfs");
  assert_int_equal (c->mounts_len, 7);
  assert_string_equal (c->mounts[6].destination, "/sys/fs/cgroup");
  assert_strv (c->process->args, "sh", NULL);
  assert_null (c->process->capabilities->inheritable);
  assert_null (c->process->capabilities->ambient);
  assert_false (c->process->user.has_umask);
  assert_false (c->process->has_oom_score_adj);
  assert_null (c->hooks);
  assert_int_equal (c->annotations_len, 0);
  assert_int_equal (c->linux_->namespaces_len, 6);
  assert_int_equal (c->linux_->namespaces[5].type, OCI_NS_CGROUP);
  assert_null (c->linux_->resources->memory);
  assert_null (c->linux_->seccomp);
  assert_null (c->linux_->rootfs_propagation);
  assert_false (c->linux_->has_time_monotonic);
}

static void
test_podman (void **state)
{
  cleanup_config struct oci_config *c = parse_valid ("podman.json");
  (void) state;
  assert_false (c->root->readonly);
  assert_int_equal (c->mounts_len, 10);
  assert_int_equal (c->process->user.additional_gids_len, 11);
  assert_int_equal (c->process->rlimits[1].resource, RLIMIT_NPROC);
  assert_true (c->process->has_oom_score_adj);
  assert_int_equal (c->process->oom_score_adj, 0);
  /* An empty stage stays an empty array. */
  assert_int_equal (c->hooks->stage_len[OCI_HOOK_CREATE_RUNTIME], 0);
  assert_int_equal (c->hooks->stage_len[OCI_HOOK_POSTSTOP], 1);
  assert_string_equal (oci_config_annotation (c, "io.container.manager"), "libpod");
  assert_string_equal (c->linux_->cgroups_path, "machine.slice:libpod:5f3c2a7b9d1e");
  assert_true (c->linux_->resources->pids->has_limit);
  assert_int_equal (c->linux_->resources->pids->limit, 2048);
  assert_string_equal (c->linux_->namespaces[1].path, "/run/netns/netns-6b2a1c9e");
  assert_int_equal (c->linux_->seccomp->syscalls_len, 4);
  assert_int_equal (c->linux_->seccomp->syscalls[3].args[0].value, 2114060288);
}

static void
test_containerd (void **state)
{
  cleanup_config struct oci_config *c = parse_valid ("containerd.json");
  struct oci_resources *r = c->linux_->resources;
  (void) state;
  assert_string_equal (c->oci_version, "1.1.0");
  assert_string_equal (c->hostname, "");
  assert_int_equal (c->process->user.uid, 65535);
  assert_int_equal (c->process->oom_score_adj, -998);
  assert_string_equal (oci_config_annotation (c, "io.kubernetes.cri.container-type"), "sandbox");
  /* Go writes null for unset pointers: treated as absent. */
  assert_non_null (r->memory);
  assert_false (r->memory->has_limit);
  assert_true (r->cpu->has_shares && r->cpu->shares == 2);
  assert_false (r->cpu->has_quota);
  assert_false (r->cpu->has_period);
  assert_string_equal (r->cpu->cpus, "");
  assert_int_equal (c->linux_->namespaces[4].type, OCI_NS_NETWORK);
}

/* Every valid file parses, including ones added later without a golden test. */
static void
test_all_valid_parse (void **state)
{
  cleanup_free char *dir = data_path ("valid");
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *de;
  int n = 0;
  (void) state;

  assert_non_null (d);
  while ((de = readdir (d)) != NULL)
    {
      if (!sp_str_has_suffix (de->d_name, ".json"))
        continue;
      oci_config_free (parse_valid (de->d_name));
      n++;
    }
  assert_true (n >= 4);
}

static void
test_invalid_corpus (void **state)
{
  cleanup_free char *dir = data_path ("invalid");
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *de;
  int n = 0, bad = 0;
  (void) state;

  assert_non_null (d);
  while ((de = readdir (d)) != NULL)
    {
      size_t name_len = strlen (de->d_name);
      cleanup_free char *rel = NULL, *err_rel = NULL, *json = NULL, *want = NULL, *got = NULL;
      size_t len = 0, want_len = 0;
      struct oci_config *c = NULL;
      sp_error_t err = NULL;

      if (!sp_str_has_suffix (de->d_name, ".json"))
        continue;
      n++;
      rel = sp_xasprintf ("invalid/%s", de->d_name);
      err_rel = sp_xasprintf ("invalid/%.*s.err", (int) (name_len - 5), de->d_name);
      json = read_data (rel, &len);
      want = read_data (err_rel, &want_len);
      if (oci_config_parse (json, len, "config.json", &c, &err) == 0)
        {
          print_error ("%s: parsed, expected: %s", de->d_name, want);
          oci_config_free (c);
          bad++;
          continue;
        }
      assert_null (c);
      got = sp_xasprintf ("%s\n", err->msg);
      sp_error_release (&err);
      if (strcmp (got, want) != 0)
        {
          print_error ("%s:\n  expected: %s  got:      %s", de->d_name, want, got);
          bad++;
        }
      if (strchr (got, '\n') != got + strlen (got) - 1)
        {
          print_error ("%s: error is not one line: %s", de->d_name, got);
          bad++;
        }
    }
  assert_true (n >= 25);
  assert_int_equal (bad, 0);
}

static void
test_inline_errors (void **state)
{
  cleanup_free char *nul = NULL, *scalar = NULL, *null_root = NULL, *deep = NULL;
  (void) state;

  nul = parse_error ("{\"ociVersion\": \"1.2.0\"}\0garbage");
  /* strlen stops at the NUL: the text above is valid up to it.  Now with the
   * NUL inside the buffer: */
  {
    static const char text[] = "{\"ociVersion\": \"1.2\0.0\"}";
    struct oci_config *c = NULL;
    sp_error_t err = NULL;
    assert_int_equal (oci_config_parse (text, sizeof text - 1, "bundle/config.json", &c, &err), -1);
    assert_string_equal (err->msg, "bundle/config.json: invalid JSON: contains a NUL byte");
    sp_error_release (&err);
  }
  assert_string_equal (nul, "config.json: root: missing required field");
  scalar = parse_error ("42");
  assert_string_equal (scalar, "config.json: expected an object, got number 42");
  /* null means absent, so a null required field is a missing one. */
  null_root = parse_error ("{\"ociVersion\": \"1.2.0\", \"root\": null}");
  assert_string_equal (null_root, "config.json: root: missing required field");
  deep = parse_error ("{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"r\"}, \"linux\": {\"resources\": "
                      "{\"blockIO\": {\"weightDevice\": [{\"major\": 8, \"minor\": 0}, {\"major\": 8, \"minor\": "
                      "16, \"leafWeight\": true}]}}}}");
  assert_string_equal (deep, "config.json: linux.resources.blockIO.weightDevice[1].leafWeight: expected an "
                             "integer, got boolean");
}

/* Duplicate keys: the last one wins, as in Go's encoding/json. */
static void
test_duplicate_keys_last_wins (void **state)
{
  static const char text[] = "{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"first\"}, \"root\": {\"path\": "
                             "\"second\"}, \"annotations\": {\"k\": \"1\", \"k\": \"2\"}}";
  struct oci_config *c = NULL;
  sp_error_t err = NULL;
  (void) state;
  if (oci_config_parse (text, strlen (text), "config.json", &c, &err) < 0)
    fail_msg ("%s", err->msg);
  assert_string_equal (c->root->path, "second");
  assert_string_equal (oci_config_annotation (c, "k"), "2");
  oci_config_free (c);
}

/* The depth guard counts brackets outside strings only. */
static void
test_brackets_in_strings (void **state)
{
  cleanup_free char *brackets = sp_xmalloc0 (1001);
  cleanup_free char *text = NULL;
  struct oci_config *c = NULL;
  sp_error_t err = NULL;
  (void) state;
  memset (brackets, '[', 1000);
  text = sp_xasprintf ("{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"r\"}, \"annotations\": "
                       "{\"a\": \"\\\"%s\\\\\"}}",
                       brackets);
  if (oci_config_parse (text, strlen (text), "config.json", &c, &err) < 0)
    fail_msg ("%s", err->msg);
  assert_int_equal (strlen (oci_config_annotation (c, "a")), 1002);
  oci_config_free (c);
}

static void
test_load_names_path (void **state)
{
  cleanup_free char *missing = data_path ("does-not-exist.json");
  cleanup_free char *bad = data_path ("invalid/namespace-unknown.json");
  cleanup_free char *want = NULL;
  struct oci_config *c = NULL;
  sp_error_t err = NULL;
  (void) state;

  assert_int_equal (oci_config_load (missing, &c, &err), -1);
  assert_null (c);
  assert_non_null (strstr (err->msg, missing));
  sp_error_release (&err);

  assert_int_equal (oci_config_load (bad, &c, &err), -1);
  want = sp_xasprintf ("%s: linux.namespaces[2].type: unknown namespace \"foo\"", bad);
  assert_string_equal (err->msg, want);
  sp_error_release (&err);

  {
    cleanup_free char *good = data_path ("valid/runc-spec.json");
    assert_int_equal (oci_config_load (good, &c, &err), 0);
    assert_string_equal (c->hostname, "runc");
    oci_config_free (c);
  }
}

static void
test_process_parse (void **state)
{
  size_t len = 0;
  cleanup_free char *text = read_data ("process/exec.json", &len);
  struct oci_process *p = NULL;
  sp_error_t err = NULL;
  static const char bad[] = "{\"args\": [\"sh\"], \"cwd\": \"/\", \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", "
                            "\"soft\": 1, \"hard\": 1}, {\"type\": \"RLIMIT_BOGUS\", \"soft\": 1, \"hard\": 1}]}";
  (void) state;

  if (oci_process_parse (text, len, "process.json", &p, &err) < 0)
    fail_msg ("%s", err->msg);
  assert_false (p->terminal);
  assert_int_equal (p->user.uid, 33);
  assert_int_equal (p->user.additional_gids_len, 1);
  assert_strv (p->args, "/bin/sh", "-c", "echo exec", NULL);
  assert_string_equal (p->cwd, "/var/www");
  assert_strv (p->capabilities->bounding, "CAP_KILL", NULL);
  assert_int_equal (p->rlimits[0].resource, RLIMIT_NOFILE);
  assert_true (p->rlimits[0].hard == 65536);
  assert_true (p->no_new_privileges);
  assert_string_equal (p->apparmor_profile, "cri-containerd.apparmor.d");
  oci_process_free (p);

  assert_int_equal (oci_process_parse (bad, strlen (bad), "process.json", &p, &err), -1);
  assert_null (p);
  assert_string_equal (err->msg, "process.json: rlimits[1].type: unknown rlimit \"RLIMIT_BOGUS\"");
  sp_error_release (&err);

  assert_int_equal (oci_process_parse ("[]", 2, "process.json", &p, &err), -1);
  assert_string_equal (err->msg, "process.json: expected an object, got array");
  sp_error_release (&err);

  assert_int_equal (oci_process_parse ("{\"args\": [\"sh\"]}", 16, "process.json", &p, &err), -1);
  assert_string_equal (err->msg, "process.json: cwd: missing required field");
  sp_error_release (&err);
}

static bool
has_namespace (const struct oci_config *c, enum oci_namespace_type type)
{
  for (size_t i = 0; i < c->linux_->namespaces_len; i++)
    if (c->linux_->namespaces[i].type == type)
      return true;
  return false;
}

static struct oci_config *
parse_default (bool rootless)
{
  cleanup_free char *json = oci_config_default_json (rootless);
  struct oci_config *c = NULL;
  sp_error_t err = NULL;
  assert_non_null (json);
  /* Pretty-printed, like runc's. */
  assert_non_null (strstr (json, "\n\t\"ociVersion\": \"1.2.0\""));
  if (oci_config_parse (json, strlen (json), "default", &c, &err) < 0)
    fail_msg ("%s", err->msg);
  return c;
}

static void
test_default_roundtrip (void **state)
{
  cleanup_config struct oci_config *c = parse_default (false);
  struct oci_process *p = c->process;
  static const char *const mounts[]
      = { "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup" };
  (void) state;

  assert_string_equal (c->root->path, "rootfs");
  assert_true (c->root->readonly);
  assert_true (p->terminal);
  assert_strv (p->args, "sh", NULL);
  assert_string_equal (p->cwd, "/");
  assert_int_equal (p->user.uid, 0);
  assert_strv (p->capabilities->bounding, "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", NULL);
  assert_strv (p->capabilities->effective, "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", NULL);
  assert_strv (p->capabilities->permitted, "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", NULL);
  assert_null (p->capabilities->inheritable);
  assert_int_equal (p->rlimits_len, 1);
  assert_int_equal (p->rlimits[0].resource, RLIMIT_NOFILE);
  assert_true (p->rlimits[0].soft == 1024 && p->rlimits[0].hard == 1024);
  assert_true (p->no_new_privileges);

  assert_int_equal (c->mounts_len, SP_ARRAY_SIZE (mounts));
  for (size_t i = 0; i < SP_ARRAY_SIZE (mounts); i++)
    assert_string_equal (c->mounts[i].destination, mounts[i]);
  assert_string_equal (c->mounts[5].type, "sysfs");

  assert_true (has_namespace (c, OCI_NS_PID) && has_namespace (c, OCI_NS_NETWORK) && has_namespace (c, OCI_NS_IPC)
               && has_namespace (c, OCI_NS_UTS) && has_namespace (c, OCI_NS_MOUNT)
               && has_namespace (c, OCI_NS_CGROUP));
  assert_false (has_namespace (c, OCI_NS_USER));
  assert_int_equal (c->linux_->uid_mappings_len, 0);
  assert_int_equal (c->linux_->resources->devices_len, 1);
  assert_false (c->linux_->resources->devices[0].allow);
  assert_non_null (c->linux_->masked_paths);
  assert_string_equal (c->linux_->masked_paths[0], "/proc/acpi");
  assert_strv (c->linux_->readonly_paths, "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
               NULL);
}

static void
test_default_rootless_roundtrip (void **state)
{
  cleanup_config struct oci_config *c = parse_default (true);
  (void) state;

  assert_true (has_namespace (c, OCI_NS_USER));
  assert_false (has_namespace (c, OCI_NS_NETWORK));
  assert_int_equal (c->linux_->uid_mappings_len, 1);
  assert_int_equal (c->linux_->uid_mappings[0].container_id, 0);
  assert_int_equal (c->linux_->uid_mappings[0].host_id, geteuid ());
  assert_int_equal (c->linux_->uid_mappings[0].size, 1);
  assert_int_equal (c->linux_->gid_mappings_len, 1);
  assert_int_equal (c->linux_->gid_mappings[0].host_id, getegid ());
  assert_null (c->linux_->resources);
  assert_int_equal (c->mounts_len, 7);
  for (size_t i = 0; i < c->mounts_len; i++)
    {
      for (size_t j = 0; c->mounts[i].options && c->mounts[i].options[j]; j++)
        assert_string_not_equal (c->mounts[i].options[j], "gid=5");
      if (strcmp (c->mounts[i].destination, "/sys") == 0)
        {
          assert_string_equal (c->mounts[i].type, "none");
          assert_string_equal (c->mounts[i].source, "/sys");
          assert_string_equal (c->mounts[i].options[0], "rbind");
        }
    }
}

static void
test_tables (void **state)
{
  int seen = 0;
  (void) state;
  assert_string_equal (oci_hook_stage_names[OCI_HOOK_PRESTART], "prestart");
  assert_string_equal (oci_hook_stage_names[OCI_HOOK_CREATE_RUNTIME], "createRuntime");
  assert_string_equal (oci_hook_stage_names[OCI_HOOK_POSTSTOP], "poststop");
  for (int i = 0; i < OCI_NS_TYPES; i++)
    {
      assert_non_null (oci_namespaces[i].name);
      assert_non_null (oci_namespaces[i].proc_name);
      assert_int_equal (seen & oci_namespaces[i].clone_flag, 0);
      seen |= oci_namespaces[i].clone_flag;
    }
  assert_string_equal (oci_namespaces[OCI_NS_NETWORK].proc_name, "net");
  assert_string_equal (oci_namespaces[OCI_NS_MOUNT].proc_name, "mnt");
  assert_int_equal (oci_namespaces[OCI_NS_MOUNT].clone_flag, CLONE_NEWNS);
  assert_int_equal (oci_namespaces[OCI_NS_TIME].clone_flag, 0x80); /* CLONE_NEWTIME */
  assert_int_equal (oci_namespaces[OCI_NS_CGROUP].clone_flag, CLONE_NEWCGROUP);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_full_process_and_mounts),
    cmocka_unit_test (test_full_hooks_and_annotations),
    cmocka_unit_test (test_full_linux),
    cmocka_unit_test (test_full_resources),
    cmocka_unit_test (test_runc_spec),
    cmocka_unit_test (test_podman),
    cmocka_unit_test (test_containerd),
    cmocka_unit_test (test_all_valid_parse),
    cmocka_unit_test (test_invalid_corpus),
    cmocka_unit_test (test_inline_errors),
    cmocka_unit_test (test_duplicate_keys_last_wins),
    cmocka_unit_test (test_brackets_in_strings),
    cmocka_unit_test (test_load_names_path),
    cmocka_unit_test (test_process_parse),
    cmocka_unit_test (test_default_roundtrip),
    cmocka_unit_test (test_default_rootless_roundtrip),
    cmocka_unit_test (test_tables),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
