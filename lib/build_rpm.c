/* Building packages for platform.backend "rpm" (see build_rpm.h): recipe
 * install trees made into .rpm files by rpmbuild from a generated spec,
 * and .src.rpm files rebuilt (DIRACOS's `mock --rebuild`), both in the
 * sandbox, in a Debian build root with rpm; the results go to the local
 * rpm-md repository (repo_rpm.c). */
#include "build_rpm.h"
#include "fetch.h"
#include "pack.h"
#include "repo_rpm.h"
#include "sandbox.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#define TOPDIR "/diracos/rpmbuild"

/* --- the build root --- */

static const char *debian_arch(const char *arch)
{
	static const struct { const char *rpm, *deb; } map[] = {
		{ "x86_64", "amd64" }, { "aarch64", "arm64" }, { "ppc64le", "ppc64el" },
		{ "i686", "i386" }, { "s390x", "s390x" },
	};

	for (size_t i = 0; arch && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].rpm, arch))
			return map[i].deb;
	return arch;
}

/* The Debian build root's options: opts points into rr. */
struct rpm_root {
	struct dos_config cfg;        /* a shallow copy, platform made Debian's */
	struct dos_strv extra;        /* rpm */
	struct dos_strv components;   /* main */
	char *suite;
};

static void root_init(struct rpm_root *rr, const struct dos_config *cfg,
		      const struct dos_package *p, struct dos_rootfs_opts *opts)
{
	const char *suite = json_string_value(json_object_get(p->options, "buildRootSuite"));

	memset(rr, 0, sizeof(*rr));
	rr->cfg = *cfg;
	rr->suite = dos_xstrdup(suite && *suite ? suite : "bookworm");
	dos_strv_push(&rr->extra, "rpm");
	dos_strv_push(&rr->components, "main");
	rr->cfg.platform.backend = (char *)"deb";
	rr->cfg.platform.suite = rr->suite;
	rr->cfg.platform.arch = (char *)debian_arch(cfg->platform.arch);
	rr->cfg.platform.mirror = NULL;
	rr->cfg.platform.components = rr->components;
	opts->cfg = &rr->cfg;
	opts->suite = rr->suite;
	opts->extra_packages = &rr->extra;
	opts->variant = "buildd";
}

static void root_release(struct rpm_root *rr)
{
	dos_strv_release(&rr->extra);
	dos_strv_release(&rr->components);
	free(rr->suite);
}

int dos_build_rpm_root_instance(struct dos_ctx *ctx, const struct dos_config *cfg,
				const struct dos_package *p, const char *dir,
				struct dos_rootfs_instance **out)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct dos_rootfs_opts ro = { 0 };
	struct rpm_root rr;
	int r;

	root_init(&rr, cfg, p, &ro);
	pthread_mutex_lock(&lock);
	r = dos_rootfs_instance(ctx, &ro, dir, out);
	pthread_mutex_unlock(&lock);
	root_release(&rr);
	return r;
}

/* --- running in the sandbox --- */

struct run {
	struct dos_ctx *ctx;
	const struct dos_rootfs_instance *inst;
	struct dos_sandbox_bind binds[DOS_ROOTFS_BINDS_MAX + 8];
	size_t n_binds;
	const char *log;
	int timeout_s;
	int64_t epoch;
	int jobs;
};

static void run_init(struct run *rn, struct dos_ctx *ctx, const struct dos_rootfs_instance *inst,
		     const char *log, int timeout_s, int64_t epoch)
{
	memset(rn, 0, sizeof(*rn));
	rn->ctx = ctx;
	rn->inst = inst;
	rn->log = log;
	rn->timeout_s = timeout_s;
	rn->epoch = epoch;
	for (size_t i = 0; i < inst->n_binds; i++)
		rn->binds[rn->n_binds++] = inst->binds[i];
}

static void run_bind(struct run *rn, const char *host, const char *inside, bool writable)
{
	if (rn->n_binds < sizeof(rn->binds) / sizeof(rn->binds[0]))
		rn->binds[rn->n_binds++] = (struct dos_sandbox_bind){ host, inside, writable };
}

static int run_step(struct run *rn, const char *what, char *const argv[])
{
	_cleanup_free_ char *sde = dos_xasprintf("SOURCE_DATE_EPOCH=%lld", (long long)rn->epoch);
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp", "LC_ALL=C.UTF-8",
			 "TZ=UTC", sde, NULL };
	struct dos_sandbox_opts so = {
		.root = rn->inst->root, .binds = rn->binds, .n_binds = rn->n_binds, .network = false,
		.root_writable = true, .argv = argv, .envp = envp, .cwd = "/tmp",
		.log_path = rn->log, .timeout_s = rn->timeout_s,
	};
	_cleanup_free_ char *tail = NULL;
	int status = 0, r;

	dos_log_append(rn->log, "diracos: %s\n", what);
	r = dos_sandbox_run(rn->ctx, &so, &status);
	if (r < 0)
		return dos_error_prefix(rn->ctx, "%s (log: '%s')", what, rn->log);
	if (status == 0)
		return 0;
	tail = dos_build_log_tail(rn->log);
	return dos_error(rn->ctx, DOS_ECHILD, "%s (%s) exited with status %d; the end of '%s':\n%s",
			 what, argv[0], status, rn->log, tail);
}

static char *jobs_define(int jobs)
{
	return dos_xasprintf("_smp_mflags -j%d", jobs > 0 ? jobs : 1);
}

/* rpmbuild -bb of spec (a path inside the sandbox). */
static int run_rpmbuild(struct run *rn, const char *spec)
{
	_cleanup_free_ char *smp = jobs_define(rn->jobs);
	char *argv[] = { "rpmbuild", "-bb", "--nodeps", "--define", "_topdir " TOPDIR,
			 "--define", smp, "--define", "_build_id_links none",
			 "--define", "debug_package %{nil}", (char *)spec, NULL };

	return run_step(rn, "rpmbuild", argv);
}

/* --- the built packages --- */

static bool is_rpm_name(const char *s)
{
	size_t n = strlen(s);

	return n > 4 && !strcmp(s + n - 4, ".rpm") && s[0] != '.' && !strchr(s, '/');
}

/* Every RPMS/<arch>/<file>.rpm, sorted. */
static int rpms_collect(struct dos_ctx *ctx, const char *topdir, struct dos_strv *out)
{
	_cleanup_free_ char *rpms = dos_path_join(topdir, "RPMS");
	DIR *d = opendir(rpms);
	struct dirent *e;

	if (!d)
		return dos_error_errno(ctx, DOS_EFAIL, errno, "rpmbuild made no RPMS folder ('%s')", rpms);
	while ((e = readdir(d))) {
		_cleanup_free_ char *sub = NULL;
		DIR *s;
		struct dirent *f;

		if (e->d_name[0] == '.')
			continue;
		sub = dos_path_join(rpms, e->d_name);
		if (!(s = opendir(sub)))
			continue;
		while ((f = readdir(s)))
			if (is_rpm_name(f->d_name))
				dos_strv_push_owned(out, dos_path_join(sub, f->d_name));
		closedir(s);
	}
	closedir(d);
	dos_strv_sort(out);
	return out->n ? 0 : dos_error(ctx, DOS_EFAIL, "rpmbuild made no package in '%s'", rpms);
}

static int commit(struct dos_ctx *ctx, const struct dos_build_opts *o, const char *log,
		  const struct dos_strv *files)
{
	struct dos_repo_record rec = { .name = o->pkg->name, .key = o->key, .inputs = o->inputs,
				       .log_path = log, .build_only = o->pkg->build_only };

	return dos_repo_rpm_commit(ctx, dos_repo_path(o->repo), &rec,
				   (const char *const *)files->v, files->n);
}

/* --- recipes: a spec over the install tree --- */

/* "1:2.0-3" -> epoch "1", version "2.0", release "3"; no '-': release 1. */
static void version_split(const char *v, char **epoch, char **version, char **release)
{
	const char *colon = strchr(v, ':'), *dash;

	*epoch = colon ? dos_xasprintf("%.*s", (int)(colon - v), v) : NULL;
	v = colon ? colon + 1 : v;
	dash = strrchr(v, '-');
	*version = dash ? dos_xasprintf("%.*s", (int)(dash - v), v) : dos_xstrdup(v);
	*release = dos_xstrdup(dash ? dash + 1 : "1");
	for (char *c = *version; *c; c++)
		if (*c == '-')
			*c = '_';
}

static char *spec_text(const struct dos_package *p)
{
	const char *license = json_string_value(json_object_get(p->options, "license"));
	_cleanup_free_ char *epoch = NULL, *version = NULL, *release = NULL;
	char *text = NULL, *deps = dos_xstrdup("");
	size_t len = 0;
	FILE *f;

	version_split(p->version, &epoch, &version, &release);
	for (size_t i = 0; i < p->depends.n; i++) {
		char *more = dos_xasprintf("%sRequires: %s\n", deps, p->depends.v[i]);
		free(deps);
		deps = more;
	}
	f = open_memstream(&text, &len);
	if (!f)
		abort();
	/* The tree is packaged as the recipe installed it: no stripping,
	 * compression or build-id links (as for a .deb). */
	fprintf(f, "%%global __os_install_post %%{nil}\n%%global _build_id_links none\n"
		   "%%global debug_package %%{nil}\n%%global _binary_payload w19.zstdio\n"
		   "Name: %s\n%s%s%sVersion: %s\nRelease: %s\nSummary: %s, built by diracos\n"
		   "License: %s\n%s\n%%description\nThe package '%s' built by diracos from its recipe.\n\n"
		   "%%install\ncp -a /diracos/destdir/. %%{buildroot}/\ncd %%{buildroot}\n"
		   "find . -mindepth 1 ! -type d -printf '\"/%%%%P\"\\n' >%%{_builddir}/diracos-files\n"
		   "find . -mindepth 1 -type d -empty -printf '%%%%%%%%dir \"/%%%%P\"\\n' "
		   ">>%%{_builddir}/diracos-files\n\n%%files -f %%{_builddir}/diracos-files\n",
		p->name, epoch ? "Epoch: " : "", epoch ? epoch : "", epoch ? "\n" : "", version,
		release, p->name, license ? license : "NOASSERTION", deps, p->name);
	fclose(f);
	free(deps);
	return text;
}

static bool spec_safe(const struct dos_package *p)
{
	/* What goes into the spec's header lines: one line each, no macros. */
	const char *lic = json_string_value(json_object_get(p->options, "license"));

	if (strpbrk(p->version, "%\n \t") || (lic && strpbrk(lic, "%\n")))
		return false;
	for (size_t i = 0; i < p->depends.n; i++)
		if (strpbrk(p->depends.v[i], "%\n"))
			return false;
	return true;
}

int dos_build_rpm_tree_commit(struct dos_ctx *ctx, const struct dos_build_rpm_tree *t)
{
	const struct dos_package *p = t->o->pkg;
	_cleanup_free_ char *top = dos_path_join(t->workdir, "rpmbuild");
	_cleanup_free_ char *specs = dos_path_join(top, "SPECS");
	_cleanup_free_ char *spec = NULL, *text = NULL;
	_cleanup_free_ char *inside = dos_xasprintf(TOPDIR "/SPECS/%s.spec", p->name);
	struct dos_strv files = { 0 };
	struct run rn;
	int r;

	if (!spec_safe(p))
		return dos_error(ctx, DOS_ECONFIG, "version, license or depends holds '%%' or a line "
				 "break, which a spec cannot take");
	r = dos_mkdir_p(ctx, specs, 0755);
	spec = dos_xasprintf("%s/%s.spec", specs, p->name);
	text = spec_text(p);
	if (r == 0)
		r = dos_write_file_atomic(ctx, spec, text, strlen(text), 0644);
	run_init(&rn, ctx, t->inst, t->log, t->timeout_s, t->epoch);
	rn.jobs = t->o->jobs;
	run_bind(&rn, top, TOPDIR, true);
	run_bind(&rn, t->destdir, "/diracos/destdir", false);
	if (r == 0)
		r = run_rpmbuild(&rn, inside);
	if (r == 0)
		r = rpms_collect(ctx, top, &files);
	if (r == 0)
		r = commit(ctx, t->o, t->log, &files);
	dos_strv_release(&files);
	return r;
}

/* --- .src.rpm rebuilds --- */

bool dos_build_rpm_is_srpm(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 8 && !strcmp(s + n - 8, ".src.rpm");
}

struct srpm {
	struct dos_ctx *ctx;
	const struct dos_build_opts *o;
	char *dir, *top, *file, *log;
	struct dos_rootfs_instance *inst;
};

static bool is_url(const char *src)
{
	return !strncmp(src, "http://", 7) || !strncmp(src, "https://", 8) ||
	       !strncmp(src, "file://", 7);
}

#define SRPM_MAX (1ULL << 31)

int dos_build_rpm_pin(struct dos_ctx *ctx, const struct dos_config *cfg, struct dos_package *pinned)
{
	for (size_t i = 0; i < cfg->n_packages; i++) {
		struct dos_package *p = &pinned[i];
		_cleanup_free_ char *path = NULL;
		char hex[DOS_SHA256_HEX];
		json_t *o;

		if (!p->src || p->recipe || !dos_build_rpm_is_srpm(p->src) || is_url(p->src))
			continue;
		path = dos_path_absolute(cfg->dir, p->src);
		if (dos_sha256_file(ctx, path, hex) < 0)
			return dos_error_prefix(ctx, "package '%s': source package '%s'", p->name, p->src);
		/* The options may be shared with cfg: the copy gets the digest. */
		o = json_deep_copy(p->options);
		json_object_set_new(o, "srcSha256", json_string(hex));
		json_decref(p->options);
		p->options = o;
		p->src = json_string_value(json_object_get(o, "src"));
		p->recipe = json_string_value(json_object_get(o, "recipe"));
		p->version = json_string_value(json_object_get(o, "version"));
	}
	return 0;
}

static int srpm_fetch(struct srpm *s)
{
	const char *src = s->o->pkg->src;
	const char *want = json_string_value(json_object_get(s->o->pkg->options, "srcSha256"));
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *data = NULL;
	char got[DOS_SHA256_HEX];
	size_t len;
	int r;

	if (is_url(src))
		r = dos_fetch_to_file(s->ctx, src, s->file);
	else {
		path = dos_path_absolute(s->o->cfg->dir, src);
		r = dos_read_file(s->ctx, path, SRPM_MAX, &data, &len);
		if (r == 0)
			r = dos_write_file_atomic(s->ctx, s->file, data, len, 0644);
	}
	if (r == 0 && want && (r = dos_sha256_file(s->ctx, s->file, got)) == 0 && strcmp(got, want))
		r = dos_error(s->ctx, DOS_ECHECKSUM, "changed since the plan was made (sha256 %s, "
			      "expected %s)", got, want);
	if (r < 0)
		return dos_error_prefix(s->ctx, "source package '%s'", src);
	dos_log_append(s->log, "diracos: source package sha256 %s\n", want ? want : "(from a URL)");
	return 0;
}

static int srpm_root(struct srpm *s)
{
	_cleanup_free_ char *dir = dos_path_join(s->dir, "instance");
	int r = dos_build_rpm_root_instance(s->ctx, s->o->cfg, s->o->pkg, dir, &s->inst);

	if (r == 0 && s->o->pkg->build_dependencies.n) {
		dos_log_append(s->log, "diracos: installing the build dependencies\n");
		r = dos_rootfs_install(s->ctx, s->inst, &s->o->pkg->build_dependencies);
	}
	return r;
}

/* The one spec `rpm -i` put into SPECS/ (its name, inside the sandbox). */
static int spec_find(struct srpm *s, char **inside)
{
	_cleanup_free_ char *specs = dos_path_join(s->top, "SPECS");
	DIR *d = opendir(specs);
	struct dirent *e;
	int n = 0;

	if (!d)
		return dos_error_errno(s->ctx, DOS_EFORMAT, errno, "source package: no SPECS folder");
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len > 5 && !strcmp(e->d_name + len - 5, ".spec") && e->d_name[0] != '.' && !n++)
			*inside = dos_xasprintf(TOPDIR "/SPECS/%s", e->d_name);
	}
	closedir(d);
	if (n != 1)
		return dos_error(s->ctx, DOS_EFORMAT, "source package: %d spec files, expected one", n);
	return 0;
}

static char *patch_path(const struct dos_package *p)
{
	const char *dir = json_string_value(json_object_get(p->options, "patchDir"));
	_cleanup_free_ char *name = dos_xasprintf("%s.patch", p->name);
	char *path = dir ? dos_path_join(dir, name) : NULL;

	if (path && access(path, F_OK) == 0)
		return path;
	free(path);
	return NULL;
}

static int srpm_steps(struct srpm *s)
{
	_cleanup_free_ char *patch = patch_path(s->o->pkg), *spec = NULL;
	char *unpack[] = { "rpm", "-i", "--nodeps", "--nosignature", "--dbpath", "/tmp/rpmdb",
			   "--define", "_topdir " TOPDIR, "/diracos/package.src.rpm", NULL };
	char *pargv[] = { "patch", "-p1", "-d", TOPDIR, "-i", "/diracos/package.patch", NULL };
	struct run rn;
	int r;

	run_init(&rn, s->ctx, s->inst, s->log, dos_build_timeout(s->o->pkg),
		 dos_pack_source_date_epoch(DOS_BUILD_EPOCH));
	rn.jobs = s->o->jobs;
	run_bind(&rn, s->top, TOPDIR, true);
	run_bind(&rn, s->file, "/diracos/package.src.rpm", false);
	if (patch)
		run_bind(&rn, patch, "/diracos/package.patch", false);
	r = run_step(&rn, "unpacking the source package", unpack);
	if (r == 0 && patch)
		r = run_step(&rn, "patch", pargv);
	if (r == 0)
		r = spec_find(s, &spec);
	if (r == 0)
		r = run_rpmbuild(&rn, spec);
	return r;
}

/* "foo-devel-1.0-1.x86_64.rpm" -> "foo-devel". */
static char *rpm_file_package(const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char *name = dos_xstrdup(base), *c;

	for (int i = 0; i < 2 && (c = strrchr(name, '.')); i++)
		*c = 0;   /* .rpm, .arch */
	for (int i = 0; i < 2 && (c = strrchr(name, '-')); i++)
		*c = 0;   /* -release, -version */
	return name;
}

static bool is_debug(const char *pkg)
{
	size_t n = strlen(pkg);

	return (n > 10 && !strcmp(pkg + n - 10, "-debuginfo")) ||
	       (n > 12 && !strcmp(pkg + n - 12, "-debugsource"));
}

/* pkgList and excludePatterns, as for .deb (see dos_build_src_filter). */
static int outputs_filter(struct dos_ctx *ctx, const struct dos_package *p,
			  const struct dos_strv *all, struct dos_strv *kept)
{
	regex_t *res = dos_xcalloc(p->exclude_patterns.n + 1, sizeof(*res));
	size_t n_res = 0;
	int r = 0;

	for (; r == 0 && n_res < p->exclude_patterns.n; n_res++)
		if (regcomp(&res[n_res], p->exclude_patterns.v[n_res], REG_EXTENDED | REG_NOSUB))
			r = dos_error(ctx, DOS_ECONFIG, "excludePatterns: bad regex '%s'",
				      p->exclude_patterns.v[n_res--]);
	for (size_t i = 0; r == 0 && i < all->n; i++) {
		_cleanup_free_ char *pkg = rpm_file_package(all->v[i]);
		const char *base = strrchr(all->v[i], '/') + 1;
		bool drop = is_debug(pkg) || (p->pkg_list.n && !dos_strv_contains(&p->pkg_list, pkg));

		for (size_t k = 0; !drop && k < n_res; k++)
			drop = regexec(&res[k], base, 0, NULL, 0) == 0;
		if (!drop)
			dos_strv_push(kept, all->v[i]);
	}
	for (size_t k = 0; k < n_res; k++)
		regfree(&res[k]);
	free(res);
	if (r == 0 && !kept->n)
		r = dos_error(ctx, DOS_ECONFIG, "pkgList and excludePatterns keep none of the %zu "
			      "packages built", all->n);
	return r;
}

static int srpm_commit(struct srpm *s)
{
	struct dos_strv all = { 0 }, kept = { 0 };
	int r = rpms_collect(s->ctx, s->top, &all);

	if (r == 0)
		r = outputs_filter(s->ctx, s->o->pkg, &all, &kept);
	for (size_t i = 0; r == 0 && i < kept.n; i++)
		dos_log_append(s->log, "diracos: keeping %s\n", strrchr(kept.v[i], '/') + 1);
	if (r == 0)
		r = commit(s->ctx, s->o, s->log, &kept);
	dos_strv_release(&all);
	dos_strv_release(&kept);
	return r;
}

static int srpm_init(struct srpm *s, struct dos_ctx *ctx, const struct dos_build_opts *o)
{
	const char *work = o->cfg->work_dir;
	_cleanup_free_ char *logs = dos_path_join(work, "logs");
	_cleanup_free_ char *root = NULL;
	int r;

	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	s->o = o;
	s->dir = dos_xasprintf("%s/build/%s", work, o->pkg->name);
	s->top = dos_path_join(s->dir, "rpmbuild");
	s->file = dos_path_join(s->dir, "package.src.rpm");
	s->log = dos_xasprintf("%s/%s.log", logs, o->pkg->name);
	root = dos_path_join(s->dir, "instance/root");
	umount2(root, MNT_DETACH);
	r = dos_rm_rf(ctx, s->dir);
	if (r == 0)
		r = dos_mkdir_p(ctx, s->top, 0755);
	if (r == 0)
		r = dos_mkdir_p(ctx, logs, 0755);
	if (r == 0)
		r = dos_write_file_atomic(ctx, s->log, "", 0, 0644);
	return r;
}

static void srpm_release(struct srpm *s)
{
	dos_rootfs_instance_free(dos_steal(&s->inst));
	free(s->dir);
	free(s->top);
	free(s->file);
	free(s->log);
}

int dos_build_rpm_src_package(struct dos_ctx *ctx, const struct dos_build_opts *o)
{
	struct srpm s;
	int r;

	if (!dos_build_rpm_is_srpm(o->pkg->src))
		return dos_error(ctx, DOS_ECONFIG, "package '%s': with platform.backend \"rpm\", "
				 "\"src\" names a .src.rpm (path or URL), not '%s'", o->pkg->name,
				 o->pkg->src);
	r = srpm_init(&s, ctx, o);
	if (r == 0) {
		dos_log_append(s.log, "diracos: package %s from %s, key %s\n", o->pkg->name, o->pkg->src, o->key);
		r = srpm_fetch(&s);
	}
	if (r == 0)
		r = srpm_root(&s);
	if (r == 0)
		r = srpm_steps(&s);
	if (r == 0)
		r = srpm_commit(&s);
	r = dos_build_end(ctx, r, s.log, &s.inst, s.dir);
	srpm_release(&s);
	return r < 0 ? dos_error_prefix(ctx, "package '%s'", o->pkg->name) : 0;
}
