/* Step 5: pip into the bundle, in the sandbox. See pip.h and docs/pip.md.
 * The find-links folder is pip_sources.c's; the files pip leaves that
 * would keep the build path, and the CA bundle wiring, are pip_fix.c's. */
#include "pip.h"
#include "build.h"
#include "pack.h"
#include "rootfs.h"
#include "sandbox.h"
#include "source.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PIP_TIMEOUT_S (2 * 3600)
#define KEY_FORMAT "diracos-pip-wheels 2"

/* The wheel builds: every sdist in order, each wheel then importable by
 * the next builds (from /tmp/tools): build backends come as sources too,
 * and no index gives them to an isolated build. */
static const char wheels_script[] =
	"set -e\n"
	"py=$1; shift\n"
	"mkdir -p /tmp/tools /tmp/wheel\n"
	"export PYTHONPATH=/tmp/tools\n"
	"for sdist in \"$@\"; do\n"
	"\techo \"diracos: building a wheel of $sdist\"\n"
	"\trm -rf /tmp/wheel/*\n"
	"\t\"$py\" -m pip wheel $DIRACOS_PIP_INDEX --no-deps --no-build-isolation -w /tmp/wheel "
	"\"/diracos/sources/$sdist\"\n"
	"\tfor w in /tmp/wheel/*.whl; do\n"
	"\t\t\"$py\" -m pip install --no-index --no-deps --no-compile --upgrade "
	"--target /tmp/tools \"$w\" >/dev/null\n"
	"\t\tprintf '%s\\t%s\\n' \"${w##*/}\" \"$sdist\" >>/diracos/wheels/origins.tsv\n"
	"\t\tmv \"$w\" /diracos/wheels/\n"
	"\tdone\n"
	"done\n";

struct pip {
	struct dos_ctx *ctx;
	const struct dos_config *cfg;
	struct dos_cache *cache;
	const struct dos_closure *closure;
	const char *python_key;
	const char *root;
	char *work, *sources, *wheels, *out, *log, *script, *requirements, *python;
	struct dos_pip_source *srcs;
	size_t n_srcs;
	struct dos_strv env;
	struct dos_rootfs_instance *inst;
	bool index;              /* pipOptions name an index: network on */
};

bool dos_pip_wanted(const struct dos_config *cfg)
{
	return cfg->pip_requirements || cfg->pip_requirement_lines.n > 0;
}

static bool option_is_index(const char *o)
{
	return !strcmp(o, "-i") || !strncmp(o, "--index-url", 11) ||
	       !strncmp(o, "--extra-index-url", 17);
}

static const char *multiarch(const char *arch)
{
	static const struct { const char *deb, *triplet; } map[] = {
		{ "amd64", "x86_64-linux-gnu" }, { "arm64", "aarch64-linux-gnu" },
		{ "ppc64el", "powerpc64le-linux-gnu" }, { "i386", "i386-linux-gnu" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].deb, arch))
			return map[i].triplet;
	return "x86_64-linux-gnu";
}

static void pip_release(struct pip *p)
{
	dos_rootfs_instance_free(p->inst);
	free(p->work);
	free(p->sources);
	free(p->wheels);
	free(p->out);
	free(p->log);
	free(p->script);
	free(p->requirements);
	free(p->python);
	dos_pip_sources_release(p->srcs, p->n_srcs);
	dos_strv_release(&p->env);
}

/* The clean environment of both phases: the bundle's Python first in
 * PATH, its libraries found before relocation gives them RPATHs. */
static void env_make(struct pip *p)
{
	const char *tri = multiarch(p->cfg->platform.arch);
	int jobs = p->ctx->jobs > 0 ? p->ctx->jobs : 1;

	dos_strv_push_owned(&p->env, dos_xasprintf("PATH=%s/usr/bin:/usr/local/sbin:/usr/local/bin:"
						   "/usr/sbin:/usr/bin:/sbin:/bin", p->root));
	dos_strv_push_owned(&p->env, dos_xasprintf("LD_LIBRARY_PATH=%s/usr/lib/%s:%s/usr/lib:"
						   "%s/lib/%s:%s/lib", p->root, tri, p->root,
						   p->root, tri, p->root));
	dos_strv_push(&p->env, "HOME=/tmp");
	dos_strv_push(&p->env, "LC_ALL=C.UTF-8");
	dos_strv_push(&p->env, "TMPDIR=/tmp");
	dos_strv_push_owned(&p->env, dos_xasprintf("SOURCE_DATE_EPOCH=%lld",
		(long long)dos_pack_source_date_epoch(DOS_BUILD_EPOCH)));
	dos_strv_push_owned(&p->env, dos_xasprintf("MAKEFLAGS=-j%d", jobs));
	/* Appended to the Python's own flags: no debug information, and no
	 * __FILE__, naming the staging tree (the headers are under it), so
	 * that the wheels hold no build path and suit any workDir. */
	dos_strv_push_owned(&p->env, dos_xasprintf("CFLAGS=-g0 -ffile-prefix-map=%s/=/", p->root));
	dos_strv_push_owned(&p->env, dos_xasprintf("CXXFLAGS=-g0 -ffile-prefix-map=%s/=/",
						   p->root));
	/* pip's own modules must not gain .pyc files that name the build path. */
	dos_strv_push(&p->env, "PYTHONDONTWRITEBYTECODE=1");
	dos_strv_push(&p->env, "PIP_DISABLE_PIP_VERSION_CHECK=1");
	dos_strv_push(&p->env, "PIP_NO_CACHE_DIR=1");
	dos_strv_push(&p->env, "PIP_ROOT_USER_ACTION=ignore");
	dos_strv_push(&p->env, "PIP_NO_INPUT=1");
	dos_strv_push(&p->env, p->index ? "DIRACOS_PIP_INDEX=" :
			       "DIRACOS_PIP_INDEX=--no-index --find-links /diracos/wheels");
}

/* The requirements, as a file for pip -r. */
static int requirements_write(struct pip *p)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (p->cfg->pip_requirements) {
		int r = dos_read_file(p->ctx, p->cfg->pip_requirements, 1 << 24, &text, &len);
		if (r < 0)
			return dos_error_prefix(p->ctx, "pipRequirements");
		return dos_write_file_atomic(p->ctx, p->requirements, text, len, 0644);
	}
	f = open_memstream(&text, &len);
	for (size_t i = 0; i < p->cfg->pip_requirement_lines.n; i++)
		fprintf(f, "%s\n", p->cfg->pip_requirement_lines.v[i]);
	fclose(f);
	return dos_write_file_atomic(p->ctx, p->requirements, text, len, 0644);
}

static int pip_init(struct dos_ctx *ctx, struct pip *p, const struct dos_config *cfg,
		    const char *work, const char *root)
{
	struct stat sb;
	int r;

	p->ctx = ctx;
	p->cfg = cfg;
	p->root = root;
	p->work = work ? dos_xstrdup(work) : dos_path_join(cfg->work_dir, "pip");
	p->sources = dos_path_join(p->work, "sources");
	p->out = dos_path_join(p->work, "out");
	p->log = work ? dos_path_join(work, "pip.log") : dos_path_join(cfg->work_dir, "logs/pip.log");
	p->script = dos_path_join(p->work, "wheels.sh");
	p->requirements = dos_path_join(p->work, "requirements.txt");
	p->python = dos_path_join(root, "usr/bin/python3");
	for (size_t i = 0; i < cfg->pip_options.n; i++)
		p->index |= option_is_index(cfg->pip_options.v[i]);
	if (lstat(p->python, &sb) < 0)
		return dos_error(ctx, DOS_ECONFIG, "pipRequirements: the bundle has no usr/bin/python3 "
				 "to run pip with: add our Python (python3.13) to "
				 "distributionPackages");
	if ((r = dos_mkdir_p(ctx, p->work, 0755)) < 0 || (r = dos_rm_rf(ctx, p->out)) < 0 ||
	    (r = dos_mkdir_p(ctx, p->out, 0755)) < 0 ||
	    (r = dos_mkdir_p(ctx, cfg->work_dir, 0755)) < 0)
		return r;
	{
		_cleanup_free_ char *logs = dos_path_dirname(p->log);
		if ((r = dos_mkdir_p(ctx, logs, 0755)) < 0 ||
		    (r = dos_write_file_atomic(ctx, p->log, "", 0, 0644)) < 0)
			return r;
	}
	r = dos_write_file_atomic(ctx, p->script, wheels_script, strlen(wheels_script), 0644);
	if (r == 0)
		r = requirements_write(p);
	env_make(p);
	return r;
}

/* The wheels' key: what the built wheels depend on. The requirements are
 * not in it: wheels are built from every source. */
static void wheels_key(struct pip *p, char key[DOS_SHA256_HEX])
{
	struct dos_sha256 *h = dos_sha256_new();
	const struct dos_config *cfg = p->cfg;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	fprintf(f, "%s\n%s %s\n", KEY_FORMAT, cfg->platform.suite, cfg->platform.arch);
	/* The Python the wheels are built for and against. */
	for (size_t i = 0; p->closure && i < p->closure->n; i++) {
		const struct dos_resolved_pkg *k = &p->closure->pkgs[i];
		if (!strncmp(k->name, "python3", 7) || !strncmp(k->name, "libpython3", 10))
			fprintf(f, "pkg %s %s %s\n", k->name, k->version, k->sha256);
	}
	if (p->python_key)
		fprintf(f, "python %s\n", p->python_key);
	for (size_t i = 0; i < p->n_srcs; i++)
		fprintf(f, "src %s %s\n", p->srcs[i].archive, p->srcs[i].sha256);
	for (size_t i = 0; i < cfg->pip_options.n; i++)
		fprintf(f, "opt %s\n", cfg->pip_options.v[i]);
	for (size_t i = 0; i < cfg->pip_build_dependencies.n; i++)
		fprintf(f, "dep %s\n", cfg->pip_build_dependencies.v[i]);
	fclose(f);
	dos_sha256_update(h, text, len);
	dos_sha256_final(h, key);
}

static int root_make(struct pip *p)
{
	struct dos_rootfs_opts ro = { .cfg = p->cfg, .variant = "buildd",
				      .extra_packages = &p->cfg->pip_build_dependencies };
	_cleanup_free_ char *dir = dos_path_join(p->work, "instance");
	int r;

	if (p->inst)
		return 0;
	dos_rm_rf(p->ctx, dir);
	dos_log_append(p->log, "diracos: the build root (buildd%s)\n",
		   p->cfg->pip_build_dependencies.n ? ", with pipBuildDependencies" : "");
	pthread_mutex_lock(&dos_archive_lock);
	r = dos_rootfs_instance(p->ctx, &ro, dir, &p->inst);
	pthread_mutex_unlock(&dos_archive_lock);
	return r < 0 ? dos_error_prefix(p->ctx, "pip step: build root") : 0;
}

static int run_failed(struct pip *p, const char *what, int status)
{
	_cleanup_free_ char *tail = dos_build_log_tail(p->log);

	return dos_error(p->ctx, DOS_ECHILD, "pip step: %s exited with status %d; the end of "
			 "'%s':\n%s", what, status, p->log, tail);
}

/* Runs argv in the build root: the staging tree read-write at its own
 * path, the sources read-only, the wheels writable when building them. */
static int sandbox_run(struct pip *p, const char *what, char *const argv[], const char *wheels,
		       bool building)
{
	struct dos_sandbox_bind binds[DOS_ROOTFS_BINDS_MAX + 6];
	size_t n = 0;
	int r, status = 0;

	for (size_t i = 0; i < p->inst->n_binds; i++)
		binds[n++] = p->inst->binds[i];
	binds[n++] = (struct dos_sandbox_bind){ p->root, p->root, true };
	binds[n++] = (struct dos_sandbox_bind){ p->sources, "/diracos/sources", false };
	binds[n++] = (struct dos_sandbox_bind){ wheels, "/diracos/wheels", building };
	binds[n++] = (struct dos_sandbox_bind){ p->out, "/diracos/out", true };
	binds[n++] = (struct dos_sandbox_bind){ p->script, "/diracos/wheels.sh", false };
	binds[n++] = (struct dos_sandbox_bind){ p->requirements, "/diracos/requirements.txt",
						false };
	struct dos_sandbox_opts so = {
		.root = p->inst->root, .binds = binds, .n_binds = n, .network = p->index,
		.root_writable = true, .argv = argv, .envp = p->env.v, .cwd = "/tmp",
		.log_path = p->log, .timeout_s = PIP_TIMEOUT_S,
	};
	dos_log_append(p->log, "diracos: %s\n", what);
	r = dos_sandbox_run(p->ctx, &so, &status);
	if (r < 0)
		return dos_error_prefix(p->ctx, "pip step: %s (log: '%s')", what, p->log);
	return status ? run_failed(p, what, status) : 0;
}

/* Builds the wheels into dir.tmp, then renames it to dir. */
static int wheels_build(struct pip *p, const char *dir)
{
	_cleanup_free_ char *tmp = dos_xasprintf("%s.tmp", dir);
	_cleanup_free_ char *origins = dos_path_join(tmp, "origins.tsv");
	struct dos_strv argv = { 0 };
	int r;

	dos_info(p->ctx, "pip: building wheels from %zu source archives", p->n_srcs);
	r = dos_rm_rf(p->ctx, tmp);
	if (r == 0)
		r = dos_mkdir_p(p->ctx, tmp, 0755);
	if (r == 0)
		r = dos_write_file_atomic(p->ctx, origins, "", 0, 0644);
	if (r == 0)
		r = root_make(p);
	dos_strv_push(&argv, "sh");
	dos_strv_push(&argv, "-e");
	dos_strv_push(&argv, "/diracos/wheels.sh");
	dos_strv_push(&argv, p->python);
	for (size_t i = 0; i < p->n_srcs; i++)
		dos_strv_push(&argv, p->srcs[i].archive);
	if (r == 0)
		r = sandbox_run(p, "building the wheels (pip wheel)", argv.v, tmp, true);
	if (r == 0 && rename(tmp, dir) < 0)
		r = dos_error_errno(p->ctx, DOS_EIO, errno, "cannot rename '%s'", tmp);
	dos_strv_release(&argv);
	return r;
}

/* Other keys' wheels: an earlier configuration's, not needed again. */
static void wheels_prune(struct pip *p, const char *keep)
{
	_cleanup_free_ char *parent = dos_path_join(p->work, "wheels");
	DIR *d = opendir(parent);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		_cleanup_free_ char *path = NULL;
		if (de->d_name[0] == '.' || !strcmp(de->d_name, keep))
			continue;
		path = dos_path_join(parent, de->d_name);
		dos_rm_rf(p->ctx, path);
	}
	if (d)
		closedir(d);
}

static int install(struct pip *p)
{
	struct dos_strv argv = { 0 };
	int r;

	dos_strv_push(&argv, p->python);
	dos_strv_push(&argv, "-m");
	dos_strv_push(&argv, "pip");
	dos_strv_push(&argv, "install");
	if (!p->index)
		dos_strv_push(&argv, "--no-index");
	dos_strv_push(&argv, "--find-links");
	dos_strv_push(&argv, "/diracos/wheels");
	/* .pyc files would hold the build path: Python writes them where it can. */
	dos_strv_push(&argv, "--no-compile");
	dos_strv_push(&argv, "--no-warn-script-location");
	dos_strv_push(&argv, "--report");
	dos_strv_push(&argv, "/diracos/out/report.json");
	for (size_t i = 0; i < p->cfg->pip_options.n; i++)
		dos_strv_push(&argv, p->cfg->pip_options.v[i]);
	dos_strv_push(&argv, "-r");
	dos_strv_push(&argv, "/diracos/requirements.txt");
	r = sandbox_run(p, "installing the requirements (pip install)", argv.v, p->wheels, false);
	dos_strv_release(&argv);
	return r;
}

/* --- what was installed --- */

static const struct dos_pip_source *source_of_wheel(struct pip *p, const char *wheel)
{
	_cleanup_free_ char *path = dos_path_join(p->wheels, "origins.tsv");
	_cleanup_free_ char *text = NULL;
	size_t len = 0, wl = strlen(wheel);

	if (dos_read_file(p->ctx, path, 1 << 20, &text, &len) < 0) {
		dos_error_clear(p->ctx);
		return NULL;
	}
	for (char *l = text; *l; l += strcspn(l, "\n"), l += *l == '\n') {
		if (strncmp(l, wheel, wl) || l[wl] != '\t')
			continue;
		for (size_t i = 0; i < p->n_srcs; i++) {
			size_t al = strlen(p->srcs[i].archive);
			if (!strncmp(l + wl + 1, p->srcs[i].archive, al) &&
			    (l[wl + 1 + al] == '\n' || !l[wl + 1 + al]))
				return &p->srcs[i];
		}
	}
	return NULL;
}

static int dist_cmp(const void *a, const void *b)
{
	const struct dos_pip_dist *x = a, *y = b;

	return strcasecmp(x->name, y->name);
}

static void dist_from_report(struct pip *p, json_t *item, struct dos_pip_result *res)
{
	json_t *md = json_object_get(item, "metadata"), *di = json_object_get(item, "download_info");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *version = json_string_value(json_object_get(md, "version"));
	const char *url = json_string_value(json_object_get(di, "url"));
	const char *hash = json_string_value(json_object_get(json_object_get(di, "archive_info"),
							      "hash"));
	const struct dos_pip_source *src = NULL;
	struct dos_pip_dist *d;

	if (!name || !version)
		return;
	if (url && strrchr(url, '/'))
		src = source_of_wheel(p, strrchr(url, '/') + 1);
	d = &res->dists[res->n++];
	d->name = dos_xstrdup(name);
	d->version = dos_xstrdup(version);
	if (src) {
		d->url = dos_xstrdup(src->url);
		d->sha256 = dos_xstrdup(src->sha256);
	} else if (url && strncmp(url, "file:", 5)) {
		/* From an index: its own URL and digest. */
		d->url = dos_xstrdup(url);
		if (hash && !strncmp(hash, "sha256=", 7))
			d->sha256 = dos_xstrdup(hash + 7);
	}
}

static int report_read(struct pip *p, struct dos_pip_result *res)
{
	_cleanup_free_ char *path = dos_path_join(p->out, "report.json");
	json_error_t err;
	json_t *doc = json_load_file(path, 0, &err), *install, *item;
	size_t i;

	if (!doc)
		return dos_error(p->ctx, DOS_EFORMAT, "pip step: pip's report '%s': %s", path,
				 err.text);
	install = json_object_get(doc, "install");
	res->dists = dos_xcalloc(json_array_size(install) + 1, sizeof(*res->dists));
	json_array_foreach(install, i, item)
		dist_from_report(p, item, res);
	json_decref(doc);
	dos_qsort(res->dists, res->n, sizeof(*res->dists), dist_cmp);
	return 0;
}

static json_t *result_json(const struct dos_pip_result *res)
{
	json_t *a = json_array();

	for (size_t i = 0; i < res->n; i++) {
		const struct dos_pip_dist *d = &res->dists[i];
		json_t *o = json_pack("{s:s, s:s}", "name", d->name, "version", d->version);
		if (d->url)
			json_object_set_new(o, "url", json_string(d->url));
		if (d->sha256)
			json_object_set_new(o, "sha256", json_string(d->sha256));
		json_array_append_new(a, o);
	}
	return json_pack("{s:o}", "installed", a);
}

static int installed_write(struct pip *p, const struct dos_pip_result *res)
{
	_cleanup_free_ char *path = dos_path_join(p->work, "installed.json");
	json_t *doc = result_json(res);
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	int r = dos_write_file_atomic(p->ctx, path, text, strlen(text), 0644);

	free(text);
	json_decref(doc);
	return r;
}

int dos_pip_installed_read(struct dos_ctx *ctx, const struct dos_config *cfg,
			   struct dos_pip_result *res)
{
	_cleanup_free_ char *path = dos_path_join(cfg->work_dir, "pip/installed.json");
	json_error_t err;
	json_t *doc, *a, *o;
	size_t i;

	memset(res, 0, sizeof(*res));
	if (access(path, F_OK) < 0)
		return dos_error(ctx, DOS_EFAIL, "no pip step has run for '%s' ('%s' is missing): "
				 "run diracos bundle first", cfg->name, path);
	doc = json_load_file(path, 0, &err);
	a = json_object_get(doc, "installed");
	if (!json_is_array(a)) {
		json_decref(doc);
		return dos_error(ctx, DOS_EFORMAT, "'%s': not a list of installed distributions%s%s",
				 path, doc ? "" : ": ", doc ? "" : err.text);
	}
	res->dists = dos_xcalloc(json_array_size(a) + 1, sizeof(*res->dists));
	json_array_foreach(a, i, o) {
		const char *name = json_string_value(json_object_get(o, "name"));
		const char *version = json_string_value(json_object_get(o, "version"));
		const char *url = json_string_value(json_object_get(o, "url"));
		const char *sha = json_string_value(json_object_get(o, "sha256"));
		if (!name || !version)
			continue;
		res->dists[res->n++] = (struct dos_pip_dist){ dos_xstrdup(name),
			dos_xstrdup(version), url ? dos_xstrdup(url) : NULL,
			sha ? dos_xstrdup(sha) : NULL };
	}
	json_decref(doc);
	return 0;
}

void dos_pip_result_release(struct dos_pip_result *res)
{
	for (size_t i = 0; res->dists && i < res->n; i++) {
		free(res->dists[i].name);
		free(res->dists[i].version);
		free(res->dists[i].url);
		free(res->dists[i].sha256);
	}
	free(res->dists);
	memset(res, 0, sizeof(*res));
}

/* --- the step --- */

static int pip_run(struct pip *p, struct dos_pip_result *res)
{
	char key[DOS_SHA256_HEX];
	_cleanup_free_ char *parent = dos_path_join(p->work, "wheels");
	struct stat sb;
	int r;

	r = dos_pip_sources_prepare(p->ctx, p->cfg, p->cache, p->sources, p->log, &p->srcs,
				    &p->n_srcs);
	if (r < 0)
		return r;
	wheels_key(p, key);
	p->wheels = dos_path_join(parent, key);
	if (stat(p->wheels, &sb) < 0)
		r = wheels_build(p, p->wheels);
	else
		dos_debug(p->ctx, "pip: wheels of key %.12s are built", key);
	if (r == 0) {
		wheels_prune(p, key);
		r = root_make(p);
	}
	if (r == 0)
		r = install(p);
	if (r == 0)
		r = report_read(p, res);
	if (r == 0)
		r = installed_write(p, res);
	if (r == 0)
		r = dos_pip_fix_tree(p->ctx, p->root);
	return r;
}

static int step(struct dos_ctx *ctx, const struct dos_config *cfg, struct dos_cache *cache,
		const struct dos_closure *closure, const char *python_key, const char *work,
		const char *root, struct dos_pip_result *res)
{
	struct pip p = { 0 };
	int r = 0;

	memset(res, 0, sizeof(*res));
	if (dos_pip_wanted(cfg)) {
		p.cache = cache;
		p.closure = closure;
		p.python_key = python_key;
		r = pip_init(ctx, &p, cfg, work, root);
		if (r == 0)
			r = pip_run(&p, res);
		if (r == 0)
			dos_info(ctx, "pip: %zu Python distributions installed", res->n);
		pip_release(&p);
	}
	if (r == 0)
		r = dos_pip_tls(ctx, root);
	return r;
}

int dos_pip_step(struct dos_ctx *ctx, const struct dos_config *cfg, struct dos_cache *cache,
		 const struct dos_closure *closure, const char *root, struct dos_pip_result *res)
{
	return step(ctx, cfg, cache, closure, NULL, NULL, root, res);
}

int dos_pip_step_keyed(struct dos_ctx *ctx, const struct dos_config *cfg,
		       struct dos_cache *cache, const char *python_key, const char *work,
		       const char *root, struct dos_pip_result *res)
{
	return step(ctx, cfg, cache, NULL, python_key, work, root, res);
}
