/* Private to oci/: walking a yajl tree while tracking the field path, so every
 * error reads `SOURCE: FIELD.PATH[INDEX]: message` on one line.
 *
 * Parse functions write straight into zero-initialised structs that already
 * hang off the result, so on failure the caller frees the whole result with
 * the public free function and nothing leaks. */
#ifndef SAMEPAGE_OCI_CONFIG_PARSE_H
#define SAMEPAGE_OCI_CONFIG_PARSE_H

#include <samepage/error.h>
#include <samepage/oci_config.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>

struct oci_parser
{
  const char *source; /* first part of every message, e.g. "config.json" */
  sp_error_t *err;
  char *path; /* "linux.namespaces[2].type" */
  size_t len;
  size_t cap;
};

void oci_parser_init (struct oci_parser *p, const char *source, sp_error_t *err);
void oci_parser_fini (struct oci_parser *p);

/* Path components; each returns the previous length for oci_path_restore. */
size_t oci_path_key (struct oci_parser *p, const char *key);
size_t oci_path_index (struct oci_parser *p, size_t index);
size_t oci_path_map_key (struct oci_parser *p, const char *key); /* ["key"] */
void oci_path_restore (struct oci_parser *p, size_t saved);

/* Fails at the current path; returns -1. */
int oci_fail (struct oci_parser *p, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
/* Fails at the current path plus `.key`. */
int oci_fail_at (struct oci_parser *p, const char *key, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Parses a whole JSON text; malformed input fails with one line. */
int oci_parse_tree (struct oci_parser *p, const char *json, size_t len, yajl_val *out);

/* Member of an object; NULL when absent or JSON null (Go writers emit null
 * for empty slices and maps, and Go readers treat it as absent). */
yajl_val oci_lookup (yajl_val obj, const char *key);

/* Value level: the path already names v. */
int oci_val_object (struct oci_parser *p, yajl_val v);
int oci_val_array (struct oci_parser *p, yajl_val v);
int oci_val_string (struct oci_parser *p, yajl_val v, char **out);
int oci_val_bool (struct oci_parser *p, yajl_val v, bool *out);
int oci_val_uint (struct oci_parser *p, yajl_val v, uint64_t max, uint64_t *out);
int oci_val_int (struct oci_parser *p, yajl_val v, int64_t min, int64_t max, int64_t *out);
int oci_val_strv (struct oci_parser *p, yajl_val v, char ***out);

/* Field level: looks `key` up in obj (already known to be an object).
 * Absent optional fields leave *out untouched and *has (if given) false. */
int oci_field_object (struct oci_parser *p, yajl_val obj, const char *key, bool required, yajl_val *out);
int oci_field_array (struct oci_parser *p, yajl_val obj, const char *key, bool required, yajl_val *out);
int oci_field_string (struct oci_parser *p, yajl_val obj, const char *key, bool required, char **out);
/* A string that must be an absolute path. */
int oci_field_abs_path (struct oci_parser *p, yajl_val obj, const char *key, bool required, char **out);
/* A string that must be one of `allowed` (NULL-terminated); `what` names the
 * kind in the message: `unknown action "X"`. */
int oci_field_enum (struct oci_parser *p, yajl_val obj, const char *key, bool required,
                    const char *const *allowed, const char *what, char **out);
int oci_field_bool (struct oci_parser *p, yajl_val obj, const char *key, bool required, bool *out, bool *has);
int oci_field_u64 (struct oci_parser *p, yajl_val obj, const char *key, bool required, uint64_t *out, bool *has);
int oci_field_u32 (struct oci_parser *p, yajl_val obj, const char *key, bool required, uint32_t *out, bool *has);
int oci_field_u16 (struct oci_parser *p, yajl_val obj, const char *key, bool required, uint16_t *out, bool *has);
int oci_field_i64 (struct oci_parser *p, yajl_val obj, const char *key, bool required, int64_t *out, bool *has);
/* int with bounds. */
int oci_field_int (struct oci_parser *p, yajl_val obj, const char *key, bool required, int min, int max, int *out,
                   bool *has);
int oci_field_strv (struct oci_parser *p, yajl_val obj, const char *key, bool required, char ***out);
/* An object of string values: sysctl, annotations, unified. */
int oci_field_string_map (struct oci_parser *p, yajl_val obj, const char *key, struct oci_kv **out, size_t *len);
/* An array of objects: allocates *out (elem_size each, zeroed), sets *len,
 * then calls fn on each element with the path at `key[i]`. */
typedef int (*oci_item_fn) (struct oci_parser *p, yajl_val item, void *elem);
int oci_field_objects (struct oci_parser *p, yajl_val obj, const char *key, size_t elem_size, oci_item_fn fn,
                       void *out, size_t *len);

/* Parses the optional sub-object `key` of obj into a freshly allocated
 * *field with fn (p, sub, field); returns -1 from the caller on failure. */
#define OCI_SUBOBJECT(p, obj, key, field, fn)                                              \
  do                                                                                       \
    {                                                                                      \
      yajl_val sub_;                                                                       \
      if (oci_field_object ((p), (obj), (key), false, &sub_) < 0)                          \
        return -1;                                                                         \
      if (sub_)                                                                            \
        {                                                                                  \
          size_t saved_ = oci_path_key ((p), (key));                                       \
          (field) = sp_xmalloc0 (sizeof *(field));                                         \
          if (fn ((p), sub_, (field)) < 0)                                                 \
            return -1;                                                                     \
          oci_path_restore ((p), saved_);                                                  \
        }                                                                                  \
    }                                                                                      \
  while (0)

/* The sections, spread over config*.c. */
int oci_parse_process_object (struct oci_parser *p, yajl_val v, struct oci_process *proc);
int oci_parse_id_mapping (struct oci_parser *p, yajl_val v, void *elem);
int oci_parse_linux (struct oci_parser *p, yajl_val v, struct oci_linux *lx);
int oci_parse_resources (struct oci_parser *p, yajl_val v, struct oci_resources *r);
void oci_process_clear (struct oci_process *proc);
void oci_linux_free (struct oci_linux *lx);
void oci_resources_free (struct oci_resources *r);
void oci_kv_free (struct oci_kv *kv, size_t len);
void oci_strv_free (char **v);

#endif
