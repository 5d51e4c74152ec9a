/* The build plan: the configured packages as a DAG, their content keys,
 * and a parallel executor that walks the DAG.
 *
 * Edges. Package A builds against package B when one of A's
 * buildDependencies or depends (each alternative of "x | y", version
 * constraints dropped) names B itself, one of B's pkgList names, or a binary
 * package B's last build produced (its record in the local repository).
 *
 * Content keys. key = sha256 of the inputs, a JSON object written with
 * sorted keys and no spaces:
 *   format        DOS_PLAN_KEY_FORMAT
 *   options       the effective options, less those that say where things
 *                 are rather than what they are (repo, workDir, patchDir,
 *                 routineDir, comment) or that are hashed by content below
 *                 (recipe, sources)
 *   recipe        sha256 of the recipe script (null for a src package)
 *   sources       each source without its urls: {sha256, filename?} or
 *                 {debianSource, suite?, file?}
 *   patch         sha256 of <patchDir>/<name>.patch, or null
 *   routines      {preRoutine|postRoutine|routine: sha256} of those set
 *   dependencies  {name: key} of the packages it builds against
 * So a change anywhere changes the key of the package and of everything
 * built on it; nothing else does (moving the project folder included). */
#pragma once

#include "config.h"
#include "context.h"
#include "util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define DOS_PLAN_KEY_FORMAT "diracos-package-key-1"

struct dos_plan_node {
	const struct dos_package *pkg;  /* borrowed from the configuration */
	size_t *deps;                   /* the nodes it builds against */
	size_t n_deps;
	size_t *rdeps;                  /* the nodes built against it */
	size_t n_rdeps;
	char key[DOS_SHA256_HEX];
	json_t *inputs;                 /* what went into the key (owned) */
};

struct dos_plan {
	struct dos_plan_node *nodes;    /* one per configured package, in its order */
	size_t n;
	size_t *order;                  /* dependencies before their dependents */
};

/* Builds the plan of cfg's packages. provides (may be NULL) holds, for each
 * configured package in cfg's order, the binary packages its last build
 * produced. Errors: a cycle (DOS_ECONFIG, "package cycle: a -> b -> a"), an
 * unreadable recipe, patch or routine (DOS_EIO / DOS_ECONFIG, naming the
 * package and the file). */
int dos_plan_new(struct dos_ctx *ctx, const struct dos_config *cfg,
		 const struct dos_strv *provides, struct dos_plan **out);
void dos_plan_free(struct dos_plan *plan);

/* The index of the node named name, or -1. */
int dos_plan_find(const struct dos_plan *plan, const char *name);

/* Marks in mark[] (plan->n entries, not cleared first) the node i and
 * every node built on it, directly or not. */
void dos_plan_mark_dependents(const struct dos_plan *plan, size_t i, bool *mark);
/* Marks every node i builds against, directly or not (not i itself). */
void dos_plan_mark_dependencies(const struct dos_plan *plan, size_t i, bool *mark);

/* The first word of a dependency alternative: "libfoo-dev (>= 1) | bar"
 * gives "libfoo-dev" (and, with the next alternative, "bar"). Pushes each
 * alternative's package name onto names. */
void dos_plan_dependency_names(const char *dep, struct dos_strv *names);

/* --- the executor --- */

/* Runs one node; returns 0 or a negative code. Called from worker threads,
 * at most `jobs` at once; SIGINT, SIGTERM and SIGHUP are blocked in them
 * (see dos_sandbox_run). */
typedef int (*dos_plan_fn)(void *data, size_t index);

/* What became of a node in dos_plan_execute(). */
#define DOS_PLAN_NOT_RUN 1   /* not asked for */
#define DOS_PLAN_SKIPPED 2   /* something it builds against failed, or a stop */

/* Runs fn on every node with todo[i], in parallel (jobs threads, at
 * least one), each only after the todo nodes it builds against have
 * succeeded; nodes not in todo count as done. results[i] gets fn's
 * return, DOS_PLAN_NOT_RUN or DOS_PLAN_SKIPPED. A node returning DOS_EINTR
 * stops the others: nothing new starts, and the signal is raised again for
 * the nodes still running to see. Returns 0 when every todo node
 * succeeded, else the first failed node's code (in plan order; DOS_EINTR
 * first). */
int dos_plan_execute(struct dos_ctx *ctx, const struct dos_plan *plan, const bool *todo,
		     int jobs, dos_plan_fn fn, void *data, int *results);
