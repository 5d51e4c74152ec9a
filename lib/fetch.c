/* Downloads through one libcurl multi handle into a content-addressed
 * cache. Every body is hashed while it is written to a temporary file and
 * only renamed to its final name once it matches: a crash or a bad mirror
 * never leaves a partial or wrong file under a name we trust. */
#include "fetch.h"
#include "progress.h"
#include "util.h"
#include "version.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define USER_AGENT "diracos/" DIRACOS_VERSION
#define MAX_PARALLEL 16
#define BAD_BODY_TRIES 2 /* a body that fails verification is fetched twice at most */
/* An unverified download (dos_fetch_to_file) cannot fill the disk. */
#define UNVERIFIED_MAX ((uint64_t)256 << 20)

/* --- a temporary file, hashed while written --- */

struct sink {
	char *tmp_path;         /* NULL: an unnamed file (O_TMPFILE) in dir */
	char *dir;
	int fd;
	struct dos_sha256 *h;
	uint64_t written;
	uint64_t limit; /* 0: none */
};

static int sink_open(struct dos_ctx *ctx, struct sink *s, const char *dir, const char *base,
		     uint64_t limit)
{
	/* Unnamed until verified: a killed run leaves nothing in the cache. */
	s->tmp_path = NULL;
	s->fd = dos_tmpfile_open(dir, 0644);
	if (s->fd < 0) {
		s->tmp_path = dos_xasprintf("%s/.%s.tmp-XXXXXX", dir, base);
		s->fd = mkostemp(s->tmp_path, O_CLOEXEC);
	}
	if (s->fd < 0) {
		int e = errno;
		free(s->tmp_path);
		s->tmp_path = NULL;
		return dos_error_errno(ctx, DOS_EIO, e, "cannot create a temporary file in '%s'", dir);
	}
	fchmod(s->fd, 0644);
	s->dir = dos_xstrdup(dir);
	s->h = dos_sha256_new();
	s->written = 0;
	s->limit = limit;
	return 0;
}

static void sink_abort(struct sink *s)
{
	char hex[DOS_SHA256_HEX];

	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->tmp_path)
		unlink(s->tmp_path);
	free(s->tmp_path);
	s->tmp_path = NULL;
	free(s->dir);
	s->dir = NULL;
	if (s->h)
		dos_sha256_final(s->h, hex);
	s->h = NULL;
}

/* 0, or a positive errno, or -1 when the limit is passed (no message: the
 * caller may be a libcurl callback). */
static int sink_write(struct sink *s, const void *data, size_t len)
{
	if (s->limit && s->written + len > s->limit)
		return -1;
	dos_sha256_update(s->h, data, len);
	s->written += len;
	return dos_write_full(s->fd, data, len);
}

static int mismatch_error(struct dos_ctx *ctx, const char *expected, const char *got,
			  uint64_t size, uint64_t written)
{
	bool bad_sha = expected && strcasecmp(expected, got);
	bool bad_size = size && size != written;

	if (bad_sha && bad_size)
		return dos_error(ctx, DOS_ECHECKSUM, "sha256 mismatch (expected %s, got %s; "
				 "size expected %llu bytes, got %llu)", expected, got,
				 (unsigned long long)size, (unsigned long long)written);
	if (bad_sha)
		return dos_error(ctx, DOS_ECHECKSUM, "sha256 mismatch (expected %s, got %s)",
				 expected, got);
	return dos_error(ctx, DOS_ECHECKSUM, "size mismatch (expected %llu bytes, got %llu)",
			 (unsigned long long)size, (unsigned long long)written);
}

/* Flushes and checks the content; got receives its digest. On any error
 * the temporary file is gone. */
static int sink_finish(struct dos_ctx *ctx, struct sink *s, const char *sha256, uint64_t size,
		       char got[DOS_SHA256_HEX])
{
	dos_sha256_final(s->h, got);
	s->h = NULL;
	/* An unnamed file stays open until sink_rename names it. */
	if (fsync(s->fd) < 0 || (s->tmp_path && close(s->fd) < 0)) {
		int e = errno;
		if (s->tmp_path)
			s->fd = -1;
		sink_abort(s);
		return dos_error_errno(ctx, DOS_EIO, e, "cannot write a temporary file in '%s'",
				       s->dir);
	}
	if (s->tmp_path)
		s->fd = -1;
	if ((size && size != s->written) || (sha256 && strcasecmp(sha256, got))) {
		sink_abort(s);
		return mismatch_error(ctx, sha256, got, size, s->written);
	}
	return 0;
}

static void fsync_dir(const char *path)
{
	_cleanup_free_ char *dir = dos_path_dirname(path);
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0)
		fsync(fd);
}

static int sink_rename(struct dos_ctx *ctx, struct sink *s, const char *final)
{
	int e = 0;

	if (!s->tmp_path) {
		e = -dos_tmpfile_link(s->fd, s->dir, final);
		if (close(s->fd) < 0 && e == 0)
			e = errno;
		s->fd = -1;
	} else if (rename(s->tmp_path, final) < 0) {
		e = errno;
	}
	if (e) {
		sink_abort(s);
		return dos_error_errno(ctx, DOS_EIO, e, "cannot rename into '%s'", final);
	}
	fsync_dir(final);
	free(s->tmp_path);
	s->tmp_path = NULL;
	free(s->dir);
	s->dir = NULL;
	return 0;
}

/* --- the cache --- */

static int env_int(const char *name, int fallback)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return fallback;
	n = strtol(v, &end, 10);
	return *end || n <= 0 || n > 86400 ? fallback : (int)n;
}

char *dos_cache_default_dir(void)
{
	const char *v;

	v = getenv("DIRACOS_CACHE");
	if (v && *v)
		return dos_xstrdup(v);
	v = getenv("XDG_CACHE_HOME");
	if (v && v[0] == '/')
		return dos_path_join(v, "diracos");
	v = getenv("HOME");
	if (v && *v)
		return dos_path_join(v, ".cache/diracos");
	return NULL;
}

int dos_cache_open(struct dos_ctx *ctx, const char *dir, struct dos_cache **out)
{
	_cleanup_free_ char *def = dir ? NULL : dos_cache_default_dir();
	_cleanup_free_ char *sub = NULL, *tmp = NULL;
	struct dos_cache *c;
	int r;

	if (!dir && !def)
		return dos_error(ctx, DOS_ECONFIG, "no cache folder: set DIRACOS_CACHE or HOME");
	c = dos_xcalloc(1, sizeof(*c));
	c->root = dos_path_absolute(NULL, dir ? dir : def);
	c->stall_timeout_s = env_int("DIRACOS_STALL_TIMEOUT", 60);
	c->tries = 3;
	c->retry_delay_ms = 1000;
	sub = dos_path_join(c->root, "sha256");
	tmp = dos_path_join(c->root, "tmp");
	r = dos_mkdir_p(ctx, sub, 0755);
	if (r == 0)
		r = dos_mkdir_p(ctx, tmp, 0755);
	if (r < 0) {
		dos_cache_free(c);
		return dos_error_prefix(ctx, "cache");
	}
	*out = c;
	return 0;
}

void dos_cache_free(struct dos_cache *cache)
{
	if (!cache)
		return;
	free(cache->root);
	free(cache);
}

char *dos_cache_path(const struct dos_cache *cache, const char *sha256)
{
	char lower[DOS_SHA256_HEX];

	if (!sha256 || !dos_sha256_valid(sha256))
		return NULL;
	for (int i = 0; i < 65; i++)
		lower[i] = (char)tolower((unsigned char)sha256[i]);
	return dos_xasprintf("%s/sha256/%.2s/%s", cache->root, lower, lower);
}

bool dos_cache_has(const struct dos_cache *cache, const char *sha256)
{
	_cleanup_free_ char *path = dos_cache_path(cache, sha256);

	return path && access(path, F_OK) == 0;
}

/* A cached file whose size is not the expected one was damaged after it
 * went in: download it again rather than trust it. */
static bool cache_has_sized(const struct dos_cache *cache, const char *sha256, uint64_t size)
{
	_cleanup_free_ char *path = dos_cache_path(cache, sha256);
	struct stat st;

	if (!path || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	return size == 0 || (uint64_t)st.st_size == size;
}

/* Moves a verified temporary file to its content's name. */
static int cache_place(struct dos_ctx *ctx, const struct dos_cache *cache, struct sink *s,
		       const char *got, char **path_out)
{
	char *final = dos_cache_path(cache, got);
	_cleanup_free_ char *dir = dos_path_dirname(final);
	int r;

	r = dos_mkdir_p(ctx, dir, 0755);
	if (r == 0)
		r = sink_rename(ctx, s, final);
	if (r < 0) {
		sink_abort(s);
		free(final);
		return r;
	}
	if (path_out)
		*path_out = final;
	else
		free(final);
	return 0;
}

struct dos_cache_writer {
	struct dos_cache *cache;
	struct sink sink;
	char sha256[DOS_SHA256_HEX]; /* empty: not known */
	uint64_t size;
};

int dos_cache_writer_open(struct dos_ctx *ctx, struct dos_cache *cache, const char *sha256,
			  uint64_t size, struct dos_cache_writer **out)
{
	_cleanup_free_ char *tmp = dos_path_join(cache->root, "tmp");
	struct dos_cache_writer *w;

	if (sha256 && !dos_sha256_valid(sha256))
		return dos_error(ctx, DOS_EFORMAT, "'%.80s' is not a sha256 digest", sha256);
	w = dos_xcalloc(1, sizeof(*w));
	w->cache = cache;
	w->size = size;
	if (sha256)
		snprintf(w->sha256, sizeof(w->sha256), "%s", sha256);
	if (sink_open(ctx, &w->sink, tmp, "insert", size) < 0) {
		free(w);
		return ctx->code;
	}
	*out = w;
	return 0;
}

int dos_cache_writer_write(struct dos_ctx *ctx, struct dos_cache_writer *w, const void *data,
			   size_t len)
{
	int e = sink_write(&w->sink, data, len);

	if (e < 0)
		return dos_error(ctx, DOS_ECHECKSUM, "size mismatch (expected %llu bytes, got more)",
				 (unsigned long long)w->size);
	if (e > 0)
		return dos_error_errno(ctx, DOS_EIO, e, "cannot write into the cache '%s'",
				       w->cache->root);
	return 0;
}

int dos_cache_writer_commit(struct dos_ctx *ctx, struct dos_cache_writer *w, char **path_out)
{
	char got[DOS_SHA256_HEX];
	int r;

	r = sink_finish(ctx, &w->sink, w->sha256[0] ? w->sha256 : NULL, w->size, got);
	if (r == 0)
		r = cache_place(ctx, w->cache, &w->sink, got, path_out);
	free(w);
	return r;
}

void dos_cache_writer_abort(struct dos_cache_writer *w)
{
	if (!w)
		return;
	sink_abort(&w->sink);
	free(w);
}

int dos_cache_insert_file(struct dos_ctx *ctx, struct dos_cache *cache, const char *src_path,
			  const char *expected_sha256)
{
	_cleanup_close_ int fd = open(src_path, O_RDONLY | O_CLOEXEC);
	struct dos_cache_writer *w;
	char buf[1 << 16];
	ssize_t n;
	int r;

	if (fd < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot open '%s'", src_path);
	r = dos_cache_writer_open(ctx, cache, expected_sha256, 0, &w);
	if (r < 0)
		return r;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			dos_cache_writer_abort(w);
			return dos_error_errno(ctx, DOS_EIO, errno, "cannot read '%s'", src_path);
		}
		r = dos_cache_writer_write(ctx, w, buf, (size_t)n);
		if (r < 0) {
			dos_cache_writer_abort(w);
			return r;
		}
	}
	r = dos_cache_writer_commit(ctx, w, NULL);
	return r < 0 ? dos_error_prefix(ctx, "file '%s'", src_path) : 0;
}

/* --- transfers --- */

enum xfer_state { X_IDLE, X_QUEUED, X_ACTIVE, X_DONE };

struct fetch_opts {
	int stall_timeout_s, tries, retry_delay_ms;
	const struct dos_cache *cache; /* NULL: downloads go to dest */
};

struct xfer {
	const char *url;
	char *label;            /* "package file 'x'" */
	char sha256[DOS_SHA256_HEX];
	uint64_t size;
	uint64_t max_size;      /* with no expected size: the most accepted (0: any) */
	const char *dest;       /* NULL: into the cache */
	enum xfer_state state;
	int tries, bad_bodies;
	int64_t not_before_ms;
	struct sink sink;
	CURL *easy;
	int write_err;          /* from the body callback: errno, or -1 for too long */
	uint64_t received;
	bool total_counted;
	struct dos_progress *progress;
	char errbuf[CURL_ERROR_SIZE];
	int result;
	int http_status;
	char *error;
	char *path;
};

struct engine {
	struct dos_ctx *ctx;    /* for logging; errors go into items, then ctx */
	struct dos_ctx scratch; /* messages of single attempts, which may be retried */
	struct fetch_opts opts;
	CURLM *multi;
	struct xfer *x;
	size_t n, active, remaining, max_active;
	struct dos_progress progress;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool is_package_file(const char *name, size_t n)
{
	static const char *const exts[] = { ".deb", ".udeb", ".ddeb", ".rpm" };

	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		size_t m = strlen(exts[i]);
		if (n >= m && !strncmp(name + n - m, exts[i], m))
			return true;
	}
	return false;
}

/* How messages name the object: a description ("index 'x'") as given, a
 * bare file name (or the URL's last component) as "package file 'x'" or
 * "file 'x'". */
static char *item_label(const char *name, const char *url)
{
	const char *end, *base;
	size_t n;

	if (name && strchr(name, '\''))
		return dos_xstrdup(name);
	if (name) {
		base = name;
		n = strlen(name);
	} else {
		end = url + strcspn(url, "?#");
		for (base = end; base > url && base[-1] != '/'; base--)
			;
		n = (size_t)(end - base);
	}
	return dos_xasprintf("%s '%.*s'", is_package_file(base, n) ? "package file" : "file",
			     (int)n, base);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t len = size * nmemb;
	curl_off_t cl = -1;

	if (!x->total_counted && x->size == 0) {
		x->total_counted = true;
		curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		if (cl > 0)
			dos_progress_add_total(x->progress, (uint64_t)cl);
	}
	x->write_err = sink_write(&x->sink, data, len);
	if (x->write_err)
		return 0;
	x->received += len;
	dos_progress_advance(x->progress, len);
	return len;
}

static CURL *easy_new(struct xfer *x, const struct fetch_opts *o)
{
	CURL *e = curl_easy_init();

	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, x->url);
	curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https,file");
	/* A redirect may never lead to a local file. */
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)o->stall_timeout_s);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)o->stall_timeout_s);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	return e;
}

static void xfer_fail(struct engine *e, struct xfer *x, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void xfer_fail(struct engine *e, struct xfer *x, int code, const char *fmt, ...)
{
	_cleanup_free_ char *what = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&what, fmt, ap);
	va_end(ap);
	if (r < 0)
		abort();
	sink_abort(&x->sink);
	x->error = dos_xasprintf("%s from %s: %s", x->label, x->url, what);
	x->result = code;
	x->state = X_DONE;
	e->remaining--;
}

static char *tries_note(const struct xfer *x)
{
	return x->tries > 1 ? dos_xasprintf(" (after %d tries)", x->tries) : dos_xstrdup("");
}

static void xfer_schedule(struct engine *e, struct xfer *x, int64_t delay_ms)
{
	/* Bytes received for nothing still count: grow the total with them. */
	dos_progress_add_total(&e->progress, x->received);
	x->received = 0;
	x->state = X_QUEUED;
	x->not_before_ms = dos_now_ms() + delay_ms;
}

/* A transient failure: again after a backoff, up to opts.tries. */
static void xfer_retry(struct engine *e, struct xfer *x, int code, const char *what)
{
	_cleanup_free_ char *note = NULL;

	if (x->tries < e->opts.tries) {
		dos_debug(e->ctx, "%s from %s: %s, retrying", x->label, x->url, what);
		xfer_schedule(e, x, (int64_t)e->opts.retry_delay_ms << (x->tries - 1));
		return;
	}
	note = tries_note(x);
	xfer_fail(e, x, code, "%s%s", what, note);
}

/* A body that does not verify may be a mirror caught mid-update: fetch it
 * once more, then report it. */
static void xfer_bad_body(struct engine *e, struct xfer *x, const char *what)
{
	if (++x->bad_bodies < BAD_BODY_TRIES) {
		dos_debug(e->ctx, "%s from %s: %s, retrying", x->label, x->url, what);
		xfer_schedule(e, x, 0);
		return;
	}
	xfer_fail(e, x, DOS_ECHECKSUM, "%s", what);
}

static void xfer_verify(struct engine *e, struct xfer *x)
{
	char got[DOS_SHA256_HEX];
	char *path = NULL;
	int r;

	r = sink_finish(&e->scratch, &x->sink, x->sha256[0] ? x->sha256 : NULL, x->size, got);
	if (r == DOS_ECHECKSUM) {
		xfer_bad_body(e, x, e->scratch.msg);
		return;
	}
	if (r == 0 && e->opts.cache)
		r = cache_place(&e->scratch, e->opts.cache, &x->sink, got, &path);
	else if (r == 0 && (r = sink_rename(&e->scratch, &x->sink, x->dest)) == 0)
		path = dos_xstrdup(x->dest);
	if (r < 0) {
		xfer_fail(e, x, r, "%s", e->scratch.msg);
		return;
	}
	x->path = path;
	x->result = 0;
	x->state = X_DONE;
	e->remaining--;
}

static bool curl_transient(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

/* libcurl's message, lowercase as ours are; a stall said plainly. */
static char *curl_reason(const struct xfer *x, CURLcode rc, int stall_s)
{
	char *what;

	if (rc == CURLE_OPERATION_TIMEDOUT && strstr(x->errbuf, "too slow"))
		return dos_xasprintf("stalled: no data for %d seconds", stall_s);
	what = dos_xstrdup(x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
	if (isupper((unsigned char)what[0]) && islower((unsigned char)what[1]))
		what[0] = (char)tolower((unsigned char)what[0]);
	return what;
}

static void xfer_done(struct engine *e, struct xfer *x, CURLcode rc)
{
	long status = 0;
	_cleanup_free_ char *what = NULL, *dir = NULL;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	x->http_status = (int)status;
	curl_multi_remove_handle(e->multi, x->easy);
	curl_easy_cleanup(x->easy);
	x->easy = NULL;
	e->active--;
	if (rc == CURLE_OK) {
		xfer_verify(e, x);
		return;
	}
	/* A full disk is named with its folder. */
	dir = x->sink.dir ? dos_xstrdup(x->sink.dir) : NULL;
	sink_abort(&x->sink);
	if (rc == CURLE_WRITE_ERROR && x->write_err < 0 && !x->size) {
		xfer_fail(e, x, DOS_EFORMAT, "larger than %llu bytes",
			  (unsigned long long)x->max_size);
	} else if (rc == CURLE_WRITE_ERROR && x->write_err < 0) {
		what = dos_xasprintf("size mismatch (expected %llu bytes, got more)",
				     (unsigned long long)x->size);
		xfer_bad_body(e, x, what);
	} else if (rc == CURLE_WRITE_ERROR && x->write_err > 0) {
		xfer_fail(e, x, DOS_EIO, "cannot write into '%s': %s", dir ? dir : "?",
			  strerror(x->write_err));
	} else if (rc == CURLE_HTTP_RETURNED_ERROR) {
		what = dos_xasprintf("HTTP %ld", status);
		if (status >= 500 || status == 408 || status == 429)
			xfer_retry(e, x, DOS_ENET, what);
		else
			xfer_fail(e, x, DOS_ENET, "%s", what);
	} else {
		what = curl_reason(x, rc, e->opts.stall_timeout_s);
		if (curl_transient(rc))
			xfer_retry(e, x, DOS_ENET, what);
		else
			xfer_fail(e, x, DOS_ENET, "%s", what);
	}
}

static void xfer_start(struct engine *e, struct xfer *x)
{
	_cleanup_free_ char *dir = NULL;
	int r;

	dir = e->opts.cache ? dos_path_join(e->opts.cache->root, "tmp") : dos_path_dirname(x->dest);
	x->tries++;
	x->errbuf[0] = '\0';
	x->write_err = 0;
	x->received = 0;
	r = sink_open(&e->scratch, &x->sink, dir, "download", x->size ? x->size : x->max_size);
	if (r < 0) {
		xfer_fail(e, x, r, "%s", e->scratch.msg);
		return;
	}
	x->easy = easy_new(x, &e->opts);
	if (!x->easy || curl_multi_add_handle(e->multi, x->easy) != CURLM_OK) {
		curl_easy_cleanup(x->easy);
		x->easy = NULL;
		xfer_fail(e, x, DOS_ENET, "cannot set up the transfer");
		return;
	}
	x->state = X_ACTIVE;
	e->active++;
}

/* Starts what may start; returns the milliseconds until the next queued
 * transfer may start (-1: none waiting). */
static int64_t engine_start_ready(struct engine *e)
{
	int64_t now = dos_now_ms(), wait = -1;

	for (size_t i = 0; i < e->n; i++) {
		struct xfer *x = &e->x[i];
		if (x->state != X_QUEUED)
			continue;
		if (x->not_before_ms <= now && e->active < e->max_active) {
			xfer_start(e, x);
			continue;
		}
		int64_t w = x->not_before_ms > now ? x->not_before_ms - now : 0;
		if (e->active < e->max_active && (wait < 0 || w < wait))
			wait = w;
	}
	return wait;
}

static void engine_collect(struct engine *e)
{
	struct CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(e->multi, &left))) {
		struct xfer *x = NULL;
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		xfer_done(e, x, m->data.result);
	}
}

static void engine_run(struct engine *e)
{
	int running, timeout;
	size_t before;
	int64_t wait;

	while (e->remaining > 0) {
		wait = engine_start_ready(e);
		before = e->active;
		curl_multi_perform(e->multi, &running);
		engine_collect(e);
		/* Something finished: a slot is free, or a retry may be due. */
		if (e->active < before)
			continue;
		timeout = wait >= 0 && wait < 1000 ? (int)wait : 1000;
		curl_multi_poll(e->multi, NULL, 0, timeout, NULL);
	}
}

/* label NULL: no progress display. */
static void engine_init(struct engine *e, struct dos_ctx *ctx, const struct fetch_opts *o,
			struct xfer *x, size_t n, const char *label)
{
	int jobs = ctx->jobs > 0 ? ctx->jobs : 1;

	pthread_once(&curl_once, curl_init_once);
	memset(e, 0, sizeof(*e));
	e->ctx = ctx;
	dos_ctx_init(&e->scratch);
	e->opts = *o;
	e->x = x;
	e->n = n;
	e->max_active = (size_t)(jobs * 2 < MAX_PARALLEL ? jobs * 2 : MAX_PARALLEL);
	e->multi = curl_multi_init();
	dos_progress_start(&e->progress, label ? ctx : NULL, label ? label : "", 0, 1);
	for (size_t i = 0; i < n; i++) {
		x[i].progress = &e->progress;
		if (x[i].state != X_QUEUED)
			continue;
		e->remaining++;
		dos_progress_add_total(&e->progress, x[i].size);
	}
}

static void engine_release(struct engine *e)
{
	dos_progress_finish(&e->progress);
	curl_multi_cleanup(e->multi);
}

static void engine_execute(struct dos_ctx *ctx, const struct fetch_opts *o, struct xfer *x,
			  size_t n, const char *label)
{
	struct engine e;

	engine_init(&e, ctx, o, x, n, label);
	for (size_t i = 0; !e.multi && i < n; i++)
		if (x[i].state == X_QUEUED)
			xfer_fail(&e, &x[i], DOS_ENET, "cannot initialize libcurl");
	engine_run(&e);
	engine_release(&e);
}

/* --- the public calls --- */

static void xfer_prepare(struct xfer *x, const struct dos_fetch_item *item,
			 const struct dos_cache *cache)
{
	x->sink.fd = -1;   /* nothing open: a transfer failing early closes nothing */
	x->url = item->url;
	x->label = item_label(item->name, item->url ? item->url : "");
	x->size = item->size;
	if (!item->url) {
		x->result = DOS_EUSAGE;
		x->error = dos_xasprintf("%s: no URL", x->label);
		x->state = X_DONE;
		return;
	}
	if (item->sha256 && !dos_sha256_valid(item->sha256)) {
		x->result = DOS_EFORMAT;
		x->error = dos_xasprintf("%s from %s: '%.80s' is not a sha256 digest", x->label,
					 x->url, item->sha256);
		x->state = X_DONE;
		return;
	}
	for (int i = 0; item->sha256 && i < 65; i++)
		x->sha256[i] = (char)tolower((unsigned char)item->sha256[i]);
	if (item->sha256 && cache_has_sized(cache, x->sha256, x->size)) {
		x->path = dos_cache_path(cache, x->sha256);
		x->state = X_DONE;
		return;
	}
	x->state = X_QUEUED;
}

static int fetch_report(struct dos_ctx *ctx, struct dos_fetch_item *items, struct xfer *x,
			size_t n)
{
	size_t failed = 0, first = 0;

	for (size_t i = 0; i < n; i++) {
		items[i].result = x[i].result;
		items[i].http_status = x[i].http_status;
		items[i].error = x[i].error;
		items[i].path = x[i].path;
		free(x[i].label);
		if (x[i].result < 0 && failed++ == 0)
			first = i;
	}
	if (failed == 0)
		return 0;
	if (failed == 1)
		return dos_error(ctx, items[first].result, "%s", items[first].error);
	return dos_error(ctx, items[first].result, "%s (and %zu more failed downloads)",
			 items[first].error, failed - 1);
}

int dos_fetch_many(struct dos_ctx *ctx, struct dos_cache *cache, struct dos_fetch_item *items,
		   size_t n, const char *progress_label)
{
	struct fetch_opts o = {
		.stall_timeout_s = cache->stall_timeout_s > 0 ? cache->stall_timeout_s : 60,
		.tries = cache->tries > 0 ? cache->tries : 1,
		.retry_delay_ms = cache->retry_delay_ms >= 0 ? cache->retry_delay_ms : 0,
		.cache = cache,
	};
	struct xfer *x = dos_xcalloc(n, sizeof(*x));
	int r;

	for (size_t i = 0; i < n; i++) {
		items[i].path = items[i].error = NULL;
		xfer_prepare(&x[i], &items[i], cache);
	}
	engine_execute(ctx, &o, x, n, progress_label ? progress_label : "downloading");
	r = fetch_report(ctx, items, x, n);
	free(x);
	return r;
}

void dos_fetch_items_release(struct dos_fetch_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(items[i].path);
		free(items[i].error);
		items[i].path = items[i].error = NULL;
	}
}

int dos_fetch_to_file(struct dos_ctx *ctx, const char *url, const char *dest_path)
{
	struct fetch_opts o = {
		.stall_timeout_s = env_int("DIRACOS_STALL_TIMEOUT", 60),
		.tries = 3,
		.retry_delay_ms = 1000,
	};
	struct xfer x = { .url = url, .dest = dest_path, .max_size = UNVERIFIED_MAX,
			  .state = X_QUEUED, .sink.fd = -1 };
	int r;

	x.label = item_label(NULL, url);
	engine_execute(ctx, &o, &x, 1, NULL);
	r = 0;
	if (x.result < 0)
		r = dos_error(ctx, x.result, "%s", x.error);
	free(x.label);
	free(x.error);
	free(x.path);
	return r;
}
