/* Our own Python taking the distribution's place in the resolver's pool.
 *
 * A local package named python3.X is the bundle's Python (the python3.11
 * and python3.13 recipes make one). When the distribution's default Python
 * has the same minor version, ours stands in for the distribution's
 * interpreter packages: it provides each of their names at each version the
 * distribution has (so "python3 (>= 3.11~), python3 (<< 3.12)" holds), and
 * those packages leave the pool, so the distribution's interpreter never
 * enters the closure and its compiled modules load into ours (same ABI).
 * When the minor versions differ, ours provides the generic names at its
 * own version: pure-Python packages ("python3:any") take it, compiled ones
 * still pull the distribution's interpreter, which dos_python_check_closure
 * turns into an error naming the package and both versions.
 *
 * Part of the resolver module: includes libsolv, like resolve.c. */
#include "resolve_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <solv/evr.h>
#include <solv/repo.h>

/* The distribution's packages that make up its Python X.Y; "%d" is the
 * minor version. Ours holds all of it (stdlib, venv, distutils, lib2to3). */
static const char *const interpreter_names[] = {
	"python3", "python3-minimal", "python3-venv", "python3-distutils", "python3-lib2to3",
	"libpython3-stdlib", "python3.%d", "python3.%d-minimal", "python3.%d-venv",
	"libpython3.%d", "libpython3.%d-stdlib", "libpython3.%d-minimal",
};

/* "3.11.2-1+b1" or "2:3.11.2-6" -> 11; -1 when it is not 3.X. */
static int version_minor(const char *evr)
{
	const char *colon = strchr(evr, ':');
	char *end;
	long minor;

	if (colon)
		evr = colon + 1;
	if (strncmp(evr, "3.", 2) != 0)
		return -1;
	minor = strtol(evr + 2, &end, 10);
	return end > evr + 2 && minor < 1000 ? (int)minor : -1;
}

static bool solvable_is_local(Pool *pool, Id p, const char *local_repo)
{
	const struct repo_info *info = pool->solvables[p].repo->appdata;

	return info && strcmp(info->name, local_repo) == 0;
}

/* Our Python: the local package python3.X of the highest X (one, normally). */
static Id find_ours(Pool *pool, const char *local_repo, int *minor)
{
	Id best = 0, p;
	Solvable *s;

	*minor = -1;
	FOR_POOL_SOLVABLES(p) {
		int m;

		s = pool->solvables + p;
		if (!s->repo || !solvable_is_local(pool, p, local_repo))
			continue;
		m = dos_python3_minor(pool_id2str(pool, s->name));
		if (m > *minor) {
			*minor = m;
			best = p;
		}
	}
	return best;
}

/* The distribution's default Python: the minor version of its python3 of
 * the highest version; -1 when it has none. */
static int distribution_minor(Pool *pool, const char *local_repo, const char **evr)
{
	Id name = pool_str2id(pool, "python3", 0), best = 0, p;

	*evr = NULL;
	if (!name)
		return -1;
	FOR_POOL_SOLVABLES(p) {
		Solvable *s = pool->solvables + p;

		if (s->name != name || !s->repo || solvable_is_local(pool, p, local_repo))
			continue;
		if (!best || pool_evrcmp(pool, s->evr, pool->solvables[best].evr, EVRCMP_COMPARE) > 0)
			best = p;
	}
	if (!best)
		return -1;
	*evr = pool_id2str(pool, pool->solvables[best].evr);
	return version_minor(*evr);
}

static void add_provide(Pool *pool, Id ours, Id name, Id evr)
{
	Solvable *s = pool->solvables + ours;

	s->provides = repo_addid_dep(s->repo, s->provides, pool_rel2id(pool, name, evr, REL_EQ, 1),
				     0);
}

static void consider_init(Pool *pool)
{
	if (pool->considered)
		return;
	pool->considered = dos_xcalloc(1, sizeof(Map));
	map_init(pool->considered, pool->nsolvables);
	map_setall(pool->considered);
}

/* Ours takes each interpreter name of the distribution's X.minor: a provide
 * per version the distribution has, and its packages leave the pool. */
static size_t take_over(Pool *pool, const char *local_repo, Id ours, int minor)
{
	size_t taken = 0;

	consider_init(pool);
	for (size_t i = 0; i < sizeof(interpreter_names) / sizeof(*interpreter_names); i++) {
		char name[64];
		Id id, p;

		snprintf(name, sizeof(name), interpreter_names[i], minor);
		id = pool_str2id(pool, name, 0);
		if (!id)
			continue;
		FOR_POOL_SOLVABLES(p) {
			Solvable *s = pool->solvables + p;

			if (s->name != id || !s->repo || solvable_is_local(pool, p, local_repo))
				continue;
			add_provide(pool, ours, id, s->evr);
			MAPCLR(pool->considered, p);
			taken++;
		}
	}
	return taken;
}

/* The generic names at our own version, for pure-Python packages. */
static void provide_generic(Pool *pool, Id ours)
{
	static const char *const generic[] = { "python3", "python3-minimal" };
	Solvable *s = pool->solvables + ours;

	for (size_t i = 0; i < sizeof(generic) / sizeof(*generic); i++)
		add_provide(pool, ours, pool_str2id(pool, generic[i], 1), s->evr);
}

int dos_resolver_python_takeover(struct dos_resolver *r, const char *local_repo,
				 struct dos_python_info *info)
{
	Pool *pool = r->pool;
	const char *dist_evr;
	Id ours;

	memset(info, 0, sizeof(*info));
	info->minor = info->dist_minor = -1;
	ours = find_ours(pool, local_repo, &info->minor);
	if (!ours)
		return 0;
	info->name = dos_xstrdup(pool_id2str(pool, pool->solvables[ours].name));
	info->version = dos_xstrdup(pool_id2str(pool, pool->solvables[ours].evr));
	info->dist_minor = distribution_minor(pool, local_repo, &dist_evr);
	if (dist_evr)
		info->dist_version = dos_xstrdup(dist_evr);
	if (info->dist_minor == info->minor) {
		size_t n = take_over(pool, local_repo, ours, info->minor);

		dos_debug(r->ctx, "resolver: %s %s stands in for the distribution's Python 3.%d "
			  "(%zu packages)", info->name, info->version, info->minor, n);
	} else {
		provide_generic(pool, ours);
	}
	r->dirty = true;
	return 0;
}

void dos_python_info_release(struct dos_python_info *info)
{
	free(info->name);
	free(info->version);
	free(info->dist_version);
	memset(info, 0, sizeof(*info));
}

/* --- after solving --- */

static bool is_interpreter_name(const char *name, int minor)
{
	for (size_t i = 0; i < sizeof(interpreter_names) / sizeof(*interpreter_names); i++) {
		char want[64];

		snprintf(want, sizeof(want), interpreter_names[i], minor);
		if (strcmp(name, want) == 0)
			return true;
	}
	return false;
}

/* The package that needs the distribution's interpreter: the nearest
 * ancestor of pkg (in the closure's "why" chain) that is not part of it. */
static const struct dos_resolved_pkg *interpreter_user(const struct dos_closure *c,
						       const struct dos_resolved_pkg *pkg,
						       int minor)
{
	for (size_t depth = 0; pkg && depth < c->n; depth++) {
		if (!is_interpreter_name(pkg->name, minor))
			return pkg;
		pkg = pkg->why ? dos_closure_find(c, pkg->why) : NULL;
	}
	return NULL;
}

int dos_python_check_closure(struct dos_ctx *ctx, const struct dos_closure *c,
			     const struct dos_python_info *info, const char *local_repo)
{
	if (!info->name || info->dist_minor < 0 || info->dist_minor == info->minor)
		return 0;
	for (size_t i = 0; i < c->n; i++) {
		const struct dos_resolved_pkg *pkg = &c->pkgs[i], *user;

		if (strcmp(pkg->repo, local_repo) == 0 ||
		    !is_interpreter_name(pkg->name, info->dist_minor))
			continue;
		user = interpreter_user(c, pkg, info->dist_minor);
		if (!user)
			return dos_error(ctx, DOS_ERESOLVE, "the distribution's Python 3.%d (%s %s) is "
					 "requested beside the bundle's Python 3.%d (%s %s)",
					 info->dist_minor, pkg->name, pkg->version, info->minor,
					 info->name, info->version);
		return dos_error(ctx, DOS_ERESOLVE, "package '%s' (%s) is built for the "
				 "distribution's Python 3.%d (python3 %s), not for the bundle's "
				 "Python 3.%d (%s %s): rebuild it against 3.%d (a 'src' entry) or "
				 "install it with pip", user->name, user->version, info->dist_minor,
				 info->dist_version ? info->dist_version : "?", info->minor,
				 info->name, info->version, info->minor);
	}
	return 0;
}
