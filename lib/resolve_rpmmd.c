/* Loading rpm-md repositories into the resolver's pool (see resolve_rpm.h).
 *
 * libsolv's parsers do the XML: repo_add_repomdxml for repomd.xml (into a
 * scratch pool: it only names the data files) and repo_add_rpmmd for the
 * primary metadata. Our part is what the closure needs beyond the solver:
 * each package's sha256, size and source package, checked here, and the
 * safety of every href. This file is part of the resolver module: with
 * resolve.c and resolve_index.c, the only ones that include libsolv. */
#include "resolve_internal.h"
#include "resolve_rpm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <solv/chksum.h>
#include <solv/evr.h>
#include <solv/repo.h>
#include <solv/repo_repomdxml.h>
#include <solv/repo_rpmmd.h>
#include <solv/solv_xfopen.h>

/* An href: relative, no "..", no control characters, spaces or
 * backslashes (the closure's own check is repeated on every package). */
static bool href_safe(const char *h)
{
	const char *c;

	if (!h || !*h || *h == '/')
		return false;
	for (c = h; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '\\')
			return false;
	for (c = h; (c = strstr(c, "..")); c += 2)
		if ((c == h || c[-1] == '/') && (c[2] == '/' || c[2] == 0))
			return false;
	return true;
}

static FILE *file_open(struct dos_ctx *ctx, const char *path, const char *name, const char *what)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	FILE *f;

	if (fd < 0) {
		dos_error_errno(ctx, DOS_EIO, errno, "%s '%s': cannot open", what, path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		dos_error(ctx, DOS_EFORMAT, "%s '%s': not a regular file", what, path);
		return NULL;
	}
	/* solv_xfopen_fd picks the decompressor by name: gz, xz, zst, bz2. */
	f = solv_xfopen_fd(name, fd, "r");
	if (!f) {
		close(fd);
		dos_error(ctx, DOS_EFORMAT, "%s '%s': cannot read", what, path);
	}
	return f;
}

/* --- repomd.xml --- */

static int data_lookup(struct dos_ctx *ctx, Pool *pool, Repo *repo, const char *type,
		       const char *path, struct dos_rpmmd_data *out)
{
	Dataiterator di;
	const char *loc = NULL, *sum = NULL;
	Id sumtype = 0;

	dataiterator_init(&di, pool, repo, SOLVID_META, REPOSITORY_REPOMD_TYPE, type, SEARCH_STRING);
	dataiterator_prepend_keyname(&di, REPOSITORY_REPOMD);
	if (dataiterator_step(&di)) {
		dataiterator_setpos_parent(&di);
		loc = pool_lookup_str(pool, SOLVID_POS, REPOSITORY_REPOMD_LOCATION);
		sum = pool_lookup_checksum(pool, SOLVID_POS, REPOSITORY_REPOMD_CHECKSUM, &sumtype);
		out->size = pool_lookup_num(pool, SOLVID_POS, REPOSITORY_REPOMD_SIZE, 0);
	}
	dataiterator_free(&di);
	if (!loc)
		return dos_error(ctx, DOS_EFORMAT, "repomd '%s': no '%s' data", path, type);
	if (!href_safe(loc))
		return dos_error(ctx, DOS_EFORMAT, "repomd '%s': unsafe location '%s' of '%s'",
				 path, loc, type);
	if (!sum || sumtype != REPOKEY_TYPE_SHA256 || strlen(sum) != DOS_SHA256_HEX - 1)
		return dos_error(ctx, DOS_EFORMAT, "repomd '%s': '%s' has no sha256 checksum "
				 "(createrepo_c --checksum sha256)", path, type);
	out->location = dos_xstrdup(loc);
	memcpy(out->sha256, sum, DOS_SHA256_HEX);
	return 0;
}

int dos_rpmmd_find_data(struct dos_ctx *ctx, const char *repomd_path, const char *type,
			struct dos_rpmmd_data *out)
{
	Pool *pool = pool_create();
	Repo *repo = repo_create(pool, "repomd");
	FILE *f = file_open(ctx, repomd_path, "repomd.xml", "repomd");
	int r;

	memset(out, 0, sizeof(*out));
	if (!f) {
		pool_free(pool);
		return ctx->code;
	}
	r = repo_add_repomdxml(repo, f, 0);
	fclose(f);
	if (r != 0)
		r = dos_error(ctx, DOS_EFORMAT, "repomd '%s': %s", repomd_path, pool_errstr(pool));
	else {
		repo_internalize(repo);
		r = data_lookup(ctx, pool, repo, type, repomd_path, out);
	}
	pool_free(pool);
	return r;
}

void dos_rpmmd_data_release(struct dos_rpmmd_data *d)
{
	free(d->location);
	d->location = NULL;
}

/* --- primary --- */

static struct repo_info *info_new(const char *name, const char *base_url)
{
	struct repo_info *info = dos_xcalloc(1, sizeof(*info));
	size_t n = strlen(base_url);

	while (n > 0 && base_url[n - 1] == '/')
		n--;
	info->name = dos_xstrdup(name);
	info->base_url = dos_xasprintf("%.*s", (int)n, base_url);
	return info;
}

/* Source packages are not installable: they leave the pool. */
static void drop_sources(Repo *repo, Id first)
{
	Pool *pool = repo->pool;

	for (Id p = first; p < pool->nsolvables; p++) {
		Solvable *s = pool->solvables + p;

		if (s->repo == repo && (s->arch == ARCH_SRC || s->arch == ARCH_NOSRC))
			repo_free_solvable(repo, p, 1);
	}
}

static void extra_fill(struct dos_resolver *r, Repo *repo, Id first)
{
	Pool *pool = r->pool;
	size_t total = (size_t)pool->nsolvables;

	r->extra = dos_xrealloc(r->extra, total * sizeof(*r->extra));
	if (total > r->nextra)
		memset(r->extra + r->nextra, 0, (total - r->nextra) * sizeof(*r->extra));
	r->nextra = total;
	for (Id p = first; p < pool->nsolvables; p++) {
		Solvable *s = pool->solvables + p;
		struct pkg_extra *x = &r->extra[p];
		Id type = 0;
		const char *sum;

		if (s->repo != repo)
			continue;
		x->size = solvable_lookup_num(s, SOLVABLE_DOWNLOADSIZE, 0);
		x->source_name = solvable_lookup_id(s, SOLVABLE_SOURCENAME);
		x->source_evr = solvable_lookup_id(s, SOLVABLE_SOURCEEVR);
		sum = solvable_lookup_checksum(s, SOLVABLE_CHECKSUM, &type);
		/* Only sha256 is trusted: pkg_fill refuses a package without. */
		x->has_sha256 = sum && type == REPOKEY_TYPE_SHA256 && strlen(sum) == DOS_SHA256_HEX - 1;
		if (x->has_sha256)
			memcpy(x->sha256, sum, DOS_SHA256_HEX);
	}
}

int dos_resolver_add_rpmmd(struct dos_resolver *r, const char *repo_name,
			   const char *primary_path, const char *primary_name,
			   const char *base_url, int priority)
{
	Pool *pool = r->pool;
	Id first = pool->nsolvables;
	FILE *f = file_open(r->ctx, primary_path, primary_name, "primary");
	Repo *repo;
	int ret;

	if (!f)
		return r->ctx->code;
	repo = repo_create(pool, repo_name);
	repo->priority = priority;
	r->dirty = true;
	ret = repo_add_rpmmd(repo, f, NULL, 0);
	fclose(f);
	if (ret != 0) {
		ret = dos_error(r->ctx, DOS_EFORMAT, "primary metadata of '%s' (%s): %s", repo_name,
				primary_name, pool_errstr(pool));
		repo_free(repo, 1);
		return ret;
	}
	drop_sources(repo, first);
	repo_internalize(repo);
	extra_fill(r, repo, first);
	repo->appdata = info_new(repo_name, base_url);
	dos_strv_push(&r->repo_names, repo_name);
	dos_debug(r->ctx, "resolver: %d packages from '%s'", repo->nsolvables, repo_name);
	return 0;
}

int dos_rpm_evrcmp(const char *a, const char *b)
{
	Pool *pool = pool_create();
	int c;

	pool_setdisttype(pool, DISTTYPE_RPM);
	c = pool_evrcmp_str(pool, a, b, EVRCMP_COMPARE);
	pool_free(pool);
	return c;
}
