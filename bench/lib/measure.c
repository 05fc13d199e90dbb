/* measure: runs a command and prints "wall_ms cpu_ms maxrss_kb status" on
 * stderr-free stdout.  Benchmarks need sub-millisecond wall time and the
 * rusage of the whole process tree, which time(1) rounds to 10 ms. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  struct timespec a, b;
  struct rusage ru;
  int status;
  pid_t pid;

  if (argc < 2)
    {
      fprintf (stderr, "usage: measure COMMAND [ARGS...]\n");
      return 2;
    }
  clock_gettime (CLOCK_MONOTONIC, &a);
  pid = fork ();
  if (pid < 0)
    return 1;
  if (pid == 0)
    {
      execvp (argv[1], argv + 1);
      _exit (127);
    }
  if (wait4 (pid, &status, 0, &ru) < 0)
    return 1;
  clock_gettime (CLOCK_MONOTONIC, &b);
  printf ("%.3f %.3f %ld %d\n", (double) (b.tv_sec - a.tv_sec) * 1e3 + (double) (b.tv_nsec - a.tv_nsec) / 1e6,
          (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3
              + (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3,
          ru.ru_maxrss, WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
  return 0;
}
