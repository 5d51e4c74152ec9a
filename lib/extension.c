/* diracos extension: see extension.h and docs/extension.md. */
#include "extension.h"
#include "assemble.h"
#include "build.h"
#include "fetch.h"
#include "pack.h"
#include "bytecode.h"
#include "relocate.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct ext {
	struct dos_ctx *ctx;
	const struct dos_config *cfg;
	struct dos_extension_result *res;
	char *dir, *unpacked, *tree, *top, *pack, *pip;
};

/* One entry of the tree, as the snapshot knows it. */
struct node {
	char *rel;
	mode_t mode;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	char *target;          /* a link's */
};

struct snapshot {
	struct node *v;
	size_t n, alloc;
};

static void snapshot_release(struct snapshot *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].rel);
		free(s->v[i].target);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int walk(struct dos_ctx *ctx, const char *root, const char *rel, struct snapshot *s)
{
	_cleanup_free_ char *path = *rel ? dos_path_join(root, rel) : dos_xstrdup(root);
	DIR *d = opendir(path);
	struct dirent *de;
	int r = 0;

	if (!d)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot read '%s'", path);
	while (r == 0 && (de = readdir(d))) {
		_cleanup_free_ char *crel = NULL, *full = NULL;
		struct stat sb;
		struct node *nd;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		crel = *rel ? dos_path_join(rel, de->d_name) : dos_xstrdup(de->d_name);
		full = dos_path_join(root, crel);
		if (lstat(full, &sb) < 0) {
			r = dos_error_errno(ctx, DOS_EIO, errno, "cannot stat '%s'", full);
			break;
		}
		if (s->n == s->alloc) {
			s->alloc = s->alloc ? 2 * s->alloc : 4096;
			s->v = dos_xrealloc(s->v, s->alloc * sizeof(*s->v));
		}
		nd = &s->v[s->n++];
		*nd = (struct node){ dos_xstrdup(crel), sb.st_mode, sb.st_ino, sb.st_size,
				     sb.st_mtim, NULL };
		if (S_ISLNK(sb.st_mode)) {
			char buf[PATH_MAX];
			ssize_t n = readlink(full, buf, sizeof(buf) - 1);
			buf[n > 0 ? n : 0] = '\0';
			nd->target = dos_xstrdup(buf);
		}
		if (S_ISDIR(sb.st_mode))
			r = walk(ctx, root, crel, s);
	}
	closedir(d);
	return r;
}

static int node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct node *)a)->rel, ((const struct node *)b)->rel);
}

static int snapshot_take(struct dos_ctx *ctx, const char *root, struct snapshot *s)
{
	int r = walk(ctx, root, "", s);

	if (r == 0)
		dos_qsort(s->v, s->n, sizeof(*s->v), node_cmp);
	return r;
}

static bool node_same(const struct node *a, const struct node *b)
{
	if (a->mode != b->mode)
		return false;
	if (S_ISDIR(a->mode))
		return true;
	if (S_ISLNK(a->mode))
		return !strcmp(a->target, b->target);
	return a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* --- the base --- */

static bool is_url(const char *s)
{
	return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8) || !strncmp(s, "file://", 7);
}

/* A version of cfg->name in the output folder: .tar.zst, else .tar.gz. */
static char *base_by_version(const struct dos_config *cfg, const char *version)
{
	struct dos_config copy = *cfg;
	_cleanup_free_ char *basename = NULL;
	static const char *const exts[] = { ".tar.zst", ".tar.gz", ".tar.xz" };

	copy.version = (char *)version;
	basename = dos_assemble_basename(&copy);
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		char *p = dos_xasprintf("%s/%s%s", cfg->output_directory, basename, exts[i]);
		if (access(p, R_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

static int base_find(struct ext *e, char **path)
{
	const char *v = e->cfg->diracos_version;
	_cleanup_free_ char *cfgdir = dos_path_dirname(e->cfg->path);
	_cleanup_free_ char *local = NULL;

	*path = NULL;
	if (is_url(v)) {
		const char *base = strrchr(v, '/') + 1;
		*path = dos_path_join(e->dir, *base ? base : "base.tar");
		return dos_fetch_to_file(e->ctx, v, *path) < 0 ?
		       dos_error_prefix(e->ctx, "diracOsVersion '%s'", v) : 0;
	}
	local = dos_path_absolute(cfgdir, v);
	if (strchr(v, '/') || strstr(v, ".tar")) {
		if (access(local, R_OK) < 0)
			return dos_error_errno(e->ctx, DOS_ECONFIG, errno, "diracOsVersion: the base "
					       "tarball '%s' cannot be read", local);
		*path = dos_steal(&local);
		return 0;
	}
	*path = base_by_version(e->cfg, v);
	if (!*path)
		return dos_error(e->ctx, DOS_ECONFIG, "diracOsVersion '%s': no base tarball of '%s' "
				 "at that version in '%s' (give a version there, a tarball path, or "
				 "a URL)", v, e->cfg->name, e->cfg->output_directory);
	return 0;
}

/* The tarball's single top folder, the tree pip works on. */
static int base_unpack(struct ext *e, const char *tarball)
{
	DIR *d;
	struct dirent *de;
	int r = dos_rm_rf(e->ctx, e->unpacked);

	if (r == 0)
		r = dos_mkdir_p(e->ctx, e->unpacked, 0755);
	if (r == 0)
		r = dos_build_unpack(e->ctx, tarball, e->unpacked);
	if (r < 0)
		return dos_error_prefix(e->ctx, "base bundle '%s'", tarball);
	d = opendir(e->unpacked);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (e->top) {
			free(e->top);
			e->top = NULL;
			break;
		}
		e->top = dos_xstrdup(de->d_name);
	}
	if (d)
		closedir(d);
	if (!e->top)
		return dos_error(e->ctx, DOS_EFORMAT, "base bundle '%s': not one top folder",
				 tarball);
	e->tree = dos_path_join(e->unpacked, e->top);
	return 0;
}

/* --- the extension's tree --- */

static int copy_in(struct ext *e, const struct node *nd)
{
	_cleanup_free_ char *src = dos_path_join(e->tree, nd->rel);
	_cleanup_free_ char *dst = dos_path_join(e->pack, nd->rel);
	_cleanup_free_ char *parent = dos_path_dirname(dst);
	int r = dos_mkdir_p(e->ctx, parent, 0755);

	if (r < 0)
		return r;
	if (S_ISDIR(nd->mode))
		r = mkdir(dst, nd->mode & 07777) < 0 && errno != EEXIST ? -1 : 0;
	else if (S_ISLNK(nd->mode))
		r = symlink(nd->target, dst);
	else
		r = rename(src, dst);   /* the tree is unpacked again next time */
	if (r < 0)
		return dos_error_errno(e->ctx, DOS_EIO, errno, "extension tree: cannot add '%s'",
				       nd->rel);
	return 0;
}

/* What is new or changed since the snapshot; what went is noted. */
static int diff_pack(struct ext *e, const struct snapshot *before, const struct snapshot *after)
{
	size_t i = 0, k = 0;
	int r = dos_rm_rf(e->ctx, e->pack);

	if (r == 0)
		r = dos_mkdir_p(e->ctx, e->pack, 0755);
	while (r == 0 && (i < before->n || k < after->n)) {
		int c = i == before->n ? 1 : k == after->n ? -1 :
			strcmp(before->v[i].rel, after->v[k].rel);
		if (c < 0) {
			dos_strv_push(&e->res->removed, before->v[i++].rel);
			continue;
		}
		if (c > 0 || !node_same(&before->v[i], &after->v[k])) {
			r = copy_in(e, &after->v[k]);
			e->res->files++;
		}
		if (c == 0)
			i++;
		k++;
	}
	return r;
}

static char *versions_text(const struct dos_config *cfg, const struct dos_pip_result *pip)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	fprintf(f, "extension %s\nversion %s\nbase %s\n\n# python distributions: %zu\n",
		cfg->extension_name, cfg->version, cfg->diracos_version, pip->n);
	for (size_t i = 0; i < pip->n; i++)
		fprintf(f, "%s %s%s%s\n", pip->dists[i].name, pip->dists[i].version,
			pip->dists[i].url ? " " : "", pip->dists[i].url ? pip->dists[i].url : "");
	fclose(f);
	return text;
}

static int versions_write(struct ext *e)
{
	_cleanup_free_ char *name = dos_xasprintf("%s_versions.txt", e->cfg->extension_name);
	_cleanup_free_ char *text = versions_text(e->cfg, &e->res->pip);
	_cleanup_free_ char *inside = dos_path_join(e->pack, name);
	int r = dos_write_file_atomic(e->ctx, inside, text, strlen(text), 0644);

	e->res->versions = dos_path_join(e->cfg->output_directory, name);
	if (r == 0)
		r = dos_mkdir_p(e->ctx, e->cfg->output_directory, 0755);
	if (r == 0)
		r = dos_write_file_atomic(e->ctx, e->res->versions, text, strlen(text), 0644);
	return r;
}

static int pack(struct ext *e)
{
	_cleanup_free_ char *basename = dos_xasprintf("%s-%s", e->cfg->extension_name,
						      e->cfg->version);
	struct dos_pack_opts o = {
		.root = e->pack, .top = e->top, .out_dir = e->cfg->output_directory,
		.basename = basename, .compression = &e->cfg->compression,
		.mtime = dos_pack_source_date_epoch(time(NULL)), .threads = e->ctx->jobs,
	};
	struct dos_pack_result pr;
	int r;

	memset(&pr, 0, sizeof(pr));
	r = dos_pack(e->ctx, &o, &pr);
	for (size_t i = 0; r == 0 && i < pr.paths.n; i++)
		dos_strv_push(&e->res->tarballs, pr.paths.v[i]);
	dos_pack_result_release(&pr);
	return r;
}

static int relocate(struct ext *e)
{
	struct dos_relocate_opts o = {
		.root = e->tree, .removed_folders = &e->cfg->removed_folders,
		.build_prefix = e->tree, .threads = e->ctx->jobs,
	};
	struct dos_relocate_report rep;
	int r;

	memset(&rep, 0, sizeof(rep));
	r = dos_relocate_tree(e->ctx, &o, &rep);
	dos_relocate_report_release(&rep);
	return r;
}

static bool is_module_source(const char *rel)
{
	size_t n = strlen(rel);

	return n > 3 && !strcmp(rel + n - 3, ".py") && !strncmp(rel, "usr/lib/python3", 15);
}

/* The bytecode of the modules the extension adds or changes, compiled by
 * the base's Python: relocation removed every .pyc in the tree, and the
 * base's own stay in the base (the extension does not ship them again). */
static int compile_new(struct ext *e, const struct snapshot *before)
{
	struct snapshot mid = { 0 };
	struct dos_strv only = { 0 };
	struct dos_bytecode_report rep;
	size_t i = 0;
	int r = snapshot_take(e->ctx, e->tree, &mid);

	for (size_t k = 0; r == 0 && k < mid.n; k++) {
		int c = 1;

		while (i < before->n && (c = strcmp(before->v[i].rel, mid.v[k].rel)) < 0)
			i++;
		if (i == before->n)
			c = 1;
		if (S_ISREG(mid.v[k].mode) && is_module_source(mid.v[k].rel) &&
		    (c != 0 || !node_same(&before->v[i], &mid.v[k])))
			dos_strv_push_owned(&only, dos_path_join(e->tree, mid.v[k].rel));
	}
	memset(&rep, 0, sizeof(rep));
	if (r == 0 && only.n)
		r = dos_bytecode_compile(e->ctx, e->cfg, e->tree, &only, &rep);
	dos_bytecode_report_release(&rep);
	dos_strv_release(&only);
	snapshot_release(&mid);
	return r;
}

static int check_config(struct dos_ctx *ctx, const struct dos_config *cfg)
{
	if (!cfg->extension_name || !*cfg->extension_name || strchr(cfg->extension_name, '/'))
		return dos_error(ctx, DOS_ECONFIG, "extension: \"extensionName\" must be set (a plain "
				 "name)");
	if (!cfg->diracos_version || !*cfg->diracos_version)
		return dos_error(ctx, DOS_ECONFIG, "extension '%s': \"diracOsVersion\" must name its "
				 "base (a version, a tarball path or a URL)", cfg->extension_name);
	if (!dos_pip_wanted(cfg))
		return dos_error(ctx, DOS_ECONFIG, "extension '%s': \"pipRequirements\" must say what "
				 "it adds", cfg->extension_name);
	return 0;
}

static int run(struct ext *e, struct dos_cache *cache)
{
	struct snapshot before = { 0 }, after = { 0 };
	char sha[DOS_SHA256_HEX];
	int r = base_find(e, &e->res->base);

	if (r == 0)
		r = dos_sha256_file(e->ctx, e->res->base, sha);
	if (r == 0) {
		dos_info(e->ctx, "extension '%s': base '%s'", e->cfg->extension_name, e->res->base);
		r = base_unpack(e, e->res->base);
	}
	if (r == 0)
		r = snapshot_take(e->ctx, e->tree, &before);
	if (r == 0)
		r = dos_pip_step_keyed(e->ctx, e->cfg, cache, sha, e->pip, e->tree, &e->res->pip);
	if (r == 0)
		r = relocate(e);
	if (r == 0)
		r = compile_new(e, &before);
	if (r == 0)
		r = snapshot_take(e->ctx, e->tree, &after);
	if (r == 0)
		r = diff_pack(e, &before, &after);
	if (r == 0)
		r = versions_write(e);
	if (r == 0)
		r = pack(e);
	snapshot_release(&before);
	snapshot_release(&after);
	return r;
}

int dos_extension_build(struct dos_ctx *ctx, const struct dos_config *cfg,
			struct dos_extension_result *res)
{
	_cleanup_free_ char *cache_dir = dos_cache_default_dir();
	struct dos_cache *cache = NULL;
	struct ext e = { ctx, cfg, res };
	int r;

	memset(res, 0, sizeof(*res));
	r = check_config(ctx, cfg);
	if (r < 0)
		return r;
	e.dir = dos_xasprintf("%s/extension/%s", cfg->work_dir, cfg->extension_name);
	e.unpacked = dos_path_join(e.dir, "base");
	e.pack = dos_path_join(e.dir, "pack");
	e.pip = dos_path_join(e.dir, "pip");
	r = dos_mkdir_p(ctx, e.dir, 0755);
	if (r == 0)
		r = dos_cache_open(ctx, cache_dir, &cache);
	if (r == 0)
		r = run(&e, cache);
	if (cache)
		dos_cache_free(cache);
	free(e.dir);
	free(e.unpacked);
	free(e.tree);
	free(e.top);
	free(e.pack);
	free(e.pip);
	return r < 0 ? dos_error_prefix(ctx, "extension '%s'", cfg->extension_name) : 0;
}

void dos_extension_result_release(struct dos_extension_result *res)
{
	free(res->base);
	dos_strv_release(&res->tarballs);
	free(res->versions);
	dos_strv_release(&res->removed);
	dos_pip_result_release(&res->pip);
	memset(res, 0, sizeof(*res));
}
