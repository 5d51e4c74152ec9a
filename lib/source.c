/* Sources fetched and verified: see source.h. Shared by recipe builds
 * (build.c) and the pip step (pip.c). */
#include "source.h"
#include "dist.h"
#include "mirror.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct src {
	struct dos_ctx *ctx;
	const struct dos_config *cfg;
	struct dos_cache *cache;
	const char *log;
};

static char *source_filename(const struct dos_source *s, const char *url)
{
	const char *base;
	size_t n;

	if (s->filename)
		return dos_xstrdup(s->filename);
	n = strcspn(url, "?#");
	for (base = url + n; base > url && base[-1] != '/'; base--)
		;
	return dos_xasprintf("%.*s", (int)(url + n - base), base);
}

/* Tries each URL in turn until one gives the verified file. */
static int source_fetch(struct src *b, const struct dos_source *s, char **cache_path,
			const char **url)
{
	int r = DOS_EFAIL;

	if (!s->sha256 || !s->urls.n)
		return dos_error(b->ctx, DOS_ECONFIG, "a source needs \"urls\" and a \"sha256\"");
	for (size_t u = 0; u < s->urls.n; u++) {
		struct dos_fetch_item it = { .url = s->urls.v[u], .sha256 = s->sha256 };
		r = dos_fetch_many(b->ctx, b->cache, &it, 1, "sources");
		if (r == 0) {
			*cache_path = dos_steal(&it.path);
			*url = s->urls.v[u];
		}
		dos_fetch_items_release(&it, 1);
		if (r == 0 || r == DOS_EINTR)
			break;
		dos_log_append(b->log, "diracos: %s\n", b->ctx->msg);
	}
	return r;
}

/* --- distribution sources: {"debianSource": NAME, "suite": S, "file": F} --- */

/* Whether the Sources file name is the one asked for: "orig" (the
 * default) the upstream tarball, "debian" the packaging, "dsc", or a name. */
static bool debsrc_wanted(const char *name, const char *file)
{
	size_t n = strlen(name);

	if (!file || !strcmp(file, "orig"))
		return strstr(name, ".orig.tar.") && (n < 4 || strcmp(name + n - 4, ".asc"));
	if (!strcmp(file, "debian"))
		return strstr(name, ".debian.tar.") != NULL;
	if (!strcmp(file, "dsc"))
		return n > 4 && !strcmp(name + n - 4, ".dsc");
	return !strcmp(name, file);
}

/* Fills it (url, sha256, size) from the stanza's Checksums-Sha256. */
static int debsrc_pick(struct src *b, const struct dos_source *s, const struct dos_control *c,
		       const char *mirror, struct dos_fetch_item *it, char **name)
{
	const char *sums = dos_control_get(c, "Checksums-Sha256"), *dir = dos_control_get(c, "Directory");
	char sha[DOS_SHA256_HEX], file[256];
	unsigned long long size;

	for (const char *l = sums; l && *l; l += strcspn(l, "\n"), l += *l == '\n') {
		if (sscanf(l, "%64s %llu %255s", sha, &size, file) != 3 || !dos_sha256_valid(sha) ||
		    !debsrc_wanted(file, s->file) || !dir || strstr(dir, "..") || !dos_config_filename_ok(file))
			continue;
		/* A pinned "sha256" holds the source still when the suite moves on. */
		if (s->sha256 && strcasecmp(sha, s->sha256))
			return dos_error(b->ctx, DOS_EFAIL, "source package '%s': '%s' has sha256 %s "
					 "in the Sources index, not the pinned %s", s->debian_source,
					 file, sha, s->sha256);
		it->url = dos_xasprintf("%s/%s/%s", mirror, dir, file);
		it->sha256 = dos_xstrdup(sha);
		it->size = size;
		*name = dos_xstrdup(file);
		return 0;
	}
	return dos_error(b->ctx, DOS_EFAIL, "source package '%s': no file '%s' in its Sources entry",
			 s->debian_source, s->file ? s->file : "orig");
}

static int debsrc_scan(struct src *b, const struct dos_source *s, const char *index,
		       const char *mirror, struct dos_fetch_item *it, char **name)
{
	_cleanup_free_ char *text = NULL;
	struct dos_control_parser p;
	struct dos_control c = { 0 };
	size_t len = 0;
	int r = dos_read_file(b->ctx, index, (size_t)1 << 31, &text, &len);

	if (r < 0)
		return r;
	dos_control_parser_init(&p, text, len, "file 'Sources'");
	while ((r = dos_control_parse_next(b->ctx, &p, &c)) > 0) {
		const char *pkg = dos_control_get(&c, "Package");
		if (pkg && !strcmp(pkg, s->debian_source))
			break;
	}
	if (r > 0)
		r = debsrc_pick(b, s, &c, mirror, it, name);
	else if (r == 0)
		r = 1;
	dos_control_release(&c);
	return r;
}

static int debsrc_find(struct src *b, const struct dos_source *s, const char *mirror,
		       struct dos_fetch_item *it, char **name)
{
	const struct dos_config *cfg = b->cfg;
	const char *suite = s->suite ? s->suite : cfg->platform.suite;
	const struct dos_strv *comps = &cfg->platform.components;
	struct dos_archive *a = NULL;
	int r = dos_archive_open_flags(b->ctx, b->cache, mirror, suite, getenv("DIRACOS_KEYRING"),
				       s->sha256 ? DOS_ARCHIVE_PINNED : 0, &a);

	for (size_t i = 0; r == 0 && i < (comps->n ? comps->n : 1); i++) {
		_cleanup_free_ char *index = NULL;
		r = dos_archive_sources_index(b->ctx, a, comps->n ? comps->v[i] : "main", &index);
		if (r == 0 && (r = debsrc_scan(b, s, index, mirror, it, name)) == 1)
			r = i + 1 < (comps->n ? comps->n : 1) ? 0 : dos_error(b->ctx, DOS_EFAIL,
				"source package '%s' is not in %s's Sources", s->debian_source, suite);
		else if (r == 0)
			break;
	}
	dos_archive_free(a);
	return r;
}

pthread_mutex_t dos_archive_lock = PTHREAD_MUTEX_INITIALIZER;

static int debsrc_fetch(struct src *b, const struct dos_source *s, char **path, char **name,
		       char **url)
{
	const char *suite = s->suite ? s->suite : b->cfg->platform.suite;
	struct dos_fetch_item it = { 0 };
	char *mirror;
	int r;

	/* dist.c's temporary InRelease name is per process: one at a time. */
	pthread_mutex_lock(&dos_archive_lock);
	mirror = dos_mirror_for(b->ctx, b->cfg->platform.mirror, suite);
	r = mirror ? debsrc_find(b, s, mirror, &it, name) : DOS_ECONFIG;
	pthread_mutex_unlock(&dos_archive_lock);
	if (r == 0)
		r = dos_fetch_many(b->ctx, b->cache, &it, 1, "sources");
	if (r == 0) {
		*path = dos_steal(&it.path);
		*url = dos_xstrdup(it.url);
	}
	free((char *)it.url);
	free((char *)it.sha256);
	dos_fetch_items_release(&it, 1);
	free(mirror);
	return r < 0 ? dos_error_prefix(b->ctx, "source '%s' (debianSource)", s->debian_source) : 0;
}

int dos_source_fetch_from(struct dos_ctx *ctx, const struct dos_config *cfg,
			  struct dos_cache *cache, const struct dos_source *s, const char *log,
			  char **path, char **name, char **url, char *sha256)
{
	struct src b = { ctx, cfg, cache, log };
	const char *plain_url = NULL;
	char *deb_url = NULL;
	int r;

	*path = *name = NULL;
	if (s->debian_source)
		r = debsrc_fetch(&b, s, path, name, &deb_url);
	else if ((r = source_fetch(&b, s, path, &plain_url)) == 0)
		*name = source_filename(s, s->urls.v[0]);
	if (r == 0 && s->filename && s->debian_source) {
		free(*name);
		*name = dos_xstrdup(s->filename);
	}
	if (r == 0 && sha256)
		r = dos_sha256_file(ctx, *path, sha256);
	if (url)
		*url = deb_url ? deb_url : r == 0 ? dos_xstrdup(plain_url) : NULL;
	else
		free(deb_url);
	return r;
}

int dos_source_fetch(struct dos_ctx *ctx, const struct dos_config *cfg, struct dos_cache *cache,
		     const struct dos_source *s, const char *log, char **path, char **name)
{
	return dos_source_fetch_from(ctx, cfg, cache, s, log, path, name, NULL, NULL);
}
