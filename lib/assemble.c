#include "assemble.h"
#include "dist.h"
#include "extract.h"
#include "mirror.h"
#include "pack.h"
#include "progress.h"
#include "relocate.h"
#include "report.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* Repository priorities: the local repository wins over the distribution
 * even at a lower version; the distribution's suites are equal, so the
 * newest of suite, -updates and -security wins, as with apt. */
#define PRIORITY_LOCAL 100
#define PRIORITY_DISTRIBUTION 0

/* --- step 4a: the distribution's signed indices --- */

struct dist_source {
	char *mirror;
	char *suite;
	bool optional;   /* -updates and -security: skipped when absent */
};

static const char *keyring_path(void)
{
	const char *k = getenv("DIRACOS_KEYRING");

	return k && *k ? k : DOS_DEBIAN_KEYRING;
}

static size_t dist_sources(struct dos_ctx *ctx, const struct dos_config *cfg,
			   struct dist_source out[3])
{
	const char *suite = cfg->platform.suite;
	char *mirror = dos_mirror_for(ctx, cfg->platform.mirror, suite);
	char *security;

	if (!mirror)
		return 0;
	out[0] = (struct dist_source){ mirror, dos_xstrdup(suite), false };
	out[1] = (struct dist_source){ dos_xstrdup(mirror), dos_xasprintf("%s-updates", suite), true };
	security = dos_mirror_security_for(ctx, mirror, suite);
	if (!security)
		return 2;
	out[2] = (struct dist_source){ security, dos_xasprintf("%s-security", suite), true };
	return 3;
}

static int add_archive_indices(struct dos_ctx *ctx, const struct dos_config *cfg,
			       struct dos_assembly *as, struct dos_archive *a)
{
	for (size_t i = 0; i < cfg->platform.components.n; i++) {
		const char *component = cfg->platform.components.v[i];
		_cleanup_free_ char *path = NULL;
		_cleanup_free_ char *name = dos_xasprintf("%s %s", a->suite, component);
		int r;

		r = dos_archive_packages_index(ctx, a, component, cfg->platform.arch, &path);
		if (r < 0)
			return r;
		r = dos_resolver_add_deb_index(as->resolver, name, path, a->mirror,
					       PRIORITY_DISTRIBUTION);
		if (r < 0)
			return r;
		dos_strv_push(&as->repos, name);
	}
	return 0;
}

static int add_dist_source(struct dos_ctx *ctx, const struct dos_config *cfg,
			   struct dos_assembly *as, const struct dist_source *src)
{
	struct dos_archive *a = NULL;
	int r;

	r = dos_archive_open(ctx, as->cache, src->mirror, src->suite, keyring_path(), &a);
	if (r == DOS_ENET && src->optional) {
		/* A suite without -updates or -security is normal (testing). */
		dos_debug(ctx, "skipping %s: %s", src->suite, ctx->msg);
		dos_error_clear(ctx);
		return 0;
	}
	if (r < 0)
		return r;
	if (a->date > as->archive_date)
		as->archive_date = a->date;
	r = add_archive_indices(ctx, cfg, as, a);
	dos_archive_free(a);
	return r;
}

static int add_distribution(struct dos_ctx *ctx, const struct dos_config *cfg,
			    struct dos_assembly *as)
{
	struct dist_source srcs[3];
	size_t n = dist_sources(ctx, cfg, srcs);
	int r = 0;

	if (n == 0)
		return ctx->code ? ctx->code :
			dos_error(ctx, DOS_ECONFIG, "no mirror for suite '%s': set platform.mirror "
				  "or DIRACOS_MIRROR", cfg->platform.suite);
	for (size_t i = 0; i < n; i++) {
		if (r == 0)
			r = add_dist_source(ctx, cfg, as, &srcs[i]);
		free(srcs[i].mirror);
		free(srcs[i].suite);
	}
	return r;
}

/* The local repository's flat index, when the packages step made one. */
static int add_local_repository(struct dos_ctx *ctx, const struct dos_config *cfg,
				struct dos_assembly *as)
{
	_cleanup_free_ char *index = dos_path_join(cfg->repo, "Packages");
	_cleanup_free_ char *base = dos_xasprintf("file://%s", cfg->repo);
	int r;

	if (access(index, R_OK) < 0)
		return 0;
	r = dos_resolver_add_deb_index(as->resolver, "local", index, base, PRIORITY_LOCAL);
	if (r == 0)
		dos_strv_push(&as->repos, "local");
	return r;
}

int dos_assemble_resolve(struct dos_ctx *ctx, const struct dos_config *cfg,
			 struct dos_assembly *as)
{
	struct dos_closure_request req = {
		.wanted = &cfg->distribution_packages,
		.manual = &cfg->manual_dependencies,
		.platform = &cfg->platform.platform_packages,
		.ignored = &cfg->ignored_packages,
	};
	_cleanup_free_ char *cache_dir = dos_cache_default_dir();
	int r;

	memset(as, 0, sizeof(*as));
	if (strcmp(cfg->platform.backend, "deb"))
		return dos_error(ctx, DOS_ENOTIMPL, "platform.backend '%s' is not built yet (issue 8)",
				 cfg->platform.backend);
	r = dos_cache_open(ctx, cache_dir, &as->cache);
	if (r == 0)
		r = dos_resolver_new(ctx, cfg->platform.backend, cfg->platform.arch, &as->resolver);
	if (r == 0)
		r = add_local_repository(ctx, cfg, as);
	if (r == 0)
		r = add_distribution(ctx, cfg, as);
	if (r == 0)
		r = dos_resolver_closure(as->resolver, &req, &as->closure);
	return r;
}

void dos_assembly_release(struct dos_assembly *as)
{
	dos_closure_release(&as->closure);
	if (as->resolver)
		dos_resolver_free(as->resolver);
	if (as->cache)
		dos_cache_free(as->cache);
	dos_strv_release(&as->repos);
	memset(as, 0, sizeof(*as));
}

/* --- step 4b: downloads and extraction --- */

/* Cached files were verified when they went in; a file damaged since (a
 * disk fault, a hand edit) must not reach a bundle. Hashing every package
 * again costs a fraction of a second, with one thread per job. */
struct verify_work {
	const struct dos_closure *closure;
	char **paths;
	size_t next;
	pthread_mutex_t lock;
	size_t bad;           /* index of the first damaged file, or SIZE_MAX */
	char got[DOS_SHA256_HEX];
};

static void *verify_worker(void *arg)
{
	struct verify_work *w = arg;
	struct dos_ctx scratch;
	char hex[DOS_SHA256_HEX];

	dos_ctx_init(&scratch);
	for (;;) {
		size_t i;
		pthread_mutex_lock(&w->lock);
		i = w->next++;
		pthread_mutex_unlock(&w->lock);
		if (i >= w->closure->n)
			return NULL;
		if (dos_sha256_file(&scratch, w->paths[i], hex) < 0)
			snprintf(hex, sizeof(hex), "unreadable");
		if (strcmp(hex, w->closure->pkgs[i].sha256) == 0)
			continue;
		pthread_mutex_lock(&w->lock);
		if (w->bad == SIZE_MAX || i < w->bad) {
			w->bad = i;
			memcpy(w->got, hex, sizeof(hex));
		}
		pthread_mutex_unlock(&w->lock);
	}
}

static int verify_downloads(struct dos_ctx *ctx, const struct dos_closure *c, char **paths)
{
	struct verify_work w = { .closure = c, .paths = paths, .bad = SIZE_MAX };
	int n = ctx->jobs > 0 ? ctx->jobs : 1;
	pthread_t threads[16];
	int started = 0;

	pthread_mutex_init(&w.lock, NULL);
	for (int i = 0; i < n && i < 16; i++)
		if (pthread_create(&threads[i], NULL, verify_worker, &w) == 0)
			started++;
	if (started == 0)
		verify_worker(&w);
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&w.lock);
	if (w.bad == SIZE_MAX)
		return 0;
	unlink(paths[w.bad]);
	return dos_error(ctx, DOS_ECHECKSUM, "package file '%s' in the cache (%s): sha256 mismatch "
			 "(expected %s, got %s); the damaged file was removed, run again to "
			 "download it", c->pkgs[w.bad].filename, paths[w.bad],
			 c->pkgs[w.bad].sha256, w.got);
}

static int download_closure(struct dos_ctx *ctx, struct dos_assembly *as, char ***paths)
{
	const struct dos_closure *c = &as->closure;
	struct dos_fetch_item *items = dos_xcalloc(c->n, sizeof(*items));
	int r;

	for (size_t i = 0; i < c->n; i++)
		items[i] = (struct dos_fetch_item){
			.url = c->pkgs[i].url, .sha256 = c->pkgs[i].sha256,
			.size = c->pkgs[i].size, .name = c->pkgs[i].filename,
		};
	r = dos_fetch_many(ctx, as->cache, items, c->n, "downloading");
	if (r == 0) {
		*paths = dos_xcalloc(c->n, sizeof(char *));
		for (size_t i = 0; i < c->n; i++)
			(*paths)[i] = dos_steal(&items[i].path);
		r = verify_downloads(ctx, c, *paths);
	}
	dos_fetch_items_release(items, c->n);
	free(items);
	return r;
}

static void note_extraction(const struct dos_extract_result *x, struct dos_bundle_result *res)
{
	for (size_t i = 0; i < x->n_conflicts; i++)
		dos_strv_push_owned(&res->conflicts, dos_xasprintf("%s: shipped by %s and %s, "
			"with different content", x->conflicts[i].path, x->conflicts[i].first_pkg,
			x->conflicts[i].second_pkg));
	for (size_t i = 0; i < x->n_skipped; i++)
		dos_strv_push_owned(&res->notes, dos_xasprintf("%s (%s): special file not extracted",
			x->skipped[i].path, x->skipped[i].package));
	res->files = x->files;
	res->bytes = x->bytes;
}

static int extract_closure(struct dos_ctx *ctx, const struct dos_assembly *as, char **paths,
			   const char *root, struct dos_extract_result *x)
{
	const struct dos_closure *c = &as->closure;
	struct dos_extract_pkg *pkgs = dos_xcalloc(c->n, sizeof(*pkgs));
	int r;

	for (size_t i = 0; i < c->n; i++)
		pkgs[i] = (struct dos_extract_pkg){ c->pkgs[i].name, paths[i] };
	r = dos_extract_debs(ctx, root, pkgs, c->n, ctx->jobs, x);
	if (r == 0 && dos_extract_apply_alternatives(ctx, root, x) < 0)
		r = ctx->code;
	free(pkgs);
	return r;
}

/* The newest file date in the tree: the date the bundle gets when
 * SOURCE_DATE_EPOCH is not set (the same packages give the same date). */
static int64_t newest_mtime;

static int note_mtime(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	/* Files only: folders and links the tool made carry today's date. */
	if (type == FTW_F && S_ISREG(st->st_mode) && st->st_mtime > newest_mtime)
		newest_mtime = st->st_mtime;
	return 0;
}

static int64_t tree_newest_mtime(const char *root)
{
	newest_mtime = 0;
	nftw(root, note_mtime, 64, FTW_PHYS);
	return newest_mtime;
}

/* --- step 6: finalize --- */

static int write_broken_links(struct dos_ctx *ctx, const char *root, const struct dos_strv *links)
{
	_cleanup_free_ char *path = dos_path_join(root, "brokenLinks.txt");
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (links->n == 0)
		return 0;
	f = open_memstream(&text, &len);
	for (size_t i = 0; i < links->n; i++)
		fprintf(f, "%s\n", links->v[i]);
	fclose(f);
	return dos_write_file_atomic(ctx, path, text, len, 0644);
}

static void note_relocation(const struct dos_relocate_report *rep, struct dos_bundle_result *res)
{
	for (size_t i = 0; i < rep->broken_links.n; i++)
		dos_strv_push(&res->broken_links, rep->broken_links.v[i]);
	for (size_t i = 0; i < rep->setuid_cleared.n; i++)
		dos_strv_push_owned(&res->notes, dos_xasprintf("%s: setuid/setgid bit cleared",
							       rep->setuid_cleared.v[i]));
	for (size_t i = 0; i < rep->copied_links.n; i++)
		dos_strv_push_owned(&res->notes, dos_xasprintf("%s: link to a host file, copied in",
							       rep->copied_links.v[i]));
	for (size_t i = 0; i < rep->rpath_failed.n; i++)
		dos_strv_push_owned(&res->notes, dos_xasprintf("no RPATH set: %s",
							       rep->rpath_failed.v[i]));
}

static int relocate_tree(struct dos_ctx *ctx, const struct dos_config *cfg, const char *root,
			 struct dos_bundle_result *res)
{
	struct dos_relocate_opts o = {
		.root = root, .removed_folders = &cfg->removed_folders,
		.build_prefix = root, .threads = ctx->jobs,
	};
	struct dos_relocate_report rep;
	int r;

	memset(&rep, 0, sizeof(rep));
	r = dos_relocate_tree(ctx, &o, &rep);
	if (r == 0) {
		note_relocation(&rep, res);
		r = write_broken_links(ctx, root, &rep.broken_links);
	}
	dos_relocate_report_release(&rep);
	return r;
}

/* The effective configuration, inside the bundle, for check and test. */
static int write_effective_config(struct dos_ctx *ctx, const struct dos_config *cfg,
				  const char *root)
{
	_cleanup_free_ char *path = dos_path_join(root, "diracos.json");
	json_t *eff = dos_config_effective(cfg);
	char *text = json_dumps(eff, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	int r;

	json_decref(eff);
	r = dos_write_file_atomic(ctx, path, text, strlen(text), 0644);
	free(text);
	return r;
}

static struct dos_report_pkg *report_packages(const struct dos_closure *c,
					      const struct dos_extract_result *x)
{
	struct dos_report_pkg *pkgs = dos_xcalloc(c->n, sizeof(*pkgs));

	for (size_t i = 0; i < c->n; i++) {
		const struct dos_resolved_pkg *p = &c->pkgs[i];
		pkgs[i] = (struct dos_report_pkg){
			.name = p->name, .version = p->version, .arch = p->arch,
			.source = p->source, .source_version = p->source_version,
			.license = i < x->n_pkgs ? x->pkgs[i].license : NULL,
			.sha256 = p->sha256, .url = p->url,
		};
	}
	return pkgs;
}

static int write_reports(struct dos_ctx *ctx, const struct dos_config *cfg, const char *root,
			 const struct dos_closure *c, const struct dos_extract_result *x,
			 int64_t date)
{
	_cleanup_free_ struct dos_report_pkg *pkgs = report_packages(c, x);
	struct dos_report_input in = {
		.bundle_name = cfg->name, .bundle_version = cfg->version,
		.arch = cfg->platform.arch, .date = date, .pkgs = pkgs, .n_pkgs = c->n,
		.environment = cfg->environment, .unset_environment = &cfg->unset_environment,
	};
	int r;

	r = write_effective_config(ctx, cfg, root);
	if (r == 0)
		r = dos_report_write_versions(ctx, root, &in);
	if (r == 0)
		r = dos_report_write_sbom(ctx, root, &in);
	if (r == 0)
		r = dos_report_write_diracosrc(ctx, root, &in);
	return r;
}

/* --- step 6b: pack --- */

static const char *machine_name(const char *arch)
{
	static const struct { const char *deb, *machine; } map[] = {
		{ "amd64", "x86_64" }, { "arm64", "aarch64" }, { "ppc64el", "ppc64le" },
		{ "i386", "i686" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].deb, arch))
			return map[i].machine;
	return arch;
}

char *dos_assemble_basename(const struct dos_config *cfg)
{
	return dos_xasprintf("%s-%s-%s", cfg->name, cfg->version, machine_name(cfg->platform.arch));
}

static int pack_tree(struct dos_ctx *ctx, const struct dos_config *cfg, const char *root,
		     int64_t date, struct dos_bundle_result *res)
{
	_cleanup_free_ char *basename = dos_assemble_basename(cfg);
	struct dos_pack_opts o = {
		.root = root, .top = cfg->name, .out_dir = cfg->output_directory,
		.basename = basename, .compression = &cfg->compression,
		.mtime = date, .threads = ctx->jobs,
	};
	struct dos_pack_result pr;
	int r;

	memset(&pr, 0, sizeof(pr));
	r = dos_mkdir_p(ctx, cfg->output_directory, 0755);
	if (r == 0)
		r = dos_pack(ctx, &o, &pr);
	if (r == 0) {
		res->tarball_sizes = dos_xcalloc(pr.paths.n, sizeof(uint64_t));
		for (size_t i = 0; i < pr.paths.n; i++) {
			dos_strv_push(&res->tarballs, pr.paths.v[i]);
			res->tarball_sizes[i] = pr.sizes[i];
		}
	}
	dos_pack_result_release(&pr);
	return r;
}

/* --- the whole of steps 4-6 --- */

/* A fresh, empty staging folder: the bundle's build-time path. */
static int prepare_root(struct dos_ctx *ctx, const struct dos_config *cfg, char **root)
{
	_cleanup_free_ char *parent = dos_path_join(cfg->work_dir, "bundle");
	int r;

	*root = dos_path_join(parent, cfg->name);
	r = dos_rm_rf(ctx, *root);
	if (r == 0)
		r = dos_mkdir_p(ctx, *root, 0755);
	return r;
}

struct stage_clock {
	int64_t start;
	struct dos_bundle_result *res;
	int index;
};

static void clock_lap(struct dos_ctx *ctx, struct stage_clock *c, const char *what)
{
	int64_t now = dos_now_ms();

	c->res->seconds_ms[c->index++] = now - c->start;
	dos_debug(ctx, "%s: %.2f s", what, (double)(now - c->start) / 1000);
	c->start = now;
}

static int build_tree(struct dos_ctx *ctx, const struct dos_config *cfg, struct dos_assembly *as,
		      struct dos_bundle_result *res, struct stage_clock *clock, int64_t *date)
{
	struct dos_extract_result x;
	char **paths = NULL;
	int r;

	memset(&x, 0, sizeof(x));
	r = download_closure(ctx, as, &paths);
	clock_lap(ctx, clock, "download");
	if (r == 0)
		r = prepare_root(ctx, cfg, &res->root);
	if (r == 0)
		r = extract_closure(ctx, as, paths, res->root, &x);
	clock_lap(ctx, clock, "extract");
	if (r == 0) {
		note_extraction(&x, res);
		*date = dos_pack_source_date_epoch(tree_newest_mtime(res->root));
		r = relocate_tree(ctx, cfg, res->root, res);
	}
	if (r == 0)
		r = write_reports(ctx, cfg, res->root, &as->closure, &x, *date);
	clock_lap(ctx, clock, "finalize");
	for (size_t i = 0; paths && i < as->closure.n; i++)
		free(paths[i]);
	free(paths);
	dos_extract_result_release(&x);
	return r;
}

int dos_assemble_bundle(struct dos_ctx *ctx, const struct dos_config *cfg,
			struct dos_bundle_result *res)
{
	struct dos_assembly as;
	struct stage_clock clock = { dos_now_ms(), res, 0 };
	int64_t date = 0;
	int r;

	memset(res, 0, sizeof(*res));
	r = dos_assemble_resolve(ctx, cfg, &as);
	clock_lap(ctx, &clock, "resolve");
	if (r == 0) {
		res->n_packages = as.closure.n;
		dos_info(ctx, "bundle '%s': %zu packages", cfg->name, as.closure.n);
		r = build_tree(ctx, cfg, &as, res, &clock, &date);
	}
	if (r == 0)
		r = pack_tree(ctx, cfg, res->root, date, res);
	clock_lap(ctx, &clock, "pack");
	dos_assembly_release(&as);
	return r;
}

void dos_bundle_result_release(struct dos_bundle_result *res)
{
	free(res->root);
	dos_strv_release(&res->tarballs);
	free(res->tarball_sizes);
	dos_strv_release(&res->broken_links);
	dos_strv_release(&res->conflicts);
	dos_strv_release(&res->notes);
	memset(res, 0, sizeof(*res));
}
