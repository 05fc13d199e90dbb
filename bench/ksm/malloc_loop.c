/* bench helper: cost of the preload wrappers on the malloc fast path.
 * Prints nanoseconds per malloc+free pair over a mix of small sizes. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int
main (int argc, char **argv)
{
  long n = argc > 1 ? atol (argv[1]) : 20000000;
  void *keep[64] = { 0 };
  struct timespec a, b;
  clock_gettime (CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++)
    {
      size_t slot = (size_t) i & 63;
      free (keep[slot]);
      keep[slot] = malloc (16 + (size_t) (i % 7) * 48);
      if (keep[slot] == NULL)
        return 1;
      *(volatile char *) keep[slot] = 1;
    }
  clock_gettime (CLOCK_MONOTONIC, &b);
  printf ("%.1f\n", ((double) (b.tv_sec - a.tv_sec) * 1e9 + (double) (b.tv_nsec - a.tv_nsec)) / (double) n);
  return 0;
}
