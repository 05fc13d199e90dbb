/* casfs du / stats: logical vs unique bytes per image and for the store. */
#include <samepage/casfs_stats.h>
#include <samepage/casfs_walk.h>
#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <yajl/yajl_gen.h>

/* Per object, across the whole run. */
struct obj
{
  uint64_t size;
  size_t images; /* how many images use it */
  size_t last_image; /* index + 1 of the last image that counted it */
};

/* Hardlink groups already counted in the current image (ids are 1..N). */
struct link_seen
{
  uint8_t *bits;
  size_t cap; /* bits */
};

static bool
link_test_and_set (struct link_seen *ls, uint64_t id)
{
  if (id >= ls->cap)
    {
      size_t cap = ls->cap ? ls->cap : 1024;
      while (cap <= id)
        cap *= 2;
      ls->bits = sp_xrealloc (ls->bits, cap / 8);
      memset (ls->bits + ls->cap / 8, 0, (cap - ls->cap) / 8);
      ls->cap = cap;
    }
  if (ls->bits[id / 8] & (1u << (id % 8)))
    return true;
  ls->bits[id / 8] |= (uint8_t) (1u << (id % 8));
  return false;
}

struct image_walk
{
  struct casfs_image_stats *st;
  size_t index; /* 1-based */
  struct obj **used; /* objects first seen in this image */
  size_t n_used;
};

static void
count_file (struct casfs_digest_map *objects, struct image_walk *w, struct link_seen *links,
            const struct casfs_entry *e)
{
  bool added;
  void **slot;
  struct obj *o;

  if (e->link_id && link_test_and_set (links, e->link_id))
    return;
  w->st->files++;
  w->st->logical_bytes += e->size;
  slot = casfs_digest_map_insert (objects, &e->digest, &added);
  if (added)
    *slot = sp_xmalloc0 (sizeof (struct obj));
  o = *slot;
  o->size = e->size;
  if (o->last_image == w->index)
    return;
  o->last_image = w->index;
  o->images++;
  w->st->unique_objects++;
  w->st->unique_bytes += o->size;
  w->used = sp_xrealloc (w->used, (w->n_used + 1) * sizeof (*w->used));
  w->used[w->n_used++] = o;
}

static int
walk_image (struct casfs_tree_cache *cache, struct casfs_digest_map *objects, struct image_walk *w,
            sp_error_t *err)
{
  cleanup_free struct casfs_digest *stack = sp_xmalloc0 (sizeof (*stack));
  struct link_seen links = { 0 };
  size_t n = 0, cap = 1;
  int ret = 0;

  stack[n++] = w->st->tree;
  while (n > 0 && ret == 0)
    {
      struct casfs_digest d = stack[--n];
      const struct casfs_tree *t;
      const char *problem;

      if (casfs_tree_cache_get (cache, &d, &t, &problem, err) < 0)
        {
          ret = -1;
          break;
        }
      if (t == NULL)
        {
          sp_warn ("stats: ref `%s`: %s; run `casfs fsck`", w->st->ref, problem);
          w->st->problems++;
          continue;
        }
      for (size_t i = 0; i < t->n; i++)
        {
          const struct casfs_entry *e = &t->entries[i];
          if (S_ISREG (e->mode))
            count_file (objects, w, &links, e);
          else if (S_ISDIR (e->mode))
            {
              if (n == cap)
                stack = sp_xrealloc (stack, (cap *= 2) * sizeof (*stack));
              stack[n++] = e->digest;
            }
        }
    }
  free (links.bits);
  return ret;
}

static int
count_disk_object (int dirfd, const char *name, const char *rel, const struct casfs_digest *d, void *data,
                   sp_error_t *err)
{
  struct casfs_store_stats *st = data;
  struct stat sb;
  if (fstatat (dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : sp_error_errno (err, "stat `%s`", rel);
  st->disk_objects++;
  st->disk_bytes += (uint64_t) sb.st_size;
  return 0;
}

int
casfs_stats_compute (struct casfs_store *s, struct casfs_store_stats *out, sp_error_t *err)
{
  cleanup_strv char **refs = NULL;
  cleanup_tree_cache struct casfs_tree_cache *cache = casfs_tree_cache_new (s);
  struct casfs_digest_map *objects = casfs_digest_map_new ();
  struct image_walk *walks = NULL;
  size_t n;
  int ret = -1;

  memset (out, 0, sizeof (*out));
  if (casfs_store_list_refs (s, &refs, err) < 0)
    goto done;
  n = sp_strv_len (refs);
  out->images = sp_xmalloc0 ((n + 1) * sizeof (*out->images));
  walks = sp_xmalloc0 ((n + 1) * sizeof (*walks));
  for (size_t i = 0; i < n; i++)
    {
      struct casfs_image_stats *im = &out->images[out->n_images];
      if (casfs_store_resolve_ref (s, refs[i], &im->tree, err) < 0)
        {
          /* a ref removed meanwhile is simply gone; a corrupt one is reported */
          sp_warn ("stats: %s", (*err)->msg);
          sp_error_release (err);
          out->problems++;
          continue;
        }
      im->ref = sp_xstrdup (refs[i]);
      walks[out->n_images].st = im;
      walks[out->n_images].index = out->n_images + 1;
      out->n_images++;
      if (walk_image (cache, objects, &walks[out->n_images - 1], err) < 0)
        goto done;
    }
  for (size_t i = 0; i < out->n_images; i++)
    {
      struct casfs_image_stats *im = &out->images[i];
      for (size_t j = 0; j < walks[i].n_used; j++)
        if (walks[i].used[j]->images > 1)
          {
            im->shared_objects++;
            im->shared_bytes += walks[i].used[j]->size;
          }
      out->files += im->files;
      out->logical_bytes += im->logical_bytes;
      out->problems += im->problems;
    }
  {
    size_t pos = 0;
    const struct casfs_digest *d;
    void **v;
    while (casfs_digest_map_next (objects, &pos, &d, &v))
      {
        struct obj *o = *v;
        out->unique_objects++;
        out->unique_bytes += o->size;
        if (o->images > 1)
          {
            out->shared_objects++;
            out->shared_bytes += o->size;
          }
      }
  }
  if (casfs_walk_fanout (s, "objects", count_disk_object, out, err) < 0)
    goto done;
  ret = 0;
done:
  out->trees = casfs_tree_cache_size (cache); /* exactly the trees reachable from refs */
  for (size_t i = 0; walks && i < out->n_images; i++)
    free (walks[i].used);
  free (walks);
  casfs_digest_map_free (objects, free);
  return ret;
}

void
casfs_stats_clear (struct casfs_store_stats *st)
{
  for (size_t i = 0; i < st->n_images; i++)
    free (st->images[i].ref);
  free (st->images);
  memset (st, 0, sizeof (*st));
}

double
casfs_stats_ratio (uint64_t logical, uint64_t unique)
{
  return unique ? (double) logical / (double) unique : 0.0;
}

const char *
casfs_stats_human (uint64_t bytes, char buf[16])
{
  static const char units[] = "BKMGTPE";
  double v = (double) bytes;
  int u = 0;

  if (bytes < 1024)
    {
      snprintf (buf, 16, "%lluB", (unsigned long long) bytes);
      return buf;
    }
  while (v >= 1024 && u < 6)
    {
      v /= 1024;
      u++;
    }
  snprintf (buf, 16, "%.1f%c", v, units[u]);
  return buf;
}

static void
gen_key (yajl_gen g, const char *k)
{
  yajl_gen_string (g, (const unsigned char *) k, strlen (k));
}

static void
gen_u64 (yajl_gen g, const char *k, uint64_t v)
{
  gen_key (g, k);
  yajl_gen_integer (g, (long long) v);
}

static void
gen_ratio (yajl_gen g, uint64_t logical, uint64_t unique)
{
  /* two decimals, as a JSON number: stable across libcs */
  char num[32];
  int len = snprintf (num, sizeof num, "%.2f", casfs_stats_ratio (logical, unique));
  gen_key (g, "dedup_ratio");
  yajl_gen_number (g, num, (size_t) len);
}

static bool
wanted (char *const *only, const char *ref)
{
  if (only == NULL)
    return true;
  for (; *only; only++)
    if (strcmp (*only, ref) == 0)
      return true;
  return false;
}

int
casfs_stats_to_json (const struct casfs_store_stats *st, char *const *only_refs, char **json, sp_error_t *err)
{
  yajl_gen g = yajl_gen_alloc (NULL);
  const unsigned char *buf;
  size_t len;

  if (g == NULL)
    return sp_error_make (err, ENOMEM, "allocate JSON generator");
  yajl_gen_config (g, yajl_gen_beautify, 1);
  yajl_gen_map_open (g);
  gen_key (g, "store");
  yajl_gen_map_open (g);
  gen_u64 (g, "images", st->n_images);
  gen_u64 (g, "trees", st->trees);
  gen_u64 (g, "files", st->files);
  gen_u64 (g, "logical_bytes", st->logical_bytes);
  gen_u64 (g, "unique_objects", st->unique_objects);
  gen_u64 (g, "unique_bytes", st->unique_bytes);
  gen_u64 (g, "shared_objects", st->shared_objects);
  gen_u64 (g, "shared_bytes", st->shared_bytes);
  gen_ratio (g, st->logical_bytes, st->unique_bytes);
  gen_u64 (g, "disk_objects", st->disk_objects);
  gen_u64 (g, "disk_bytes", st->disk_bytes);
  gen_u64 (g, "problems", st->problems);
  yajl_gen_map_close (g);
  gen_key (g, "images");
  yajl_gen_array_open (g);
  for (size_t i = 0; i < st->n_images; i++)
    {
      const struct casfs_image_stats *im = &st->images[i];
      char hex[CASFS_DIGEST_HEX_LEN + 1];
      if (!wanted (only_refs, im->ref))
        continue;
      casfs_digest_hex (&im->tree, hex);
      yajl_gen_map_open (g);
      gen_key (g, "ref");
      yajl_gen_string (g, (const unsigned char *) im->ref, strlen (im->ref));
      gen_key (g, "tree");
      yajl_gen_string (g, (const unsigned char *) hex, strlen (hex));
      gen_u64 (g, "files", im->files);
      gen_u64 (g, "logical_bytes", im->logical_bytes);
      gen_u64 (g, "unique_objects", im->unique_objects);
      gen_u64 (g, "unique_bytes", im->unique_bytes);
      gen_u64 (g, "shared_objects", im->shared_objects);
      gen_u64 (g, "shared_bytes", im->shared_bytes);
      gen_ratio (g, im->logical_bytes, im->unique_bytes);
      gen_u64 (g, "problems", im->problems);
      yajl_gen_map_close (g);
    }
  yajl_gen_array_close (g);
  yajl_gen_map_close (g);
  if (yajl_gen_get_buf (g, &buf, &len) != yajl_gen_status_ok)
    {
      yajl_gen_free (g);
      return sp_error_make (err, 0, "stats: JSON generation failed");
    }
  *json = sp_xmalloc0 (len + 1);
  memcpy (*json, buf, len);
  yajl_gen_free (g);
  return 0;
}
