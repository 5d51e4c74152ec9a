/* diracos verify: the download cache holds only whole, verified files.
 * Every file under <cache>/sha256 is hashed again and must carry its own
 * digest as its name; temporaries left by a killed run are listed (and
 * removed with --fix, as are damaged files). */
#include "cmd.h"
#include "fetch.h"
#include "opts.h"
#include "repo.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OPT_FIX = 1 };

struct verify_state {
	struct dos_ctx *ctx;
	bool fix;
	size_t files;
	struct dos_strv problems;
};

static void problem(struct verify_state *v, const char *path, const char *what)
{
	dos_strv_push_owned(&v->problems, dos_xasprintf("%s: %s%s", path, what,
							v->fix ? " (removed)" : ""));
	if (v->fix)
		unlink(path);
}

static void verify_file(struct verify_state *v, const char *path, const char *name)
{
	char hex[DOS_SHA256_HEX];
	struct stat st;

	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		problem(v, path, "not a regular file");
		return;
	}
	v->files++;
	if (dos_sha256_file(v->ctx, path, hex) < 0) {
		problem(v, path, "unreadable");
		dos_error_clear(v->ctx);
		return;
	}
	if (strcmp(hex, name) != 0)
		problem(v, path, "content does not match its sha256 name");
}

/* Calls fn for every entry of a folder but . and .. (none if it is missing). */
static void for_each_entry(struct verify_state *v, const char *dir,
			   void (*fn)(struct verify_state *, const char *, const char *))
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_free_ char *path = dos_path_join(dir, de->d_name);
		fn(v, path, de->d_name);
	}
	closedir(d);
}

static void verify_bucket(struct verify_state *v, const char *path, const char *name)
{
	for_each_entry(v, path, verify_file);
}

static void note_temporary(struct verify_state *v, const char *path, const char *name)
{
	problem(v, path, "temporary file left by an interrupted run");
}

/* The local repository of the configuration, when it has one. */
static int verify_repository(struct verify_state *v, const char *path)
{
	_cleanup_free_ char *index = dos_path_join(path, "Packages");
	struct dos_repo *repo = NULL;
	int r;

	if (access(index, F_OK) < 0)
		return 0;
	r = dos_repo_open(v->ctx, path, DOS_REPO_READ, &repo);
	if (r < 0)
		return r;
	r = dos_repo_verify(v->ctx, repo, &v->problems);
	dos_repo_free(repo);
	if (r == DOS_ECHECKSUM) {
		dos_error_clear(v->ctx);
		r = 0;
	}
	return r;
}

static int print_result(struct verify_state *v, const char *root)
{
	if (v->ctx->json) {
		json_t *list = json_array();
		for (size_t i = 0; i < v->problems.n; i++)
			json_array_append_new(list, json_string(v->problems.v[i]));
		json_t *j = json_pack("{s:s, s:I, s:o}", "cache", root, "files",
				      (json_int_t)v->files, "problems", list);
		cmd_print_json(j);
		json_decref(j);
	} else {
		for (size_t i = 0; i < v->problems.n; i++)
			printf("FAIL %s\n", v->problems.v[i]);
		printf("cache %s: %zu files verified, %zu problems\n", root, v->files,
		       v->problems.n);
	}
	return v->problems.n && !v->fix ? 1 : 0;
}

static int on_option(struct cmd_args *args, int id, const char *value, void *data)
{
	((struct verify_state *)data)->fix = true;
	return 0;
}

static int run_verify(struct cmd_args *args)
{
	static const struct cmd_option own[] = {
		{ "fix", no_argument, 0, OPT_FIX },
		{ 0 },
	};
	struct verify_state v = { .ctx = args->ctx };
	_cleanup_free_ char *root = dos_cache_default_dir();
	_cleanup_free_ char *objects = NULL, *tmp = NULL;
	int r;

	r = cmd_parse_options(args, &cmd_verify, own, on_option, &v);
	if (r == OPTS_HELP)
		return 0;
	if (r < 0)
		return r;
	objects = dos_path_join(root, "sha256");
	tmp = dos_path_join(root, "tmp");
	if (args->argc > 1)
		return dos_error(args->ctx, DOS_EUSAGE, "verify: takes at most one CONFIG");
	r = cmd_load_config(args, args->argc ? args->argv[0] : NULL);
	if (r == 0)
		r = verify_repository(&v, args->cfg->repo);
	if (r < 0) {
		dos_strv_release(&v.problems);
		return r;
	}
	for_each_entry(&v, objects, verify_bucket);
	for_each_entry(&v, tmp, note_temporary);
	r = print_result(&v, root);
	dos_strv_release(&v.problems);
	return r;
}

const struct cmd cmd_verify = {
	"verify", run_verify, NEEDS_NOTHING,
	"check that the cache holds only whole, verified files",
	"usage: diracos verify [CONFIG] [--fix]\n"
	"\n"
	"Checks the local repository of CONFIG (the built-in default without\n"
	"one) against its index: every indexed file present with its size and\n"
	"sha256, no stray files, records and indices in agreement.\n"
	"\n"
	"Hashes every file of the download cache ($DIRACOS_CACHE, else\n"
	"$XDG_CACHE_HOME/diracos) again: each must match the sha256 it is named\n"
	"after. Temporary files left by an interrupted run are listed too.\n"
	"Exit 1 when anything is wrong.\n"
	"\n"
	"  --fix    remove damaged and temporary files (the next run downloads\n"
	"           them again); exit 0\n",
};
