/* cgroup v1: one directory per hierarchy, controller files, the freezer,
 * cpuset initialisation and devices.allow/deny. */
#include <samepage/cgroups.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int
write_i64 (const char *dir, const char *file, int64_t v, sp_error_t *err)
{
  char buf[32];
  snprintf (buf, sizeof buf, "%lld", (long long) v);
  return sp_cgroup_write (dir, file, buf, err);
}

static int
write_u64 (const char *dir, const char *file, uint64_t v, sp_error_t *err)
{
  char buf[32];
  snprintf (buf, sizeof buf, "%llu", (unsigned long long) v);
  return sp_cgroup_write (dir, file, buf, err);
}

/* Known-deprecated knobs: the kernel may have dropped them; warn, go on. */
static void
write_best_effort (const char *dir, const char *file, int64_t v)
{
  sp_error_t err = NULL;
  if (write_i64 (dir, file, v, &err) < 0)
    {
      sp_warn ("ignoring %s (unsupported by this kernel)", err->msg);
      sp_error_release (&err);
    }
}

/* Returns 1 with *dir set when the controller's v1 hierarchy is mounted, 0
 * when the hybrid cgroup2 mount takes the resource instead, -1 otherwise. */
static int
controller_dir (const struct sp_cgroup *cg, const char *controller, const char *field, const char **dir,
                sp_error_t *err)
{
  const struct sp_cgroup_dir *v2;

  *dir = sp_cgroup_v1_dir (cg, controller);
  if (*dir)
    return 1;
  v2 = sp_cgroup_v2_dir (cg);
  if (cg->layout == SP_CGROUP_LAYOUT_HYBRID && v2 && sp_cgroup_v2_root_has (v2, controller))
    return 0;
  return sp_error_make (err, ENOTSUP, "linux.resources.%s: the `%s` cgroup controller is not mounted on this host",
                        field, controller);
}

int
sp_cgroup_v1_cpuset_init (const char *mountpoint, const char *leaf, sp_error_t *err)
{
  static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
  cleanup_free char *p = sp_xstrdup (leaf);
  size_t base = strlen (mountpoint);

  /* The kernel refuses tasks in a cpuset without cpus or mems; new
   * directories start empty, so each level takes its parent's values. */
  for (char *s = p + base + 1;; s++)
    {
      char saved = *s;
      if (saved != '/' && saved != '\0')
        continue;
      *s = '\0';
      for (size_t i = 0; i < SP_ARRAY_SIZE (files); i++)
        {
          cleanup_free char *mine = NULL, *parent_value = NULL, *parent = sp_xstrdup (p);
          *strrchr (parent, '/') = '\0';
          if (sp_cgroup_read (p, files[i], &mine, err) < 0)
            return -1;
          if (*mine)
            continue;
          if (sp_cgroup_read (parent, files[i], &parent_value, err) < 0
              || sp_cgroup_write (p, files[i], parent_value, err) < 0)
            return -1;
        }
      *s = saved;
      if (saved == '\0')
        break;
    }
  return 0;
}

static int
apply_memory (const struct sp_cgroup *cg, const struct oci_memory *m, sp_error_t *err)
{
  const char *dir;
  int r = controller_dir (cg, "memory", "memory", &dir, err);
  bool swap = m->has_swap && m->swap != 0;

  if (r <= 0)
    return r;
  if (swap && !sp_cgroup_file_exists (dir, "memory.memsw.limit_in_bytes"))
    {
      sp_warn ("linux.resources.memory.swap ignored: the kernel has no swap accounting "
               "(no `%s/memory.memsw.limit_in_bytes`)",
               dir);
      swap = false;
    }
  if (m->has_limit)
    {
      sp_error_t first = NULL;
      /* memsw must stay >= limit: raise memsw first when the limit grows past it. */
      if (write_i64 (dir, "memory.limit_in_bytes", m->limit, &first) < 0)
        {
          if (!swap || first->status != EINVAL)
            {
              *err = first;
              return -1;
            }
          sp_error_release (&first);
          if (write_i64 (dir, "memory.memsw.limit_in_bytes", m->swap, err) < 0
              || write_i64 (dir, "memory.limit_in_bytes", m->limit, err) < 0)
            return -1;
        }
      else if (swap && write_i64 (dir, "memory.memsw.limit_in_bytes", m->swap, err) < 0)
        return -1;
    }
  else if (swap && write_i64 (dir, "memory.memsw.limit_in_bytes", m->swap, err) < 0)
    return -1;
  if (m->has_reservation && write_i64 (dir, "memory.soft_limit_in_bytes", m->reservation, err) < 0)
    return -1;
  if (m->has_kernel)
    write_best_effort (dir, "memory.kmem.limit_in_bytes", m->kernel);
  if (m->has_kernel_tcp)
    write_best_effort (dir, "memory.kmem.tcp.limit_in_bytes", m->kernel_tcp);
  if (m->has_swappiness)
    {
      if (m->swappiness > 100)
        return sp_error_make (err, EINVAL, "linux.resources.memory.swappiness: %llu is above 100",
                              (unsigned long long) m->swappiness);
      if (write_u64 (dir, "memory.swappiness", m->swappiness, err) < 0)
        return -1;
    }
  if (m->has_disable_oom_killer && write_i64 (dir, "memory.oom_control", m->disable_oom_killer, err) < 0)
    return -1;
  if (m->has_use_hierarchy && write_i64 (dir, "memory.use_hierarchy", m->use_hierarchy, err) < 0)
    return -1;
  return 0;
}

static int
apply_cpu (const struct sp_cgroup *cg, const struct oci_cpu *c, sp_error_t *err)
{
  const char *dir;
  int r;

  if ((c->has_shares && c->shares) || c->has_quota || c->has_period || c->has_burst || c->has_realtime_period
      || c->has_realtime_runtime || c->has_idle)
    {
      r = controller_dir (cg, "cpu", "cpu", &dir, err);
      if (r < 0)
        return -1;
      if (r == 0)
        goto cpuset;
      if (c->has_shares && c->shares && write_u64 (dir, "cpu.shares", c->shares, err) < 0)
        return -1;
      if (c->has_period && c->period)
        {
          sp_error_t first = NULL;
          /* A shorter period can be refused until the quota shrinks: retry after it. */
          if (write_u64 (dir, "cpu.cfs_period_us", c->period, &first) < 0)
            {
              if (!c->has_quota || first->status != EINVAL)
                {
                  *err = first;
                  return -1;
                }
              sp_error_release (&first);
              if (write_i64 (dir, "cpu.cfs_quota_us", c->quota, err) < 0
                  || write_u64 (dir, "cpu.cfs_period_us", c->period, err) < 0)
                return -1;
            }
        }
      if (c->has_quota && write_i64 (dir, "cpu.cfs_quota_us", c->quota, err) < 0)
        return -1;
      if (c->has_burst && write_u64 (dir, "cpu.cfs_burst_us", c->burst, err) < 0)
        return -1;
      if (c->has_realtime_period && c->realtime_period
          && write_u64 (dir, "cpu.rt_period_us", c->realtime_period, err) < 0)
        return -1;
      if (c->has_realtime_runtime && write_i64 (dir, "cpu.rt_runtime_us", c->realtime_runtime, err) < 0)
        return -1;
      if (c->has_idle && write_i64 (dir, "cpu.idle", c->idle, err) < 0)
        return -1;
    }
cpuset:
  if ((c->cpus && *c->cpus) || (c->mems && *c->mems))
    {
      r = controller_dir (cg, "cpuset", "cpu.cpus", &dir, err);
      if (r <= 0)
        return r;
      if (c->cpus && *c->cpus && sp_cgroup_write (dir, "cpuset.cpus", c->cpus, err) < 0)
        return -1;
      if (c->mems && *c->mems && sp_cgroup_write (dir, "cpuset.mems", c->mems, err) < 0)
        return -1;
    }
  return 0;
}

static int
write_throttle (const char *dir, const char *file, const struct oci_throttle_device *t, size_t n,
                sp_error_t *err)
{
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *v = sp_xasprintf ("%lld:%lld %llu", (long long) t[i].major, (long long) t[i].minor,
                                           (unsigned long long) t[i].rate);
      if (sp_cgroup_write (dir, file, v, err) < 0)
        return -1;
    }
  return 0;
}

static int
apply_blkio (const struct sp_cgroup *cg, const struct oci_block_io *b, sp_error_t *err)
{
  const char *dir, *weight_file = "blkio.weight", *weight_device_file = "blkio.weight_device";
  int r = controller_dir (cg, "blkio", "blockIO", &dir, err);

  if (r <= 0)
    return r;
  /* With the BFQ scheduler only the bfq files exist. */
  if (!sp_cgroup_file_exists (dir, weight_file) && sp_cgroup_file_exists (dir, "blkio.bfq.weight"))
    {
      weight_file = "blkio.bfq.weight";
      weight_device_file = "blkio.bfq.weight_device";
    }
  if (b->has_weight && b->weight && write_u64 (dir, weight_file, b->weight, err) < 0)
    return -1;
  if (b->has_leaf_weight && b->leaf_weight && write_u64 (dir, "blkio.leaf_weight", b->leaf_weight, err) < 0)
    return -1;
  for (size_t i = 0; i < b->weight_device_len; i++)
    {
      const struct oci_weight_device *w = &b->weight_device[i];
      if (w->has_weight)
        {
          cleanup_free char *v = sp_xasprintf ("%lld:%lld %u", (long long) w->major, (long long) w->minor,
                                               (unsigned) w->weight);
          if (sp_cgroup_write (dir, weight_device_file, v, err) < 0)
            return -1;
        }
      if (w->has_leaf_weight)
        {
          cleanup_free char *v = sp_xasprintf ("%lld:%lld %u", (long long) w->major, (long long) w->minor,
                                               (unsigned) w->leaf_weight);
          if (sp_cgroup_write (dir, "blkio.leaf_weight_device", v, err) < 0)
            return -1;
        }
    }
  if (write_throttle (dir, "blkio.throttle.read_bps_device", b->throttle_read_bps_device,
                      b->throttle_read_bps_device_len, err)
          < 0
      || write_throttle (dir, "blkio.throttle.write_bps_device", b->throttle_write_bps_device,
                         b->throttle_write_bps_device_len, err)
             < 0
      || write_throttle (dir, "blkio.throttle.read_iops_device", b->throttle_read_iops_device,
                         b->throttle_read_iops_device_len, err)
             < 0
      || write_throttle (dir, "blkio.throttle.write_iops_device", b->throttle_write_iops_device,
                         b->throttle_write_iops_device_len, err)
             < 0)
    return -1;
  return 0;
}

static int
apply_hugetlb (const struct sp_cgroup *cg, const struct oci_resources *res, sp_error_t *err)
{
  const char *dir;
  int r = controller_dir (cg, "hugetlb", "hugepageLimits", &dir, err);

  if (r <= 0)
    return r;
  for (size_t i = 0; i < res->hugepage_limits_len; i++)
    {
      const struct oci_hugepage_limit *h = &res->hugepage_limits[i];
      cleanup_free char *file = NULL;
      if (!sp_cgroup_hugepage_size_valid (h->page_size))
        return sp_error_make (err, EINVAL, "linux.resources.hugepageLimits[%zu].pageSize: invalid size `%s`", i,
                              h->page_size ? h->page_size : "");
      file = sp_xasprintf ("hugetlb.%s.limit_in_bytes", h->page_size);
      if (!sp_cgroup_file_exists (dir, file))
        return sp_error_make (err, ENOTSUP, "linux.resources.hugepageLimits[%zu]: page size `%s` is not supported "
                              "(no `%s/%s`)", i, h->page_size, dir, file);
      if (write_u64 (dir, file, h->limit, err) < 0)
        return -1;
    }
  return 0;
}

static int
apply_devices (const struct sp_cgroup *cg, const struct oci_resources *res, sp_error_t *err)
{
  const char *dir;
  int r = controller_dir (cg, "devices", "devices", &dir, err);

  if (r <= 0)
    return r;
  /* In order: a leading deny-all "a *:* rwm" empties the whitelist, then
   * each rule adds or removes access. */
  for (size_t i = 0; i < res->devices_len; i++)
    {
      const struct oci_device_cgroup *d = &res->devices[i];
      cleanup_free char *line = NULL;
      char type = d->type ? d->type : 'a';
      if (type != 'a' && type != 'b' && type != 'c')
        return sp_error_make (err, EINVAL, "linux.resources.devices[%zu].type: invalid type `%c`", i, type);
      if (!sp_cgroup_device_access_valid (d->access))
        return sp_error_make (err, EINVAL, "linux.resources.devices[%zu].access: invalid access `%s`", i,
                              d->access);
      line = sp_cgroup_device_rule_v1 (d);
      if (sp_cgroup_write (dir, d->allow ? "devices.allow" : "devices.deny", line, err) < 0)
        return -1;
    }
  return 0;
}

static int
apply_network (const struct sp_cgroup *cg, const struct oci_network *n, sp_error_t *err)
{
  const char *cls = sp_cgroup_v1_dir (cg, "net_cls"), *prio = sp_cgroup_v1_dir (cg, "net_prio");

  if (n->has_class_id)
    {
      if (cls == NULL)
        sp_warn ("linux.resources.network.classID ignored: the net_cls controller is not mounted");
      else if (write_u64 (cls, "net_cls.classid", n->class_id, err) < 0)
        return -1;
    }
  if (n->priorities_len && prio == NULL)
    sp_warn ("linux.resources.network.priorities ignored: the net_prio controller is not mounted");
  for (size_t i = 0; prio && i < n->priorities_len; i++)
    {
      cleanup_free char *v = sp_xasprintf ("%s %u", n->priorities[i].name, n->priorities[i].priority);
      if (sp_cgroup_write (prio, "net_prio.ifpriomap", v, err) < 0)
        return -1;
    }
  return 0;
}

static int
apply_rdma (const struct sp_cgroup *cg, const struct oci_resources *res, sp_error_t *err)
{
  const char *dir;
  int r = controller_dir (cg, "rdma", "rdma", &dir, err);

  if (r <= 0)
    return r;
  for (size_t i = 0; i < res->rdma_len; i++)
    {
      const struct oci_rdma *d = &res->rdma[i];
      char handles[16] = "max", objects[16] = "max";
      cleanup_free char *v = NULL;
      if (d->has_hca_handles)
        snprintf (handles, sizeof handles, "%u", d->hca_handles);
      if (d->has_hca_objects)
        snprintf (objects, sizeof objects, "%u", d->hca_objects);
      v = sp_xasprintf ("%s hca_handle=%s hca_object=%s", d->device, handles, objects);
      if (sp_cgroup_write (dir, "rdma.max", v, err) < 0)
        return -1;
    }
  return 0;
}

int
sp_cgroup_v1_apply (struct sp_cgroup *cg, const struct oci_resources *res, sp_error_t *err)
{
  const char *dir;
  int r;

  if (res->memory && apply_memory (cg, res->memory, err) < 0)
    return -1;
  if (res->cpu && apply_cpu (cg, res->cpu, err) < 0)
    return -1;
  if (res->pids && res->pids->has_limit)
    {
      r = controller_dir (cg, "pids", "pids", &dir, err);
      if (r < 0)
        return -1;
      if (r > 0 && (res->pids->limit > 0 ? write_i64 (dir, "pids.max", res->pids->limit, err)
                                         : sp_cgroup_write (dir, "pids.max", "max", err))
                       < 0)
        return -1;
    }
  if (res->block_io && apply_blkio (cg, res->block_io, err) < 0)
    return -1;
  if (res->hugepage_limits_len && apply_hugetlb (cg, res, err) < 0)
    return -1;
  if (res->devices_len && apply_devices (cg, res, err) < 0)
    return -1;
  if (res->network && apply_network (cg, res->network, err) < 0)
    return -1;
  if (res->rdma_len && apply_rdma (cg, res, err) < 0)
    return -1;
  if (res->unified_len && cg->layout != SP_CGROUP_LAYOUT_HYBRID)
    return sp_error_make (err, ENOTSUP, "linux.resources.unified: needs cgroup v2, and this host has cgroup v1 only");
  return 0;
}

/* ---- freezer ---- */

int
sp_cgroup_v1_is_frozen (const char *dir, bool *frozen, sp_error_t *err)
{
  cleanup_free char *state = NULL;
  if (sp_cgroup_read (dir, "freezer.state", &state, err) < 0)
    return -1;
  *frozen = strcmp (state, "FROZEN") == 0;
  return 0;
}

int
sp_cgroup_v1_freeze (const char *dir, bool frozen, sp_error_t *err)
{
  const char *want = frozen ? "FROZEN" : "THAWED";

  /* FREEZING can stall when a task is busy in the kernel; writing again
   * retries it, as runc does. Give up after about 10 seconds. */
  for (int attempt = 0; attempt < 1000; attempt++)
    {
      cleanup_free char *state = NULL;
      struct timespec ts = { 0, 10 * 1000 * 1000 };
      if (attempt % 50 == 0 && sp_cgroup_write (dir, "freezer.state", want, err) < 0)
        return -1;
      if (sp_cgroup_read (dir, "freezer.state", &state, err) < 0)
        return -1;
      if (strcmp (state, want) == 0)
        return 0;
      nanosleep (&ts, NULL);
    }
  return sp_error_make (err, ETIMEDOUT, "`%s/freezer.state` did not reach %s", dir, want);
}
