/* Distribution source packages: "src": "NAME[=VERSION][@SUITE]". See
 * build.h. The stanza is chosen from the suite's signed Sources index
 * (when the plan is made, so that the content key follows the archive),
 * its files are fetched and verified by sha256, and in a sandboxed buildd
 * root of the platform's suite:
 *
 *   dpkg-source --no-check -x /diracos/sources/<dsc> /diracos/build/src
 *   patch -p1 -i /diracos/package.patch       when <patchDir>/<name>.patch exists
 *   sh -e /diracos/preRoutine.sh              when preRoutine is set
 *   apt-get build-dep -y ./                   the only step with the network
 *   dpkg-buildpackage -b -us -uc              (or sh -e /diracos/routine.sh)
 *   sh -e /diracos/postRoutine.sh             when postRoutine is set
 *
 * then the .deb files pkgList and excludePatterns keep (never a dbgsym)
 * are committed to the local repository with the build record. Choosing
 * the stanza is build_src_pick.c. */
#include "build_src_internal.h"
#include "build_rpm.h"
#include "dist.h"
#include "mirror.h"
#include "rootfs.h"
#include "sandbox.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>


/* --- which .deb files are kept --- */

/* The package name of "<name>_<version>_<arch>.deb", or NULL. */
static char *deb_package(const char *file)
{
	size_t n = strlen(file), u = strcspn(file, "_");
	char *name;

	if (n < 5 || strcmp(file + n - 4, ".deb") || u == n)
		return NULL;
	name = dos_xasprintf("%.*s", (int)u, file);
	if (!dos_build_name_valid(name))
		free(dos_steal(&name));
	return name;
}

static bool is_dbgsym(const char *name)
{
	size_t n = strlen(name);

	return n > 7 && !strcmp(name + n - 7, "-dbgsym");
}

static int patterns_compile(struct dos_ctx *ctx, const struct dos_strv *pats, regex_t *res)
{
	for (size_t i = 0; pats && i < pats->n; i++) {
		int e = regcomp(&res[i], pats->v[i], REG_EXTENDED | REG_NOSUB);
		if (e) {
			char why[128];
			regerror(e, &res[i], why, sizeof(why));
			for (size_t k = 0; k < i; k++)
				regfree(&res[k]);
			return dos_error(ctx, DOS_ECONFIG, "excludePatterns '%s' is not a POSIX extended "
					 "regular expression: %s", pats->v[i], why);
		}
	}
	return 0;
}

static bool excluded(const regex_t *res, size_t n, const char *file)
{
	for (size_t i = 0; i < n; i++)
		if (regexec(&res[i], file, 0, NULL, 0) == 0)
			return true;
	return false;
}

static int list_check(struct dos_ctx *ctx, const struct dos_strv *pkg_list,
		      const struct dos_strv *names, const struct dos_strv *produced)
{
	char got[512] = "";
	size_t used = 0;

	for (size_t i = 0; pkg_list && i < pkg_list->n; i++) {
		if (dos_strv_contains(names, pkg_list->v[i]))
			continue;
		for (size_t k = 0; k < produced->n && used < sizeof(got); k++)
			used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%s", k ? ", " : "",
						 produced->v[k]);
		return dos_error(ctx, DOS_EFAIL, "pkgList names '%s', which the build did not produce "
				 "or excludePatterns dropped (produced: %s)", pkg_list->v[i],
				 produced->n ? got : "nothing");
	}
	return 0;
}

int dos_build_src_filter(struct dos_ctx *ctx, const struct dos_strv *files,
			 const struct dos_strv *pkg_list, const struct dos_strv *exclude,
			 struct dos_strv *kept)
{
	size_t np = exclude ? exclude->n : 0;
	regex_t *res = dos_xcalloc(np + 1, sizeof(*res));
	struct dos_strv names = { 0 }, produced = { 0 };
	int r = patterns_compile(ctx, exclude, res);
	bool compiled = r == 0;

	for (size_t i = 0; r == 0 && i < files->n; i++) {
		_cleanup_free_ char *name = deb_package(files->v[i]);
		if (!name)
			continue;
		dos_strv_push(&produced, files->v[i]);
		if (is_dbgsym(name) || excluded(res, np, files->v[i]) ||
		    (pkg_list && pkg_list->n && !dos_strv_contains(pkg_list, name)))
			continue;
		dos_strv_push(kept, files->v[i]);
		dos_strv_push(&names, name);
	}
	if (r == 0)
		r = list_check(ctx, pkg_list, &names, &produced);
	if (r == 0 && kept->n == 0)
		r = dos_error(ctx, DOS_EFAIL, "no .deb file is left after pkgList and excludePatterns "
			      "(%zu produced)", produced.n);
	dos_strv_sort(kept);
	for (size_t i = 0; compiled && i < np; i++)
		regfree(&res[i]);
	free(res);
	dos_strv_release(&names);
	dos_strv_release(&produced);
	return r;
}

/* --- DEB_BUILD_OPTIONS --- */

static void word_drop(struct dos_strv *w, const char *word, size_t prefix)
{
	for (size_t i = 0; i < w->n; i++)
		if (prefix ? !strncmp(w->v[i], word, prefix) : !strcmp(w->v[i], word)) {
			free(w->v[i]);
			memmove(&w->v[i], &w->v[i + 1], (w->n - i) * sizeof(*w->v));
			w->n--;
			i--;
		}
}

static void word_add(struct dos_strv *w, const char *word)
{
	const char *eq = strchr(word, '=');

	if (!strcmp(word, "check") || !strcmp(word, "doc")) {
		_cleanup_free_ char *no = dos_xasprintf("no%s", word);
		word_drop(w, no, 0);
		return;
	}
	if (!strncmp(word, "timeout=", 8))
		return;
	if (eq)
		word_drop(w, word, (size_t)(eq - word + 1));
	if (!dos_strv_contains(w, word))
		dos_strv_push(w, word);
}

static char *words_join(const struct dos_strv *w, const char *sep, bool only_profiles)
{
	char *out = dos_xstrdup(""), *next;

	for (size_t i = 0; i < w->n; i++) {
		if (only_profiles && strcmp(w->v[i], "nocheck") && strcmp(w->v[i], "nodoc"))
			continue;
		next = dos_xasprintf("%s%s%s", out, *out ? sep : "", w->v[i]);
		free(out);
		out = next;
	}
	return out;
}

char *dos_build_src_deb_options(const json_t *build_options, int jobs, char **profiles)
{
	struct dos_strv w = { 0 };
	const json_t *v;
	char *out, par[32];
	size_t i;

	snprintf(par, sizeof(par), "parallel=%d", jobs > 0 ? jobs : 1);
	dos_strv_push(&w, "nocheck");
	dos_strv_push(&w, "nodoc");
	dos_strv_push(&w, par);
	json_array_foreach((json_t *)build_options, i, v) {
		_cleanup_free_ char *text = dos_xstrdup(json_is_string(v) ? json_string_value(v) : "");
		char *save = NULL;
		for (char *t = strtok_r(text, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
			word_add(&w, t);
	}
	out = words_join(&w, " ", false);
	/* The build profiles that go with them: Build-Depends say <!nocheck>. */
	*profiles = words_join(&w, " ", true);
	dos_strv_release(&w);
	return out;
}

/* --- the build --- */

struct sbuild {
	struct dos_ctx *ctx;
	const struct dos_build_opts *o;
	const struct dos_package *p;
	struct dos_build_src_pick pick;
	struct dos_fetch_item *items;    /* the pick's files, in the cache */
	char *dir, *out, *log, *patch, *dsc;
	char *debopts, *profiles;
	struct dos_strv env;
	struct dos_rootfs_instance *inst;
	int timeout_s;
};

static void sbuild_release(struct sbuild *b)
{
	dos_rootfs_instance_free(b->inst);
	if (b->items)
		dos_fetch_items_release(b->items, b->pick.n_files);
	free(b->items);
	dos_build_src_pick_release(&b->pick);
	free(b->dir);
	free(b->out);
	free(b->log);
	free(b->patch);
	free(b->dsc);
	free(b->debopts);
	free(b->profiles);
	dos_strv_release(&b->env);
}

static char *patch_path(const struct dos_package *p)
{
	const char *pdir = json_string_value(json_object_get(p->options, "patchDir"));
	_cleanup_free_ char *name = dos_xasprintf("%s.patch", p->name);
	char *path = pdir ? dos_path_join(pdir, name) : NULL;

	if (path && access(path, F_OK) < 0)
		free(dos_steal(&path));
	return path;
}

static void env_make(struct sbuild *b)
{
	dos_strv_push(&b->env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	dos_strv_push(&b->env, "HOME=/tmp");
	dos_strv_push(&b->env, "LC_ALL=C.UTF-8");
	dos_strv_push(&b->env, "TZ=UTC");
	dos_strv_push(&b->env, "DEBIAN_FRONTEND=noninteractive");
	dos_strv_push_owned(&b->env, dos_xasprintf("DEB_BUILD_OPTIONS=%s", b->debopts));
	if (*b->profiles)
		dos_strv_push_owned(&b->env, dos_xasprintf("DEB_BUILD_PROFILES=%s", b->profiles));
}

/* A leftover instance of a crashed run may still be mounted. */
static int sbuild_init(struct dos_ctx *ctx, struct sbuild *b, const struct dos_build_opts *o)
{
	const char *work = o->cfg->work_dir;
	_cleanup_free_ char *logs = dos_path_join(work, "logs");
	_cleanup_free_ char *root = NULL;
	int r;

	memset(b, 0, sizeof(*b));
	b->ctx = ctx;
	b->o = o;
	b->p = o->pkg;
	b->dir = dos_xasprintf("%s/build/%s", work, b->p->name);
	b->out = dos_path_join(b->dir, "build");
	b->log = dos_xasprintf("%s/%s.log", logs, b->p->name);
	b->patch = patch_path(b->p);
	b->timeout_s = dos_build_timeout(b->p);
	b->debopts = dos_build_src_deb_options(json_object_get(b->p->options, "buildOptions"),
					       o->jobs, &b->profiles);
	env_make(b);
	root = dos_path_join(b->dir, "instance/root");
	umount2(root, MNT_DETACH);
	if ((r = dos_rm_rf(ctx, b->dir)) < 0 || (r = dos_mkdir_p(ctx, b->out, 0755)) < 0 ||
	    (r = dos_mkdir_p(ctx, logs, 0755)) < 0)
		return r;
	return dos_write_file_atomic(ctx, b->log, "", 0, 0644);
}

/* The stanza pinned by the plan, else chosen now. */
static int sbuild_pick(struct sbuild *b)
{
	const json_t *pinned = json_object_get(b->p->options, SRC_RESOLVED);
	struct dos_build_src_spec spec;
	int r;

	if (pinned)
		return build_src_pick_from_json(b->ctx, pinned, &b->pick);
	if ((r = build_src_spec_of(b->ctx, b->o->cfg, b->p, &spec)) < 0)
		return r;
	r = dos_build_src_resolve(b->ctx, b->o->cfg, b->o->cache, &spec, 1, &b->pick);
	if (r == 0 && !b->pick.version)
		r = build_src_pick_missing(b->ctx, b->o->cfg, &spec);
	dos_build_src_spec_release(&spec);
	return r;
}

static int sbuild_fetch(struct sbuild *b)
{
	const struct dos_build_src_pick *pk = &b->pick;
	_cleanup_free_ char *mirror = dos_mirror_for(b->ctx, b->o->cfg->platform.mirror, pk->suite);
	struct dos_strv urls = { 0 };
	int r;

	if (!mirror)
		return DOS_ECONFIG;
	b->items = dos_xcalloc(pk->n_files + 1, sizeof(*b->items));
	for (size_t i = 0; i < pk->n_files; i++) {
		dos_strv_push_owned(&urls, dos_xasprintf("%s/%s/%s", mirror, pk->directory,
							 pk->files[i].name));
		b->items[i] = (struct dos_fetch_item){ .url = urls.v[i], .sha256 = pk->files[i].sha256,
						       .size = pk->files[i].size,
						       .name = pk->files[i].name };
		if (build_src_is_dsc(pk->files[i].name))
			b->dsc = dos_xstrdup(pk->files[i].name);
		dos_log_append(b->log, "diracos: source file %s\n", urls.v[i]);
	}
	r = dos_fetch_many(b->ctx, b->o->cache, b->items, pk->n_files, "sources");
	for (size_t i = 0; i < pk->n_files; i++)
		b->items[i].url = NULL;
	dos_strv_release(&urls);
	if (r < 0)
		return dos_error_prefix(b->ctx, "source package '%s' %s (%s)", pk->package,
					pk->version, pk->suite);
	return b->dsc ? 0 : dos_error(b->ctx, DOS_EFORMAT, "source package '%s': no .dsc",
				      pk->package);
}

/* apt in the instance sees both sections of the local repository. */
static int root_make(struct sbuild *b)
{
	struct dos_rootfs_opts ro = { .cfg = b->o->cfg, .variant = "buildd" };
	_cleanup_free_ char *dir = dos_path_join(b->dir, "instance");
	_cleanup_free_ char *list = NULL, *path = NULL;
	int r = dos_rootfs_instance(b->ctx, &ro, dir, &b->inst);

	if (r < 0 || !b->inst->repo)
		return r;
	list = dos_repo_sources_list(DOS_ROOTFS_REPO_PATH);
	path = dos_path_join(b->inst->root, "etc/apt/sources.list.d/diracos-repo.list");
	return dos_write_file_atomic(b->ctx, path, list, strlen(list), 0644);
}


/* Runs argv in the build root: the source files read-only in
 * /diracos/sources, the build folder read-write at /diracos/build, and
 * file (a patch or a routine; may be NULL) read-only at dest. */
static int step_run(struct sbuild *b, const char *what, char *const argv[], const char *cwd,
		    bool network, const char *file, const char *dest)
{
	size_t cap = b->inst->n_binds + b->pick.n_files + 3, n = 0;
	struct dos_sandbox_bind *binds = dos_xcalloc(cap, sizeof(*binds));
	struct dos_strv names = { 0 };
	int r, status = 0;

	for (size_t i = 0; i < b->inst->n_binds; i++)
		binds[n++] = b->inst->binds[i];
	for (size_t i = 0; i < b->pick.n_files; i++) {
		dos_strv_push_owned(&names, dos_xasprintf("/diracos/sources/%s", b->pick.files[i].name));
		binds[n++] = (struct dos_sandbox_bind){ b->items[i].path, names.v[i], false };
	}
	binds[n++] = (struct dos_sandbox_bind){ b->out, "/diracos/build", true };
	if (file)
		binds[n++] = (struct dos_sandbox_bind){ file, dest, false };
	struct dos_sandbox_opts so = {
		.root = b->inst->root, .binds = binds, .n_binds = n, .network = network,
		.root_writable = true, .argv = argv, .envp = b->env.v, .cwd = cwd,
		.log_path = b->log, .timeout_s = b->timeout_s,
	};
	dos_log_append(b->log, "diracos: %s\n", what);
	r = dos_sandbox_run(b->ctx, &so, &status);
	free(binds);
	dos_strv_release(&names);
	if (r < 0)
		return dos_error_prefix(b->ctx, "%s (log: '%s')", what, b->log);
	return status ? dos_build_step_failed(b->ctx, what, argv, cwd, status, b->log) : 0;
}

#define TREE "/diracos/build/src"

/* preRoutine, routine or postRoutine, when set: sh -e in the tree. */
static int step_routine(struct sbuild *b, const char *kind, bool *ran)
{
	const char *v = json_string_value(json_object_get(b->p->options, kind));
	const char *dir = json_string_value(json_object_get(b->p->options, "routineDir"));
	_cleanup_free_ char *file = v ? dos_path_absolute(dir, v) : NULL;
	_cleanup_free_ char *dest = dos_xasprintf("/diracos/%s.sh", kind);
	_cleanup_free_ char *what = dos_xasprintf("%s '%s'", kind, file);
	char *argv[] = { "sh", "-e", dest, NULL };

	*ran = file != NULL;
	return file ? step_run(b, what, argv, TREE, false, file, dest) : 0;
}

static int steps_run(struct sbuild *b)
{
	static const char apt[] = "apt-get -q update && apt-get -q build-dep -y "
				  "--no-install-recommends \"$@\" ./";
	_cleanup_free_ char *dsc = dos_xasprintf("/diracos/sources/%s", b->dsc);
	_cleanup_free_ char *prof = dos_xstrdup(b->profiles);
	char *xargv[] = { "dpkg-source", "--no-check", "-x", dsc, TREE, NULL };
	char *pargv[] = { "patch", "-p1", "-i", "/diracos/package.patch", NULL };
	char *aargv[] = { "sh", "-c", (char *)apt, "sh", *prof ? "-P" : NULL, prof, NULL };
	char *bargv[] = { "dpkg-buildpackage", "-b", "-us", "-uc", NULL };
	bool ran = false;
	int r;

	/* apt takes the profiles comma-separated, the environment spaced. */
	for (char *c = prof; *c; c++)
		*c = *c == ' ' ? ',' : *c;
	dos_log_append(b->log, "diracos: DEB_BUILD_OPTIONS='%s' DEB_BUILD_PROFILES='%s'\n", b->debopts,
		   b->profiles);
	r = step_run(b, "dpkg-source", xargv, "/diracos/build", false, NULL, NULL);
	if (r == 0 && b->patch)
		r = step_run(b, "patch", pargv, TREE, false, b->patch, "/diracos/package.patch");
	if (r == 0)
		r = step_routine(b, "preRoutine", &ran);
	if (r == 0)
		r = step_run(b, "installing the build dependencies", aargv, TREE, true, NULL, NULL);
	if (r == 0)
		r = step_routine(b, "routine", &ran);
	if (r == 0 && !ran)
		r = step_run(b, "dpkg-buildpackage", bargv, TREE, false, NULL, NULL);
	return r == 0 ? step_routine(b, "postRoutine", &ran) : r;
}

/* The .deb files dpkg-buildpackage left next to the tree, filtered. */
static int outputs_collect(struct sbuild *b, struct dos_strv *debs)
{
	struct dos_strv files = { 0 }, kept = { 0 };
	DIR *d = opendir(b->out);
	struct stat st;
	struct dirent *e;
	int r;

	if (!d)
		return dos_error_errno(b->ctx, DOS_EIO, errno, "cannot read '%s'", b->out);
	/* Only regular files: a link the build left must not be followed. */
	while ((e = readdir(d)))
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			dos_strv_push(&files, e->d_name);
	closedir(d);
	dos_strv_sort(&files);
	r = dos_build_src_filter(b->ctx, &files, &b->p->pkg_list, &b->p->exclude_patterns, &kept);
	for (size_t i = 0; r == 0 && i < kept.n; i++) {
		dos_strv_push_owned(debs, dos_path_join(b->out, kept.v[i]));
		dos_log_append(b->log, "diracos: output %s\n", kept.v[i]);
	}
	dos_strv_release(&files);
	dos_strv_release(&kept);
	return r;
}

static int outputs_commit(struct sbuild *b)
{
	struct dos_repo_record rec = { .name = b->p->name, .key = b->o->key,
				       .inputs = b->o->inputs, .log_path = b->log,
				       .build_only = b->p->build_only };
	struct dos_strv debs = { 0 };
	int r = outputs_collect(b, &debs);

	if (r == 0)
		r = dos_repo_commit(b->ctx, b->o->repo, &rec, (const char *const *)debs.v, debs.n);
	dos_strv_release(&debs);
	return r;
}

int dos_build_src_package(struct dos_ctx *ctx, const struct dos_build_opts *o)
{
	struct sbuild b;
	int r = sbuild_init(ctx, &b, o);

	if (r == 0)
		r = sbuild_pick(&b);
	if (r == 0) {
		dos_log_append(b.log, "diracos: package %s: source package %s %s (%s), key %s\n",
			   b.p->name, b.pick.package, b.pick.version, b.pick.suite, o->key);
		r = sbuild_fetch(&b);
	}
	if (r == 0)
		r = root_make(&b);
	if (r == 0)
		r = steps_run(&b);
	if (r == 0)
		r = outputs_commit(&b);
	r = dos_build_end(ctx, r, b.log, &b.inst, b.dir);
	sbuild_release(&b);
	return r < 0 ? dos_error_prefix(ctx, "package '%s'", o->pkg->name) : 0;
}
