/* Loading a Debian Packages index into the resolver's pool (see
 * resolve_internal.h).
 *
 * libsolv's Debian parser keeps what the solver needs but drops Size: and
 * the version in "Source: foo (1.2-3)", and keeps only the longest
 * checksum (and overflows on SHA384 and SHA512: see index_parse). So
 * each index is mapped once and read twice: a short scan of our own
 * collects those fields per stanza,
 * libsolv parses the same bytes through fmemopen(), and the two are matched
 * stanza by stanza (libsolv adds one solvable per named stanza, in order),
 * checking that the names agree. */
#include "resolve_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <solv/repo.h>
#include <solv/repo_deb.h>

/* libsolv keeps buffer lengths in int: stay far below. */
#define INDEX_MAX_BYTES (1024ULL * 1024 * 1024)

/* --- our scan of an index --- */

struct scan_entry {
	struct pkg_extra x;
	const char *name;
	size_t name_len;
};

struct scan {
	Pool *pool;
	struct scan_entry *v;
	size_t n, alloc;
	struct scan_entry cur;
	bool named;
};

static bool tag_is(const char *tag, size_t len, const char *want)
{
	return strlen(want) == len && strncasecmp(tag, want, len) == 0;
}

/* 64 hex digits, kept lowercase in out; false when v is not that. */
static bool sha256_copy(const char *v, size_t len, char out[DOS_SHA256_HEX])
{
	if (len != DOS_SHA256_HEX - 1)
		return false;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)v[i]);
	out[len] = '\0';
	return dos_sha256_valid(out);
}

/* A decimal number, or 0 when the field is not one. */
static uint64_t u64_parse(const char *v, size_t len)
{
	uint64_t n = 0;

	if (len == 0 || len > 19)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 0;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	return n;
}

/* "foo" or "foo (1.2-3)". */
static void source_parse(struct scan *sc, const char *v, size_t len)
{
	const char *end = v + len, *p = v, *ver, *vend;

	while (p < end && *p != ' ' && *p != '\t' && *p != '(')
		p++;
	if (p == v)
		return;
	sc->cur.x.source_name = pool_strn2id(sc->pool, v, (unsigned int)(p - v), 1);
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p != '(')
		return;
	ver = ++p;
	while (p < end && *p != ')')
		p++;
	vend = p;
	while (ver < vend && (*ver == ' ' || *ver == '\t'))
		ver++;
	while (vend > ver && (vend[-1] == ' ' || vend[-1] == '\t'))
		vend--;
	if (p < end && vend > ver)
		sc->cur.x.source_evr = pool_strn2id(sc->pool, ver, (unsigned int)(vend - ver), 1);
}

/* One "Tag: value" line; values are trimmed as libsolv trims them. */
static void scan_field(struct scan *sc, const char *line, size_t n)
{
	const char *colon = memchr(line, ':', n), *v, *end = line + n;
	size_t tl;

	if (!colon)
		return;
	tl = (size_t)(colon - line);
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (tag_is(line, tl, "package")) {
		sc->cur.name = v;
		sc->cur.name_len = (size_t)(end - v);
		sc->named = true;
	} else if (tag_is(line, tl, "size")) {
		sc->cur.x.size = u64_parse(v, (size_t)(end - v));
	} else if (tag_is(line, tl, "sha256")) {
		sc->cur.x.has_sha256 = sha256_copy(v, (size_t)(end - v), sc->cur.x.sha256);
	} else if (tag_is(line, tl, "source")) {
		source_parse(sc, v, (size_t)(end - v));
	} else if (tag_is(line, tl, "filename") && end > v) {
		sc->cur.x.location = pool_strn2id(sc->pool, v, (unsigned int)(end - v), 1);
	}
}

static void scan_stanza_end(struct scan *sc)
{
	if (sc->named) {
		if (sc->n == sc->alloc) {
			sc->alloc = sc->alloc ? 2 * sc->alloc : 1024;
			sc->v = dos_xrealloc(sc->v, sc->alloc * sizeof(*sc->v));
		}
		sc->v[sc->n++] = sc->cur;
	}
	memset(&sc->cur, 0, sizeof(sc->cur));
	sc->named = false;
}

/* Splits stanzas where libsolv does: at empty lines, a NUL counting as a
 * newline. Continuation lines carry nothing we read. */
static void scan_index(struct scan *sc, const char *buf, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;

		n = strnlen(line, n);
		pos += n + 1;
		if (n == 0)
			scan_stanza_end(sc);
		else if (*line != ' ' && *line != '\t')
			scan_field(sc, line, n);
	}
	scan_stanza_end(sc);
}

/* --- loading an index --- */

struct mapped {
	void *buf;
	size_t len;
};

static int index_map(struct dos_ctx *ctx, const char *path, struct mapped *m)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;

	m->buf = NULL;
	m->len = 0;
	if (fd < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "index '%s': cannot open", path);
	if (fstat(fd, &st) < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "index '%s': cannot stat", path);
	if (!S_ISREG(st.st_mode))
		return dos_error(ctx, DOS_EFORMAT, "index '%s': not a regular file", path);
	if ((uint64_t)st.st_size > INDEX_MAX_BYTES)
		return dos_error(ctx, DOS_EFORMAT, "index '%s': larger than %llu bytes", path,
				 (unsigned long long)INDEX_MAX_BYTES);
	if (st.st_size == 0)
		return 0;
	m->buf = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m->buf == MAP_FAILED) {
		m->buf = NULL;
		return dos_error_errno(ctx, DOS_EIO, errno, "index '%s': cannot map", path);
	}
	m->len = (size_t)st.st_size;
	return 0;
}

static void index_unmap(struct mapped *m)
{
	if (m->buf)
		munmap(m->buf, m->len);
	m->buf = NULL;
}

/* Fields libsolv would store as per-package strings or checksums, which
 * our own scan reads instead (Filename, SHA256) or nothing reads at all.
 * libsolv stores those by growing one buffer a block at a time: under ASan
 * (whose realloc always moves) loading bookworm took minutes of copying
 * (7 min against 0.6 s), descriptions most of it. SHA384 and
 * SHA512: bookworm's libsolv (0.7.23) copies them into a 65-byte buffer on
 * its stack (found by fuzzing; later libsolv checks the length); we read
 * only SHA256, in our own scan. */
static bool field_unread(const char *tag, size_t len)
{
	static const char *const unread[] = {
		"description", "description-md5", "homepage", "tag", "maintainer",
		"original-maintainer", "sha384", "sha512", "md5sum", "sha1", "sha256", "filename",
	};

	for (size_t i = 0; i < sizeof(unread) / sizeof(*unread); i++)
		if (tag_is(tag, len, unread[i]))
			return true;
	return false;
}

/* The index without the fields nothing reads (and their continuation
 * lines), lines split as libsolv splits them (a NUL ends one too). */
static char *index_for_libsolv(const char *buf, size_t len, size_t *out_len)
{
	char *out = dos_xmalloc(len + 1);
	size_t pos = 0, n_out = 0;
	bool dropping = false;

	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos), *colon;
		size_t n = nl ? (size_t)(nl - line) : len - pos;

		n = strnlen(line, n);
		pos += n + 1;
		if (n == 0 || (*line != ' ' && *line != '\t')) {
			colon = memchr(line, ':', n);
			dropping = colon && field_unread(line, (size_t)(colon - line));
		}
		if (dropping)
			continue;
		memcpy(out + n_out, line, n);
		n_out += n;
		out[n_out++] = '\n';
	}
	*out_len = n_out;
	return out;
}

static int index_parse(struct dos_resolver *r, Repo *repo, const char *path, struct mapped *m)
{
	_cleanup_free_ char *copy = NULL;
	size_t len = 0;
	FILE *f;

	if (m->len == 0)
		return 0;
	copy = index_for_libsolv(m->buf, m->len, &len);
	if (len == 0)
		return 0;
	f = fmemopen(copy, len, "r");
	if (!f)
		return dos_error_errno(r->ctx, DOS_EIO, errno, "index '%s': cannot read", path);
	repo_add_debpackages(repo, f, 0);
	fclose(f);
	return 0;
}

/* Pairs libsolv's solvables [first, nsolvables) with our scan's entries. */
static int index_match(struct dos_resolver *r, Id first, const struct scan *sc, const char *path)
{
	Pool *pool = r->pool;
	size_t count = (size_t)(pool->nsolvables - first), total = (size_t)pool->nsolvables;

	if (count != sc->n)
		return dos_error(r->ctx, DOS_EFORMAT,
				 "index '%s': malformed (%zu packages parsed, %zu stanzas named)",
				 path, count, sc->n);
	for (size_t i = 0; i < count; i++) {
		const struct scan_entry *e = &sc->v[i];
		const char *name = pool_id2str(pool, pool->solvables[first + (Id)i].name);

		if (strlen(name) != e->name_len || memcmp(name, e->name, e->name_len) != 0)
			return dos_error(r->ctx, DOS_EFORMAT, "index '%s': malformed stanza of package '%s'",
					 path, name);
	}
	r->extra = dos_xrealloc(r->extra, total * sizeof(*r->extra));
	if (total > r->nextra)
		memset(r->extra + r->nextra, 0, (total - r->nextra) * sizeof(*r->extra));
	r->nextra = total;
	for (size_t i = 0; i < count; i++)
		r->extra[first + (Id)i] = sc->v[i].x;
	return 0;
}

static struct repo_info *repo_info_new(const char *name, const char *base_url)
{
	struct repo_info *info = dos_xcalloc(1, sizeof(*info));
	size_t n = strlen(base_url);

	while (n > 0 && base_url[n - 1] == '/')
		n--;
	info->name = dos_xstrdup(name);
	info->base_url = strndup(base_url, n);
	if (!info->base_url)
		abort();
	return info;
}

int dos_resolver_add_deb_index(struct dos_resolver *r, const char *repo_name,
			       const char *packages_path, const char *base_url, int priority)
{
	Pool *pool = r->pool;
	struct scan sc = { .pool = pool };
	struct mapped m;
	Id first = pool->nsolvables;
	Repo *repo;
	int ret;

	ret = index_map(r->ctx, packages_path, &m);
	if (ret < 0)
		return ret;
	scan_index(&sc, m.buf ? m.buf : "", m.len);
	repo = repo_create(pool, repo_name);
	repo->priority = priority;
	r->dirty = true;
	ret = index_parse(r, repo, packages_path, &m);
	if (ret == 0)
		ret = index_match(r, first, &sc, packages_path);
	index_unmap(&m);
	free(sc.v);
	if (ret < 0) {
		repo_free(repo, 1);
		return ret;
	}
	repo->appdata = repo_info_new(repo_name, base_url);
	dos_strv_push(&r->repo_names, repo_name);
	dos_debug(r->ctx, "resolver: %d packages from '%s'", repo->nsolvables, repo_name);
	return 0;
}
