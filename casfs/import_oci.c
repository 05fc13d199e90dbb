/* Images: OCI image layouts (directory or tar) and `docker save` archives.
 * index.json -> manifest (platform selection) -> config + layers; every blob
 * read is verified against its digest (layers as they stream), blob names are
 * formed only from validated digests, and blobs of a layout directory are
 * opened with RESOLVE_BENEATH so a symlink cannot lead outside it. */
#include "import_internal.h"

#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#define MEDIA_INDEX "application/vnd.oci.image.index.v1+json"
#define MEDIA_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define TAR_SMALL_TOTAL_MAX (64u << 20)
#define INDEX_DEPTH_MAX 4

/* Where blobs come from: a layout directory, or the small files of an image tar. */
struct small_file
{
  char *name;
  char *data;
  size_t len;
};

struct image_src
{
  const char *path; /* for errors */
  int root_fd; /* layout directory, or -1 */
  struct small_file *files;
  size_t n_files;
};

static const struct small_file *
small_file (const struct image_src *src, const char *name)
{
  for (size_t i = 0; i < src->n_files; i++)
    if (strcmp (src->files[i].name, name) == 0)
      return &src->files[i];
  return NULL;
}

static int
open_beneath (int root, const char *name, sp_error_t *err)
{
  struct open_how how = { .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
                          .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
  int fd = (int) syscall (SYS_openat2, root, name, &how, sizeof how);
  if (fd < 0)
    return sp_error_errno (err, "open `%s`", name);
  return fd;
}

static int
read_named (const struct image_src *src, const char *name, char **out, size_t *len, sp_error_t *err)
{
  if (src->root_fd >= 0)
    {
      cleanup_close int fd = open_beneath (src->root_fd, name, err);
      struct stat st;
      if (fd < 0)
        return -1;
      if (fstat (fd, &st) < 0)
        return sp_error_errno (err, "stat `%s`", name);
      if (!S_ISREG (st.st_mode) || (uint64_t) st.st_size > CASFS_IMPORT_JSON_MAX)
        return sp_error_make (err, EFBIG, "`%s` is not a regular file of at most %u bytes", name,
                              CASFS_IMPORT_JSON_MAX);
      return sp_read_fd (fd, out, len, err);
    }
  const struct small_file *f = small_file (src, name);
  if (f == NULL)
    return sp_error_make (err, ENOENT, "no `%s` (or it is larger than %u bytes)", name, CASFS_IMPORT_JSON_MAX);
  *out = sp_xmalloc0 (f->len + 1);
  memcpy (*out, f->data, f->len);
  *len = f->len;
  return 0;
}

static int
blob_name (const char *digest, struct casfs_digest *d, char **name, sp_error_t *err)
{
  char hex[CASFS_DIGEST_HEX_LEN + 1];
  if (digest == NULL || !sp_str_has_prefix (digest, "sha256:"))
    return sp_error_make (err, EINVAL, "unsupported digest `%s` (want sha256:...)", digest ? digest : "(none)");
  if (casfs_digest_parse (digest, d, err) < 0)
    return -1;
  casfs_digest_hex (d, hex);
  *name = sp_xasprintf ("blobs/sha256/%s", hex);
  return 0;
}

/* Reads a small blob and checks it against its digest. */
static int
read_blob (const struct image_src *src, const char *digest, char **out, size_t *len, sp_error_t *err)
{
  cleanup_free char *name = NULL;
  struct casfs_digest want, got;

  if (blob_name (digest, &want, &name, err) < 0 || read_named (src, name, out, len, err) < 0)
    return sp_error_wrap (err, "image `%s`", src->path);
  casfs_digest_of (*out, *len, &got);
  if (memcmp (want.b, got.b, CASFS_DIGEST_LEN) != 0)
    {
      free (steal_pointer (out));
      return sp_error_make (err, EINVAL, "image `%s`: blob `%s` does not match its digest", src->path, digest);
    }
  return 0;
}

static int
parse_json (const char *buf, const char *what, yajl_val *out, sp_error_t *err)
{
  char msg[256] = "";
  *out = yajl_tree_parse (buf, msg, sizeof msg);
  if (*out == NULL)
    return sp_error_make (err, EINVAL, "%s: invalid JSON: %s", what, msg);
  if (!YAJL_IS_OBJECT (*out) && !YAJL_IS_ARRAY (*out))
    {
      yajl_tree_free (*out);
      return sp_error_make (err, EINVAL, "%s: not a JSON object", what);
    }
  return 0;
}

/* The string of a value, or NULL (yajl's macro hides that from the compiler). */
static const char *
sval (yajl_val v)
{
  return v && YAJL_IS_STRING (v) ? v->u.string : NULL;
}

static const char *
jstr (yajl_val v, const char *k1, const char *k2)
{
  const char *path[] = { k1, k2, NULL };
  yajl_val s = yajl_tree_get (v, path, yajl_t_string);
  return sval (s);
}

static yajl_val
jarr (yajl_val v, const char *key)
{
  const char *path[] = { key, NULL };
  return yajl_tree_get (v, path, yajl_t_array);
}

static bool
platform_matches (yajl_val desc, const char *platform)
{
  const char *os = jstr (desc, "platform", "os"), *arch = jstr (desc, "platform", "architecture");
  const char *variant = jstr (desc, "platform", "variant");
  cleanup_free char *have = NULL;
  if (os == NULL || arch == NULL)
    return false;
  have = variant ? sp_xasprintf ("%s/%s/%s", os, arch, variant) : sp_xasprintf ("%s/%s", os, arch);
  return strcmp (have, platform) == 0 || (variant && strncmp (have, platform, strlen (platform)) == 0
                                          && have[strlen (platform)] == '/');
}

/* Follows index.json (and nested indexes) to the manifest for `platform`. */
static int
select_manifest (const struct image_src *src, yajl_val index, const char *platform, int depth, char **manifest,
                 char **manifest_digest, char **ref_name, sp_error_t *err)
{
  yajl_val list = jarr (index, "manifests");
  yajl_val chosen = NULL;
  size_t n;

  if (depth > INDEX_DEPTH_MAX)
    return sp_error_make (err, ELOOP, "image `%s`: indexes nested too deep", src->path);
  if (list == NULL || (n = YAJL_GET_ARRAY (list)->len) == 0)
    return sp_error_make (err, EINVAL, "image `%s`: index has no `manifests`", src->path);
  for (size_t i = 0; i < n && chosen == NULL; i++)
    if (platform_matches (YAJL_GET_ARRAY (list)->values[i], platform))
      chosen = YAJL_GET_ARRAY (list)->values[i];
  if (chosen == NULL && n == 1 && jstr (YAJL_GET_ARRAY (list)->values[0], "platform", "os") == NULL)
    chosen = YAJL_GET_ARRAY (list)->values[0];
  if (chosen == NULL)
    {
      char have[512] = "";
      for (size_t i = 0; i < n; i++)
        {
          yajl_val d = YAJL_GET_ARRAY (list)->values[i];
          const char *os = jstr (d, "platform", "os"), *arch = jstr (d, "platform", "architecture");
          size_t l = strlen (have);
          snprintf (have + l, sizeof have - l, "%s%s/%s", l ? ", " : "", os ? os : "?", arch ? arch : "?");
        }
      return sp_error_make (err, ENOENT, "image `%s`: no manifest for platform %s (has: %s)", src->path, platform,
                            have);
    }
  const char *media = jstr (chosen, "mediaType", NULL);
  const char *digest = jstr (chosen, "digest", NULL);
  const char *name = jstr (chosen, "annotations", "org.opencontainers.image.ref.name");
  if (name == NULL)
    name = jstr (chosen, "annotations", "io.containerd.image.name");
  if (name && *ref_name == NULL)
    *ref_name = sp_xstrdup (name);
  cleanup_free char *buf = NULL;
  size_t len;
  if (read_blob (src, digest, &buf, &len, err) < 0)
    return -1;
  if (media && (strcmp (media, MEDIA_INDEX) == 0 || strcmp (media, MEDIA_DOCKER_LIST) == 0))
    {
      yajl_val sub;
      int ret;
      if (parse_json (buf, "nested index", &sub, err) < 0)
        return sp_error_wrap (err, "image `%s`", src->path);
      ret = select_manifest (src, sub, platform, depth + 1, manifest, manifest_digest, ref_name, err);
      yajl_tree_free (sub);
      return ret;
    }
  *manifest = steal_pointer (&buf);
  free (*manifest_digest);
  *manifest_digest = sp_xstrdup (digest);
  return 0;
}

/* One layer the manifest asks for. */
struct layer_want
{
  char *entry; /* blob path inside the layout or archive */
  struct casfs_digest digest; /* of the blob bytes */
  bool has_alt;
  struct casfs_digest alt; /* docker: the blob name's digest, if any */
  int64_t size; /* -1: unknown */
  char *label; /* "layer 2 (sha256:...)" for errors */
  ssize_t tree; /* index into image_import.trees, -1 until read */
  /* for the image record (casfs_image_layer) */
  char *digest_str; /* "sha256:..." of the blob */
  char *diff_id; /* "sha256:..." of the uncompressed layer, or NULL */
  char *media_type; /* or NULL */
  uint64_t read_size; /* bytes of the blob as read */
};

static void
wants_free (struct layer_want *w, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (w[i].entry);
      free (w[i].label);
      free (w[i].digest_str);
      free (w[i].diff_id);
      free (w[i].media_type);
    }
  free (w);
}

/* Layers and config of an OCI manifest. */
static int
oci_manifest (const struct image_src *src, const char *manifest_buf, struct image_import *out,
              struct layer_want **wants_out, size_t *n_out, sp_error_t *err)
{
  yajl_val m, config = NULL, diff_ids;
  yajl_val layers;
  struct layer_want *wants = NULL;
  const char *diff_path[] = { "rootfs", "diff_ids", NULL };
  size_t n;
  int ret = 0;

  if (parse_json (manifest_buf, "manifest", &m, err) < 0)
    return sp_error_wrap (err, "image `%s`", src->path);
  layers = jarr (m, "layers");
  if (layers == NULL || (n = YAJL_GET_ARRAY (layers)->len) > CASFS_IMPORT_LAYERS_MAX)
    {
      yajl_tree_free (m);
      return sp_error_make (err, EINVAL, "image `%s`: manifest has no `layers` (or more than %d)", src->path,
                            CASFS_IMPORT_LAYERS_MAX);
    }
  if (read_blob (src, jstr (m, "config", "digest"), &out->config_json, &out->config_len, err) < 0)
    {
      yajl_tree_free (m);
      return sp_error_wrap (err, "config");
    }
  /* The config is kept for `casfs bundle`: it must at least be an object. */
  if (parse_json (out->config_json, "config", &config, err) < 0 || !YAJL_IS_OBJECT (config))
    {
      if (config)
        sp_error_make (err, EINVAL, "config: not a JSON object");
      yajl_tree_free (config);
      yajl_tree_free (m);
      return sp_error_wrap (err, "image `%s`", src->path);
    }
  diff_ids = yajl_tree_get (config, diff_path, yajl_t_array);
  wants = sp_xmalloc0 ((n ? n : 1) * sizeof (*wants));
  for (size_t i = 0; i < n && ret == 0; i++)
    {
      yajl_val d = YAJL_GET_ARRAY (layers)->values[i];
      const char *digest = jstr (d, "digest", NULL), *media = jstr (d, "mediaType", NULL);
      const char *path[] = { "size", NULL };
      yajl_val size = yajl_tree_get (d, path, yajl_t_number);
      wants[i].tree = -1;
      wants[i].label = sp_xasprintf ("layer %zu (%s)", i + 1, digest ? digest : "no digest");
      if (media && strstr (media, "encrypted"))
        ret = sp_error_make (err, ENOTSUP, "image `%s`: %s is encrypted (%s)", src->path, wants[i].label, media);
      else if (blob_name (digest, &wants[i].digest, &wants[i].entry, err) < 0)
        ret = sp_error_wrap (err, "image `%s`: %s", src->path, wants[i].label);
      wants[i].size = size && YAJL_IS_INTEGER (size) ? YAJL_GET_INTEGER (size) : -1;
      wants[i].digest_str = digest ? sp_xstrdup (digest) : NULL;
      wants[i].media_type = media ? sp_xstrdup (media) : NULL;
      if (diff_ids && i < YAJL_GET_ARRAY (diff_ids)->len && sval (YAJL_GET_ARRAY (diff_ids)->values[i]))
        wants[i].diff_id = sp_xstrdup (sval (YAJL_GET_ARRAY (diff_ids)->values[i]));
    }
  yajl_tree_free (config);
  yajl_tree_free (m);
  if (ret < 0)
    {
      wants_free (wants, n);
      return -1;
    }
  *wants_out = wants;
  *n_out = n;
  return 0;
}

static int
verify_layer (const char *image, struct layer_want *w, const struct casfs_digest *got, uint64_t size,
              sp_error_t *err)
{
  char hex[CASFS_DIGEST_HEX_LEN + 1];
  if (memcmp (got->b, w->digest.b, CASFS_DIGEST_LEN) != 0
      && !(w->has_alt && memcmp (got->b, w->alt.b, CASFS_DIGEST_LEN) == 0))
    {
      casfs_digest_hex (got, hex);
      return sp_error_make (err, EINVAL, "image `%s`: %s: digest mismatch (content is sha256:%s)", image, w->label,
                            hex);
    }
  if (w->size >= 0 && (uint64_t) w->size != size)
    return sp_error_make (err, EINVAL, "image `%s`: %s: size %llu, manifest says %lld", image, w->label,
                          (unsigned long long) size, (long long) w->size);
  w->read_size = size;
  return 0;
}

static void
take_trees (struct image_import *out, struct layer_want *wants, size_t n)
{
  out->n_layers = n;
  out->layer_tree = sp_xmalloc0 ((n ? n : 1) * sizeof (*out->layer_tree));
  out->layer_info = sp_xmalloc0 ((n ? n : 1) * sizeof (*out->layer_info));
  for (size_t i = 0; i < n; i++)
    {
      out->layer_tree[i] = (size_t) wants[i].tree;
      out->layer_info[i].digest = steal_pointer (&wants[i].digest_str);
      out->layer_info[i].diff_id = steal_pointer (&wants[i].diff_id);
      out->layer_info[i].media_type = steal_pointer (&wants[i].media_type);
      out->layer_info[i].size = wants[i].read_size;
    }
}

static ssize_t
add_tree (struct image_import *out)
{
  out->trees = sp_xrealloc (out->trees, (out->n_trees + 1) * sizeof (*out->trees));
  out->trees[out->n_trees] = memtree_new ();
  return (ssize_t) out->n_trees++;
}

int
import_oci_dir (struct import_ctx *ctx, const char *dir, const char *platform, struct image_import *out,
                sp_error_t *err)
{
  cleanup_close int root = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct image_src src = { .path = dir, .root_fd = root };
  cleanup_free char *index_buf = NULL;
  cleanup_free char *manifest = NULL;
  struct layer_want *wants = NULL;
  size_t n = 0, len;
  yajl_val index;
  int ret;

  if (root < 0)
    return sp_error_errno (err, "open image layout `%s`", dir);
  if (read_named (&src, "index.json", &index_buf, &len, err) < 0)
    return sp_error_wrap (err, "image `%s`", dir);
  if (parse_json (index_buf, "index.json", &index, err) < 0)
    return sp_error_wrap (err, "image `%s`", dir);
  out->source_kind = "oci";
  ret = select_manifest (&src, index, platform, 0, &manifest, &out->manifest_digest, &out->name, err);
  yajl_tree_free (index);
  if (ret < 0 || oci_manifest (&src, manifest, out, &wants, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n && ret == 0; i++)
    {
      struct casfs_digest got;
      uint64_t size = 0;
      cleanup_close int fd = -1;
      for (size_t j = 0; j < i; j++)
        if (strcmp (wants[j].entry, wants[i].entry) == 0)
          {
            wants[i].tree = wants[j].tree;
            wants[i].read_size = wants[j].read_size;
          }
      if (wants[i].tree >= 0)
        continue;
      fd = open_beneath (root, wants[i].entry, err);
      if (fd < 0)
        {
          ret = sp_error_wrap (err, "image `%s`: %s", dir, wants[i].label);
          break;
        }
      wants[i].tree = add_tree (out);
      if (import_layer_fd (ctx, fd, wants[i].entry, out->trees[wants[i].tree], &got, &size, err) < 0)
        ret = sp_error_wrap (err, "image `%s`: %s", dir, wants[i].label);
      else
        ret = verify_layer (dir, &wants[i], &got, size, err);
    }
  if (ret == 0)
    take_trees (out, wants, n);
  wants_free (wants, n);
  return ret;
}

/* ---- image tars: pass 1 keeps the small files, pass 2 streams the layers. */

static struct archive *
open_tar (const char *path, sp_error_t *err)
{
  struct archive *a = archive_read_new ();
  if (a == NULL)
    {
      sp_error_make (err, ENOMEM, "archive reader");
      return NULL;
    }
  archive_read_support_format_tar (a);
  archive_read_support_format_gnutar (a);
  if (archive_read_open_filename (a, path, 1 << 20) != ARCHIVE_OK)
    {
      sp_error_make (err, archive_errno (a) > 0 ? archive_errno (a) : EINVAL, "archive `%s`: %s", path,
                     archive_error_string (a) ? archive_error_string (a) : "not a tar archive");
      archive_read_free (a);
      return NULL;
    }
  return a;
}

static bool
wanted_small (const char *name, int64_t size)
{
  if (size < 0 || size > CASFS_IMPORT_JSON_MAX)
    return false;
  return strcmp (name, "oci-layout") == 0 || strcmp (name, "repositories") == 0 || sp_str_has_suffix (name, ".json")
         || sp_str_has_prefix (name, "blobs/");
}

static int
collect_small (const char *path, struct image_src *src, sp_error_t *err)
{
  struct archive *a = open_tar (path, err);
  struct archive_entry *ae;
  size_t total = 0;
  int r, ret = 0;

  if (a == NULL)
    return -1;
  while ((r = archive_read_next_header (a, &ae)) != ARCHIVE_EOF && ret == 0)
    {
      cleanup_free char *norm = NULL;
      int64_t size = archive_entry_size (ae);
      if (r < ARCHIVE_WARN)
        {
          ret = sp_error_make (err, EIO, "archive `%s`: %s", path, archive_error_string (a));
          break;
        }
      if (archive_entry_pathname (ae) == NULL || casfs_path_normalize (archive_entry_pathname (ae), &norm, err) < 0)
        {
          ret = sp_error_wrap (err, "archive `%s`: entry `%s`", path,
                               archive_entry_pathname (ae) ? archive_entry_pathname (ae) : "?");
          break;
        }
      if (archive_entry_filetype (ae) != AE_IFREG || !wanted_small (norm, size))
        continue;
      if (small_file (src, norm))
        {
          ret = sp_error_make (err, EEXIST, "archive `%s`: duplicate entry `%s`", path, norm);
          break;
        }
      total += (size_t) size;
      if (total > TAR_SMALL_TOTAL_MAX)
        {
          ret = sp_error_make (err, EFBIG, "archive `%s`: more than %u MiB of metadata files", path,
                               TAR_SMALL_TOTAL_MAX >> 20);
          break;
        }
      struct small_file f = { .name = steal_pointer (&norm), .data = sp_xmalloc0 ((size_t) size + 1),
                              .len = (size_t) size };
      src->files = sp_xrealloc (src->files, (src->n_files + 1) * sizeof (*src->files));
      src->files[src->n_files++] = f;
      if (size > 0 && archive_read_data (a, f.data, (size_t) size) != (la_ssize_t) size)
        ret = sp_error_make (err, EIO, "archive `%s`: entry `%s`: %s", path, f.name,
                             archive_error_string (a) ? archive_error_string (a) : "short read");
    }
  archive_read_free (a);
  return ret;
}

bool
import_tar_is_image (const char *path)
{
  struct archive *a = open_tar (path, NULL);
  struct archive_entry *ae;
  bool image = false;
  int r;
  if (a == NULL)
    return false;
  /* Image tars are uncompressed and list few, well-known names at the top. */
  while (!image && (r = archive_read_next_header (a, &ae)) == ARCHIVE_OK)
    {
      const char *n = archive_entry_pathname (ae);
      if (archive_filter_code (a, 0) != ARCHIVE_FILTER_NONE || n == NULL)
        break;
      if (sp_str_has_prefix (n, "./"))
        n += 2;
      image = strcmp (n, "oci-layout") == 0 || strcmp (n, "index.json") == 0 || strcmp (n, "manifest.json") == 0;
    }
  archive_read_free (a);
  return image;
}

/* docker-archive manifest.json: [{"Config": ..., "RepoTags": [...], "Layers": [...]}]. */
static int
docker_manifest (const struct image_src *src, const char *want_name, struct image_import *out,
                 struct layer_want **wants_out, size_t *n_out, sp_error_t *err)
{
  cleanup_free char *buf = NULL;
  size_t len, n;
  yajl_val m, img = NULL, layers, cfg, diff_ids;
  struct layer_want *wants;
  const char *diff_path[] = { "rootfs", "diff_ids", NULL };
  int ret = 0;

  if (read_named (src, "manifest.json", &buf, &len, err) < 0 || parse_json (buf, "manifest.json", &m, err) < 0)
    return sp_error_wrap (err, "image `%s`", src->path);
  if (!YAJL_IS_ARRAY (m) || YAJL_GET_ARRAY (m)->len == 0)
    {
      yajl_tree_free (m);
      return sp_error_make (err, EINVAL, "image `%s`: manifest.json: want a non-empty array", src->path);
    }
  for (size_t i = 0; i < YAJL_GET_ARRAY (m)->len && img == NULL; i++)
    {
      yajl_val tags = jarr (YAJL_GET_ARRAY (m)->values[i], "RepoTags");
      for (size_t j = 0; want_name && tags && j < YAJL_GET_ARRAY (tags)->len; j++)
        if (sval (YAJL_GET_ARRAY (tags)->values[j]) && strcmp (sval (YAJL_GET_ARRAY (tags)->values[j]), want_name) == 0)
          img = YAJL_GET_ARRAY (m)->values[i];
    }
  if (img == NULL && YAJL_GET_ARRAY (m)->len == 1)
    img = YAJL_GET_ARRAY (m)->values[0];
  if (img == NULL)
    {
      yajl_tree_free (m);
      return sp_error_make (err, ENOENT, "image `%s`: %zu images and none tagged `%s` (use --ref TAG)", src->path,
                            YAJL_GET_ARRAY (m)->len, want_name ? want_name : "");
    }
  yajl_val tags = jarr (img, "RepoTags");
  if (tags && YAJL_GET_ARRAY (tags)->len > 0 && YAJL_IS_STRING (YAJL_GET_ARRAY (tags)->values[0]))
    out->name = sp_xstrdup (want_name ? want_name : sval (YAJL_GET_ARRAY (tags)->values[0]));
  layers = jarr (img, "Layers");
  const char *config = jstr (img, "Config", NULL);
  cleanup_free char *cfg_norm = NULL;
  if (layers == NULL || config == NULL || (n = YAJL_GET_ARRAY (layers)->len) > CASFS_IMPORT_LAYERS_MAX
      || casfs_path_normalize (config, &cfg_norm, err) < 0 || read_named (src, cfg_norm, &out->config_json, &out->config_len, err) < 0)
    {
      sp_error_release (err);
      yajl_tree_free (m);
      return sp_error_make (err, EINVAL, "image `%s`: manifest.json: missing or unreadable `Config` or `Layers`",
                            src->path);
    }
  /* The config is named by its digest ("<hex>.json" or "blobs/sha256/<hex>"). */
  {
    const char *base = strrchr (cfg_norm, '/') ? strrchr (cfg_norm, '/') + 1 : cfg_norm;
    char hex[CASFS_DIGEST_HEX_LEN + 1];
    struct casfs_digest want, got;
    snprintf (hex, sizeof hex, "%s", base);
    if (casfs_digest_parse (hex, &want, NULL) == 0)
      {
        casfs_digest_of (out->config_json, out->config_len, &got);
        if (memcmp (want.b, got.b, CASFS_DIGEST_LEN) != 0)
          {
            yajl_tree_free (m);
            return sp_error_make (err, EINVAL, "image `%s`: config `%s` does not match its digest", src->path,
                                  cfg_norm);
          }
      }
  }
  if (parse_json (out->config_json, "config", &cfg, err) < 0)
    {
      yajl_tree_free (m);
      return sp_error_wrap (err, "image `%s`", src->path);
    }
  diff_ids = yajl_tree_get (cfg, diff_path, yajl_t_array);
  if (diff_ids == NULL || YAJL_GET_ARRAY (diff_ids)->len != n)
    ret = sp_error_make (err, EINVAL, "image `%s`: config rootfs.diff_ids does not list the %zu layers", src->path,
                         n);
  wants = sp_xmalloc0 ((n ? n : 1) * sizeof (*wants));
  for (size_t i = 0; i < n && ret == 0; i++)
    {
      yajl_val l = YAJL_GET_ARRAY (layers)->values[i], id = YAJL_GET_ARRAY (diff_ids)->values[i];
      const char *base;
      char hex[CASFS_DIGEST_HEX_LEN + 1];
      wants[i].tree = -1;
      wants[i].size = -1;
      wants[i].label = sp_xasprintf ("layer %zu (%s)", i + 1, YAJL_IS_STRING (l) ? sval (l) : "?");
      if (!YAJL_IS_STRING (l) || casfs_path_normalize (sval (l), &wants[i].entry, err) < 0)
        {
          ret = sp_error_wrap (err, "image `%s`: %s", src->path, wants[i].label);
          break;
        }
      /* docker archives hold uncompressed layers: the blob is the diff_id. */
      cleanup_free char *unused = NULL;
      if (!YAJL_IS_STRING (id) || blob_name (sval (id), &wants[i].digest, &unused, err) < 0)
        {
          ret = sp_error_wrap (err, "image `%s`: diff_id of %s", src->path, wants[i].label);
          break;
        }
      /* uncompressed: the blob's digest is its diff_id */
      wants[i].digest_str = sp_xstrdup (sval (id));
      wants[i].diff_id = sp_xstrdup (sval (id));
      base = strrchr (wants[i].entry, '/') ? strrchr (wants[i].entry, '/') + 1 : wants[i].entry;
      snprintf (hex, sizeof hex, "%s", base);
      wants[i].has_alt = sp_str_has_prefix (wants[i].entry, "blobs/sha256/")
                         && casfs_digest_parse (hex, &wants[i].alt, NULL) == 0;
    }
  yajl_tree_free (cfg);
  yajl_tree_free (m);
  if (ret < 0)
    {
      wants_free (wants, n);
      return -1;
    }
  *wants_out = wants;
  *n_out = n;
  return 0;
}

static int
stream_layers (struct import_ctx *ctx, const char *path, struct layer_want *wants, size_t n,
               struct image_import *out, sp_error_t *err)
{
  struct archive *a = open_tar (path, err);
  struct archive_entry *ae;
  int r, ret = 0;

  if (a == NULL)
    return -1;
  while (ret == 0 && (r = archive_read_next_header (a, &ae)) != ARCHIVE_EOF)
    {
      cleanup_free char *norm = NULL;
      struct casfs_digest got;
      uint64_t size = 0;
      ssize_t tree = -1;

      if (r < ARCHIVE_WARN)
        {
          ret = sp_error_make (err, EIO, "archive `%s`: %s", path, archive_error_string (a));
          break;
        }
      if (archive_entry_pathname (ae) == NULL || casfs_path_normalize (archive_entry_pathname (ae), &norm, NULL) < 0)
        continue; /* rejected in pass 1 already */
      for (size_t i = 0; i < n; i++)
        if (strcmp (wants[i].entry, norm) == 0 && wants[i].tree < 0)
          {
            if (archive_entry_filetype (ae) != AE_IFREG)
              {
                ret = sp_error_make (err, EINVAL, "image `%s`: %s is not a regular file in the archive", path,
                                     wants[i].label);
                break;
              }
            if (tree < 0)
              {
                tree = add_tree (out);
                if (import_layer_nested (ctx, a, norm, out->trees[tree], &got, &size, err) < 0)
                  {
                    ret = sp_error_wrap (err, "image `%s`: %s", path, wants[i].label);
                    break;
                  }
              }
            if ((ret = verify_layer (path, &wants[i], &got, size, err)) < 0)
              break;
            wants[i].tree = tree;
          }
    }
  archive_read_free (a);
  for (size_t i = 0; i < n && ret == 0; i++)
    if (wants[i].tree < 0)
      ret = sp_error_make (err, ENOENT, "image `%s`: %s is missing from the archive", path, wants[i].label);
  return ret;
}

int
import_image_tar (struct import_ctx *ctx, const char *path, enum casfs_import_kind kind, const char *platform,
                  const char *want_name, struct image_import *out, sp_error_t *err)
{
  struct image_src src = { .path = path, .root_fd = -1 };
  struct layer_want *wants = NULL;
  size_t n = 0;
  int ret;

  ret = collect_small (path, &src, err);
  if (ret == 0)
    {
      bool oci = small_file (&src, "index.json") && small_file (&src, "oci-layout");
      bool docker = small_file (&src, "manifest.json") != NULL;
      if (kind == CASFS_IMPORT_AUTO)
        kind = oci ? CASFS_IMPORT_OCI : docker ? CASFS_IMPORT_DOCKER : CASFS_IMPORT_AUTO;
      if (kind == CASFS_IMPORT_OCI && oci)
        {
          out->source_kind = "oci-archive";
          cleanup_free char *manifest = NULL;
          yajl_val index;
          ret = parse_json (small_file (&src, "index.json")->data, "index.json", &index, err);
          if (ret == 0)
            {
              ret = select_manifest (&src, index, platform, 0, &manifest, &out->manifest_digest, &out->name, err);
              yajl_tree_free (index);
            }
          if (ret == 0)
            ret = oci_manifest (&src, manifest, out, &wants, &n, err);
        }
      else if (kind == CASFS_IMPORT_DOCKER && docker)
        {
          out->source_kind = "docker-archive";
          ret = docker_manifest (&src, want_name, out, &wants, &n, err);
        }
      else
        ret = sp_error_make (err, EINVAL, "archive `%s` is not an %s image archive (no %s)", path,
                             kind == CASFS_IMPORT_DOCKER ? "docker" : "OCI",
                             kind == CASFS_IMPORT_DOCKER ? "manifest.json" : "oci-layout and index.json");
    }
  if (ret == 0)
    ret = stream_layers (ctx, path, wants, n, out, err);
  if (ret == 0)
    take_trees (out, wants, n);
  wants_free (wants, n);
  for (size_t i = 0; i < src.n_files; i++)
    {
      free (src.files[i].name);
      free (src.files[i].data);
    }
  free (src.files);
  return ret;
}

void
image_import_clear (struct image_import *im)
{
  for (size_t i = 0; i < im->n_trees; i++)
    memtree_free (im->trees[i]);
  free (im->trees);
  free (im->layer_tree);
  for (size_t i = 0; im->layer_info && i < im->n_layers; i++)
    {
      free (im->layer_info[i].digest);
      free (im->layer_info[i].diff_id);
      free (im->layer_info[i].media_type);
    }
  free (im->layer_info);
  free (im->manifest_digest);
  free (im->config_json);
  free (im->name);
  memset (im, 0, sizeof (*im));
}
