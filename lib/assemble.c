#include "assemble.h"
#include "bytecode.h"
#include "assemble_rpm.h"
#include "dist.h"
#include "extract.h"
#include "mirror.h"
#include "pack.h"
#include "pip.h"
#include "progress.h"
#include "relocate.h"
#include "report.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <limits.h>
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
	r = dos_cache_open(ctx, cache_dir, &as->cache);
	if (r == 0)
		r = dos_resolver_new(ctx, cfg->platform.backend, cfg->platform.arch, &as->resolver);
	if (r == 0 && !strcmp(cfg->platform.backend, "rpm"))
		r = dos_assemble_rpm_repos(ctx, cfg, as);
	else if (r == 0) {
		r = add_local_repository(ctx, cfg, as);
		if (r == 0)
			r = add_distribution(ctx, cfg, as);
	}
	if (r == 0)
		r = dos_resolver_python_takeover(as->resolver, "local", &as->python);
	if (r == 0)
		r = dos_resolver_closure(as->resolver, &req, &as->closure);
	if (r == 0)
		r = dos_python_check_closure(ctx, &as->closure, &as->python, "local");
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
	dos_python_info_release(&as->python);
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
	/* A relocatable bundle never carries setuid/setgid files: say so,
	 * since a package that needs them will not work as shipped. */
	for (size_t i = 0; i < x->n_setids; i++)
		dos_strv_push_owned(&res->notes, dos_xasprintf("%s (%s): %s bit dropped",
			x->setids[i].path, x->setids[i].package,
			x->setids[i].mode & S_ISUID ? "setuid" : "setgid"));
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
	/* Before the alternatives: an earlier run's links go with the rest. */
	if (r == 0)
		r = dos_assemble_prune(ctx, root, x);
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
/* After relocation: relocation removed the packages' bytecode. */
static int bytecode_tree(struct dos_ctx *ctx, const struct dos_config *cfg, const char *root,
			 struct dos_bundle_result *res)
{
	struct dos_bytecode_report rep;
	int r = dos_bytecode_compile(ctx, cfg, root, NULL, &rep);

	if (r == 0 && rep.python)
		dos_info(ctx, "bytecode: %llu files compiled by %s", (unsigned long long)rep.compiled,
			 rep.python);
	for (size_t i = 0; r == 0 && i < rep.failed.n; i++)
		dos_strv_push_owned(&res->notes, dos_xasprintf("%s: does not compile, no bytecode "
			"(list it in tests.knownNoBytecode for diracos check)", rep.failed.v[i]));
	dos_bytecode_report_release(&rep);
	return r;
}

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
			/* A .deb's copyright file, else what an rpm's metadata says. */
			.license = i < x->n_pkgs && x->pkgs[i].license ? x->pkgs[i].license
								       : p->license,
			/* The local repository's path is a build path: not shipped. */
			.sha256 = p->sha256, .url = strncmp(p->url, "file://", 7) ? p->url : NULL,
		};
	}
	return pkgs;
}

/* What pip installed: the source archive is its origin. */
static struct dos_report_pkg *report_python(const struct dos_pip_result *pip)
{
	struct dos_report_pkg *pkgs = dos_xcalloc(pip->n + 1, sizeof(*pkgs));

	for (size_t i = 0; i < pip->n; i++)
		pkgs[i] = (struct dos_report_pkg){
			.name = pip->dists[i].name, .version = pip->dists[i].version,
			.sha256 = pip->dists[i].sha256, .url = pip->dists[i].url,
			.source = pip->dists[i].url,
		};
	return pkgs;
}

static int write_reports(struct dos_ctx *ctx, const struct dos_config *cfg, const char *root,
			 const struct dos_closure *c, const struct dos_extract_result *x,
			 const struct dos_pip_result *pip, int64_t date)
{
	_cleanup_free_ struct dos_report_pkg *pkgs = report_packages(c, x);
	_cleanup_free_ struct dos_report_pkg *py = report_python(pip);
	struct dos_report_input in = {
		.bundle_name = cfg->name, .bundle_version = cfg->version,
		.arch = cfg->platform.arch, .date = date, .pkgs = pkgs, .n_pkgs = c->n,
		.python_pkgs = py, .n_python_pkgs = pip->n,
		.environment = cfg->environment, .unset_environment = &cfg->unset_environment,
		.rpm = !strcmp(cfg->platform.backend, "rpm"),
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

/* --- the staging tree --- */

/* The tree is kept from one run to the next and rebuilt in place:
 * extraction takes over the files and links an earlier run left, then
 * whatever no package ships goes. Deleting the tree before extracting it
 * again costs more than the extraction itself on ext4 without a journal
 * (see node_reuse in extract.c). When the earlier tree is in the way (a
 * path that changed kind), it is renamed to a trash folder beside it,
 * deleted in the background, and extraction starts over in an empty one;
 * a trash folder a killed run left is deleted at the next start. */
struct staging {
	char *root;
	char *trash;          /* <workDir>/bundle/.<name>.trash */
	char *park;           /* <workDir>/bundle/.<name>.removed */
	const struct dos_strv *removed;
	bool reused;          /* root held an earlier run's tree */
	bool deleting;
	pthread_t deleter;
};

/* The removed folders (usr/share/doc, ...) are not deleted either: once
 * the newest file date is known they are moved out of the tree into the
 * park folder beside it, and moved back in before the next extraction,
 * which takes their files over. Only a plain folder reached through plain
 * folders is moved; relocation deletes anything else as before. */
static bool plain_folder(const char *base, const char *rel, bool last_too)
{
	_cleanup_free_ char *p = NULL;
	struct stat sb;

	if (!*rel || rel[0] == '/')
		return false;
	p = dos_path_join(base, rel);
	for (char *s = p + strlen(p) - strlen(rel);; s++) {
		char *end = strchrnul(s, '/'), c = *end;
		size_t n = (size_t)(end - s);
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && !strncmp(s, "..", 2)))
			return false;
		if (!c && !last_too)
			return true;
		*end = '\0';
		if (lstat(p, &sb) < 0 || !S_ISDIR(sb.st_mode))
			return false;
		if (!c)
			return true;
		*end = '/';
		s = end;
	}
}

/* Moves rel from folder `from` to the same place under `to`, whose parents
 * are created only when `create` (the park, ours alone): nothing is
 * created in the tree through a symlink. False when it does not move. */
static bool folder_move(struct dos_ctx *ctx, const char *from, const char *to, const char *rel,
			bool create)
{
	_cleanup_free_ char *src = dos_path_join(from, rel);
	_cleanup_free_ char *dst = dos_path_join(to, rel);
	_cleanup_free_ char *parent = dos_path_dirname(dst);
	struct dos_ctx scratch;

	dos_ctx_init(&scratch);
	if (!plain_folder(from, rel, true) || (create && dos_mkdir_p(&scratch, parent, 0755) < 0) ||
	    !plain_folder(to, rel, false) || rename(src, dst) < 0)
		return false;
	dos_debug(ctx, "staging tree: '%s' moved to '%s'", src, to);
	return true;
}

static void staging_park(struct dos_ctx *ctx, struct staging *st)
{
	for (size_t i = 0; i < st->removed->n; i++)
		folder_move(ctx, st->root, st->park, st->removed->v[i], true);
}

/* Back into an earlier tree; what stays in the park is deleted. */
static int staging_unpark(struct dos_ctx *ctx, struct staging *st)
{
	struct stat sb;

	if (lstat(st->park, &sb) < 0)
		return 0;
	for (size_t i = 0; st->reused && i < st->removed->n; i++) {
		_cleanup_free_ char *dst = dos_path_join(st->root, st->removed->v[i]);
		if (lstat(dst, &sb) < 0 && errno == ENOENT)
			folder_move(ctx, st->park, st->root, st->removed->v[i], false);
	}
	return dos_rm_rf(ctx, st->park);
}

static void *trash_delete(void *arg)
{
	struct dos_ctx scratch;

	/* A failure leaves it for the next run to retry. */
	dos_ctx_init(&scratch);
	dos_rm_rf(&scratch, arg);
	return NULL;
}

static void trash_wait(struct staging *st)
{
	if (st->deleting)
		pthread_join(st->deleter, NULL);
	st->deleting = false;
}

static void trash_start(struct staging *st)
{
	trash_wait(st);
	if (pthread_create(&st->deleter, NULL, trash_delete, st->trash) == 0)
		st->deleting = true;
	else
		trash_delete(st->trash);
}

static int staging_open(struct dos_ctx *ctx, const struct dos_config *cfg, struct staging *st)
{
	_cleanup_free_ char *parent = dos_path_join(cfg->work_dir, "bundle");
	struct stat sb;
	int r = 0;

	memset(st, 0, sizeof(*st));
	st->root = dos_path_join(parent, cfg->name);
	st->trash = dos_xasprintf("%s/.%s.trash", parent, cfg->name);
	st->park = dos_xasprintf("%s/.%s.removed", parent, cfg->name);
	st->removed = &cfg->removed_folders;
	if (lstat(st->trash, &sb) == 0)
		trash_start(st);
	if (lstat(st->root, &sb) == 0 && S_ISDIR(sb.st_mode))
		st->reused = true;
	else
		r = dos_rm_rf(ctx, st->root);
	if (r == 0)
		r = dos_mkdir_p(ctx, st->root, 0755);
	if (r == 0)
		r = staging_unpark(ctx, st);
	return r;
}

/* Moves the earlier tree out of the way, for an empty one. */
static int staging_restart(struct dos_ctx *ctx, struct staging *st)
{
	int r = 0;

	trash_wait(st);
	if (rename(st->root, st->trash) == 0)
		trash_start(st);
	else
		r = dos_rm_rf(ctx, st->root);
	st->reused = false;
	if (r == 0)
		r = dos_mkdir_p(ctx, st->root, 0755);
	return r;
}

static void staging_close(struct staging *st)
{
	trash_wait(st);
	free(st->root);
	free(st->trash);
	free(st->park);
	memset(st, 0, sizeof(*st));
}

/* Extracts the closure into the staging tree, starting over in an empty
 * one when the earlier run's tree is in the way. */
static int staging_extract(struct dos_ctx *ctx, struct dos_assembly *as, char **paths,
			   struct staging *st, struct dos_extract_result *x)
{
	int r = extract_closure(ctx, as, paths, st->root, x);

	if (r == 0 || !st->reused)
		return r;
	dos_debug(ctx, "staging tree: extracting over the earlier one failed (%s): starting over "
		  "in an empty one", ctx->msg);
	dos_error_clear(ctx);
	dos_extract_result_release(x);
	r = staging_restart(ctx, st);
	if (r == 0)
		r = extract_closure(ctx, as, paths, st->root, x);
	return r;
}

/* A file system error (a full disk, say) names the tree it happened in:
 * the entry's own path is relative to it. */
static int staging_extract_named(struct dos_ctx *ctx, struct dos_assembly *as, char **paths,
				 struct staging *st, struct dos_extract_result *x)
{
	int r = staging_extract(ctx, as, paths, st, x);

	return r == DOS_EIO ? dos_error_prefix(ctx, "staging tree '%s'", st->root) : r;
}

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct prune {
	struct dos_ctx *ctx;
	const char **keep;       /* every shipped path, sorted */
	size_t n_keep;
	char rel[PATH_MAX];
};

/* Whether p->rel is shipped. */
static bool prune_keeps(const struct prune *p)
{
	const char *key = p->rel;

	return bsearch(&key, p->keep, p->n_keep, sizeof(*p->keep), cmp_str_ptr) != NULL;
}

static int prune_dir(struct prune *p, int fd, size_t len, bool shipped, bool *kept);

/* One entry of folder dfd, named by p->rel[0..len). */
static int prune_entry(struct prune *p, int dfd, const char *name, size_t len,
		       unsigned char type, bool *kept)
{
	bool keep = prune_keeps(p), inside = false;
	struct stat sb;
	int fd, r = 0;

	if (type == DT_UNKNOWN)
		type = fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode) ?
		       DT_DIR : DT_REG;
	if (type == DT_DIR) {
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return dos_error_errno(p->ctx, DOS_EIO, errno,
					       "staging tree: cannot open '%s'", p->rel);
		r = prune_dir(p, fd, len, keep, &inside);
		p->rel[len] = '\0';
	}
	*kept |= keep || inside;
	if (r < 0 || keep || inside)
		return r;
	if (unlinkat(dfd, name, type == DT_DIR ? AT_REMOVEDIR : 0) < 0 && errno != ENOENT)
		return dos_error_errno(p->ctx, DOS_EIO, errno, "staging tree: cannot remove '%s'",
				       p->rel);
	return 0;
}

/* Prunes the folder fd (closed here), named by p->rel[0..len); *kept
 * when anything stays in it. One that stays only for what it holds gets
 * 0755, as extraction makes such folders: an earlier run may have left
 * it another mode. */
static int prune_dir(struct prune *p, int fd, size_t len, bool shipped, bool *kept)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	struct stat sb;
	int r = 0;

	*kept = false;
	if (!d) {
		close(fd);
		return dos_error_errno(p->ctx, DOS_EIO, errno, "staging tree: cannot read '%s'",
				       p->rel);
	}
	while (r == 0 && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (len + n + 2 > sizeof(p->rel)) {
			r = dos_error(p->ctx, DOS_EIO, "staging tree: path too long in '%s'",
				      p->rel);
			break;
		}
		if (len)
			p->rel[len] = '/';
		memcpy(p->rel + len + !!len, de->d_name, n + 1);
		r = prune_entry(p, dirfd(d), de->d_name, len + !!len + n, de->d_type, kept);
		p->rel[len] = '\0';
	}
	if (r == 0 && *kept && !shipped && fstat(dirfd(d), &sb) == 0 &&
	    (sb.st_mode & 07777) != 0755 && fchmod(dirfd(d), 0755) < 0)
		r = dos_error_errno(p->ctx, DOS_EIO, errno, "staging tree: '%s': cannot set its mode",
				    p->rel);
	closedir(d);
	return r;
}

int dos_assemble_prune(struct dos_ctx *ctx, const char *root, const struct dos_extract_result *x)
{
	struct prune p = { .ctx = ctx };
	size_t n = 0;
	bool kept = false;
	int fd, r;

	for (size_t i = 0; i < x->n_pkgs; i++)
		n += x->pkgs[i].paths.n;
	p.keep = dos_xcalloc(n + 1, sizeof(*p.keep));
	for (size_t i = 0; i < x->n_pkgs; i++)
		for (size_t k = 0; k < x->pkgs[i].paths.n; k++)
			p.keep[p.n_keep++] = x->pkgs[i].paths.v[k];
	qsort(p.keep, p.n_keep, sizeof(*p.keep), cmp_str_ptr);
	fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		r = dos_error_errno(ctx, DOS_EIO, errno, "staging tree '%s': cannot open", root);
	else
		r = prune_dir(&p, fd, 0, true, &kept);
	free(p.keep);
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
		      struct staging *st, struct dos_bundle_result *res, struct stage_clock *clock,
		      int64_t *date)
{
	struct dos_extract_result x;
	struct dos_pip_result pip = { 0 };
	char **paths = NULL;
	int r;

	memset(&x, 0, sizeof(x));
	r = download_closure(ctx, as, &paths);
	clock_lap(ctx, clock, "download");
	if (r == 0)
		r = staging_open(ctx, cfg, st);
	if (r == 0) {
		res->root = dos_xstrdup(st->root);
		r = staging_extract_named(ctx, as, paths, st, &x);
	}
	clock_lap(ctx, clock, "extract");
	if (r == 0) {
		note_extraction(&x, res);
		*date = dos_pack_source_date_epoch(tree_newest_mtime(res->root));
		staging_park(ctx, st);
		/* Step 5, before relocation: what pip installs is finalized too. */
		r = dos_pip_step(ctx, cfg, as->cache, &as->closure, res->root, &pip);
	}
	if (r == 0)
		r = relocate_tree(ctx, cfg, res->root, res);
	if (r == 0)
		r = bytecode_tree(ctx, cfg, res->root, res);
	if (r == 0)
		r = write_reports(ctx, cfg, res->root, &as->closure, &x, &pip, *date);
	clock_lap(ctx, clock, "finalize");
	for (size_t i = 0; paths && i < as->closure.n; i++)
		free(paths[i]);
	free(paths);
	dos_extract_result_release(&x);
	dos_pip_result_release(&pip);
	return r;
}

int dos_assemble_bundle(struct dos_ctx *ctx, const struct dos_config *cfg,
			struct dos_bundle_result *res)
{
	struct dos_assembly as;
	struct stage_clock clock = { dos_now_ms(), res, 0 };
	struct staging st = { 0 };
	int64_t date = 0;
	int r;

	memset(res, 0, sizeof(*res));
	r = dos_assemble_resolve(ctx, cfg, &as);
	clock_lap(ctx, &clock, "resolve");
	if (r == 0) {
		res->n_packages = as.closure.n;
		dos_info(ctx, "bundle '%s': %zu packages", cfg->name, as.closure.n);
		r = build_tree(ctx, cfg, &as, &st, res, &clock, &date);
	}
	if (r == 0)
		r = pack_tree(ctx, cfg, res->root, date, res);
	clock_lap(ctx, &clock, "pack");
	staging_close(&st);
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
