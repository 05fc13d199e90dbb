/* Image records: STORE/images/<id>.json (docs/store-format.md).
 *
 * An image record keeps what `casfs bundle` and the runtime need besides the
 * merged tree: where the image came from, its config, and its layers with the
 * tree each one imported to.  Records are content-addressed like everything
 * else in the store: the id is the SHA-256 of the record's JSON encoding, and
 * the config blob is stored as an object (its OCI config digest is its object
 * name).  A ref names a tree and, optionally, the image record it came from;
 * gc keeps a record (its config object and layer trees) while a ref names it.
 *
 * Importers (holding the store lock shared, casfs_store_lock) call
 * casfs_image_commit() once the merged tree is written: it stores the config
 * object and the record, then points the ref at both. */
#ifndef SAMEPAGE_CASFS_IMAGES_H
#define SAMEPAGE_CASFS_IMAGES_H

#include <samepage/casfs_store.h>
#include <samepage/casfs_tree.h>
#include <samepage/error.h>
#include <stddef.h>
#include <stdint.h>

struct casfs_image_layer
{
  char *digest; /* "sha256:..." of the layer blob as the manifest names it; NULL for layer dirs */
  char *diff_id; /* "sha256:..." of the uncompressed layer (config rootfs.diff_ids), or NULL */
  char *media_type; /* manifest mediaType, or NULL */
  uint64_t size; /* blob size from the manifest, 0 when unknown */
  struct casfs_digest tree; /* the layer's own tree, before composition (whiteouts kept) */
};

struct casfs_image
{
  struct casfs_digest tree; /* the merged root tree: what the ref names */
  char *source; /* what was imported, e.g. "oci-archive:/srv/app.tar" (required) */
  char *manifest_digest; /* "sha256:..." or NULL */
  /* The image config JSON exactly as found (config_len bytes), or NULL.  On
   * write it is stored as an object; config_digest is then filled in. */
  char *config;
  size_t config_len;
  char *config_digest; /* "sha256:<object hex>" of config; set by write and read */
  struct casfs_image_layer *layers; /* base layer first */
  size_t n_layers;
};

/* Encodes a record as JSON (stable key order, no config text: only its digest). */
int casfs_image_encode (const struct casfs_image *img, char **json, size_t *len, sp_error_t *err);
/* Decodes a record; errors name the field.  config stays NULL. */
int casfs_image_decode (const char *json, size_t len, struct casfs_image **out, sp_error_t *err);

/* Stores img->config (if any) as an object, sets img->config_digest, and
 * writes images/<id>.json atomically (no-op when present). */
int casfs_image_write (struct casfs_store *s, struct casfs_image *img, struct casfs_digest *id_out,
                       sp_error_t *err);
/* Reads images/<id>.json, checks it against id, and loads the config object. */
int casfs_image_read (struct casfs_store *s, const struct casfs_digest *id, struct casfs_image **out,
                      sp_error_t *err);
/* Reads and checks the record only (config stays NULL): for gc and fsck. */
int casfs_image_read_record (struct casfs_store *s, const struct casfs_digest *id, struct casfs_image **out,
                             sp_error_t *err);
/* casfs_image_write, then sets ref `name` to (img->tree, record id). */
int casfs_image_commit (struct casfs_store *s, const char *name, struct casfs_image *img,
                        struct casfs_digest *id_out, sp_error_t *err);
/* The image record a ref names; ENOENT (err->status) when the ref has none. */
int casfs_image_lookup (struct casfs_store *s, const char *name, struct casfs_image **out, sp_error_t *err);

void casfs_image_free (struct casfs_image *img);

static inline void
casfs_image_freep (struct casfs_image **img)
{
  if (*img)
    casfs_image_free (*img);
  *img = NULL;
}
#define cleanup_image __attribute__ ((cleanup (casfs_image_freep)))

#endif
