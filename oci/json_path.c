/* Typed access to a yajl tree with one-line errors that name the field path.
 * See oci/config_parse.h. */
#include "config_parse.h"

#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_parse.h>

void
oci_parser_init (struct oci_parser *p, const char *source, sp_error_t *err)
{
  p->source = source ? source : "config.json";
  p->err = err;
  p->cap = 128;
  p->path = sp_xmalloc0 (p->cap);
  p->len = 0;
}

void
oci_parser_fini (struct oci_parser *p)
{
  free (p->path);
  p->path = NULL;
  p->len = p->cap = 0;
}

static size_t
path_append (struct oci_parser *p, const char *text, size_t text_len)
{
  size_t saved = p->len;
  if (p->len + text_len + 1 > p->cap)
    {
      while (p->len + text_len + 1 > p->cap)
        p->cap *= 2;
      p->path = sp_xrealloc (p->path, p->cap);
    }
  memcpy (p->path + p->len, text, text_len);
  p->len += text_len;
  p->path[p->len] = '\0';
  return saved;
}

size_t
oci_path_key (struct oci_parser *p, const char *key)
{
  size_t saved = p->len;
  if (p->len > 0)
    path_append (p, ".", 1);
  path_append (p, key, strlen (key));
  return saved;
}

size_t
oci_path_index (struct oci_parser *p, size_t index)
{
  char buf[32];
  int n = snprintf (buf, sizeof buf, "[%zu]", index);
  return path_append (p, buf, (size_t) n);
}

size_t
oci_path_map_key (struct oci_parser *p, const char *key)
{
  size_t saved = path_append (p, "[\"", 2);
  path_append (p, key, strlen (key));
  path_append (p, "\"]", 2);
  return saved;
}

void
oci_path_restore (struct oci_parser *p, size_t saved)
{
  p->len = saved;
  p->path[p->len] = '\0';
}

/* Values from the file end up in messages: escape control characters so
 * an error stays one line whatever the input holds. */
static char *
escape_controls (const char *s)
{
  char *out = sp_xmalloc0 (strlen (s) * 4 + 1), *o = out;
  for (; *s; s++)
    {
      unsigned char ch = (unsigned char) *s;
      if (ch == '\n')
        o += sprintf (o, "\\n");
      else if (ch == '\t')
        o += sprintf (o, "\\t");
      else if (ch < 0x20 || ch == 0x7f)
        o += sprintf (o, "\\x%02x", ch);
      else
        *o++ = (char) ch;
    }
  *o = '\0';
  return out;
}

static int
failv (struct oci_parser *p, const char *fmt, va_list ap)
{
  cleanup_free char *msg = NULL, *line = NULL;
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  if (p->len > 0)
    line = sp_xasprintf ("%s: %s: %s", p->source, p->path, msg ? msg : fmt);
  else
    line = sp_xasprintf ("%s: %s", p->source, msg ? msg : fmt);
  free (msg);
  msg = escape_controls (line);
  return sp_error_make (p->err, 0, "%s", msg);
}

int
oci_fail (struct oci_parser *p, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  failv (p, fmt, ap);
  va_end (ap);
  return -1;
}

int
oci_fail_at (struct oci_parser *p, const char *key, const char *fmt, ...)
{
  size_t saved = oci_path_key (p, key);
  va_list ap;
  va_start (ap, fmt);
  failv (p, fmt, ap);
  va_end (ap);
  oci_path_restore (p, saved);
  return -1;
}

/* yajl_tree's message spans three lines with a context window that does
 * not always show the culprit.  Re-run the plain parser to learn the byte
 * offset and report it as line:column on one line. */
static int
fail_malformed (struct oci_parser *p, const char *text, size_t len, const char *tree_msg)
{
  yajl_handle h = yajl_alloc (NULL, NULL, NULL);
  cleanup_free char *msg = NULL;
  size_t offset = len, line = 1, column = 1;
  yajl_status st;
  char *end;

  if (h == NULL)
    abort ();
  st = yajl_parse (h, (const unsigned char *) text, len);
  if (st == yajl_status_ok)
    st = yajl_complete_parse (h);
  else
    {
      /* yajl has consumed the offending byte: point at it. */
      offset = yajl_get_bytes_consumed (h);
      if (offset > 0)
        offset--;
    }
  if (st != yajl_status_ok)
    {
      unsigned char *e = yajl_get_error (h, 0, (const unsigned char *) text, len);
      msg = sp_xstrdup ((const char *) e);
      yajl_free_error (h, e);
    }
  yajl_free (h);
  if (msg == NULL) /* only yajl_tree objected (out of memory): its first line */
    msg = strndup (tree_msg, strcspn (tree_msg, "\n"));
  if (msg == NULL)
    abort ();
  /* "lexical error: invalid char in json text.\n" -> one clean clause */
  end = msg + strlen (msg);
  while (end > msg && (end[-1] == '.' || end[-1] == '\n' || end[-1] == ' '))
    *--end = '\0';
  for (char *c = msg; *c; c++)
    if (*c == '\n')
      *c = ' ';
  for (size_t i = 0; i < offset && i < len; i++)
    {
      if (text[i] == '\n')
        {
          line++;
          column = 1;
        }
      else
        column++;
    }
  return sp_error_make (p->err, 0, "%s: invalid JSON at line %zu, column %zu: %s", p->source, line, column, msg);
}

/* yajl_tree builds and frees nested values recursively, so a hostile text
 * of a million brackets overflows the stack.  Real configs nest < 10 deep. */
#define OCI_JSON_MAX_DEPTH 256

static int
check_depth (struct oci_parser *p, const char *text, size_t len)
{
  size_t depth = 0, line = 1, column = 0;
  bool in_string = false, escaped = false;

  for (size_t i = 0; i < len; i++)
    {
      char ch = text[i];
      column++;
      if (ch == '\n')
        {
          line++;
          column = 0;
        }
      if (in_string)
        {
          if (escaped)
            escaped = false;
          else if (ch == '\\')
            escaped = true;
          else if (ch == '"')
            in_string = false;
          continue;
        }
      if (ch == '"')
        in_string = true;
      else if (ch == '[' || ch == '{')
        {
          if (++depth > OCI_JSON_MAX_DEPTH)
            return sp_error_make (p->err, 0, "%s: invalid JSON at line %zu, column %zu: nested deeper than %d levels",
                                  p->source, line, column, OCI_JSON_MAX_DEPTH);
        }
      else if ((ch == ']' || ch == '}') && depth > 0)
        depth--;
    }
  return 0;
}

int
oci_parse_tree (struct oci_parser *p, const char *json, size_t len, yajl_val *out)
{
  cleanup_free char *text = NULL;
  char errbuf[256];

  /* yajl_tree_parse wants a NUL-terminated text. */
  if (memchr (json, '\0', len) != NULL)
    return sp_error_make (p->err, 0, "%s: invalid JSON: contains a NUL byte", p->source);
  if (check_depth (p, json, len) < 0)
    return -1;
  text = sp_xmalloc0 (len + 1);
  memcpy (text, json, len);
  errbuf[0] = '\0';
  *out = yajl_tree_parse (text, errbuf, sizeof errbuf);
  if (*out == NULL)
    return fail_malformed (p, text, len, errbuf);
  return 0;
}

yajl_val
oci_lookup (yajl_val obj, const char *key)
{
  if (!YAJL_IS_OBJECT (obj))
    return NULL;
  /* The last of duplicate keys wins, as in Go's encoding/json (runc). */
  for (size_t i = obj->u.object.len; i-- > 0;)
    if (strcmp (obj->u.object.keys[i], key) == 0)
      return YAJL_IS_NULL (obj->u.object.values[i]) ? NULL : obj->u.object.values[i];
  return NULL;
}

static const char *
type_name (yajl_val v)
{
  if (v == NULL)
    return "nothing";
  switch (v->type)
    {
    case yajl_t_string:
      return "string";
    case yajl_t_number:
      return "number";
    case yajl_t_object:
      return "object";
    case yajl_t_array:
      return "array";
    case yajl_t_true:
    case yajl_t_false:
      return "boolean";
    case yajl_t_null:
    default:
      return "null";
    }
}

static int
fail_type (struct oci_parser *p, yajl_val v, const char *want)
{
  if (YAJL_IS_NUMBER (v))
    return oci_fail (p, "expected %s, got number %s", want, YAJL_GET_NUMBER (v));
  return oci_fail (p, "expected %s, got %s", want, type_name (v));
}

int
oci_val_object (struct oci_parser *p, yajl_val v)
{
  return YAJL_IS_OBJECT (v) ? 0 : fail_type (p, v, "an object");
}

int
oci_val_array (struct oci_parser *p, yajl_val v)
{
  return YAJL_IS_ARRAY (v) ? 0 : fail_type (p, v, "an array");
}

int
oci_val_string (struct oci_parser *p, yajl_val v, char **out)
{
  if (!YAJL_IS_STRING (v))
    return fail_type (p, v, "a string");
  free (*out);
  *out = sp_xstrdup (YAJL_GET_STRING (v));
  return 0;
}

int
oci_val_bool (struct oci_parser *p, yajl_val v, bool *out)
{
  if (!YAJL_IS_TRUE (v) && !YAJL_IS_FALSE (v))
    return fail_type (p, v, "a boolean");
  *out = YAJL_IS_TRUE (v);
  return 0;
}

/* yajl keeps each number's text; parse it here so the whole uint64 range
 * and exact int64 bounds work, and floats are refused.  A magnitude beyond
 * uint64 saturates: every caller's range check then rejects it. */
static int
parse_integer (struct oci_parser *p, yajl_val v, bool *negative, uint64_t *magnitude)
{
  const char *s, *digits;
  uint64_t m = 0;

  if (!YAJL_IS_NUMBER (v))
    return fail_type (p, v, "an integer");
  s = YAJL_GET_NUMBER (v);
  digits = s[0] == '-' ? s + 1 : s;
  if (*digits == '\0' || strspn (digits, "0123456789") != strlen (digits))
    return oci_fail (p, "expected an integer, got %s", s);
  for (const char *d = digits; *d; d++)
    {
      unsigned digit = (unsigned) (*d - '0');
      if (m > (UINT64_MAX - digit) / 10)
        {
          m = UINT64_MAX;
          *negative = s[0] == '-';
          *magnitude = m;
          return 1; /* saturated */
        }
      m = m * 10 + digit;
    }
  *negative = s[0] == '-' && m != 0;
  *magnitude = m;
  return 0;
}

int
oci_val_uint (struct oci_parser *p, yajl_val v, uint64_t max, uint64_t *out)
{
  bool negative;
  uint64_t m;
  int r = parse_integer (p, v, &negative, &m);

  if (r < 0)
    return -1;
  if (r > 0 || negative || m > max)
    return oci_fail (p, "%s is out of range (0..%" PRIu64 ")", YAJL_GET_NUMBER (v), max);
  *out = m;
  return 0;
}

int
oci_val_int (struct oci_parser *p, yajl_val v, int64_t min, int64_t max, int64_t *out)
{
  bool negative;
  uint64_t m;
  int64_t value;
  int r = parse_integer (p, v, &negative, &m);

  if (r < 0)
    return -1;
  if (r > 0)
    goto range;
  if (negative)
    {
      if (m > (uint64_t) INT64_MAX + 1)
        goto range;
      value = m == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) m;
    }
  else
    {
      if (m > (uint64_t) INT64_MAX)
        goto range;
      value = (int64_t) m;
    }
  if (value < min || value > max)
    goto range;
  *out = value;
  return 0;

range:
  return oci_fail (p, "%s is out of range (%" PRId64 "..%" PRId64 ")", YAJL_GET_NUMBER (v), min, max);
}

int
oci_val_strv (struct oci_parser *p, yajl_val v, char ***out)
{
  char **vec;
  size_t n;

  if (oci_val_array (p, v) < 0)
    return -1;
  n = v->u.array.len;
  oci_strv_free (*out);
  vec = *out = sp_xmalloc0 ((n + 1) * sizeof (char *));
  for (size_t i = 0; i < n; i++)
    {
      size_t saved = oci_path_index (p, i);
      if (oci_val_string (p, v->u.array.values[i], &vec[i]) < 0)
        return -1;
      oci_path_restore (p, saved);
    }
  return 0;
}

/* Looks the field up; returns 1 when present (path pushed), 0 when absent
 * and optional, -1 when absent and required. */
static int
field_enter (struct oci_parser *p, yajl_val obj, const char *key, bool required, yajl_val *v, size_t *saved)
{
  *v = oci_lookup (obj, key);
  if (*v == NULL)
    return required ? oci_fail_at (p, key, "missing required field") : 0;
  *saved = oci_path_key (p, key);
  return 1;
}

/* Runs a value-level check on a present field and pops the path again. */
#define FIELD_BODY(call)                                                                   \
  do                                                                                       \
    {                                                                                      \
      yajl_val v;                                                                          \
      size_t saved;                                                                        \
      int r = field_enter (p, obj, key, required, &v, &saved);                             \
      if (r <= 0)                                                                          \
        return r;                                                                          \
      if ((call) < 0)                                                                      \
        return -1;                                                                         \
      oci_path_restore (p, saved);                                                         \
    }                                                                                      \
  while (0)

int
oci_field_object (struct oci_parser *p, yajl_val obj, const char *key, bool required, yajl_val *out)
{
  *out = NULL;
  FIELD_BODY (oci_val_object (p, v));
  *out = oci_lookup (obj, key);
  return 0;
}

int
oci_field_array (struct oci_parser *p, yajl_val obj, const char *key, bool required, yajl_val *out)
{
  *out = NULL;
  FIELD_BODY (oci_val_array (p, v));
  *out = oci_lookup (obj, key);
  return 0;
}

int
oci_field_string (struct oci_parser *p, yajl_val obj, const char *key, bool required, char **out)
{
  FIELD_BODY (oci_val_string (p, v, out));
  return 0;
}

static int
check_abs_path (struct oci_parser *p, yajl_val v, char **out)
{
  if (oci_val_string (p, v, out) < 0)
    return -1;
  if ((*out)[0] != '/')
    return oci_fail (p, "\"%s\" is not an absolute path", *out);
  return 0;
}

int
oci_field_abs_path (struct oci_parser *p, yajl_val obj, const char *key, bool required, char **out)
{
  FIELD_BODY (check_abs_path (p, v, out));
  return 0;
}

static int
check_enum (struct oci_parser *p, yajl_val v, const char *const *allowed, const char *what, char **out)
{
  if (oci_val_string (p, v, out) < 0)
    return -1;
  for (const char *const *a = allowed; *a; a++)
    if (strcmp (*a, *out) == 0)
      return 0;
  return oci_fail (p, "unknown %s \"%s\"", what, *out);
}

int
oci_field_enum (struct oci_parser *p, yajl_val obj, const char *key, bool required, const char *const *allowed,
                const char *what, char **out)
{
  FIELD_BODY (check_enum (p, v, allowed, what, out));
  return 0;
}

int
oci_field_bool (struct oci_parser *p, yajl_val obj, const char *key, bool required, bool *out, bool *has)
{
  if (has)
    *has = false;
  FIELD_BODY (oci_val_bool (p, v, out));
  if (has)
    *has = true;
  return 0;
}

static int
field_uint (struct oci_parser *p, yajl_val obj, const char *key, bool required, uint64_t max, uint64_t *out,
            bool *has)
{
  *has = false;
  FIELD_BODY (oci_val_uint (p, v, max, out));
  *has = true;
  return 0;
}

int
oci_field_u64 (struct oci_parser *p, yajl_val obj, const char *key, bool required, uint64_t *out, bool *has)
{
  bool present;
  int r = field_uint (p, obj, key, required, UINT64_MAX, out, &present);
  if (has)
    *has = present;
  return r;
}

int
oci_field_u32 (struct oci_parser *p, yajl_val obj, const char *key, bool required, uint32_t *out, bool *has)
{
  uint64_t value = 0;
  bool present;
  if (field_uint (p, obj, key, required, UINT32_MAX, &value, &present) < 0)
    return -1;
  if (present)
    *out = (uint32_t) value;
  if (has)
    *has = present;
  return 0;
}

int
oci_field_u16 (struct oci_parser *p, yajl_val obj, const char *key, bool required, uint16_t *out, bool *has)
{
  uint64_t value = 0;
  bool present;
  if (field_uint (p, obj, key, required, UINT16_MAX, &value, &present) < 0)
    return -1;
  if (present)
    *out = (uint16_t) value;
  if (has)
    *has = present;
  return 0;
}

int
oci_field_i64 (struct oci_parser *p, yajl_val obj, const char *key, bool required, int64_t *out, bool *has)
{
  if (has)
    *has = false;
  FIELD_BODY (oci_val_int (p, v, INT64_MIN, INT64_MAX, out));
  if (has)
    *has = true;
  return 0;
}

int
oci_field_int (struct oci_parser *p, yajl_val obj, const char *key, bool required, int min, int max, int *out,
               bool *has)
{
  int64_t value = 0;
  if (has)
    *has = false;
  FIELD_BODY (oci_val_int (p, v, min, max, &value));
  *out = (int) value;
  if (has)
    *has = true;
  return 0;
}

int
oci_field_strv (struct oci_parser *p, yajl_val obj, const char *key, bool required, char ***out)
{
  FIELD_BODY (oci_val_strv (p, v, out));
  return 0;
}

static int
parse_string_map (struct oci_parser *p, yajl_val v, struct oci_kv **out, size_t *len)
{
  size_t n;

  if (oci_val_object (p, v) < 0)
    return -1;
  n = v->u.object.len;
  *out = sp_xmalloc0 (n * sizeof (struct oci_kv));
  *len = n;
  for (size_t i = 0; i < n; i++)
    {
      const char *key = v->u.object.keys[i];
      size_t saved = oci_path_map_key (p, key);
      if (key[0] == '\0')
        return oci_fail (p, "empty key");
      (*out)[i].key = sp_xstrdup (key);
      if (oci_val_string (p, v->u.object.values[i], &(*out)[i].value) < 0)
        return -1;
      oci_path_restore (p, saved);
    }
  return 0;
}

int
oci_field_string_map (struct oci_parser *p, yajl_val obj, const char *key, struct oci_kv **out, size_t *len)
{
  const bool required = false;
  FIELD_BODY (parse_string_map (p, v, out, len));
  return 0;
}

static int
parse_objects (struct oci_parser *p, yajl_val v, size_t elem_size, oci_item_fn fn, void *out, size_t *len)
{
  char *array;
  size_t n;

  if (oci_val_array (p, v) < 0)
    return -1;
  n = v->u.array.len;
  array = sp_xmalloc0 (n * elem_size);
  *(void **) out = array;
  *len = n;
  for (size_t i = 0; i < n; i++)
    {
      size_t saved = oci_path_index (p, i);
      yajl_val item = v->u.array.values[i];
      if (oci_val_object (p, item) < 0 || fn (p, item, array + i * elem_size) < 0)
        return -1;
      oci_path_restore (p, saved);
    }
  return 0;
}

int
oci_field_objects (struct oci_parser *p, yajl_val obj, const char *key, size_t elem_size, oci_item_fn fn,
                   void *out, size_t *len)
{
  const bool required = false;
  FIELD_BODY (parse_objects (p, v, elem_size, fn, out, len));
  return 0;
}

void
oci_kv_free (struct oci_kv *kv, size_t len)
{
  for (size_t i = 0; kv && i < len; i++)
    {
      free (kv[i].key);
      free (kv[i].value);
    }
  free (kv);
}

void
oci_strv_free (char **v)
{
  sp_strvfreep (&v);
}
