/* casfs subcommands: one file per verb under cmd/casfs/, dispatched by main.c. */
#ifndef CASFS_VERBS_H
#define CASFS_VERBS_H

#include <samepage/casfs_store.h>

struct casfs_globals
{
  const char *store; /* --store DIR (default CASFS_DEFAULT_STORE or $CASFS_STORE) */
  bool json; /* --json where a verb supports it */
};

/* Each verb gets argv starting at its own name and returns the exit status. */
typedef int (*casfs_verb_fn) (struct casfs_globals *g, int argc, char **argv);

struct casfs_verb
{
  const char *name;
  casfs_verb_fn fn;
  const char *usage; /* one line: arguments */
  const char *summary;
};

extern const struct casfs_verb casfs_verbs[];

/* Shared by verbs: opens the store named by the globals. */
int casfs_open_store (struct casfs_globals *g, bool create, struct casfs_store **out);
/* Prints "casfs VERB: usage: ..." and returns 2. */
int casfs_usage_error (const char *verb, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

#endif
