/* The build plan: DAG, content keys, executor. See plan.h. */
#include "plan.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* --- edges --- */

void dos_plan_dependency_names(const char *dep, struct dos_strv *names)
{
	const char *p = dep;

	while (*p) {
		size_t n;
		while (*p == ' ' || *p == '\t' || *p == '|')
			p++;
		n = strcspn(p, " \t|(:[<");
		if (n) {
			char *name = dos_xmalloc(n + 1);
			memcpy(name, p, n);
			name[n] = '\0';
			dos_strv_push_owned(names, name);
		}
		p += n;
		p += strcspn(p, "|");
	}
}

static bool node_provides(const struct dos_package *p, const struct dos_strv *provides,
			  const char *name)
{
	return !strcmp(p->name, name) || dos_strv_contains(&p->pkg_list, name) ||
	       (provides && dos_strv_contains(provides, name));
}

static void edge_add(struct dos_plan *plan, size_t from, size_t to)
{
	struct dos_plan_node *a = &plan->nodes[from], *b = &plan->nodes[to];

	for (size_t k = 0; k < a->n_deps; k++)
		if (a->deps[k] == to)
			return;
	a->deps = dos_xrealloc(a->deps, (a->n_deps + 1) * sizeof(*a->deps));
	a->deps[a->n_deps++] = to;
	b->rdeps = dos_xrealloc(b->rdeps, (b->n_rdeps + 1) * sizeof(*b->rdeps));
	b->rdeps[b->n_rdeps++] = from;
}

/* Every package name node i's buildDependencies and depends mention. */
static void node_wanted(const struct dos_package *p, struct dos_strv *names)
{
	for (size_t k = 0; k < p->build_dependencies.n; k++)
		dos_plan_dependency_names(p->build_dependencies.v[k], names);
	for (size_t k = 0; k < p->depends.n; k++)
		dos_plan_dependency_names(p->depends.v[k], names);
}

static void edges_build(struct dos_plan *plan, const struct dos_strv *provides)
{
	for (size_t i = 0; i < plan->n; i++) {
		struct dos_strv names = { 0 };
		node_wanted(plan->nodes[i].pkg, &names);
		for (size_t k = 0; k < names.n; k++)
			for (size_t j = 0; j < plan->n; j++)
				if (j != i && node_provides(plan->nodes[j].pkg,
							    provides ? &provides[j] : NULL, names.v[k]))
					edge_add(plan, i, j);
		dos_strv_release(&names);
	}
}

/* --- order and cycles --- */

/* The cycle among the nodes not placed: follows the first unplaced
 * dependency until a node repeats. */
static int cycle_error(struct dos_ctx *ctx, const struct dos_plan *plan, const bool *placed)
{
	size_t *path = dos_xcalloc(plan->n + 1, sizeof(*path)), len = 0, cur = 0, start = 0;
	char msg[DOS_ERRMSG_MAX] = "";
	size_t used = 0;

	while (placed[cur])
		cur++;
	for (;;) {
		for (start = 0; start < len && path[start] != cur; start++)
			;
		if (start < len)
			break;
		path[len++] = cur;
		for (size_t k = 0; k < plan->nodes[cur].n_deps; k++)
			if (!placed[plan->nodes[cur].deps[k]]) {
				cur = plan->nodes[cur].deps[k];
				break;
			}
	}
	for (size_t k = start; k < len && used < sizeof(msg); k++)
		used += (size_t)snprintf(msg + used, sizeof(msg) - used, "%s -> ",
					 plan->nodes[path[k]].pkg->name);
	free(path);
	return dos_error(ctx, DOS_ECONFIG, "package cycle: %s%s", msg, plan->nodes[cur].pkg->name);
}

static bool node_ready(const struct dos_plan *plan, size_t i, const bool *placed)
{
	for (size_t k = 0; k < plan->nodes[i].n_deps; k++)
		if (!placed[plan->nodes[i].deps[k]])
			return false;
	return true;
}

/* Kahn's algorithm, taking the first ready node in configuration order, so
 * that the order is stable. */
static int order_build(struct dos_ctx *ctx, struct dos_plan *plan)
{
	bool *placed = dos_xcalloc(plan->n + 1, sizeof(*placed));
	size_t done = 0;
	int r = 0;

	plan->order = dos_xcalloc(plan->n + 1, sizeof(*plan->order));
	while (done < plan->n) {
		size_t i = 0;
		while (i < plan->n && (placed[i] || !node_ready(plan, i, placed)))
			i++;
		if (i == plan->n) {
			r = cycle_error(ctx, plan, placed);
			break;
		}
		placed[i] = true;
		plan->order[done++] = i;
	}
	free(placed);
	return r;
}

/* --- keys --- */

static int file_digest(struct dos_ctx *ctx, const char *pkg, const char *what, const char *path,
		       json_t **out)
{
	char hex[DOS_SHA256_HEX];

	if (dos_sha256_file(ctx, path, hex) < 0)
		return dos_error_prefix(ctx, "package '%s': %s", pkg, what);
	*out = json_string(hex);
	return 0;
}

static json_t *key_options(const json_t *options)
{
	static const char *const dropped[] = {
		"repo", "workDir", "patchDir", "routineDir", "comment", "recipe", "sources",
	};
	json_t *o = json_deep_copy(options);

	for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
		json_object_del(o, dropped[i]);
	return o;
}

static json_t *key_sources(const json_t *options)
{
	json_t *out = json_array(), *s;
	size_t i;

	json_array_foreach(json_object_get(options, "sources"), i, s) {
		json_t *c = json_deep_copy(s);
		json_object_del(c, "urls");
		json_array_append_new(out, c);
	}
	return out;
}

static int key_patch(struct dos_ctx *ctx, const struct dos_package *p, json_t **out)
{
	const char *dir = json_string_value(json_object_get(p->options, "patchDir"));
	_cleanup_free_ char *name = dos_xasprintf("%s.patch", p->name);
	_cleanup_free_ char *path = dir ? dos_path_join(dir, name) : NULL;

	*out = json_null();
	if (!path || (access(path, F_OK) < 0 && errno == ENOENT))
		return 0;
	return file_digest(ctx, p->name, "patch", path, out);
}

static int key_routines(struct dos_ctx *ctx, const struct dos_package *p, json_t *out)
{
	static const char *const kinds[] = { "preRoutine", "postRoutine", "routine" };
	const char *dir = json_string_value(json_object_get(p->options, "routineDir"));

	for (size_t i = 0; i < 3; i++) {
		const char *v = json_string_value(json_object_get(p->options, kinds[i]));
		_cleanup_free_ char *path = NULL;
		json_t *d = NULL;
		if (!v)
			continue;
		path = dos_path_absolute(dir, v);
		if (file_digest(ctx, p->name, kinds[i], path, &d) < 0)
			return DOS_EIO;
		json_object_set_new(out, kinds[i], d);
	}
	return 0;
}

static int key_inputs(struct dos_ctx *ctx, const struct dos_plan *plan, size_t i, json_t **out)
{
	const struct dos_plan_node *node = &plan->nodes[i];
	const struct dos_package *p = node->pkg;
	json_t *in = json_object(), *v = json_null(), *deps = json_object();
	int r = 0;

	json_object_set_new(in, "format", json_string(DOS_PLAN_KEY_FORMAT));
	json_object_set_new(in, "options", key_options(p->options));
	json_object_set_new(in, "sources", key_sources(p->options));
	for (size_t k = 0; k < node->n_deps; k++)
		json_object_set_new(deps, plan->nodes[node->deps[k]].pkg->name,
				    json_string(plan->nodes[node->deps[k]].key));
	json_object_set_new(in, "dependencies", deps);
	if (p->recipe)
		r = file_digest(ctx, p->name, "recipe", p->recipe, &v);
	json_object_set_new(in, "recipe", v);
	if (r == 0 && (r = key_patch(ctx, p, &v)) == 0)
		json_object_set_new(in, "patch", v);
	json_object_set_new(in, "routines", v = json_object());
	if (r == 0)
		r = key_routines(ctx, p, v);
	if (r < 0)
		json_decref(dos_steal(&in));
	*out = in;
	return r;
}

static int keys_compute(struct dos_ctx *ctx, struct dos_plan *plan)
{
	for (size_t k = 0; k < plan->n; k++) {
		struct dos_plan_node *node = &plan->nodes[plan->order[k]];
		_cleanup_free_ char *text = NULL;
		int r = key_inputs(ctx, plan, plan->order[k], &node->inputs);
		if (r < 0)
			return r;
		text = json_dumps(node->inputs, JSON_SORT_KEYS | JSON_COMPACT);
		if (!text)
			return dos_error(ctx, DOS_ECONFIG, "package '%s': options are not valid UTF-8",
					 node->pkg->name);
		dos_sha256_buf(text, strlen(text), node->key);
	}
	return 0;
}

/* --- the plan --- */

int dos_plan_new(struct dos_ctx *ctx, const struct dos_config *cfg,
		 const struct dos_strv *provides, struct dos_plan **out)
{
	struct dos_plan *plan = dos_xcalloc(1, sizeof(*plan));
	int r;

	*out = NULL;
	plan->n = cfg->n_packages;
	plan->nodes = dos_xcalloc(plan->n + 1, sizeof(*plan->nodes));
	for (size_t i = 0; i < plan->n; i++)
		plan->nodes[i].pkg = &cfg->packages[i];
	edges_build(plan, provides);
	r = order_build(ctx, plan);
	if (r == 0)
		r = keys_compute(ctx, plan);
	if (r < 0)
		dos_plan_free(dos_steal(&plan));
	*out = plan;
	return r;
}

void dos_plan_free(struct dos_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n; i++) {
		free(plan->nodes[i].deps);
		free(plan->nodes[i].rdeps);
		json_decref(plan->nodes[i].inputs);
	}
	free(plan->nodes);
	free(plan->order);
	free(plan);
}

int dos_plan_find(const struct dos_plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->n; i++)
		if (!strcmp(plan->nodes[i].pkg->name, name))
			return (int)i;
	return -1;
}

void dos_plan_mark_dependents(const struct dos_plan *plan, size_t i, bool *mark)
{
	if (mark[i])
		return;
	mark[i] = true;
	for (size_t k = 0; k < plan->nodes[i].n_rdeps; k++)
		dos_plan_mark_dependents(plan, plan->nodes[i].rdeps[k], mark);
}

void dos_plan_mark_dependencies(const struct dos_plan *plan, size_t i, bool *mark)
{
	for (size_t k = 0; k < plan->nodes[i].n_deps; k++) {
		size_t d = plan->nodes[i].deps[k];
		if (!mark[d]) {
			mark[d] = true;
			dos_plan_mark_dependencies(plan, d, mark);
		}
	}
}

/* --- the executor --- */

enum { ST_PENDING, ST_RUNNING, ST_DONE };

struct exec {
	const struct dos_plan *plan;
	int *results;
	int *state;
	size_t left, running;
	bool stop;
	dos_plan_fn fn;
	void *data;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static bool result_ok(int r)
{
	return r == 0 || r == DOS_PLAN_NOT_RUN;
}

/* Pending nodes that can never run become skipped. */
static void exec_skip_blocked(struct exec *e)
{
	for (size_t k = 0; k < e->plan->n; k++) {
		size_t i = e->plan->order[k];
		const struct dos_plan_node *node = &e->plan->nodes[i];
		bool blocked = e->stop;
		if (e->state[i] != ST_PENDING)
			continue;
		for (size_t d = 0; d < node->n_deps && !blocked; d++)
			blocked = e->state[node->deps[d]] == ST_DONE && !result_ok(e->results[node->deps[d]]);
		if (blocked) {
			e->state[i] = ST_DONE;
			e->results[i] = DOS_PLAN_SKIPPED;
			e->left--;
		}
	}
}

static long exec_next(struct exec *e)
{
	for (size_t k = 0; k < e->plan->n; k++) {
		size_t i = e->plan->order[k];
		const struct dos_plan_node *node = &e->plan->nodes[i];
		bool ready = e->state[i] == ST_PENDING;
		for (size_t d = 0; d < node->n_deps && ready; d++)
			ready = e->state[node->deps[d]] == ST_DONE;
		if (ready)
			return (long)i;
	}
	return -1;
}

static void exec_finish(struct exec *e, size_t i, int r)
{
	e->results[i] = r;
	e->state[i] = ST_DONE;
	e->left--;
	e->running--;
	if (r == DOS_EINTR) {
		e->stop = true;
		/* The signal went to this node's sandbox only, and a re-raised
		 * one reaches one more: each interrupted node passes it on while
		 * any other runs, so every running node sees it in turn. */
		if (e->running)
			kill(getpid(), SIGINT);
	}
	pthread_cond_broadcast(&e->cv);
}

static void *exec_worker(void *arg)
{
	struct exec *e = arg;
	long i;

	pthread_mutex_lock(&e->mu);
	for (;;) {
		exec_skip_blocked(e);
		if (e->left == 0)
			break;
		i = exec_next(e);
		if (i < 0) {
			pthread_cond_wait(&e->cv, &e->mu);
			continue;
		}
		e->state[i] = ST_RUNNING;
		e->running++;
		pthread_mutex_unlock(&e->mu);
		int r = e->fn(e->data, (size_t)i);
		pthread_mutex_lock(&e->mu);
		exec_finish(e, (size_t)i, r > 0 ? 0 : r);
	}
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

/* Signals that arrived while blocked and no sandbox took them. */
static bool signals_drain(const sigset_t *set)
{
	struct timespec zero = { 0, 0 };
	bool any = false;

	while (sigtimedwait(set, NULL, &zero) > 0)
		any = true;
	return any;
}

static int exec_threads(struct dos_ctx *ctx, struct exec *e, int jobs)
{
	pthread_t *threads = dos_xcalloc((size_t)jobs, sizeof(*threads));
	sigset_t set, old;
	int started = 0;
	bool interrupted;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	for (int t = 0; t < jobs; t++)
		if (pthread_create(&threads[t], NULL, exec_worker, e) == 0)
			started++;
	if (started == 0)
		exec_worker(e);
	for (int t = 0; t < started; t++)
		pthread_join(threads[t], NULL);
	free(threads);
	interrupted = signals_drain(&set);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return interrupted ? dos_error(ctx, DOS_EINTR, "interrupted") : 0;
}

static int exec_result(const struct dos_plan *plan, const int *results)
{
	for (size_t k = 0; k < plan->n; k++)
		if (results[plan->order[k]] == DOS_EINTR)
			return DOS_EINTR;
	for (size_t k = 0; k < plan->n; k++)
		if (results[plan->order[k]] < 0)
			return results[plan->order[k]];
	return 0;
}

int dos_plan_execute(struct dos_ctx *ctx, const struct dos_plan *plan, const bool *todo,
		     int jobs, dos_plan_fn fn, void *data, int *results)
{
	struct exec e = { .plan = plan, .results = results, .fn = fn, .data = data };
	int r;

	e.state = dos_xcalloc(plan->n + 1, sizeof(*e.state));
	for (size_t i = 0; i < plan->n; i++) {
		results[i] = todo[i] ? 0 : DOS_PLAN_NOT_RUN;
		e.state[i] = todo[i] ? ST_PENDING : ST_DONE;
		e.left += todo[i];
	}
	if (jobs < 1)
		jobs = 1;
	if ((size_t)jobs > e.left)
		jobs = e.left ? (int)e.left : 1;
	pthread_mutex_init(&e.mu, NULL);
	pthread_cond_init(&e.cv, NULL);
	r = exec_threads(ctx, &e, jobs);
	pthread_cond_destroy(&e.cv);
	pthread_mutex_destroy(&e.mu);
	free(e.state);
	return exec_result(plan, results) ?: r;
}
