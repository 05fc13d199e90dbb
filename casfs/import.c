/* casfs import: the driver.  Picks the importer for the input, runs it with
 * the hash+write pipeline, writes the layer trees and the merged tree, then
 * commits the image record and the ref together (casfs_image_commit syncs
 * the store before the ref is written), so a failed or killed import never
 * leaves a ref to anything incomplete.  Importers hold STORE/lock shared
 * (casfs_store_lock) so gc cannot run meanwhile. */
#include "import_internal.h"

#include <samepage/cleanup.h>
#include <samepage/log.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_PLATFORM "linux/amd64"
#define PROGRESS_INTERVAL_NS 100000000ull

void
import_progress_tick (struct import_progress *pr, bool final)
{
  unsigned long long now;
  double secs, mib;
  char bar[31];

  if (!pr->enabled)
    return;
  now = sp_now_ns ();
  if (!final && now - pr->last_draw_ns < PROGRESS_INTERVAL_NS)
    return;
  pr->last_draw_ns = now;
  secs = (double) (now - pr->start_ns) / 1e9;
  mib = (double) pr->input_pos / (1 << 20);
  if (pr->input_total > 0)
    {
      uint64_t pos = pr->input_pos < pr->input_total ? pr->input_pos : pr->input_total;
      size_t fill = (size_t) (pos * 30 / pr->input_total);
      memset (bar, '#', fill);
      memset (bar + fill, '.', 30 - fill);
      bar[30] = '\0';
      fprintf (stderr, "\r\033[K[%s] %3d%% %8.1f MiB %7.1f MiB/s %llu entries", bar,
               (int) (pos * 100 / pr->input_total), mib, secs > 0 ? mib / secs : 0.0,
               (unsigned long long) pr->entries);
    }
  else
    fprintf (stderr, "\r\033[K%8.1f MiB %7.1f MiB/s %llu entries", mib, secs > 0 ? mib / secs : 0.0,
             (unsigned long long) pr->entries);
  if (final)
    fprintf (stderr, "\r\033[K");
  fflush (stderr);
}

static int
ctx_init (struct import_ctx *ctx, struct casfs_store *s, unsigned workers, sp_error_t *err)
{
  memset (ctx, 0, sizeof (*ctx));
  ctx->store = s;
  ctx->progress.start_ns = sp_now_ns ();
  return import_pipe_new (s, workers, &ctx->pipe, err);
}

/* Waits for the pipeline, then stores every layer tree (overlay form). */
static int
write_layer_trees (struct import_ctx *ctx, struct image_import *im, struct casfs_digest **layers_out,
                   sp_error_t *err)
{
  cleanup_free struct casfs_digest *trees = NULL;
  struct casfs_digest *layers;

  if (import_pipe_finish (ctx->pipe, err) < 0)
    return -1;
  import_pipe_stats (ctx->pipe, &ctx->stats);
  trees = sp_xmalloc0 ((im->n_trees ? im->n_trees : 1) * sizeof (*trees));
  for (size_t i = 0; i < im->n_trees; i++)
    {
      memtree_resolve_links (im->trees[i]);
      if (memtree_write (ctx->store, im->trees[i], false, &trees[i], err) < 0)
        return sp_error_wrap (err, "write layer tree");
    }
  layers = sp_xmalloc0 ((im->n_layers ? im->n_layers : 1) * sizeof (*layers));
  for (size_t i = 0; i < im->n_layers; i++)
    layers[i] = trees[im->layer_tree[i]];
  *layers_out = layers;
  return 0;
}

static void
single_layer (struct image_import *im, const char *kind)
{
  im->trees = sp_xmalloc0 (sizeof (*im->trees));
  im->trees[0] = memtree_new ();
  im->n_trees = 1;
  im->layer_tree = sp_xmalloc0 (sizeof (*im->layer_tree));
  im->layer_info = sp_xmalloc0 (sizeof (*im->layer_info));
  im->n_layers = 1;
  im->source_kind = kind;
}

static int
import_layer_file (struct import_ctx *ctx, const char *path, struct image_import *im, sp_error_t *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  struct casfs_digest raw;
  char hex[CASFS_DIGEST_HEX_LEN + 1];
  struct stat st;
  uint64_t size;

  if (fd < 0)
    return sp_error_errno (err, "open `%s`", path);
  if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode))
    ctx->progress.input_total = (uint64_t) st.st_size;
  single_layer (im, "layer");
  if (import_layer_fd (ctx, fd, path, im->trees[0], &raw, &size, err) < 0)
    return -1;
  casfs_digest_hex (&raw, hex);
  im->layer_info[0].digest = sp_xasprintf ("sha256:%s", hex);
  im->layer_info[0].size = size;
  return 0;
}

static int
run_importer (struct import_ctx *ctx, const char *path, const struct casfs_import_options *opts,
              struct image_import *im, sp_error_t *err)
{
  const char *platform = opts->platform ? opts->platform : DEFAULT_PLATFORM;
  enum casfs_import_kind kind = opts->kind;
  struct stat st;

  if (stat (path, &st) < 0)
    return sp_error_errno (err, "import `%s`", path);
  if (S_ISDIR (st.st_mode))
    {
      cleanup_free char *layout = sp_xasprintf ("%s/oci-layout", path);
      if (kind == CASFS_IMPORT_AUTO)
        kind = access (layout, F_OK) == 0 ? CASFS_IMPORT_OCI : CASFS_IMPORT_DIR;
      if (kind == CASFS_IMPORT_OCI)
        return import_oci_dir (ctx, path, platform, im, err);
      if (kind != CASFS_IMPORT_DIR)
        return sp_error_make (err, EINVAL, "`%s` is a directory: import it as an OCI layout or a layer directory",
                              path);
      single_layer (im, "dir");
      return import_dir_into (ctx, path, im->trees[0], err);
    }
  if (kind == CASFS_IMPORT_DIR)
    return sp_error_make (err, ENOTDIR, "`%s` is not a directory", path);
  if (kind == CASFS_IMPORT_AUTO)
    kind = import_tar_is_image (path) ? CASFS_IMPORT_AUTO : CASFS_IMPORT_LAYER;
  if (S_ISREG (st.st_mode))
    ctx->progress.input_total = (uint64_t) st.st_size;
  if (kind == CASFS_IMPORT_LAYER)
    return import_layer_file (ctx, path, im, err);
  return import_image_tar (ctx, path, kind, platform, opts->ref, im, err);
}

/* The image record (casfs_images.h) and the ref, in one step. */
static int
commit_image (struct casfs_store *s, const char *path, const char *ref, const struct casfs_digest *merged,
              const struct casfs_digest *layers, struct image_import *im, sp_error_t *err)
{
  cleanup_free char *abs = realpath (path, NULL);
  cleanup_free char *source = sp_xasprintf ("%s:%s", im->source_kind ? im->source_kind : "unknown",
                                            abs ? abs : path);
  struct casfs_image img = {
    .tree = *merged,
    .source = source,
    .manifest_digest = im->manifest_digest,
    .config = im->config_json,
    .config_len = im->config_len,
    .layers = im->layer_info,
    .n_layers = im->n_layers,
  };
  struct casfs_digest id;
  int ret;

  for (size_t i = 0; i < im->n_layers; i++)
    im->layer_info[i].tree = layers[i];
  ret = casfs_image_commit (s, ref, &img, &id, err);
  free (img.config_digest); /* set by the write; the rest belongs to im */
  return ret;
}

int
casfs_import (struct casfs_store *s, const char *path, const struct casfs_import_options *opts,
              struct casfs_import_result *out, sp_error_t *err)
{
  struct import_ctx ctx;
  struct image_import im = { 0 };
  struct casfs_digest *layers = NULL;
  struct casfs_digest merged;
  unsigned long long start = sp_now_ns ();
  const char *ref;
  int ret;

  memset (out, 0, sizeof (*out));
  if (casfs_store_lock (s, false, err) < 0)
    return -1;
  if (ctx_init (&ctx, s, opts->workers, err) < 0)
    return -1;
  /* one syncfs per batch instead of one fsync per file (store_batch.c) */
  casfs_store_batch_begin (s);
  ctx.progress.enabled = opts->progress;
  ret = run_importer (&ctx, path, opts, &im, err);
  if (ret == 0)
    ret = write_layer_trees (&ctx, &im, &layers, err);
  import_progress_tick (&ctx.progress, true);
  import_pipe_free (ctx.pipe); /* joins the workers before the trees go */
  /* merging reads the layer trees back: they must have their names */
  if (ret == 0 && casfs_store_flush (s, err) < 0)
    ret = sp_error_wrap (err, "store layers of `%s`", path);
  if (ret == 0 && casfs_layers_merge (s, layers, im.n_layers, &merged, err) < 0)
    ret = sp_error_wrap (err, "merge layers of `%s`", path);
  ref = opts->ref ? opts->ref : im.name;
  if (ret == 0 && ref && commit_image (s, path, ref, &merged, layers, &im, err) < 0)
    ret = sp_error_wrap (err, "set ref `%s`", ref);
  if (casfs_store_batch_end (s, ret == 0, ret == 0 ? err : NULL) < 0)
    ret = sp_error_wrap (err, "import `%s`", path);
  if (ret < 0)
    {
      free (layers);
      image_import_clear (&im);
      return sp_error_wrap (err, "import `%s`", path);
    }
  out->merged = merged;
  out->layers = layers;
  out->n_layers = im.n_layers;
  out->ref = ref ? sp_xstrdup (ref) : NULL;
  out->config_json = steal_pointer (&im.config_json);
  out->stats = ctx.stats;
  out->stats.input_bytes = ctx.progress.input_pos;
  out->stats.seconds = (double) (sp_now_ns () - start) / 1e9;
  image_import_clear (&im);
  return 0;
}

void
casfs_import_result_clear (struct casfs_import_result *r)
{
  free (r->layers);
  free (r->ref);
  free (r->config_json);
  memset (r, 0, sizeof (*r));
}

/* One layer (directory or tarball) without ref or metadata: for the runtime. */
static int
import_one_layer (struct casfs_store *s, const char *path, bool is_dir, struct casfs_digest *tree_out,
                  sp_error_t *err)
{
  struct import_ctx ctx;
  struct image_import im = { 0 };
  cleanup_free struct casfs_digest *layers = NULL;
  int ret;

  if (casfs_store_lock (s, false, err) < 0 || ctx_init (&ctx, s, 0, err) < 0)
    return -1;
  casfs_store_batch_begin (s);
  if (is_dir)
    {
      single_layer (&im, "dir");
      ret = import_dir_into (&ctx, path, im.trees[0], err);
    }
  else
    ret = import_layer_file (&ctx, path, &im, err);
  if (ret == 0)
    ret = write_layer_trees (&ctx, &im, &layers, err);
  import_pipe_free (ctx.pipe);
  if (casfs_store_batch_end (s, ret == 0, ret == 0 ? err : NULL) < 0)
    ret = -1;
  if (ret == 0)
    *tree_out = layers[0];
  image_import_clear (&im);
  return ret < 0 ? sp_error_wrap (err, "import layer `%s`", path) : 0;
}

int
casfs_import_dir (struct casfs_store *s, const char *dir, struct casfs_digest *tree_out, sp_error_t *err)
{
  return import_one_layer (s, dir, true, tree_out, err);
}

int
casfs_import_layer_archive (struct casfs_store *s, const char *path, struct casfs_digest *tree_out,
                            sp_error_t *err)
{
  return import_one_layer (s, path, false, tree_out, err);
}
