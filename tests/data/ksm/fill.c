/* Test helper: fills heap memory with pages that are identical across runs
 * of this program but distinct within one run, so only cross-process
 * merging can share them.  Then prints "ready" and sleeps until killed.
 *   fill MIB [small|large|threads] [SEED]
 * small: 64 KiB malloc chunks (glibc's brk heap); large: one malloc per
 * 8 MiB (glibc mmaps those); threads: 4 threads of small chunks (arenas). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t mib;
static unsigned seed;

static void
fill_page (unsigned char *p, size_t page_no)
{
  for (size_t i = 0; i < 4096; i += sizeof (size_t))
    {
      size_t v = page_no * 2654435761u + i + seed;
      memcpy (p + i, &v, sizeof v);
    }
}

static void
fill_chunks (size_t total, size_t chunk, size_t first_page)
{
  size_t page = first_page;
  for (size_t done = 0; done < total; done += chunk)
    {
      /* Page-aligned so page contents line up in every process. */
      unsigned char *p = NULL;
      if (posix_memalign ((void **) &p, 4096, chunk) != 0)
        {
          perror ("posix_memalign");
          exit (1);
        }
      for (size_t off = 0; off + 4096 <= chunk; off += 4096)
        fill_page (p + off, page++);
    }
}

static void *
thread_main (void *arg)
{
  size_t idx = (size_t) arg;
  fill_chunks (mib * 1024 * 1024 / 4, 64 * 1024, idx * mib * 64);
  return NULL;
}

int
main (int argc, char **argv)
{
  const char *how = argc > 2 ? argv[2] : "small";
  if (argc < 2 || (mib = strtoul (argv[1], NULL, 10)) == 0)
    {
      fprintf (stderr, "usage: fill MIB [small|large|threads] [SEED]\n");
      return 2;
    }
  seed = argc > 3 ? (unsigned) strtoul (argv[3], NULL, 10) : 0;
  if (strcmp (how, "small") == 0)
    fill_chunks (mib * 1024 * 1024, 64 * 1024, 0);
  else if (strcmp (how, "large") == 0)
    fill_chunks (mib * 1024 * 1024, 8 * 1024 * 1024, 0);
  else if (strcmp (how, "threads") == 0)
    {
      pthread_t t[4];
      for (size_t i = 0; i < 4; i++)
        pthread_create (&t[i], NULL, thread_main, (void *) i);
      for (size_t i = 0; i < 4; i++)
        pthread_join (t[i], NULL);
    }
  else
    {
      fprintf (stderr, "fill: unknown kind `%s`\n", how);
      return 2;
    }
  printf ("ready\n");
  fflush (stdout);
  for (;;)
    pause ();
}
