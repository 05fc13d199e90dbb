/* cgroup v2 (pure, or the unified mount of a hybrid host): controller
 * delegation, resource files, cgroup.freeze, and the device filter, an eBPF
 * program of type BPF_PROG_TYPE_CGROUP_DEVICE loaded with bpf(2). */
#include <samepage/cgroups.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- delegation ---- */

static bool
word_in (const char *list, const char *word)
{
  size_t len = strlen (word);
  for (const char *p = list; (p = strstr (p, word)); p += len)
    if ((p == list || p[-1] == ' ') && (p[len] == '\0' || p[len] == ' ' || p[len] == '\n'))
      return true;
  return false;
}

int
sp_cgroup_v2_enable_controllers (const char *mountpoint, const char *leaf, sp_error_t *err)
{
  cleanup_free char *p = sp_xstrdup (leaf);
  size_t base = strlen (mountpoint);
  char *last = strrchr (p, '/');

  /* Every ancestor of the leaf, the mount root included, delegates all it has. */
  for (char *s = p + base;; s++)
    {
      char saved = *s;
      cleanup_free char *available = NULL, *enabled = NULL;
      char *save = NULL;

      if (saved != '/' && saved != '\0')
        continue;
      if (s > last)
        break;
      *s = '\0';
      if (sp_cgroup_read (p, "cgroup.controllers", &available, err) < 0
          || sp_cgroup_read (p, "cgroup.subtree_control", &enabled, err) < 0)
        return -1;
      for (char *c = strtok_r (available, " ", &save); c; c = strtok_r (NULL, " ", &save))
        {
          cleanup_free char *plus = NULL;
          sp_error_t ignored = NULL;
          if (word_in (enabled, c))
            continue;
          plus = sp_xasprintf ("+%s", c);
          /* One at a time: a controller refused here (say, a parent with
           * processes of its own) must not block the others. */
          if (sp_cgroup_write (p, "cgroup.subtree_control", plus, &ignored) < 0)
            {
              sp_debug ("cannot enable controller: %s", ignored->msg);
              sp_error_release (&ignored);
            }
        }
      *s = saved;
      if (saved == '\0')
        break;
    }
  return 0;
}

/* ---- resources ---- */

struct v2_target
{
  const char *dir;
  const struct sp_cgroup *hybrid;
};

/* 1: write the resource here; 0: a v1 hierarchy of the hybrid host has it. */
static int
target_file (const struct v2_target *t, const char *controller, const char *file, const char *field,
             sp_error_t *err)
{
  /* On a hybrid host the v1 hierarchy may have this controller under its v1 name. */
  const char *v1_name = strcmp (controller, "io") == 0 ? "blkio" : controller;
  if (t->hybrid && sp_cgroup_v1_dir (t->hybrid, v1_name))
    return 0;
  if (!sp_cgroup_file_exists (t->dir, file))
    return sp_error_make (err, ENOTSUP, "linux.resources.%s: the `%s` controller is not enabled in `%s` (no `%s`)",
                          field, controller, t->dir, file);
  return 1;
}

static char *
limit_string (int64_t v)
{
  return v < 0 ? sp_xstrdup ("max") : sp_xasprintf ("%lld", (long long) v);
}

static int
apply_memory (const struct v2_target *t, const struct oci_memory *m, sp_error_t *err)
{
  int r = target_file (t, "memory", "memory.max", "memory", err);
  cleanup_free char *swap = NULL;

  if (r <= 0)
    return r;
  if (sp_cgroup_swap_v2 (m, &swap, err) < 0)
    return -1;
  if (m->has_limit)
    {
      cleanup_free char *v = limit_string (m->limit);
      if (sp_cgroup_write (t->dir, "memory.max", v, err) < 0)
        return -1;
    }
  if (swap)
    {
      if (!sp_cgroup_file_exists (t->dir, "memory.swap.max"))
        sp_warn ("linux.resources.memory.swap ignored: the kernel has no swap accounting (no `%s/memory.swap.max`)",
                 t->dir);
      else if (sp_cgroup_write (t->dir, "memory.swap.max", swap, err) < 0)
        return -1;
    }
  if (m->has_reservation)
    {
      cleanup_free char *v = limit_string (m->reservation);
      if (sp_cgroup_write (t->dir, "memory.low", v, err) < 0)
        return -1;
    }
  if (m->has_swappiness)
    sp_warn ("linux.resources.memory.swappiness ignored: cgroup v2 has no per-cgroup swappiness");
  if (m->has_disable_oom_killer && m->disable_oom_killer)
    sp_warn ("linux.resources.memory.disableOOMKiller ignored: cgroup v2 cannot disable the OOM killer");
  if (m->has_kernel || m->has_kernel_tcp)
    sp_warn ("linux.resources.memory.kernel/kernelTCP ignored: cgroup v2 accounts kernel memory in memory.max");
  return 0;
}

static int
apply_cpu (const struct v2_target *t, const struct oci_cpu *c, sp_error_t *err)
{
  int r;

  if (c->has_realtime_runtime || c->has_realtime_period)
    return sp_error_make (err, ENOTSUP, "linux.resources.cpu.realtimeRuntime/realtimePeriod: not supported on "
                                        "cgroup v2");
  if ((c->has_shares && c->shares) || c->has_quota || c->has_period || c->has_burst || c->has_idle)
    {
      r = target_file (t, "cpu", "cpu.weight", "cpu", err);
      if (r < 0)
        return -1;
      if (r == 0)
        goto cpuset;
      if (c->has_shares && c->shares)
        {
          cleanup_free char *v = sp_xasprintf ("%llu", (unsigned long long) sp_cgroup_shares_to_weight (c->shares));
          if (sp_cgroup_write (t->dir, "cpu.weight", v, err) < 0)
            return -1;
        }
      if (c->has_quota || (c->has_period && c->period))
        {
          /* cpu.max holds both: keep the half that is not being changed. */
          cleanup_free char *cur = NULL, *v = NULL, *quota = NULL;
          unsigned long long period = 100000;
          char cur_quota[32] = "max";
          if (sp_cgroup_read (t->dir, "cpu.max", &cur, err) < 0)
            return -1;
          if (sscanf (cur, "%31s %llu", cur_quota, &period) != 2)
            return sp_error_make (err, EINVAL, "`%s/cpu.max`: unexpected content `%s`", t->dir, cur);
          if (c->has_period && c->period)
            period = c->period;
          quota = c->has_quota ? limit_string (c->quota > 0 ? c->quota : -1) : sp_xstrdup (cur_quota);
          v = sp_xasprintf ("%s %llu", quota, period);
          if (sp_cgroup_write (t->dir, "cpu.max", v, err) < 0)
            return -1;
        }
      if (c->has_burst)
        {
          cleanup_free char *v = sp_xasprintf ("%llu", (unsigned long long) c->burst);
          if (sp_cgroup_write (t->dir, "cpu.max.burst", v, err) < 0)
            return -1;
        }
      if (c->has_idle)
        {
          cleanup_free char *v = sp_xasprintf ("%lld", (long long) c->idle);
          if (sp_cgroup_write (t->dir, "cpu.idle", v, err) < 0)
            return -1;
        }
    }
cpuset:
  if ((c->cpus && *c->cpus) || (c->mems && *c->mems))
    {
      r = target_file (t, "cpuset", "cpuset.cpus", "cpu.cpus", err);
      if (r <= 0)
        return r;
      if (c->cpus && *c->cpus && sp_cgroup_write (t->dir, "cpuset.cpus", c->cpus, err) < 0)
        return -1;
      if (c->mems && *c->mems && sp_cgroup_write (t->dir, "cpuset.mems", c->mems, err) < 0)
        return -1;
    }
  return 0;
}

static int
write_io_max (const char *dir, const char *key, const struct oci_throttle_device *d, size_t n, sp_error_t *err)
{
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *v = sp_xasprintf ("%lld:%lld %s=%llu", (long long) d[i].major, (long long) d[i].minor, key,
                                           (unsigned long long) d[i].rate);
      if (sp_cgroup_write (dir, "io.max", v, err) < 0)
        return -1;
    }
  return 0;
}

static int
apply_io (const struct v2_target *t, const struct oci_block_io *b, sp_error_t *err)
{
  int r = target_file (t, "io", "io.max", "blockIO", err);
  /* BFQ takes blkio-style weights (1..1000) unconverted. */
  bool bfq = r > 0 && sp_cgroup_file_exists (t->dir, "io.bfq.weight");
  const char *weight_file = bfq ? "io.bfq.weight" : "io.weight";

  if (r <= 0)
    return r;
  if (b->has_weight && b->weight)
    {
      cleanup_free char *v = sp_xasprintf ("default %llu", bfq ? (unsigned long long) b->weight
                                                               : (unsigned long long) sp_cgroup_blkio_weight_to_io_weight (b->weight));
      if (sp_cgroup_write (t->dir, weight_file, v, err) < 0)
        return -1;
    }
  if (b->has_leaf_weight)
    sp_warn ("linux.resources.blockIO.leafWeight ignored: cgroup v2 has no leaf weights");
  for (size_t i = 0; i < b->weight_device_len; i++)
    {
      const struct oci_weight_device *w = &b->weight_device[i];
      cleanup_free char *v = NULL;
      if (!w->has_weight)
        continue;
      v = sp_xasprintf ("%lld:%lld %llu", (long long) w->major, (long long) w->minor,
                        bfq ? (unsigned long long) w->weight
                            : (unsigned long long) sp_cgroup_blkio_weight_to_io_weight (w->weight));
      if (sp_cgroup_write (t->dir, weight_file, v, err) < 0)
        return -1;
    }
  if (write_io_max (t->dir, "rbps", b->throttle_read_bps_device, b->throttle_read_bps_device_len, err) < 0
      || write_io_max (t->dir, "wbps", b->throttle_write_bps_device, b->throttle_write_bps_device_len, err) < 0
      || write_io_max (t->dir, "riops", b->throttle_read_iops_device, b->throttle_read_iops_device_len, err) < 0
      || write_io_max (t->dir, "wiops", b->throttle_write_iops_device, b->throttle_write_iops_device_len, err) < 0)
    return -1;
  return 0;
}

static int
apply_hugetlb (const struct v2_target *t, const struct oci_resources *res, sp_error_t *err)
{
  if (t->hybrid && sp_cgroup_v1_dir (t->hybrid, "hugetlb"))
    return 0;
  for (size_t i = 0; i < res->hugepage_limits_len; i++)
    {
      const struct oci_hugepage_limit *h = &res->hugepage_limits[i];
      cleanup_free char *file = NULL, *v = NULL;
      int r;
      if (!sp_cgroup_hugepage_size_valid (h->page_size))
        return sp_error_make (err, EINVAL, "linux.resources.hugepageLimits[%zu].pageSize: invalid size `%s`", i,
                              h->page_size ? h->page_size : "");
      file = sp_xasprintf ("hugetlb.%s.max", h->page_size);
      r = target_file (t, "hugetlb", file, "hugepageLimits", err);
      if (r < 0)
        return -1;
      v = sp_xasprintf ("%llu", (unsigned long long) h->limit);
      if (sp_cgroup_write (t->dir, file, v, err) < 0)
        return -1;
    }
  return 0;
}

static int
apply_unified (const struct v2_target *t, const struct oci_resources *res, sp_error_t *err)
{
  for (size_t i = 0; i < res->unified_len; i++)
    {
      const char *key = res->unified[i].key;
      if (key == NULL || *key == '\0' || strchr (key, '/') || key[0] == '.')
        return sp_error_make (err, EINVAL, "linux.resources.unified: invalid key `%s`", key ? key : "");
      if (!sp_cgroup_file_exists (t->dir, key))
        return sp_error_make (err, ENOENT, "linux.resources.unified: `%s` does not exist in `%s` (controller not "
                              "enabled?)", key, t->dir);
      if (sp_cgroup_write (t->dir, key, res->unified[i].value ? res->unified[i].value : "", err) < 0)
        return -1;
    }
  return 0;
}

int
sp_cgroup_v2_apply (const char *dir, const struct oci_resources *res, const struct sp_cgroup *hybrid,
                    sp_error_t *err)
{
  struct v2_target t = { dir, hybrid };

  if (res->memory && apply_memory (&t, res->memory, err) < 0)
    return -1;
  if (res->cpu && apply_cpu (&t, res->cpu, err) < 0)
    return -1;
  if (res->pids && res->pids->has_limit)
    {
      int r = target_file (&t, "pids", "pids.max", "pids", err);
      cleanup_free char *v = limit_string (res->pids->limit > 0 ? res->pids->limit : -1);
      if (r < 0 || (r > 0 && sp_cgroup_write (dir, "pids.max", v, err) < 0))
        return -1;
    }
  if (res->block_io && apply_io (&t, res->block_io, err) < 0)
    return -1;
  if (res->hugepage_limits_len && apply_hugetlb (&t, res, err) < 0)
    return -1;
  if (res->devices_len && !(hybrid && sp_cgroup_v1_dir (hybrid, "devices"))
      && sp_cgroup_v2_set_devices (dir, res->devices, res->devices_len, err) < 0)
    return -1;
  if (res->network && !hybrid)
    sp_warn ("linux.resources.network ignored: cgroup v2 has no net_cls/net_prio (use eBPF in the network "
             "namespace)");
  for (size_t i = 0; i < res->rdma_len; i++)
    {
      const struct oci_rdma *d = &res->rdma[i];
      cleanup_free char *v = NULL;
      char handles[16] = "max", objects[16] = "max";
      int r = target_file (&t, "rdma", "rdma.max", "rdma", err);
      if (r < 0)
        return -1;
      if (r == 0)
        break;
      if (d->has_hca_handles)
        snprintf (handles, sizeof handles, "%u", d->hca_handles);
      if (d->has_hca_objects)
        snprintf (objects, sizeof objects, "%u", d->hca_objects);
      v = sp_xasprintf ("%s hca_handle=%s hca_object=%s", d->device, handles, objects);
      if (sp_cgroup_write (dir, "rdma.max", v, err) < 0)
        return -1;
    }
  return apply_unified (&t, res, err);
}

/* ---- freezer ---- */

int
sp_cgroup_v2_is_frozen (const char *dir, bool *frozen, sp_error_t *err)
{
  cleanup_free char *events = NULL;
  if (sp_cgroup_read (dir, "cgroup.events", &events, err) < 0)
    return -1;
  *frozen = strstr (events, "frozen 1") != NULL;
  return 0;
}

int
sp_cgroup_v2_freeze (const char *dir, bool frozen, sp_error_t *err)
{
  if (sp_cgroup_write (dir, "cgroup.freeze", frozen ? "1" : "0", err) < 0)
    return -1;
  /* cgroup.events says "frozen 1" once every task has stopped. */
  for (int attempt = 0; attempt < 1000; attempt++)
    {
      struct timespec ts = { 0, 10 * 1000 * 1000 };
      bool now;
      if (sp_cgroup_v2_is_frozen (dir, &now, err) < 0)
        return -1;
      if (now == frozen)
        return 0;
      nanosleep (&ts, NULL);
    }
  return sp_error_make (err, ETIMEDOUT, "`%s/cgroup.events` did not report frozen %d", dir, frozen);
}

/* ---- device filter ---- */

static struct bpf_insn
insn (uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
  return (struct bpf_insn) { .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
}

#define LDX_W(dst, src, off) insn (BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0)
#define ALU32_IMM(op, dst, imm) insn (BPF_ALU | (op) | BPF_K, dst, 0, 0, imm)
#define MOV32_REG(dst, src) insn (BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV64_IMM(dst, imm) insn (BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define JNE_IMM(dst, imm) insn (BPF_JMP | BPF_JNE | BPF_K, dst, 0, 0, imm)
#define JNE_REG(dst, src) insn (BPF_JMP | BPF_JNE | BPF_X, dst, src, 0, 0)
#define EXIT_INSN() insn (BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

static bool
is_wildcard_rule (const struct oci_device_cgroup *r)
{
  const char *a = r->access && *r->access ? r->access : "rwm";
  return (r->type == 0 || r->type == 'a') && !(r->has_major && r->major >= 0) && !(r->has_minor && r->minor >= 0)
         && strchr (a, 'r') && strchr (a, 'w') && strchr (a, 'm');
}

int
sp_cgroup_v2_devices_program (const struct oci_device_cgroup *rules, size_t n, void **insns, size_t *n_insns,
                              sp_error_t *err)
{
  /* Up to 6 prologue + 9 per rule + 2 epilogue instructions. */
  struct bpf_insn *p = sp_xmalloc0 ((8 + 9 * n) * sizeof *p);
  size_t len = 0, first = 0;
  bool default_allow = true; /* a new cgroup inherits its parent's, normally everything */

  for (size_t i = 0; i < n; i++)
    {
      char type = rules[i].type ? rules[i].type : 'a';
      if (type != 'a' && type != 'b' && type != 'c')
        {
          free (p);
          return sp_error_make (err, EINVAL, "linux.resources.devices[%zu].type: invalid type `%c`", i, type);
        }
      if (!sp_cgroup_device_access_valid (rules[i].access))
        {
          free (p);
          return sp_error_make (err, EINVAL, "linux.resources.devices[%zu].access: invalid access `%s`", i,
                                rules[i].access);
        }
      /* "a *:* rwm" resets: what came before no longer matters. */
      if (is_wildcard_rule (&rules[i]))
        {
          default_allow = rules[i].allow;
          first = i + 1;
        }
    }

  /* ctx: struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; } */
  p[len++] = LDX_W (BPF_REG_2, BPF_REG_1, 0);
  p[len++] = ALU32_IMM (BPF_AND, BPF_REG_2, 0xffff); /* r2 = device type */
  p[len++] = LDX_W (BPF_REG_3, BPF_REG_1, 0);
  p[len++] = ALU32_IMM (BPF_RSH, BPF_REG_3, 16); /* r3 = requested access */
  p[len++] = LDX_W (BPF_REG_4, BPF_REG_1, 4); /* r4 = major */
  p[len++] = LDX_W (BPF_REG_5, BPF_REG_1, 8); /* r5 = minor */

  /* The last matching rule wins, as with v1 writes in order: test from the end. */
  for (size_t i = n; i-- > first;)
    {
      const struct oci_device_cgroup *r = &rules[i];
      const char *a = r->access && *r->access ? r->access : "rwm";
      char type = r->type ? r->type : 'a';
      int32_t access = (strchr (a, 'm') ? BPF_DEVCG_ACC_MKNOD : 0) | (strchr (a, 'r') ? BPF_DEVCG_ACC_READ : 0)
                       | (strchr (a, 'w') ? BPF_DEVCG_ACC_WRITE : 0);
      size_t start = len;

      if (type != 'a')
        p[len++] = JNE_IMM (BPF_REG_2, type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
      if (access != (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE))
        {
          /* Matches only when every requested access is in the rule. */
          p[len++] = MOV32_REG (BPF_REG_1, BPF_REG_3);
          p[len++] = ALU32_IMM (BPF_AND, BPF_REG_1, access);
          p[len++] = JNE_REG (BPF_REG_1, BPF_REG_3);
        }
      if (r->has_major && r->major >= 0)
        p[len++] = JNE_IMM (BPF_REG_4, (int32_t) r->major);
      if (r->has_minor && r->minor >= 0)
        p[len++] = JNE_IMM (BPF_REG_5, (int32_t) r->minor);
      p[len++] = MOV64_IMM (BPF_REG_0, r->allow ? 1 : 0);
      p[len++] = EXIT_INSN ();
      /* Every test jumps past this rule's end. */
      for (size_t j = start; j < len; j++)
        if (BPF_CLASS (p[j].code) == BPF_JMP && BPF_OP (p[j].code) == BPF_JNE)
          p[j].off = (int16_t) (len - j - 1);
    }
  p[len++] = MOV64_IMM (BPF_REG_0, default_allow ? 1 : 0);
  p[len++] = EXIT_INSN ();
  *insns = p;
  *n_insns = len;
  return 0;
}

static int
bpf (int cmd, union bpf_attr *attr)
{
  return (int) syscall (__NR_bpf, cmd, attr, sizeof *attr);
}

static int
load_program (const struct bpf_insn *insns, size_t n, sp_error_t *err)
{
  static char log[8192];
  union bpf_attr attr;
  int fd;

  memset (&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t) (uintptr_t) insns;
  attr.insn_cnt = (uint32_t) n;
  attr.license = (uint64_t) (uintptr_t) "GPL";
  fd = bpf (BPF_PROG_LOAD, &attr);
  if (fd >= 0)
    return fd;
  if (errno != EINVAL)
    return sp_error_errno (err, "bpf(BPF_PROG_LOAD) of the device filter");
  /* Load again with the verifier log, for a useful message. */
  attr.log_buf = (uint64_t) (uintptr_t) log;
  attr.log_size = sizeof log;
  attr.log_level = 1;
  log[0] = '\0';
  fd = bpf (BPF_PROG_LOAD, &attr);
  if (fd >= 0)
    return fd;
  return sp_error_errno (err, "bpf(BPF_PROG_LOAD) of the device filter (verifier: %.200s)", log);
}

int
sp_cgroup_v2_set_devices (const char *dir, const struct oci_device_cgroup *rules, size_t n, sp_error_t *err)
{
  cleanup_free void *insns = NULL;
  cleanup_close int prog = -1;
  cleanup_close int cgfd = -1;
  uint32_t old_ids[64];
  uint32_t n_old = 0;
  size_t n_insns;
  union bpf_attr attr;

  if (sp_cgroup_v2_devices_program (rules, n, &insns, &n_insns, err) < 0)
    return -1;
  cgfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgfd < 0)
    return sp_error_errno (err, "open `%s`", dir);
  prog = load_program (insns, n_insns, err);
  if (prog < 0)
    return sp_error_wrap (err, "`%s`", dir);

  /* Programs attached to this very cgroup before: replaced by the new one. */
  memset (&attr, 0, sizeof attr);
  attr.query.target_fd = (uint32_t) cgfd;
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = (uint64_t) (uintptr_t) old_ids;
  attr.query.prog_cnt = SP_ARRAY_SIZE (old_ids);
  if (bpf (BPF_PROG_QUERY, &attr) < 0)
    return sp_error_errno (err, "bpf(BPF_PROG_QUERY) on `%s`", dir);
  n_old = attr.query.prog_cnt;

  memset (&attr, 0, sizeof attr);
  attr.target_fd = (uint32_t) cgfd;
  attr.attach_bpf_fd = (uint32_t) prog;
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf (BPF_PROG_ATTACH, &attr) < 0)
    return sp_error_errno (err, "bpf(BPF_PROG_ATTACH) of the device filter to `%s`", dir);

  for (uint32_t i = 0; i < n_old && i < SP_ARRAY_SIZE (old_ids); i++)
    {
      cleanup_close int old = -1;
      memset (&attr, 0, sizeof attr);
      attr.prog_id = old_ids[i];
      old = bpf (BPF_PROG_GET_FD_BY_ID, &attr);
      if (old < 0)
        {
          if (errno == ENOENT)
            continue;
          return sp_error_errno (err, "bpf(BPF_PROG_GET_FD_BY_ID) for program %u on `%s`", old_ids[i], dir);
        }
      memset (&attr, 0, sizeof attr);
      attr.target_fd = (uint32_t) cgfd;
      attr.attach_bpf_fd = (uint32_t) old;
      attr.attach_type = BPF_CGROUP_DEVICE;
      if (bpf (BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
        return sp_error_errno (err, "bpf(BPF_PROG_DETACH) of the old device filter from `%s`", dir);
    }
  return 0;
}
