/* The built-in configuration, written out where its recipes can be read. */
#include "builtin.h"
#include "fetch.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* sha256 over every file's path and bytes: a new binary with other files
 * gets another folder, never a half-updated one. */
static void builtin_key(char hex[DOS_SHA256_HEX])
{
	struct dos_sha256 *h = dos_sha256_new();

	for (const struct dos_builtin_file *f = dos_builtin_files; f->path; f++) {
		char size[32];

		dos_sha256_update(h, f->path, strlen(f->path) + 1);
		snprintf(size, sizeof(size), "%zu", f->size);
		dos_sha256_update(h, size, strlen(size) + 1);
		dos_sha256_update(h, f->data, f->size);
	}
	dos_sha256_final(h, hex);
}

static int write_files(struct dos_ctx *ctx, const char *dir)
{
	for (const struct dos_builtin_file *f = dos_builtin_files; f->path; f++) {
		_cleanup_free_ char *path = dos_path_join(dir, f->path);
		_cleanup_free_ char *parent = dos_path_dirname(path);
		int r = dos_mkdir_p(ctx, parent, 0755);

		if (r == 0)
			r = dos_write_file_atomic(ctx, path, f->data, f->size, 0644);
		if (r < 0)
			return r;
	}
	return 0;
}

/* <cache>/builtin/<key>, made complete in a temporary folder then renamed:
 * a killed run leaves a temporary folder, never a partial one. */
static int builtin_dir(struct dos_ctx *ctx, char **out)
{
	_cleanup_free_ char *cache = dos_cache_default_dir(), *parent = NULL, *tmp = NULL;
	char key[DOS_SHA256_HEX];
	struct stat st;
	int r;

	builtin_key(key);
	parent = dos_path_join(cache, "builtin");
	*out = dos_xasprintf("%s/%.16s", parent, key);
	if (stat(*out, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	tmp = dos_xasprintf("%s/.tmp-%.16s-%ld", parent, key, (long)getpid());
	r = dos_rm_rf(ctx, tmp);
	if (r == 0)
		r = dos_mkdir_p(ctx, tmp, 0755);
	if (r == 0)
		r = write_files(ctx, tmp);
	if (r == 0 && rename(tmp, *out) < 0 && errno != EEXIST && errno != ENOTEMPTY)
		r = dos_error_errno(ctx, DOS_EIO, errno, "cannot rename '%s' to '%s'", tmp, *out);
	if (r < 0 || stat(tmp, &st) == 0) /* failed, or another process was first */
		dos_rm_rf(ctx, tmp);
	return r < 0 ? dos_error_prefix(ctx, "the built-in configuration") : 0;
}

int dos_builtin_load(struct dos_ctx *ctx, struct dos_config **out)
{
	_cleanup_free_ char *dir = NULL, *path = NULL;
	int r = builtin_dir(ctx, &dir);

	if (r < 0)
		return r;
	path = dos_path_join(dir, dos_builtin_files[0].path);
	return dos_config_load_file_at(ctx, path, "<built-in>", ".", out);
}
