/* Image records: STORE/images/<id>.json, written and read with yajl. */
#include <samepage/casfs_images.h>
#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define IMAGE_RECORD_VERSION 1

static void
gen_str (yajl_gen g, const char *s)
{
  yajl_gen_string (g, (const unsigned char *) s, strlen (s));
}

static void
gen_key_str (yajl_gen g, const char *key, const char *value)
{
  if (value == NULL)
    return;
  gen_str (g, key);
  gen_str (g, value);
}

static void
gen_key_digest (yajl_gen g, const char *key, const struct casfs_digest *d)
{
  char hex[CASFS_DIGEST_HEX_LEN + 1];
  char text[CASFS_DIGEST_HEX_LEN + 8];
  casfs_digest_hex (d, hex);
  snprintf (text, sizeof text, "sha256:%s", hex);
  gen_key_str (g, key, text);
}

int
casfs_image_encode (const struct casfs_image *img, char **json, size_t *len, sp_error_t *err)
{
  yajl_gen g = yajl_gen_alloc (NULL);
  const unsigned char *out;
  size_t out_len;

  if (g == NULL)
    return sp_error_make (err, ENOMEM, "allocate JSON generator");
  if (img->source == NULL || *img->source == '\0')
    {
      yajl_gen_free (g);
      return sp_error_make (err, 0, "image record: `source` is required");
    }
  /* Keys in a fixed order, absent values omitted: equal records encode equally. */
  yajl_gen_map_open (g);
  gen_str (g, "version");
  yajl_gen_integer (g, IMAGE_RECORD_VERSION);
  gen_key_digest (g, "tree", &img->tree);
  gen_key_str (g, "source", img->source);
  gen_key_str (g, "manifest_digest", img->manifest_digest);
  gen_key_str (g, "config_digest", img->config_digest);
  gen_str (g, "layers");
  yajl_gen_array_open (g);
  for (size_t i = 0; i < img->n_layers; i++)
    {
      const struct casfs_image_layer *l = &img->layers[i];
      yajl_gen_map_open (g);
      gen_key_str (g, "digest", l->digest);
      gen_key_str (g, "diff_id", l->diff_id);
      gen_key_str (g, "media_type", l->media_type);
      gen_str (g, "size");
      yajl_gen_integer (g, (long long) l->size);
      gen_key_digest (g, "tree", &l->tree);
      yajl_gen_map_close (g);
    }
  yajl_gen_array_close (g);
  yajl_gen_map_close (g);
  if (yajl_gen_get_buf (g, &out, &out_len) != yajl_gen_status_ok)
    {
      yajl_gen_free (g);
      return sp_error_make (err, 0, "image record: JSON generation failed (invalid UTF-8 in a string?)");
    }
  *json = sp_xmalloc0 (out_len + 1);
  memcpy (*json, out, out_len);
  *len = out_len;
  yajl_gen_free (g);
  return 0;
}

static int
get_string (yajl_val obj, const char *key, bool required, char **out, const char *where, sp_error_t *err)
{
  const char *path[] = { key, NULL };
  yajl_val v = yajl_tree_get (obj, path, yajl_t_any);
  *out = NULL;
  if (v == NULL)
    return required ? sp_error_make (err, 0, "%s: missing field `%s`", where, key) : 0;
  if (!YAJL_IS_STRING (v))
    return sp_error_make (err, 0, "%s: field `%s` must be a string", where, key);
  *out = sp_xstrdup (YAJL_GET_STRING (v));
  return 0;
}

static int
get_digest (yajl_val obj, const char *key, struct casfs_digest *out, const char *where, sp_error_t *err)
{
  cleanup_free char *s = NULL;
  if (get_string (obj, key, true, &s, where, err) < 0)
    return -1;
  if (!sp_str_has_prefix (s, "sha256:") || casfs_digest_parse (s, out, err) < 0)
    {
      sp_error_release (err);
      return sp_error_make (err, 0, "%s: field `%s` is not a sha256 digest", where, key);
    }
  return 0;
}

int
casfs_image_decode (const char *json, size_t len, struct casfs_image **out, sp_error_t *err)
{
  char errbuf[256] = "";
  cleanup_free char *text = sp_xmalloc0 (len + 1);
  cleanup_image struct casfs_image *img = sp_xmalloc0 (sizeof (*img));
  yajl_val root, v;
  const char *version_path[] = { "version", NULL }, *layers_path[] = { "layers", NULL };
  int ret = -1;

  memcpy (text, json, len);
  root = yajl_tree_parse (text, errbuf, sizeof errbuf);
  if (root == NULL)
    return sp_error_make (err, 0, "image record: invalid JSON: %s", errbuf);
  if (!YAJL_IS_OBJECT (root))
    {
      sp_error_make (err, 0, "image record: not a JSON object");
      goto out;
    }
  v = yajl_tree_get (root, version_path, yajl_t_number);
  if (v == NULL || !YAJL_IS_INTEGER (v) || YAJL_GET_INTEGER (v) != IMAGE_RECORD_VERSION)
    {
      sp_error_make (err, 0, "image record: field `version` must be %d", IMAGE_RECORD_VERSION);
      goto out;
    }
  if (get_digest (root, "tree", &img->tree, "image record", err) < 0
      || get_string (root, "source", true, &img->source, "image record", err) < 0
      || get_string (root, "manifest_digest", false, &img->manifest_digest, "image record", err) < 0
      || get_string (root, "config_digest", false, &img->config_digest, "image record", err) < 0)
    goto out;
  v = yajl_tree_get (root, layers_path, yajl_t_array);
  if (v == NULL)
    {
      sp_error_make (err, 0, "image record: field `layers` must be an array");
      goto out;
    }
  img->layers = sp_xmalloc0 ((YAJL_GET_ARRAY (v)->len + 1) * sizeof (*img->layers));
  for (size_t i = 0; i < YAJL_GET_ARRAY (v)->len; i++)
    {
      yajl_val l = YAJL_GET_ARRAY (v)->values[i], size;
      struct casfs_image_layer *layer = &img->layers[i];
      const char *size_path[] = { "size", NULL };
      char where[64];

      img->n_layers = i + 1;
      snprintf (where, sizeof where, "image record: layers[%zu]", i);
      if (!YAJL_IS_OBJECT (l))
        {
          sp_error_make (err, 0, "%s: not an object", where);
          goto out;
        }
      if (get_string (l, "digest", false, &layer->digest, where, err) < 0
          || get_string (l, "diff_id", false, &layer->diff_id, where, err) < 0
          || get_string (l, "media_type", false, &layer->media_type, where, err) < 0
          || get_digest (l, "tree", &layer->tree, where, err) < 0)
        goto out;
      size = yajl_tree_get (l, size_path, yajl_t_number);
      if (size == NULL || !YAJL_IS_INTEGER (size) || YAJL_GET_INTEGER (size) < 0)
        {
          sp_error_make (err, 0, "%s: field `size` must be a non-negative integer", where);
          goto out;
        }
      layer->size = (uint64_t) YAJL_GET_INTEGER (size);
    }
  *out = steal_pointer (&img);
  ret = 0;
out:
  yajl_tree_free (root);
  return ret;
}

static char *
record_name (const struct casfs_digest *id)
{
  char hex[CASFS_DIGEST_HEX_LEN + 1];
  casfs_digest_hex (id, hex);
  return sp_xasprintf ("images/%s.json", hex);
}

int
casfs_image_write (struct casfs_store *s, struct casfs_image *img, struct casfs_digest *id_out, sp_error_t *err)
{
  cleanup_free char *json = NULL;
  cleanup_free char *rel = NULL;
  cleanup_free char *path = NULL;
  size_t len;

  if (img->config)
    {
      struct casfs_digest cd;
      char hex[CASFS_DIGEST_HEX_LEN + 1];
      if (casfs_store_write_object (s, img->config, img->config_len, &cd, err) < 0)
        return sp_error_wrap (err, "store image config");
      casfs_digest_hex (&cd, hex);
      free (img->config_digest);
      img->config_digest = sp_xasprintf ("sha256:%s", hex);
    }
  if (casfs_image_encode (img, &json, &len, err) < 0)
    return -1;
  casfs_digest_of (json, len, id_out);
  rel = record_name (id_out);
  if (faccessat (casfs_store_root_fd (s), rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return 0;
  if (mkdirat (casfs_store_root_fd (s), "images", 0755) < 0 && errno != EEXIST)
    return sp_error_errno (err, "mkdir `%s/images`", casfs_store_path (s));
  path = sp_xasprintf ("%s/%s", casfs_store_path (s), rel);
  return sp_write_file_atomic (path, json, len, 0444, err);
}

int
casfs_image_read_record (struct casfs_store *s, const struct casfs_digest *id, struct casfs_image **out,
                         sp_error_t *err)
{
  cleanup_free char *rel = record_name (id);
  cleanup_free char *json = NULL;
  cleanup_image struct casfs_image *img = NULL;
  struct casfs_digest check;
  size_t len;

  if (sp_read_file_at (casfs_store_root_fd (s), rel, &json, &len, err) < 0)
    return sp_error_wrap (err, "store `%s`: image record", casfs_store_path (s));
  casfs_digest_of (json, len, &check);
  if (memcmp (check.b, id->b, CASFS_DIGEST_LEN) != 0)
    return sp_error_make (err, EIO, "store `%s`: `%s` does not match its digest", casfs_store_path (s), rel);
  if (casfs_image_decode (json, len, &img, err) < 0)
    return sp_error_wrap (err, "`%s/%s`", casfs_store_path (s), rel);
  *out = steal_pointer (&img);
  return 0;
}

int
casfs_image_read (struct casfs_store *s, const struct casfs_digest *id, struct casfs_image **out, sp_error_t *err)
{
  cleanup_image struct casfs_image *img = NULL;
  cleanup_free char *rel = record_name (id);

  if (casfs_image_read_record (s, id, &img, err) < 0)
    return -1;
  if (img->config_digest)
    {
      struct casfs_digest cd;
      cleanup_close int fd = -1;
      if (casfs_digest_parse (img->config_digest, &cd, err) < 0)
        return sp_error_wrap (err, "`%s/%s`: config_digest", casfs_store_path (s), rel);
      if ((fd = casfs_store_open_object (s, &cd, 0, err)) < 0
          || sp_read_fd (fd, &img->config, &img->config_len, err) < 0)
        return sp_error_wrap (err, "image config of `%s/%s`", casfs_store_path (s), rel);
    }
  *out = steal_pointer (&img);
  return 0;
}

int
casfs_image_commit (struct casfs_store *s, const char *name, struct casfs_image *img, struct casfs_digest *id_out,
                    sp_error_t *err)
{
  struct casfs_ref ref = { .tree = img->tree, .has_image = true };
  if (casfs_image_write (s, img, &ref.image, err) < 0)
    return -1;
  *id_out = ref.image;
  return casfs_store_write_ref (s, name, &ref, err);
}

int
casfs_image_lookup (struct casfs_store *s, const char *name, struct casfs_image **out, sp_error_t *err)
{
  struct casfs_ref ref;
  if (casfs_store_read_ref (s, name, &ref, err) < 0)
    return -1;
  if (!ref.has_image)
    return sp_error_make (err, ENOENT, "ref `%s` names no image record (imported as a plain tree)", name);
  return casfs_image_read (s, &ref.image, out, err);
}

void
casfs_image_free (struct casfs_image *img)
{
  if (img == NULL)
    return;
  free (img->source);
  free (img->manifest_digest);
  free (img->config);
  free (img->config_digest);
  for (size_t i = 0; i < img->n_layers; i++)
    {
      free (img->layers[i].digest);
      free (img->layers[i].diff_id);
      free (img->layers[i].media_type);
    }
  free (img->layers);
  free (img);
}
