/* samepage verbs: one file per verb (or per pair) under cmd/samepage/. */
#ifndef SAMEPAGE_VERBS_H
#define SAMEPAGE_VERBS_H

#include <samepage/container.h>
#include <samepage/error.h>

typedef int (*sp_verb_fn) (struct sp_runtime *rt, int argc, char **argv);

struct sp_verb
{
  const char *name;
  sp_verb_fn fn;
  const char *usage;
  const char *summary;
};

extern const struct sp_verb sp_verbs[];

int cmd_create (struct sp_runtime *rt, int argc, char **argv);
int cmd_run (struct sp_runtime *rt, int argc, char **argv);
int cmd_start (struct sp_runtime *rt, int argc, char **argv);
int cmd_state (struct sp_runtime *rt, int argc, char **argv);
int cmd_list (struct sp_runtime *rt, int argc, char **argv);
int cmd_ps (struct sp_runtime *rt, int argc, char **argv);
int cmd_kill (struct sp_runtime *rt, int argc, char **argv);
int cmd_delete (struct sp_runtime *rt, int argc, char **argv);
int cmd_exec (struct sp_runtime *rt, int argc, char **argv);
int cmd_pause (struct sp_runtime *rt, int argc, char **argv);
int cmd_resume (struct sp_runtime *rt, int argc, char **argv);
int cmd_update (struct sp_runtime *rt, int argc, char **argv);
int cmd_spec (struct sp_runtime *rt, int argc, char **argv);
int cmd_features (struct sp_runtime *rt, int argc, char **argv);
int cmd_casfs (struct sp_runtime *rt, int argc, char **argv);
int cmd_ksm (struct sp_runtime *rt, int argc, char **argv);

/* Logs err (to stderr and --log) and returns exit status 1. */
int sp_fail (sp_error_t *err);
/* "samepage VERB: MESSAGE" + usage line, exit status 2... runc uses 1 for usage errors. */
int sp_usage_error (const char *verb, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

#endif
