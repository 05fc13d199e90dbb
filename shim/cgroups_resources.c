/* cgroup file access and the value conversions shared by cgroup v1 and v2. */
#include <samepage/cgroups.h>
#include <samepage/cleanup.h>
#include <samepage/util.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
sp_cgroup_write (const char *dir, const char *file, const char *value, sp_error_t *err)
{
  cleanup_free char *path = sp_xasprintf ("%s/%s", dir, file);
  cleanup_close int fd = open (path, O_WRONLY | O_CLOEXEC);
  size_t len = strlen (value);
  ssize_t n;

  if (fd < 0)
    return sp_error_errno (err, "write `%s` to `%s`", value, path);
  /* One write(2): cgroup files parse each write as a whole value. */
  do
    n = write (fd, value, len);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return sp_error_errno (err, "write `%s` to `%s`", value, path);
  if ((size_t) n != len)
    return sp_error_make (err, EIO, "write `%s` to `%s`: short write", value, path);
  return 0;
}

int
sp_cgroup_read (const char *dir, const char *file, char **out, sp_error_t *err)
{
  cleanup_free char *path = sp_xasprintf ("%s/%s", dir, file);
  char *text = NULL;
  size_t len = 0;

  if (sp_read_file (path, &text, &len, err) < 0)
    return -1;
  while (len > 0 && text[len - 1] == '\n')
    text[--len] = '\0';
  *out = text;
  return 0;
}

bool
sp_cgroup_file_exists (const char *dir, const char *file)
{
  cleanup_free char *path = sp_xasprintf ("%s/%s", dir, file);
  return access (path, F_OK) == 0;
}

/* libm is not linked; these are enough for shares in [3, 262143]. */
static double
natural_log (double x)
{
  static const double ln2 = 0.69314718055994530942;
  double z, z2, term, sum = 0;
  int e = 0;

  while (x >= 2)
    {
      x /= 2;
      e++;
    }
  while (x < 1)
    {
      x *= 2;
      e--;
    }
  /* ln x = 2 atanh ((x-1)/(x+1)), |z| <= 1/3 converges quickly. */
  z = (x - 1) / (x + 1);
  z2 = z * z;
  term = z;
  for (int k = 1; k < 60; k += 2)
    {
      sum += term / k;
      term *= z2;
    }
  return 2 * sum + e * ln2;
}

static double
exponential (double t)
{
  static const double ln2 = 0.69314718055994530942;
  int k = 0;
  double r, term = 1, sum = 1;

  while (t >= ln2)
    {
      t -= ln2;
      k++;
    }
  r = t;
  for (int i = 1; i < 30; i++)
    {
      term *= r / i;
      sum += term;
    }
  while (k-- > 0)
    sum *= 2;
  return sum;
}

/* The mapping crun and runc use: quadratic in log2(shares), so that the
 * defaults meet (1024 -> 100) and the ends of both ranges meet
 * (2 -> 1, 262144 -> 10000). */
uint64_t
sp_cgroup_shares_to_weight (uint64_t shares)
{
  double l, exponent, w;
  uint64_t ceil_w;

  if (shares == 0)
    return 0;
  if (shares <= 2)
    return 1;
  if (shares >= 262144)
    return 10000;
  l = natural_log ((double) shares) / natural_log (2.0);
  exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
  w = exponential (exponent * natural_log (10.0));
  ceil_w = (uint64_t) w;
  if (w - (double) ceil_w > 1e-9)
    ceil_w++;
  return ceil_w;
}

uint64_t
sp_cgroup_blkio_weight_to_io_weight (uint64_t weight)
{
  if (weight == 0)
    return 0;
  if (weight < 10)
    weight = 10;
  if (weight > 1000)
    weight = 1000;
  return 1 + (weight - 10) * 9999 / 990;
}

bool
sp_cgroup_device_access_valid (const char *access)
{
  if (access == NULL)
    return true;
  for (const char *c = access; *c; c++)
    if (*c != 'r' && *c != 'w' && *c != 'm')
      return false;
  return true;
}

char *
sp_cgroup_device_rule_v1 (const struct oci_device_cgroup *rule)
{
  char major[24] = "*", minor[24] = "*";
  char type = rule->type ? rule->type : 'a';

  if (rule->has_major && rule->major >= 0)
    snprintf (major, sizeof major, "%lld", (long long) rule->major);
  if (rule->has_minor && rule->minor >= 0)
    snprintf (minor, sizeof minor, "%lld", (long long) rule->minor);
  return sp_xasprintf ("%c %s:%s %s", type, major, minor,
                       rule->access && *rule->access ? rule->access : "rwm");
}

/* OCI memory.swap is the memory+swap total; v2 limits swap alone. */
int
sp_cgroup_swap_v2 (const struct oci_memory *m, char **out, sp_error_t *err)
{
  int64_t limit = m->has_limit ? m->limit : 0;

  *out = NULL;
  if (!m->has_swap)
    return 0;
  if (m->swap == -1 || (m->swap == 0 && limit == -1))
    {
      *out = sp_xstrdup ("max");
      return 0;
    }
  if (m->swap == 0)
    return 0;
  if (m->swap < -1)
    return sp_error_make (err, EINVAL, "linux.resources.memory.swap: invalid value %lld", (long long) m->swap);
  if (limit == 0 || limit == -1)
    return sp_error_make (err, EINVAL, "linux.resources.memory.swap: a swap limit needs a memory limit");
  if (m->swap < limit)
    return sp_error_make (err, EINVAL,
                          "linux.resources.memory.swap: memory+swap (%lld) is below the memory limit (%lld)",
                          (long long) m->swap, (long long) limit);
  *out = sp_xasprintf ("%lld", (long long) (m->swap - limit));
  return 0;
}

bool
sp_cgroup_hugepage_size_valid (const char *size)
{
  static const char *const units[] = { "KB", "MB", "GB", "TB", "PB" };
  const char *p = size;

  if (size == NULL || !(*p >= '1' && *p <= '9'))
    return false;
  while (*p >= '0' && *p <= '9')
    p++;
  for (size_t i = 0; i < SP_ARRAY_SIZE (units); i++)
    if (strcmp (p, units[i]) == 0)
      return true;
  return false;
}
