/* libsamepage-ksm.so: makes a program's heap a KSM candidate (LD_PRELOAD).
 *
 * SAMEPAGE_KSM_MODE=merge-any: prctl(PR_SET_MEMORY_MERGE) at load time; the
 *   kernel then treats every anonymous page as mergeable and the wrappers
 *   below only forward.  Falls back to heap mode when the kernel lacks it.
 * SAMEPAGE_KSM_MODE=heap (the default): marks MADV_MERGEABLE
 *   - the brk heap (glibc's main arena) as it grows,
 *   - each glibc arena heap (an aligned HEAP_MAX reservation) once, whole:
 *     the flag stays on the areas mprotect later carves out of it,
 *   - allocations and anonymous private mmaps of SAMEPAGE_KSM_MIN_BYTES
 *     (default 1 MiB) or more, and memory the program gets from brk/sbrk.
 * SAMEPAGE_KSM_MODE=off: forwards only.
 *
 * glibc calls its own mmap/brk internally, out of reach of interposition, so
 * heap growth is noticed from the pointers malloc returns: the chunk header
 * tells where a chunk lives (mmapped, another arena, or the brk heap).  The
 * fast path is two comparisons; the slow path is one madvise per heap
 * extension.  The wrappers never call malloc or stdio, keep errno, and take
 * no locks (state changes are atomic and idempotent). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif

#define EXPORT __attribute__ ((visibility ("default")))

/* glibc malloc chunk header bits (malloc/malloc.c). */
#define CHUNK_IS_MMAPPED 0x2
#define CHUNK_NON_MAIN_ARENA 0x4
/* HEAP_MAX_SIZE: 2 * DEFAULT_MMAP_THRESHOLD_MAX; non-main heaps are aligned to it. */
#define ARENA_HEAP_MAX (2UL * 4 * 1024 * 1024 * sizeof (long))
#define MAX_ARENAS 256

static void *(*next_malloc) (size_t);
static void (*next_free) (void *);
static void *(*next_calloc) (size_t, size_t);
static void *(*next_realloc) (void *, size_t);
static int (*next_posix_memalign) (void **, size_t, size_t);
static void *(*next_aligned_alloc) (size_t, size_t);
static void *(*next_memalign) (size_t, size_t);
static void *(*next_valloc) (size_t);
static void *(*next_pvalloc) (size_t);
static void *(*next_mmap) (void *, size_t, int, int, int, off_t);
static void *(*next_mmap64) (void *, size_t, int, int, int, off64_t);
static void *(*next_mremap) (void *, size_t, size_t, int, ...);
static int (*next_brk) (void *);
static void *(*next_sbrk) (intptr_t);

static bool heap_active; /* heap mode on */
static bool glibc_malloc; /* next_malloc is glibc's: chunk headers are readable */
static size_t min_bytes = 1024 * 1024;
static uintptr_t page_mask = 4095;
static uintptr_t brk_start; /* the main arena's first byte */
static uintptr_t brk_covered; /* [brk_start, brk_covered) is marked */
static uintptr_t arenas[MAX_ARENAS];
static unsigned n_arenas;

/* dlsym may allocate while we resolve: serve it from a static buffer that
 * free() recognises and ignores. */
static char boot_buf[16384] __attribute__ ((aligned (16)));
static size_t boot_used;
static int resolving;

static void *
boot_alloc (size_t n)
{
  size_t need = ((n + 15) & ~(size_t) 15) + 16;
  size_t off = __atomic_fetch_add (&boot_used, need, __ATOMIC_RELAXED);
  if (off + need > sizeof boot_buf)
    return NULL;
  *(size_t *) (boot_buf + off) = n;
  return boot_buf + off + 16;
}

static bool
is_boot (const void *p)
{
  return (const char *) p >= boot_buf && (const char *) p < boot_buf + sizeof boot_buf;
}

static void
resolve (void)
{
  if (__atomic_load_n (&next_mmap, __ATOMIC_ACQUIRE) || __atomic_load_n (&resolving, __ATOMIC_ACQUIRE))
    return;
  __atomic_store_n (&resolving, 1, __ATOMIC_RELEASE);
  next_malloc = dlsym (RTLD_NEXT, "malloc");
  next_free = dlsym (RTLD_NEXT, "free");
  next_calloc = dlsym (RTLD_NEXT, "calloc");
  next_realloc = dlsym (RTLD_NEXT, "realloc");
  next_posix_memalign = dlsym (RTLD_NEXT, "posix_memalign");
  next_aligned_alloc = dlsym (RTLD_NEXT, "aligned_alloc");
  next_memalign = dlsym (RTLD_NEXT, "memalign");
  next_valloc = dlsym (RTLD_NEXT, "valloc");
  next_pvalloc = dlsym (RTLD_NEXT, "pvalloc");
  next_mmap64 = dlsym (RTLD_NEXT, "mmap64");
  next_mremap = dlsym (RTLD_NEXT, "mremap");
  next_brk = dlsym (RTLD_NEXT, "brk");
  next_sbrk = dlsym (RTLD_NEXT, "sbrk");
  __atomic_store_n (&next_mmap, dlsym (RTLD_NEXT, "mmap"), __ATOMIC_RELEASE);
  __atomic_store_n (&resolving, 0, __ATOMIC_RELEASE);
}

static inline bool
in_bootstrap (void)
{
  return __atomic_load_n (&resolving, __ATOMIC_ACQUIRE) != 0;
}

static void
mark (uintptr_t start, uintptr_t end)
{
  int saved = errno;
  start &= ~page_mask;
  end = (end + page_mask) & ~page_mask;
  if (end > start)
    madvise ((void *) start, end - start, MADV_MERGEABLE);
  errno = saved;
}

static bool
arena_known (uintptr_t base)
{
  unsigned n = __atomic_load_n (&n_arenas, __ATOMIC_ACQUIRE);
  for (unsigned i = 0; i < n && i < MAX_ARENAS; i++)
    if (__atomic_load_n (&arenas[i], __ATOMIC_RELAXED) == base)
      return true;
  return false;
}

static void
note_heap_growth (void *p)
{
  uintptr_t a = (uintptr_t) p;
  size_t header = ((const size_t *) p)[-1];

  if (header & CHUNK_IS_MMAPPED)
    return; /* a chunk of its own, below the size threshold */
  if (header & CHUNK_NON_MAIN_ARENA)
    {
      uintptr_t base = a & ~(uintptr_t) (ARENA_HEAP_MAX - 1);
      if (arena_known (base))
        return;
      /* The whole reservation, mapped PROT_NONE beyond the arena's top. */
      mark (base, base + ARENA_HEAP_MAX);
      unsigned i = __atomic_fetch_add (&n_arenas, 1, __ATOMIC_ACQ_REL);
      if (i < MAX_ARENAS)
        __atomic_store_n (&arenas[i], base, __ATOMIC_RELEASE);
      return;
    }
  uintptr_t start = __atomic_load_n (&brk_start, __ATOMIC_RELAXED);
  uintptr_t covered = __atomic_load_n (&brk_covered, __ATOMIC_ACQUIRE);
  if (a >= start && a < covered)
    return;
  uintptr_t cur = (uintptr_t) sbrk (0);
  if (a < start || a >= cur)
    return; /* main arena on its mmap fallback: not a brk heap */
  /* brk extensions are new areas without the flag: mark what grew. */
  mark (covered > start ? covered : start, cur);
  __atomic_store_n (&brk_covered, cur, __ATOMIC_RELEASE);
}

static inline void
note_alloc (void *p, size_t n)
{
  if (p == NULL || !__atomic_load_n (&heap_active, __ATOMIC_RELAXED))
    return;
  if (n >= min_bytes)
    mark ((uintptr_t) p, (uintptr_t) p + n);
  else if (__atomic_load_n (&glibc_malloc, __ATOMIC_RELAXED))
    note_heap_growth (p);
}

EXPORT void *
malloc (size_t n)
{
  if (in_bootstrap ())
    return boot_alloc (n);
  if (next_malloc == NULL)
    resolve ();
  void *p = next_malloc (n);
  note_alloc (p, n);
  return p;
}

EXPORT void
free (void *p)
{
  if (p == NULL || is_boot (p))
    return;
  if (next_free == NULL)
    resolve ();
  next_free (p);
}

EXPORT void *
calloc (size_t n, size_t size)
{
  if (in_bootstrap ())
    {
      /* The static buffer is zeroed and never reused. */
      if (size && n > SIZE_MAX / size)
        return NULL;
      return boot_alloc (n * size);
    }
  if (next_calloc == NULL)
    resolve ();
  void *p = next_calloc (n, size);
  note_alloc (p, size && n <= SIZE_MAX / size ? n * size : 0);
  return p;
}

EXPORT void *
realloc (void *old, size_t n)
{
  if (in_bootstrap ())
    return boot_alloc (n); /* dlsym never reallocs: no copy needed */
  if (next_realloc == NULL)
    resolve ();
  if (is_boot (old))
    {
      size_t had = *(const size_t *) ((const char *) old - 16);
      void *p = next_malloc (n);
      if (p)
        memcpy (p, old, had < n ? had : n);
      note_alloc (p, n);
      return p;
    }
  void *p = next_realloc (old, n);
  note_alloc (p, n);
  return p;
}

EXPORT int
posix_memalign (void **out, size_t align, size_t n)
{
  if (next_posix_memalign == NULL)
    resolve ();
  int r = next_posix_memalign (out, align, n);
  if (r == 0)
    note_alloc (*out, n);
  return r;
}

EXPORT void *
aligned_alloc (size_t align, size_t n)
{
  if (next_aligned_alloc == NULL)
    resolve ();
  void *p = next_aligned_alloc (align, n);
  note_alloc (p, n);
  return p;
}

EXPORT void *
memalign (size_t align, size_t n)
{
  if (next_memalign == NULL)
    resolve ();
  void *p = next_memalign (align, n);
  note_alloc (p, n);
  return p;
}

EXPORT void *
valloc (size_t n)
{
  if (next_valloc == NULL)
    resolve ();
  void *p = next_valloc (n);
  note_alloc (p, n);
  return p;
}

EXPORT void *
pvalloc (size_t n)
{
  if (next_pvalloc == NULL)
    resolve ();
  void *p = next_pvalloc (n);
  note_alloc (p, n);
  return p;
}

static inline void
note_mmap (void *p, size_t len, int prot, int flags)
{
  if (p == MAP_FAILED || !__atomic_load_n (&heap_active, __ATOMIC_RELAXED) || len < min_bytes)
    return;
  if ((flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_PRIVATE && (prot & PROT_WRITE)
      && !(flags & (MAP_STACK | MAP_GROWSDOWN | MAP_HUGETLB)))
    mark ((uintptr_t) p, (uintptr_t) p + len);
}

EXPORT void *
mmap (void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
  resolve ();
  if (next_mmap == NULL) /* called by dlsym while we resolve */
    return (void *) syscall (SYS_mmap, addr, len, prot, flags, fd, off);
  void *p = next_mmap (addr, len, prot, flags, fd, off);
  note_mmap (p, len, prot, flags);
  return p;
}

EXPORT void *
mmap64 (void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
  resolve ();
  if (next_mmap64 == NULL)
    return (void *) syscall (SYS_mmap, addr, len, prot, flags, fd, off);
  void *p = next_mmap64 (addr, len, prot, flags, fd, off);
  note_mmap (p, len, prot, flags);
  return p;
}

EXPORT void *
mremap (void *old, size_t old_len, size_t new_len, int flags, ...)
{
  void *new_addr = NULL;
  void *p;
  if (flags & MREMAP_FIXED)
    {
      va_list ap;
      va_start (ap, flags);
      new_addr = va_arg (ap, void *);
      va_end (ap);
    }
  resolve ();
  p = next_mremap (old, old_len, new_len, flags, new_addr);
  /* A moved or grown area keeps its flags; only one that crossed the
   * threshold is new to us.  Shared areas ignore the advice. */
  if (p != MAP_FAILED && __atomic_load_n (&heap_active, __ATOMIC_RELAXED) && new_len >= min_bytes
      && old_len < min_bytes)
    mark ((uintptr_t) p, (uintptr_t) p + new_len);
  return p;
}

EXPORT int
brk (void *addr)
{
  resolve ();
  if (next_brk == NULL || next_sbrk == NULL)
    {
      errno = ENOMEM;
      return -1;
    }
  uintptr_t before = (uintptr_t) next_sbrk (0);
  int r = next_brk (addr);
  if (r == 0 && __atomic_load_n (&heap_active, __ATOMIC_RELAXED) && (uintptr_t) addr > before)
    mark (before, (uintptr_t) addr);
  return r;
}

EXPORT void *
sbrk (intptr_t inc)
{
  resolve ();
  if (next_sbrk == NULL)
    {
      errno = ENOMEM;
      return (void *) -1;
    }
  void *p = next_sbrk (inc);
  if (p != (void *) -1 && inc > 0 && __atomic_load_n (&heap_active, __ATOMIC_RELAXED))
    mark ((uintptr_t) p, (uintptr_t) p + (uintptr_t) inc);
  return p;
}

/* start_brk, field 47 of /proc/self/stat, read without stdio or malloc. */
static uintptr_t
read_start_brk (void)
{
  char buf[2048];
  ssize_t n, total = 0;
  int fd = open ("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  while (total < (ssize_t) sizeof buf - 1 && (n = read (fd, buf + total, sizeof buf - 1 - (size_t) total)) > 0)
    total += n;
  close (fd);
  buf[total > 0 ? total : 0] = '\0';
  char *p = strrchr (buf, ')');
  if (p == NULL)
    return 0;
  /* Field 3 follows ") "; field 47 is 44 spaces further. */
  p += 2;
  for (int field = 3; field < 47 && *p; p++)
    if (*p == ' ')
      field++;
  uintptr_t v = 0;
  while (*p >= '0' && *p <= '9')
    v = v * 10 + (uintptr_t) (*p++ - '0');
  return v;
}

static bool
env_is (const char *name, const char *value)
{
  const char *v = getenv (name);
  return v && strcmp (v, value) == 0;
}

__attribute__ ((constructor)) static void
ksm_preload_init (void)
{
  int saved = errno;
  const char *min = getenv ("SAMEPAGE_KSM_MIN_BYTES");
  long ps = sysconf (_SC_PAGESIZE);
  Dl_info info;

  resolve ();
  if (ps > 0)
    page_mask = (uintptr_t) ps - 1;
  if (min && *min)
    {
      char *end;
      unsigned long long v = strtoull (min, &end, 10);
      if (*end == '\0')
        min_bytes = v < (unsigned long long) ps ? (size_t) ps : (size_t) v;
    }
  if (env_is ("SAMEPAGE_KSM_MODE", "off"))
    goto out;
  if (env_is ("SAMEPAGE_KSM_MODE", "merge-any") && prctl (PR_SET_MEMORY_MERGE, 1, 0, 0, 0) == 0)
    goto out;
  glibc_malloc = dladdr ((void *) next_malloc, &info) && info.dli_fname && strstr (info.dli_fname, "libc.so");
  brk_start = read_start_brk ();
  if (brk_start)
    {
      uintptr_t cur = (uintptr_t) sbrk (0);
      if (cur > brk_start)
        mark (brk_start, cur);
      brk_covered = cur > brk_start ? cur : brk_start;
    }
  __atomic_store_n (&heap_active, true, __ATOMIC_RELEASE);
out:
  errno = saved;
}
