/* The pip step's find-links folder: pipSources fetched (source.c, as
 * recipe sources are) and repacked as NAME-VERSION.tar.gz, the only names
 * pip takes from a find-links folder (it ignores .tar.xz and Debian's
 * NAME_VERSION.orig.tar.* names). See pip.h. */
#include "pip.h"
#include "source.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PKG_INFO_MAX (1 << 20)

/* A file name part pip reads back as the name or the version. */
static bool part_ok(const char *s, bool version)
{
	if (!*s || strlen(s) > 100)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(version ? ".+!_" : "._", *s))
			return false;
	return true;
}

/* "Name: x" in the header part of PKG-INFO (up to the first empty line). */
static char *header_get(const char *text, const char *key)
{
	size_t k = strlen(key);

	for (const char *l = text; *l && *l != '\n'; l += strcspn(l, "\n"), l += *l == '\n')
		if (!strncasecmp(l, key, k) && l[k] == ':') {
			const char *v = l + k + 1;
			v += strspn(v, " \t");
			return dos_xasprintf("%.*s", (int)strcspn(v, "\r\n"), v);
		}
	return NULL;
}

/* NAME-VERSION.tar.gz from PKG-INFO: the name with '-' as '_' (an sdist's
 * own spelling), so that the last '-' parts name from version. */
static char *archive_name(const char *pkg_info)
{
	_cleanup_free_ char *name = header_get(pkg_info, "Name");
	_cleanup_free_ char *version = header_get(pkg_info, "Version");

	if (!name || !version)
		return NULL;
	for (char *c = name; *c; c++)
		if (*c == '-')
			*c = '_';
	if (!part_ok(name, false) || !part_ok(version, true))
		return NULL;
	return dos_xasprintf("%s-%s.tar.gz", name, version);
}

/* Whether the entry is the top folder's PKG-INFO ("x/PKG-INFO"). */
static bool is_top_pkg_info(const char *path)
{
	const char *slash = path ? strchr(path, '/') : NULL;

	if (path && !strncmp(path, "./", 2))
		slash = strchr(path + 2, '/');
	return slash && !strcmp(slash + 1, "PKG-INFO");
}

struct repack {
	struct dos_ctx *ctx;
	const char *src, *what;
	struct archive *in, *out;
	char *pkg_info;
};

static int repack_fail(struct repack *p, struct archive *a)
{
	return dos_error(p->ctx, DOS_EFORMAT, "pip source %s ('%s'): %s", p->what, p->src,
			 archive_error_string(a) ? archive_error_string(a) : "cannot be read");
}

/* Copies one entry's data, keeping PKG-INFO's text. */
static int repack_data(struct repack *p, struct archive_entry *e)
{
	bool keep = !p->pkg_info && is_top_pkg_info(archive_entry_pathname(e));
	char *text = NULL;
	size_t len = 0;
	char buf[65536];
	la_ssize_t n;

	while ((n = archive_read_data(p->in, buf, sizeof(buf))) > 0) {
		if (archive_write_data(p->out, buf, (size_t)n) != n)
			return free(text), repack_fail(p, p->out);
		if (keep && len + (size_t)n < PKG_INFO_MAX) {
			text = dos_xrealloc(text, len + (size_t)n + 1);
			memcpy(text + len, buf, (size_t)n);
			text[len += (size_t)n] = '\0';
		}
	}
	if (n < 0)
		return free(text), repack_fail(p, p->in);
	if (keep && text)
		p->pkg_info = text;
	else
		free(text);
	return 0;
}

static int repack_entries(struct repack *p)
{
	struct archive_entry *e;
	int rc;

	while ((rc = archive_read_next_header(p->in, &e)) == ARCHIVE_OK) {
		/* Only folders, files and links: an sdist holds nothing else. */
		mode_t t = archive_entry_filetype(e);
		if (t != AE_IFDIR && t != AE_IFREG && t != AE_IFLNK)
			continue;
		archive_entry_set_uid(e, 0);
		archive_entry_set_gid(e, 0);
		archive_entry_set_uname(e, "root");
		archive_entry_set_gname(e, "root");
		if (archive_write_header(p->out, e) != ARCHIVE_OK)
			return repack_fail(p, p->out);
		if (t == AE_IFREG && repack_data(p, e) < 0)
			return DOS_EFORMAT;
	}
	return rc == ARCHIVE_EOF ? 0 : repack_fail(p, p->in);
}

/* src (any archive libarchive reads) to tmp as a gzip'd tar; *pkg_info
 * the top PKG-INFO's text, or NULL. */
static int repack(struct dos_ctx *ctx, const char *what, const char *src, const char *tmp,
		  char **pkg_info)
{
	struct repack p = { ctx, src, what, archive_read_new(), archive_write_new(), NULL };
	int r;

	archive_read_support_filter_all(p.in);
	archive_read_support_format_all(p.in);
	archive_write_set_format_pax_restricted(p.out);
	archive_write_add_filter_gzip(p.out);
	archive_write_set_options(p.out, "gzip:!timestamp");
	if (archive_read_open_filename(p.in, src, 65536) != ARCHIVE_OK)
		r = repack_fail(&p, p.in);
	else if (archive_write_open_filename(p.out, tmp) != ARCHIVE_OK)
		r = dos_error(ctx, DOS_EIO, "cannot write '%s': %s", tmp,
			      archive_error_string(p.out));
	else
		r = repack_entries(&p);
	if (archive_write_close(p.out) != ARCHIVE_OK && r == 0)
		r = repack_fail(&p, p.out);
	archive_write_free(p.out);
	archive_read_free(p.in);
	*pkg_info = p.pkg_info;
	return r;
}

static char *source_what(const struct dos_source *s, const char *url)
{
	if (s->debian_source)
		return dos_xasprintf("'%s' (debianSource)", s->debian_source);
	return dos_xasprintf("'%s'", url);
}

/* The name: the source's "filename" when it is NAME-VERSION.tar.gz, else
 * from PKG-INFO. */
static int name_choose(struct dos_ctx *ctx, const struct dos_source *s, const char *what,
		       const char *pkg_info, char **name)
{
	size_t n = s->filename ? strlen(s->filename) : 0;

	if (n > 7 && !strcmp(s->filename + n - 7, ".tar.gz") && strchr(s->filename, '-')) {
		*name = dos_xstrdup(s->filename);
		return 0;
	}
	*name = pkg_info ? archive_name(pkg_info) : NULL;
	if (*name)
		return 0;
	return dos_error(ctx, DOS_EFORMAT, "pip source %s: no PKG-INFO with Name and Version at "
			 "its top: set \"filename\": \"NAME-VERSION.tar.gz\"", what);
}

static int source_prepare(struct dos_ctx *ctx, const struct dos_config *cfg,
			  struct dos_cache *cache, const struct dos_source *s, const char *dir,
			  const char *log, struct dos_pip_source *out)
{
	_cleanup_free_ char *path = NULL, *fname = NULL, *what = NULL, *pkg_info = NULL;
	_cleanup_free_ char *tmp = dos_path_join(dir, ".repack.tmp"), *dest = NULL;
	int r = dos_source_fetch_from(ctx, cfg, cache, s, log, &path, &fname, &out->url,
				      out->sha256);

	if (r < 0)
		return dos_error_prefix(ctx, "pip source");
	what = source_what(s, out->url);
	r = repack(ctx, what, path, tmp, &pkg_info);
	if (r == 0)
		r = name_choose(ctx, s, what, pkg_info, &out->archive);
	if (r == 0) {
		dest = dos_path_join(dir, out->archive);
		if (access(dest, F_OK) == 0)
			r = dos_error(ctx, DOS_ECONFIG, "pip sources: two of them are '%s'",
				      out->archive);
		else if (rename(tmp, dest) < 0)
			r = dos_error_errno(ctx, DOS_EIO, errno, "cannot rename '%s'", tmp);
	}
	unlink(tmp);
	return r;
}

int dos_pip_sources_prepare(struct dos_ctx *ctx, const struct dos_config *cfg,
			    struct dos_cache *cache, const char *dir, const char *log,
			    struct dos_pip_source **out, size_t *n)
{
	int r = dos_rm_rf(ctx, dir);

	*out = dos_xcalloc(cfg->n_pip_sources + 1, sizeof(**out));
	*n = 0;
	if (r == 0)
		r = dos_mkdir_p(ctx, dir, 0755);
	for (size_t i = 0; r == 0 && i < cfg->n_pip_sources; i++) {
		r = source_prepare(ctx, cfg, cache, &cfg->pip_sources[i], dir, log, &(*out)[i]);
		*n = i + 1;
	}
	return r;
}

void dos_pip_sources_release(struct dos_pip_source *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].archive);
		free(v[i].url);
	}
	free(v);
}
