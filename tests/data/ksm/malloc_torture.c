/* Test helper: a malloc-heavy program whose results must not change under
 * libsamepage-ksm.so.  Threads allocate, grow, shrink and free blocks of
 * every size class (small, brk heap, arenas, mmapped) through every entry
 * point, fill them with a pattern and check it before freeing; then it
 * prints a checksum that depends only on the data, and "mergeable: yes|no"
 * from /proc/self/ksm_stat.  Built with sanitizers by tests/integration/ksm.bats. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <sys/mman.h>

#define SLOTS 512
#define ROUNDS 4000

static uint32_t
next_rand (uint32_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

struct block
{
  unsigned char *p;
  size_t n;
  unsigned char tag;
};

static void
fill (struct block *b)
{
  memset (b->p, b->tag, b->n);
}

static int
check (const struct block *b, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (b->p[i] != b->tag)
      return -1;
  return 0;
}

static void *
worker (void *arg)
{
  uint32_t seed = (uint32_t) (uintptr_t) arg * 2654435761u + 1;
  struct block slots[SLOTS] = { 0 };
  uint64_t sum = 0;

  for (int r = 0; r < ROUNDS; r++)
    {
      struct block *b = &slots[next_rand (&seed) % SLOTS];
      uint32_t kind = next_rand (&seed) % 100;
      size_t n = kind < 75 ? next_rand (&seed) % 512 + 1
                 : kind < 98 ? next_rand (&seed) % (256 * 1024) + 1
                             : next_rand (&seed) % (2 * 1024 * 1024) + 1;
      if (b->p)
        {
          if (check (b, b->n) < 0)
            {
              fprintf (stderr, "corrupted block\n");
              exit (1);
            }
          sum += b->n * b->tag;
          if (next_rand (&seed) % 3 == 0)
            {
              size_t keep = b->n < n ? b->n : n;
              unsigned char *p = realloc (b->p, n);
              if (p == NULL)
                exit (1);
              b->p = p;
              b->n = n;
              if (check (b, keep) < 0)
                {
                  fprintf (stderr, "realloc lost data\n");
                  exit (1);
                }
              fill (b);
              continue;
            }
          free (b->p);
          b->p = NULL;
        }
      b->n = n;
      b->tag = (unsigned char) (next_rand (&seed) | 1);
      switch (next_rand (&seed) % 4)
        {
        case 0:
          b->p = malloc (n);
          break;
        case 1:
          b->p = calloc (1, n);
          if (b->p && b->p[n - 1] != 0)
            exit (1);
          break;
        case 2:
          if (posix_memalign ((void **) &b->p, 64, n) != 0)
            b->p = NULL;
          break;
        default:
          b->p = aligned_alloc (4096, (n + 4095) & ~(size_t) 4095);
          break;
        }
      if (b->p == NULL)
        exit (1);
      fill (b);
    }
  for (int i = 0; i < SLOTS; i++)
    if (slots[i].p)
      {
        sum += slots[i].n * slots[i].tag;
        free (slots[i].p);
      }
  return (void *) (uintptr_t) sum;
}

int
main (void)
{
  pthread_t t[4];
  uint64_t total = 0;
  char line[128];
  static char mergeable[16] = "unknown";
  FILE *f;
  /* One direct anonymous mapping above the threshold. */
  size_t big = 8 << 20;
  unsigned char *m = mmap (NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED)
    return 1;
  memset (m, 7, big);

  for (uintptr_t i = 0; i < 4; i++)
    pthread_create (&t[i], NULL, worker, (void *) (i + 1));
  for (int i = 0; i < 4; i++)
    {
      void *ret;
      pthread_join (t[i], &ret);
      total += (uint64_t) (uintptr_t) ret;
    }
  f = fopen ("/proc/self/ksm_stat", "re");
  while (f && fgets (line, sizeof line, f))
    if (strncmp (line, "ksm_mergeable: ", 15) == 0)
      {
        line[strcspn (line, "\n")] = '\0';
        snprintf (mergeable, sizeof mergeable, "%s", line + 15);
      }
  if (f)
    fclose (f);
  munmap (m, big);
  printf ("checksum %llu\nmergeable: %s\n", (unsigned long long) total, mergeable);
  return 0;
}
