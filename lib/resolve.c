/* resolve.c: the dependency resolver over libsolv: the solver's jobs,
 * its problems as sentences, and the closure walk. The indices are loaded
 * by resolve_index.c; the two are the only files that include libsolv. */
#include "resolve_internal.h"

#include <stdlib.h>
#include <string.h>

#include <solv/poolarch.h>
#include <solv/repo.h>
#include <solv/solver.h>

/* Alternatives shown in a dependency's text before "| ...". */
#define DEP_TEXT_MAX_ALTS 32

/* --- creation --- */

int dos_resolver_new(struct dos_ctx *ctx, const char *backend, const char *arch,
		     struct dos_resolver **out)
{
	struct dos_resolver *r;

	*out = NULL;
	if (!backend || (strcmp(backend, "deb") && strcmp(backend, "rpm")))
		return dos_error(ctx, DOS_ECONFIG, "resolver: unknown backend '%s' (expected deb or rpm)",
				 backend ? backend : "");
	if (!arch || !*arch)
		return dos_error(ctx, DOS_ECONFIG, "resolver: no architecture given");
	r = dos_xcalloc(1, sizeof(*r));
	r->ctx = ctx;
	r->pool = pool_create();
	r->rpm = !strcmp(backend, "rpm");
	/* rpm: epochs, rpmvercmp, rich dependencies; "noarch" is installable. */
	pool_setdisttype(r->pool, r->rpm ? DISTTYPE_RPM : DISTTYPE_DEB);
	/* For deb, libsolv adds "all" to the policy: both are installable. */
	pool_setarch(r->pool, arch);
	r->dirty = true;
	*out = r;
	return 0;
}

void dos_resolver_free(struct dos_resolver *r)
{
	Pool *pool;
	Repo *repo;
	Id repoid;

	if (!r)
		return;
	pool = r->pool;
	FOR_REPOS(repoid, repo) {
		struct repo_info *info = repo->appdata;

		if (info) {
			free(info->name);
			free(info->base_url);
			free(info);
		}
	}
	if (pool->considered) { /* set by resolve_python.c; pool_free leaves it */
		map_free(pool->considered);
		free(pool->considered);
		pool->considered = NULL;
	}
	pool_free(pool);
	free(r->extra);
	dos_strv_release(&r->repo_names);
	free(r);
}

size_t dos_resolver_count(const struct dos_resolver *r)
{
	Pool *pool = r->pool;
	Repo *repo;
	Id repoid;
	size_t n = 0;

	FOR_REPOS(repoid, repo)
		n += repo->nsolvables;
	return n;
}

/* --- text --- */

static const char *rel_op(int flags)
{
	switch (flags) {
	case REL_GT | REL_EQ: return ">=";
	case REL_LT | REL_EQ: return "<=";
	case REL_EQ: return "=";
	case REL_GT: return ">>";
	case REL_LT: return "<<";
	default: return NULL;
	}
}

/* One alternative, in Debian's spelling: "libc6 (>= 2.34)", "python3:any". */
static char *dep_one_text(Pool *pool, Id dep)
{
	Reldep *rd;
	const char *op;

	if (!ISRELDEP(dep))
		return dos_xstrdup(pool_id2str(pool, dep));
	rd = GETRELDEP(pool, dep);
	if (rd->flags == REL_MULTIARCH && !ISRELDEP(rd->name))
		return dos_xasprintf("%s:%s", pool_id2str(pool, rd->name), pool_id2str(pool, rd->evr));
	op = rel_op(rd->flags);
	/* rpm's spelling: "libfoo > 1.0", as rpm -q --requires prints it. */
	if (op && !ISRELDEP(rd->evr) && pool->disttype == DISTTYPE_RPM) {
		_cleanup_free_ char *name = dep_one_text(pool, rd->name);

		return dos_xasprintf("%s %s %s", name, rd->flags == REL_GT ? ">" :
				     rd->flags == REL_LT ? "<" : op, pool_id2str(pool, rd->evr));
	}
	if (op && !ISRELDEP(rd->evr)) {
		_cleanup_free_ char *name = dep_one_text(pool, rd->name);

		return dos_xasprintf("%s (%s %s)", name, op, pool_id2str(pool, rd->evr));
	}
	return dos_xstrdup(pool_dep2str(pool, dep));
}

static char *dep_text(Pool *pool, Id dep)
{
	char *text = NULL;

	for (int i = 0; dep; i++) {
		Id alt = dep;
		char *piece, *joined;

		dep = 0;
		if (ISRELDEP(alt) && GETRELDEP(pool, alt)->flags == REL_OR) {
			dep = GETRELDEP(pool, alt)->evr;
			alt = GETRELDEP(pool, alt)->name;
		}
		piece = i < DEP_TEXT_MAX_ALTS ? dep_one_text(pool, alt) : dos_xstrdup("...");
		joined = text ? dos_xasprintf("%s | %s", text, piece) : dos_steal(&piece);
		free(text);
		free(piece);
		text = joined;
		if (i >= DEP_TEXT_MAX_ALTS)
			break;
	}
	return text;
}

/* "bookworm main, local" */
static char *repos_text(const struct dos_resolver *r)
{
	char *text = dos_xstrdup("");

	for (size_t i = 0; i < r->repo_names.n; i++) {
		char *t = dos_xasprintf("%s%s%s", text, i ? ", " : "", r->repo_names.v[i]);

		free(text);
		text = t;
	}
	return text;
}

static const char *solvable_name(Pool *pool, Id p)
{
	return pool_id2str(pool, pool->solvables[p].name);
}

static const char *solvable_version(Pool *pool, Id p)
{
	return pool_id2str(pool, pool->solvables[p].evr);
}

/* --- problems --- */

/* "only 1.0, 1.1": the versions the repositories have of a versioned
 * dependency's name, or NULL when they have none. */
static char *versions_text(Pool *pool, Id dep)
{
	char *text = NULL;
	Id name = dep, p, pp;

	while (ISRELDEP(name) && GETRELDEP(pool, name)->flags != REL_OR)
		name = GETRELDEP(pool, name)->name;
	if (ISRELDEP(name))
		return NULL;
	FOR_PROVIDES(p, pp, name) {
		char *t;

		if (pool->solvables[p].name != name)
			continue;
		t = dos_xasprintf("%s%s%s", text ? text : "", text ? ", " : "", solvable_version(pool, p));
		free(text);
		text = t;
	}
	return text;
}

static char *nothing_provides_text(struct dos_resolver *r, Id source, Id dep)
{
	Pool *pool = r->pool;
	_cleanup_free_ char *dt = dep_text(pool, dep);
	_cleanup_free_ char *repos = repos_text(r);
	_cleanup_free_ char *have = versions_text(pool, dep);

	if (have)
		return dos_xasprintf("package '%s' %s depends on '%s', but the repositories (%s) have only %s",
				     solvable_name(pool, source), solvable_version(pool, source), dt, repos,
				     have);
	return dos_xasprintf("package '%s' %s depends on '%s', which is not in any repository (%s)",
			     solvable_name(pool, source), solvable_version(pool, source), dt, repos);
}

static int rule_rank(SolverRuleinfo type)
{
	switch (type) {
	case SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP: return 3;
	case SOLVER_RULE_PKG_CONFLICTS: return 2;
	case SOLVER_RULE_PKG_REQUIRES: return 1;
	default: return 0;
	}
}

/* The most telling rule of a problem: a missing dependency, then a
 * conflict, else the one libsolv picks. */
static Id problem_rule(Solver *solv, Id problem)
{
	Id best = solver_findproblemrule(solv, problem), from, to, dep;
	int best_rank = rule_rank(solver_ruleinfo(solv, best, &from, &to, &dep));
	Queue rules;

	queue_init(&rules);
	solver_findallproblemrules(solv, problem, &rules);
	for (int i = 0; i < rules.count; i++) {
		int rank = rule_rank(solver_ruleinfo(solv, rules.elements[i], &from, &to, &dep));

		if (rank > best_rank) {
			best = rules.elements[i];
			best_rank = rank;
		}
	}
	queue_free(&rules);
	return best;
}

/* "app <- libfoo": how the install jobs reach target over every
 * candidate, breadth first; NULL when target is requested itself. */
static char *problem_chain(Pool *pool, const Queue *job, Id target)
{
	Id *parent = dos_xcalloc((size_t)pool->nsolvables, sizeof(Id)), p, q, pp;
	char *chain = NULL;
	Queue todo;
	Map seen;

	map_init(&seen, pool->nsolvables);
	queue_init(&todo);
	for (int i = 0; i + 1 < job->count; i += 2) {
		if ((job->elements[i] & SOLVER_JOBMASK) != SOLVER_INSTALL)
			continue;
		FOR_PROVIDES(p, pp, job->elements[i + 1])
			if (!MAPTST(&seen, p)) {
				MAPSET(&seen, p);
				queue_push(&todo, p);
			}
	}
	for (int i = 0; i < todo.count && !MAPTST(&seen, target); i++) {
		Solvable *s = pool->solvables + todo.elements[i];

		for (Id *dp = s->requires ? s->repo->idarraydata + s->requires : NULL; dp && *dp; dp++)
			FOR_PROVIDES(q, pp, *dp)
				if (!MAPTST(&seen, q)) {
					MAPSET(&seen, q);
					parent[q] = todo.elements[i];
					queue_push(&todo, q);
				}
	}
	if (MAPTST(&seen, target) && parent[target]) {
		chain = dos_xstrdup(solvable_name(pool, target));
		for (p = parent[target]; p; p = parent[p]) {
			char *t = dos_xasprintf("%s <- %s", solvable_name(pool, p), chain);

			free(chain);
			chain = t;
		}
	}
	map_free(&seen);
	queue_free(&todo);
	free(parent);
	return chain;
}

/* One sentence for a problem; *pkg gets the package whose rule it is. */
static char *problem_text(struct dos_resolver *r, Solver *solv, Id problem, Id *pkg)
{
	Pool *pool = r->pool;
	Id source = 0, target = 0, dep = 0;
	SolverRuleinfo type = solver_ruleinfo(solv, problem_rule(solv, problem), &source, &target, &dep);
	_cleanup_free_ char *dt = NULL;

	*pkg = (type & SOLVER_RULE_TYPEMASK) == SOLVER_RULE_PKG ? source : 0;
	switch (type) {
	case SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP:
		return nothing_provides_text(r, source, dep);
	case SOLVER_RULE_PKG_REQUIRES:
		dt = dep_text(pool, dep);
		return dos_xasprintf("package '%s' %s depends on '%s', but no package providing it can be installed",
				     solvable_name(pool, source), solvable_version(pool, source), dt);
	case SOLVER_RULE_PKG_CONFLICTS:
		dt = dep_text(pool, dep);
		return dos_xasprintf("package '%s' %s conflicts with '%s' %s (Conflicts/Breaks: %s)",
				     solvable_name(pool, source), solvable_version(pool, source),
				     solvable_name(pool, target), solvable_version(pool, target), dt);
	default:
		return dos_xstrdup(solver_problemruleinfo2str(solv, type, source, target, dep));
	}
}

static int problems_report(struct dos_resolver *r, Solver *solv, const Queue *job)
{
	unsigned int n = solver_problem_count(solv);
	Id source;
	_cleanup_free_ char *first = problem_text(r, solv, 1, &source);
	_cleanup_free_ char *chain = source > 0 ? problem_chain(r->pool, job, source) : NULL;
	_cleanup_free_ char *more = n > 1 ? dos_xasprintf(" (and %u more problem%s)", n - 1,
							    n > 2 ? "s" : "") : NULL;

	return dos_error(r->ctx, DOS_ERESOLVE, "cannot resolve%s%s: %s%s", chain ? " " : "",
			 chain ? chain : "", first, more ? more : "");
}

/* --- solving --- */

static void resolver_prepare(struct dos_resolver *r)
{
	if (!r->dirty)
		return;
	pool_createwhatprovides(r->pool);
	r->dirty = false;
}

static bool name_listed(const struct dos_strv *sv, const char *name)
{
	return sv && dos_strv_contains(sv, name);
}

/* SOLVER_SOLVABLE_NAME for a real package, _PROVIDES for a virtual one
 * (as apt installs the single provider of a virtual name); 0 when no
 * repository has the name at all. */
static Id name_selection(Pool *pool, const char *name, Id *id)
{
	Id p, pp, how = 0;

	*id = pool_str2id(pool, name, 0);
	if (!*id)
		return 0;
	FOR_PROVIDES(p, pp, *id) {
		if (pool->solvables[p].name == *id)
			return SOLVER_SOLVABLE_NAME;
		how = SOLVER_SOLVABLE_PROVIDES;
	}
	return how;
}

static int jobs_add(struct dos_resolver *r, const struct dos_closure_request *req,
		    const struct dos_strv *names, Queue *job)
{
	for (size_t i = 0; names && i < names->n; i++) {
		const char *name = names->v[i];
		Id id, how;

		if (name_listed(req->platform, name) || name_listed(req->ignored, name))
			continue;
		how = name_selection(r->pool, name, &id);
		if (!how) {
			_cleanup_free_ char *repos = repos_text(r);

			return dos_error(r->ctx, DOS_ERESOLVE,
					 "package '%s' is not in any repository (%s)", name, repos);
		}
		queue_push2(job, SOLVER_INSTALL | how, id);
	}
	return 0;
}

/* --- apt's choices --- */

/* Alternatives past this position are not ordered. */
#define FAVOR_POSITIONS 8

/* Names met in the dependencies reachable from the install jobs, by the
 * part they play: alternative k of an "a | b" dependency, or the whole of
 * a plain one. */
struct favor {
	Pool *pool;
	Map seen;                     /* solvables reached */
	Queue todo;
	Queue alt[FAVOR_POSITIONS];
	Queue plain;
};

static void favor_reach(struct favor *fv, Id dep)
{
	Pool *pool = fv->pool;
	Id p, pp;

	FOR_PROVIDES(p, pp, dep) {
		if (!MAPTST(&fv->seen, p)) {
			MAPSET(&fv->seen, p);
			queue_push(&fv->todo, p);
		}
	}
}

/* "libfoo" of "libfoo:any (>= 1)". */
static Id dep_name(Pool *pool, Id dep)
{
	while (ISRELDEP(dep) && GETRELDEP(pool, dep)->flags != REL_OR)
		dep = GETRELDEP(pool, dep)->name;
	return ISRELDEP(dep) ? 0 : dep;
}

static void favor_dep(struct favor *fv, Id dep)
{
	Pool *pool = fv->pool;
	bool is_or = ISRELDEP(dep) && GETRELDEP(pool, dep)->flags == REL_OR;

	for (int k = 0; dep; k++) {
		Id alt = dep, name;

		dep = 0;
		if (ISRELDEP(alt) && GETRELDEP(pool, alt)->flags == REL_OR) {
			dep = GETRELDEP(pool, alt)->evr;
			alt = GETRELDEP(pool, alt)->name;
		}
		favor_reach(fv, alt);
		name = dep_name(pool, alt);
		if (name && !is_or)
			queue_push(&fv->plain, name);
		else if (name && k < FAVOR_POSITIONS)
			queue_push(&fv->alt[k], name);
	}
}

static int id_compare(const void *a, const void *b)
{
	return *(const Id *)a - *(const Id *)b;
}

/* Favors what each name in q selects, once per name: its providers, then
 * (winning over them) the packages of that very name. */
static void favor_emit(Pool *pool, Queue *q, bool providers, Queue *job)
{
	if (q->count > 1)
		dos_qsort(q->elements, (size_t)q->count, sizeof(Id), id_compare);
	for (int i = 0; i < q->count; i++)
		if (i == 0 || q->elements[i] != q->elements[i - 1])
			queue_push2(job, SOLVER_FAVOR | (providers ? SOLVER_SOLVABLE_PROVIDES
						      : SOLVER_SOLVABLE_NAME), q->elements[i]);
}

/* apt takes the first alternative of "a | b" it can install, and the
 * package of a dependency's name over other providers of it; libsolv
 * orders candidates by name. Favor jobs give apt's order back (a later
 * job wins): later alternatives first, then plain dependencies' own
 * packages, then first alternatives. */
static void favor_choices(Pool *pool, Queue *job)
{
	struct favor fv = { .pool = pool };
	int njobs = job->count;

	map_init(&fv.seen, pool->nsolvables);
	queue_init(&fv.todo);
	queue_init(&fv.plain);
	for (int k = 0; k < FAVOR_POSITIONS; k++)
		queue_init(&fv.alt[k]);
	for (int i = 0; i + 1 < njobs; i += 2)
		favor_reach(&fv, job->elements[i + 1]);
	for (int i = 0; i < fv.todo.count; i++) {
		Solvable *s = pool->solvables + fv.todo.elements[i];

		for (Id *dp = s->requires ? s->repo->idarraydata + s->requires : NULL; dp && *dp; dp++)
			if (*dp != SOLVABLE_PREREQMARKER)
				favor_dep(&fv, *dp);
	}
	for (int k = FAVOR_POSITIONS - 1; k > 0; k--) {
		favor_emit(pool, &fv.alt[k], true, job);
		favor_emit(pool, &fv.alt[k], false, job);
	}
	favor_emit(pool, &fv.plain, false, job);
	favor_emit(pool, &fv.alt[0], true, job);
	favor_emit(pool, &fv.alt[0], false, job);
	map_free(&fv.seen);
	queue_free(&fv.todo);
	queue_free(&fv.plain);
	for (int k = 0; k < FAVOR_POSITIONS; k++)
		queue_free(&fv.alt[k]);
}

/* Runs the solver; chosen gets every package it installs. */
static int closure_solve(struct dos_resolver *r, Queue *job, Map *chosen)
{
	Pool *pool = r->pool;
	Solver *solv = solver_create(pool);
	Queue decisions;
	int ret = 0;

	/* The bundle ships what is needed, not what is recommended. */
	solver_set_flag(solv, SOLVER_FLAG_IGNORE_RECOMMENDED, 1);
	if (solver_solve(solv, job)) {
		ret = problems_report(r, solv, job);
		solver_free(solv);
		return ret;
	}
	queue_init(&decisions);
	solver_get_decisionqueue(solv, &decisions);
	for (int i = 0; i < decisions.count; i++) {
		Id p = decisions.elements[i];

		if (p > SYSTEMSOLVABLE && pool->solvables[p].repo)
			MAPSET(chosen, p);
	}
	queue_free(&decisions);
	solver_free(solv);
	return 0;
}

/* --- the closure walk --- */

enum root_kind { PULLED = 0, REQUESTED, MANUAL };

struct walk {
	Pool *pool;
	Map chosen;     /* what the solver installs */
	Map excluded;   /* platform and ignored packages */
	Map visited;    /* in the closure */
	Queue order;    /* the closure, breadth first */
	Id *parent;     /* per solvable: who pulled it in first */
	Id *dep;        /* per solvable: through which dependency */
	unsigned char *kind;
};

static void walk_init(struct walk *w, Pool *pool)
{
	w->pool = pool;
	map_init(&w->chosen, pool->nsolvables);
	map_init(&w->excluded, pool->nsolvables);
	map_init(&w->visited, pool->nsolvables);
	queue_init(&w->order);
	w->parent = dos_xcalloc((size_t)pool->nsolvables, sizeof(Id));
	w->dep = dos_xcalloc((size_t)pool->nsolvables, sizeof(Id));
	w->kind = dos_xcalloc((size_t)pool->nsolvables, 1);
}

static void walk_release(struct walk *w)
{
	map_free(&w->chosen);
	map_free(&w->excluded);
	map_free(&w->visited);
	queue_free(&w->order);
	free(w->parent);
	free(w->dep);
	free(w->kind);
}

/* Platform and ignored names stand for the packages of that name. */
static void walk_exclude(struct walk *w, const struct dos_strv *names)
{
	Pool *pool = w->pool;

	for (size_t i = 0; names && i < names->n; i++) {
		Id id = pool_str2id(pool, names->v[i], 0), p, pp;

		if (!id)
			continue;
		FOR_PROVIDES(p, pp, id)
			if (pool->solvables[p].name == id)
				MAPSET(&w->excluded, p);
	}
}

static void walk_visit(struct walk *w, Id p, Id parent, Id dep, enum root_kind kind)
{
	if (MAPTST(&w->visited, p) || MAPTST(&w->excluded, p))
		return;
	MAPSET(&w->visited, p);
	queue_push(&w->order, p);
	w->parent[p] = parent;
	w->dep[p] = dep;
	w->kind[p] = (unsigned char)kind;
}

/* A requested name starts the walk at the chosen package of that name, or
 * at the chosen provider of a virtual one. */
static void walk_roots(struct walk *w, const struct dos_strv *names, enum root_kind kind)
{
	Pool *pool = w->pool;

	for (size_t i = 0; names && i < names->n; i++) {
		Id id = pool_str2id(pool, names->v[i], 0), p, pp, root = 0;

		if (!id)
			continue;
		FOR_PROVIDES(p, pp, id) {
			if (!MAPTST(&w->chosen, p))
				continue;
			if (pool->solvables[p].name == id) {
				root = p;
				break;
			}
			if (!root)
				root = p;
		}
		if (root)
			walk_visit(w, root, 0, 0, kind);
	}
}

/* One dependency of p: nothing to add when a chosen provider is excluded
 * or already in the closure; else the first chosen provider of the first
 * alternative that has one (apt's order). */
static void walk_dep(struct walk *w, Id p, Id dep)
{
	Pool *pool = w->pool;
	Id pick = 0, rest = dep;

	while (rest) {
		Id alt = rest, q, pp;

		rest = 0;
		if (ISRELDEP(alt) && GETRELDEP(pool, alt)->flags == REL_OR) {
			rest = GETRELDEP(pool, alt)->evr;
			alt = GETRELDEP(pool, alt)->name;
		}
		FOR_PROVIDES(q, pp, alt) {
			if (q == p)
				return;
			if (!MAPTST(&w->chosen, q))
				continue;
			if (MAPTST(&w->excluded, q) || MAPTST(&w->visited, q))
				return;
			if (!pick)
				pick = q;
		}
	}
	if (pick)
		walk_visit(w, pick, p, dep, PULLED);
}

/* Depends and Pre-Depends: libsolv keeps both as requires, split by a
 * marker. */
static void walk_run(struct walk *w)
{
	Pool *pool = w->pool;

	for (int i = 0; i < w->order.count; i++) {
		Id p = w->order.elements[i];
		Solvable *s = pool->solvables + p;
		Id *dp;

		if (!s->requires)
			continue;
		for (dp = s->repo->idarraydata + s->requires; *dp; dp++)
			if (*dp != SOLVABLE_PREREQMARKER)
				walk_dep(w, p, *dp);
	}
}

/* --- the result --- */

/* Filename: relative, no "..", no control characters or spaces; "." and
 * empty components (dpkg-scanpackages writes "./x.deb") are dropped.
 * Returns the cleaned path or NULL. */
static char *location_clean(const char *loc)
{
	_cleanup_free_ char *copy = dos_xstrdup(loc);
	char *out = dos_xcalloc(1, strlen(loc) + 1), *save = NULL, *part;

	if (*loc == '/')
		goto bad;
	for (const char *c = loc; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '\\')
			goto bad;
	for (part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		if (strcmp(part, ".") == 0)
			continue;
		if (strcmp(part, "..") == 0)
			goto bad;
		if (*out)
			strcat(out, "/");
		strcat(out, part);
	}
	if (*out)
		return out;
bad:
	free(out);
	return NULL;
}

static int pkg_location(struct dos_resolver *r, Id p, struct dos_resolved_pkg *pkg)
{
	Solvable *s = r->pool->solvables + p;
	const struct repo_info *info = s->repo->appdata;
	Id own = (size_t)p < r->nextra ? r->extra[p].location : 0;
	const char *loc = own ? pool_id2str(r->pool, own) : solvable_lookup_location(s, NULL);
	_cleanup_free_ char *clean = loc ? location_clean(loc) : NULL;
	const char *base;

	if (!loc)
		return dos_error(r->ctx, DOS_EFORMAT, "package '%s' in '%s': no Filename in the index",
				 pkg->name, info->name);
	if (!clean)
		return dos_error(r->ctx, DOS_EFORMAT, "package '%s' in '%s': unsafe Filename '%s'",
				 pkg->name, info->name, loc);
	base = strrchr(clean, '/');
	pkg->filename = dos_xstrdup(base ? base + 1 : clean);
	pkg->url = dos_xasprintf("%s/%s", info->base_url, clean);
	return 0;
}

static void pkg_texts(struct dos_resolver *r, const struct walk *w, Id p, struct dos_resolved_pkg *pkg)
{
	Pool *pool = r->pool;
	Solvable *s = pool->solvables + p;
	const struct pkg_extra *x = &r->extra[p];
	const char *ma = solvable_lookup_str(s, SOLVABLE_MULTIARCH);
	const char *license = solvable_lookup_str(s, SOLVABLE_LICENSE);

	pkg->name = dos_xstrdup(pool_id2str(pool, s->name));
	pkg->version = dos_xstrdup(pool_id2str(pool, s->evr));
	pkg->arch = dos_xstrdup(pool_id2str(pool, s->arch));
	pkg->source = dos_xstrdup(pool_id2str(pool, x->source_name ? x->source_name : s->name));
	pkg->source_version = dos_xstrdup(pool_id2str(pool, x->source_evr ? x->source_evr : s->evr));
	pkg->repo = dos_xstrdup(((const struct repo_info *)s->repo->appdata)->name);
	pkg->size = x->size;
	pkg->installed_size = solvable_lookup_num(s, SOLVABLE_INSTALLSIZE, 0);
	pkg->multiarch_same = ma && strcmp(ma, "same") == 0;
	pkg->license = license && *license ? dos_xstrdup(license) : NULL;
	if (w->kind[p] != PULLED) {
		pkg->reason = dos_xstrdup(w->kind[p] == REQUESTED ? "requested" : "manual");
		return;
	}
	pkg->why = dos_xstrdup(solvable_name(pool, w->parent[p]));
	pkg->reason = dep_text(pool, w->dep[p]);
}

static int pkg_fill(struct dos_resolver *r, const struct walk *w, Id p, struct dos_resolved_pkg *pkg)
{
	const struct pkg_extra *x = &r->extra[p];

	pkg_texts(r, w, p, pkg);
	if (!x->has_sha256)
		return dos_error(r->ctx, DOS_EFORMAT, "package '%s' in '%s': no SHA256 in the index",
				 pkg->name, pkg->repo);
	pkg->sha256 = dos_xstrdup(x->sha256);
	return pkg_location(r, p, pkg);
}

static int pkg_compare(const void *a, const void *b)
{
	return strcmp(((const struct dos_resolved_pkg *)a)->name,
		      ((const struct dos_resolved_pkg *)b)->name);
}

static int closure_build(struct dos_resolver *r, const struct walk *w, struct dos_closure *out)
{
	out->pkgs = dos_xcalloc((size_t)w->order.count + 1, sizeof(*out->pkgs));
	for (int i = 0; i < w->order.count; i++) {
		int ret = pkg_fill(r, w, w->order.elements[i], &out->pkgs[out->n++]);

		if (ret < 0)
			return ret;
	}
	dos_qsort(out->pkgs, out->n, sizeof(*out->pkgs), pkg_compare);
	return 0;
}

int dos_resolver_closure(struct dos_resolver *r, const struct dos_closure_request *req,
			 struct dos_closure *out)
{
	struct walk w;
	Queue job;
	int ret;

	memset(out, 0, sizeof(*out));
	resolver_prepare(r);
	walk_init(&w, r->pool);
	queue_init(&job);
	ret = jobs_add(r, req, req->wanted, &job);
	if (ret == 0)
		ret = jobs_add(r, req, req->manual, &job);
	if (ret == 0) {
		/* dnf takes libsolv's own choices; apt's order is for deb. */
		if (!r->rpm)
			favor_choices(r->pool, &job);
		ret = closure_solve(r, &job, &w.chosen);
	}
	if (ret == 0) {
		walk_exclude(&w, req->platform);
		walk_exclude(&w, req->ignored);
		walk_roots(&w, req->wanted, REQUESTED);
		walk_roots(&w, req->manual, MANUAL);
		walk_run(&w);
		ret = closure_build(r, &w, out);
	}
	queue_free(&job);
	walk_release(&w);
	if (ret < 0)
		dos_closure_release(out);
	return ret;
}

static void pkg_release(struct dos_resolved_pkg *pkg)
{
	free(pkg->name);
	free(pkg->version);
	free(pkg->arch);
	free(pkg->source);
	free(pkg->source_version);
	free(pkg->repo);
	free(pkg->url);
	free(pkg->filename);
	free(pkg->sha256);
	free(pkg->why);
	free(pkg->reason);
	free(pkg->license);
}

void dos_closure_release(struct dos_closure *c)
{
	for (size_t i = 0; i < c->n; i++)
		pkg_release(&c->pkgs[i]);
	free(c->pkgs);
	c->pkgs = NULL;
	c->n = 0;
}

const struct dos_resolved_pkg *dos_closure_find(const struct dos_closure *c, const char *name)
{
	struct dos_resolved_pkg key = { .name = (char *)name };

	if (!c->n)
		return NULL;
	return bsearch(&key, c->pkgs, c->n, sizeof(*c->pkgs), pkg_compare);
}

char *dos_closure_why(const struct dos_closure *c, const char *name)
{
	const struct dos_resolved_pkg *pkg = dos_closure_find(c, name);
	char *chain;

	if (!pkg)
		return NULL;
	chain = dos_xstrdup(pkg->name);
	/* Parents form a tree; the bound only guards against a broken one. */
	for (size_t i = 0; pkg->why && i < c->n; i++) {
		char *t;

		pkg = dos_closure_find(c, pkg->why);
		if (!pkg)
			break;
		t = dos_xasprintf("%s <- %s", pkg->name, chain);
		free(chain);
		chain = t;
	}
	return chain;
}
