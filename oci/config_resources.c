/* config.json `linux.resources`: the cgroup settings (also read by
 * `samepage update --resources`). */
#include "config_parse.h"

#include <samepage/util.h>

#include <stdlib.h>
#include <string.h>

static int
parse_device_cgroup (struct oci_parser *p, yajl_val v, void *elem)
{
  struct oci_device_cgroup *d = elem;
  static const char *const types[] = { "a", "c", "b", NULL };
  char *type = NULL;
  int ret;

  if (oci_field_bool (p, v, "allow", true, &d->allow, NULL) < 0)
    return -1;
  d->type = 'a';
  ret = oci_field_enum (p, v, "type", false, types, "device type", &type);
  if (ret == 0 && type)
    d->type = type[0];
  free (type);
  if (ret < 0)
    return -1;
  if (oci_field_i64 (p, v, "major", false, &d->major, &d->has_major) < 0
      || oci_field_i64 (p, v, "minor", false, &d->minor, &d->has_minor) < 0
      || oci_field_string (p, v, "access", false, &d->access) < 0)
    return -1;
  if (d->access && (d->access[0] == '\0' || strspn (d->access, "rwm") != strlen (d->access)))
    return oci_fail_at (p, "access", "invalid access \"%s\" (expected letters from \"rwm\")", d->access);
  return 0;
}

static int
parse_memory (struct oci_parser *p, yajl_val v, struct oci_memory *m)
{
  if (oci_field_i64 (p, v, "limit", false, &m->limit, &m->has_limit) < 0
      || oci_field_i64 (p, v, "reservation", false, &m->reservation, &m->has_reservation) < 0
      || oci_field_i64 (p, v, "swap", false, &m->swap, &m->has_swap) < 0
      || oci_field_i64 (p, v, "kernel", false, &m->kernel, &m->has_kernel) < 0
      || oci_field_i64 (p, v, "kernelTCP", false, &m->kernel_tcp, &m->has_kernel_tcp) < 0
      || oci_field_u64 (p, v, "swappiness", false, &m->swappiness, &m->has_swappiness) < 0
      || oci_field_bool (p, v, "disableOOMKiller", false, &m->disable_oom_killer, &m->has_disable_oom_killer) < 0
      || oci_field_bool (p, v, "useHierarchy", false, &m->use_hierarchy, &m->has_use_hierarchy) < 0
      || oci_field_bool (p, v, "checkBeforeUpdate", false, &m->check_before_update, &m->has_check_before_update)
             < 0)
    return -1;
  if (m->has_swappiness && m->swappiness > 100)
    return oci_fail_at (p, "swappiness", "%llu is out of range (0..100)", (unsigned long long) m->swappiness);
  return 0;
}

static int
parse_cpu (struct oci_parser *p, yajl_val v, struct oci_cpu *c)
{
  if (oci_field_u64 (p, v, "shares", false, &c->shares, &c->has_shares) < 0
      || oci_field_i64 (p, v, "quota", false, &c->quota, &c->has_quota) < 0
      || oci_field_u64 (p, v, "burst", false, &c->burst, &c->has_burst) < 0
      || oci_field_u64 (p, v, "period", false, &c->period, &c->has_period) < 0
      || oci_field_i64 (p, v, "realtimeRuntime", false, &c->realtime_runtime, &c->has_realtime_runtime) < 0
      || oci_field_u64 (p, v, "realtimePeriod", false, &c->realtime_period, &c->has_realtime_period) < 0
      || oci_field_string (p, v, "cpus", false, &c->cpus) < 0 || oci_field_string (p, v, "mems", false, &c->mems) < 0
      || oci_field_i64 (p, v, "idle", false, &c->idle, &c->has_idle) < 0)
    return -1;
  return 0;
}

static int
parse_pids (struct oci_parser *p, yajl_val v, struct oci_pids *pids)
{
  return oci_field_i64 (p, v, "limit", false, &pids->limit, &pids->has_limit);
}

static int
parse_weight_device (struct oci_parser *p, yajl_val v, void *elem)
{
  struct oci_weight_device *w = elem;
  if (oci_field_i64 (p, v, "major", true, &w->major, NULL) < 0
      || oci_field_i64 (p, v, "minor", true, &w->minor, NULL) < 0
      || oci_field_u16 (p, v, "weight", false, &w->weight, &w->has_weight) < 0
      || oci_field_u16 (p, v, "leafWeight", false, &w->leaf_weight, &w->has_leaf_weight) < 0)
    return -1;
  return 0;
}

static int
parse_throttle_device (struct oci_parser *p, yajl_val v, void *elem)
{
  struct oci_throttle_device *t = elem;
  if (oci_field_i64 (p, v, "major", true, &t->major, NULL) < 0
      || oci_field_i64 (p, v, "minor", true, &t->minor, NULL) < 0
      || oci_field_u64 (p, v, "rate", true, &t->rate, NULL) < 0)
    return -1;
  return 0;
}

static int
parse_block_io (struct oci_parser *p, yajl_val v, struct oci_block_io *b)
{
  if (oci_field_u16 (p, v, "weight", false, &b->weight, &b->has_weight) < 0
      || oci_field_u16 (p, v, "leafWeight", false, &b->leaf_weight, &b->has_leaf_weight) < 0
      || oci_field_objects (p, v, "weightDevice", sizeof (struct oci_weight_device), parse_weight_device,
                            &b->weight_device, &b->weight_device_len)
             < 0
      || oci_field_objects (p, v, "throttleReadBpsDevice", sizeof (struct oci_throttle_device),
                            parse_throttle_device, &b->throttle_read_bps_device, &b->throttle_read_bps_device_len)
             < 0
      || oci_field_objects (p, v, "throttleWriteBpsDevice", sizeof (struct oci_throttle_device),
                            parse_throttle_device, &b->throttle_write_bps_device, &b->throttle_write_bps_device_len)
             < 0
      || oci_field_objects (p, v, "throttleReadIOPSDevice", sizeof (struct oci_throttle_device),
                            parse_throttle_device, &b->throttle_read_iops_device,
                            &b->throttle_read_iops_device_len)
             < 0
      || oci_field_objects (p, v, "throttleWriteIOPSDevice", sizeof (struct oci_throttle_device),
                            parse_throttle_device, &b->throttle_write_iops_device,
                            &b->throttle_write_iops_device_len)
             < 0)
    return -1;
  return 0;
}

static int
parse_hugepage_limit (struct oci_parser *p, yajl_val v, void *elem)
{
  struct oci_hugepage_limit *h = elem;
  if (oci_field_string (p, v, "pageSize", true, &h->page_size) < 0
      || oci_field_u64 (p, v, "limit", true, &h->limit, NULL) < 0)
    return -1;
  return 0;
}

static int
parse_network_priority (struct oci_parser *p, yajl_val v, void *elem)
{
  struct oci_network_priority *n = elem;
  if (oci_field_string (p, v, "name", true, &n->name) < 0
      || oci_field_u32 (p, v, "priority", true, &n->priority, NULL) < 0)
    return -1;
  return 0;
}

static int
parse_network (struct oci_parser *p, yajl_val v, struct oci_network *n)
{
  if (oci_field_u32 (p, v, "classID", false, &n->class_id, &n->has_class_id) < 0
      || oci_field_objects (p, v, "priorities", sizeof (struct oci_network_priority), parse_network_priority,
                            &n->priorities, &n->priorities_len)
             < 0)
    return -1;
  return 0;
}

/* rdma is an object keyed by device name. */
static int
parse_rdma (struct oci_parser *p, yajl_val v, struct oci_resources *r)
{
  r->rdma_len = v->u.object.len;
  r->rdma = sp_xmalloc0 (r->rdma_len * sizeof (struct oci_rdma));
  for (size_t i = 0; i < r->rdma_len; i++)
    {
      struct oci_rdma *d = &r->rdma[i];
      yajl_val entry = v->u.object.values[i];
      size_t saved = oci_path_map_key (p, v->u.object.keys[i]);

      d->device = sp_xstrdup (v->u.object.keys[i]);
      if (oci_val_object (p, entry) < 0
          || oci_field_u32 (p, entry, "hcaHandles", false, &d->hca_handles, &d->has_hca_handles) < 0
          || oci_field_u32 (p, entry, "hcaObjects", false, &d->hca_objects, &d->has_hca_objects) < 0)
        return -1;
      oci_path_restore (p, saved);
    }
  return 0;
}

int
oci_parse_resources (struct oci_parser *p, yajl_val v, struct oci_resources *r)
{
  yajl_val rdma;

  if (oci_field_objects (p, v, "devices", sizeof (struct oci_device_cgroup), parse_device_cgroup, &r->devices,
                         &r->devices_len)
      < 0)
    return -1;
  OCI_SUBOBJECT (p, v, "memory", r->memory, parse_memory);
  OCI_SUBOBJECT (p, v, "cpu", r->cpu, parse_cpu);
  OCI_SUBOBJECT (p, v, "pids", r->pids, parse_pids);
  OCI_SUBOBJECT (p, v, "blockIO", r->block_io, parse_block_io);
  if (oci_field_objects (p, v, "hugepageLimits", sizeof (struct oci_hugepage_limit), parse_hugepage_limit,
                         &r->hugepage_limits, &r->hugepage_limits_len)
      < 0)
    return -1;
  OCI_SUBOBJECT (p, v, "network", r->network, parse_network);
  if (oci_field_object (p, v, "rdma", false, &rdma) < 0)
    return -1;
  if (rdma)
    {
      size_t saved = oci_path_key (p, "rdma");
      if (parse_rdma (p, rdma, r) < 0)
        return -1;
      oci_path_restore (p, saved);
    }
  return oci_field_string_map (p, v, "unified", &r->unified, &r->unified_len);
}

void
oci_resources_free (struct oci_resources *r)
{
  if (r == NULL)
    return;
  for (size_t i = 0; r->devices && i < r->devices_len; i++)
    free (r->devices[i].access);
  free (r->devices);
  free (r->memory);
  if (r->cpu)
    {
      free (r->cpu->cpus);
      free (r->cpu->mems);
      free (r->cpu);
    }
  free (r->pids);
  if (r->block_io)
    {
      free (r->block_io->weight_device);
      free (r->block_io->throttle_read_bps_device);
      free (r->block_io->throttle_write_bps_device);
      free (r->block_io->throttle_read_iops_device);
      free (r->block_io->throttle_write_iops_device);
      free (r->block_io);
    }
  for (size_t i = 0; r->hugepage_limits && i < r->hugepage_limits_len; i++)
    free (r->hugepage_limits[i].page_size);
  free (r->hugepage_limits);
  if (r->network)
    {
      for (size_t i = 0; r->network->priorities && i < r->network->priorities_len; i++)
        free (r->network->priorities[i].name);
      free (r->network->priorities);
      free (r->network);
    }
  for (size_t i = 0; r->rdma && i < r->rdma_len; i++)
    free (r->rdma[i].device);
  free (r->rdma);
  oci_kv_free (r->unified, r->unified_len);
  free (r);
}
