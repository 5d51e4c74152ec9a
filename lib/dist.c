/* A Debian archive's signed indices. Trust flows from the keyring: gpgv
 * verifies InRelease, whose signed text lists the sha256 of every index;
 * an index enters the cache only when it matches, and its decompressed
 * form only when that matches the uncompressed digest InRelease lists too.
 * Nothing outside the one signed block of InRelease is ever read. */
#include "dist.h"
#include "run.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CONTROL_FIELD_MAX ((size_t)64 << 20)
#define CONTROL_FIELDS_MAX 4096
#define INRELEASE_MAX ((size_t)64 << 20)

/* --- control files --- */

void dos_control_parser_init(struct dos_control_parser *p, const char *data, size_t len,
			     const char *what)
{
	p->data = data;
	p->len = len;
	p->pos = 0;
	p->line = 0;
	p->what = what ? what : "control data";
}

/* The next line without its newline (nor a CR before it); false at the end. */
static bool parser_next_line(struct dos_control_parser *p, const char **start, size_t *len)
{
	const char *s, *nl;
	size_t n;

	if (p->pos >= p->len)
		return false;
	s = p->data + p->pos;
	nl = memchr(s, '\n', p->len - p->pos);
	n = nl ? (size_t)(nl - s) : p->len - p->pos;
	p->pos += n + (nl ? 1 : 0);
	p->line++;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	*start = s;
	*len = n;
	return true;
}

static bool line_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

static void trim(const char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

/* Empties c but keeps its array, for the next stanza. */
static void control_clear(struct dos_control *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->fields[i].name);
		free(c->fields[i].value);
	}
	c->n = 0;
	c->line = 0;
}

void dos_control_release(struct dos_control *c)
{
	control_clear(c);
	free(c->fields);
	memset(c, 0, sizeof(*c));
}

static int control_add_field(struct dos_ctx *ctx, struct dos_control_parser *p,
			     struct dos_control *c, const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	struct dos_control_field *f;
	const char *v;
	size_t vn;

	if (!colon || colon == s || memchr(s, ' ', (size_t)(colon - s)) ||
	    memchr(s, '\t', (size_t)(colon - s)))
		return dos_error(ctx, DOS_EFORMAT, "%s, line %zu: expected 'Field: value'",
				 p->what, p->line);
	if (c->n >= CONTROL_FIELDS_MAX)
		return dos_error(ctx, DOS_EFORMAT, "%s, line %zu: more than %d fields in a stanza",
				 p->what, p->line, CONTROL_FIELDS_MAX);
	if (c->n == c->alloc) {
		c->alloc = c->alloc ? c->alloc * 2 : 16;
		c->fields = dos_xrealloc(c->fields, c->alloc * sizeof(*c->fields));
	}
	v = colon + 1;
	vn = n - (size_t)(v - s);
	trim(&v, &vn);
	f = &c->fields[c->n++];
	f->name = dos_xasprintf("%.*s", (int)(colon - s), s);
	f->value = dos_xasprintf("%.*s", (int)vn, v);
	f->len = vn;
	f->alloc = vn + 1;
	return 0;
}

static int control_continue(struct dos_ctx *ctx, struct dos_control_parser *p,
			    struct dos_control *c, const char *s, size_t n)
{
	struct dos_control_field *f;
	size_t sep;

	if (c->n == 0)
		return dos_error(ctx, DOS_EFORMAT, "%s, line %zu: continuation line without a field",
				 p->what, p->line);
	f = &c->fields[c->n - 1];
	s++;
	n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	sep = f->len ? 1 : 0;
	if (f->len + sep + n > CONTROL_FIELD_MAX)
		return dos_error(ctx, DOS_EFORMAT, "%s, line %zu: field '%.64s' is longer than %zu bytes",
				 p->what, p->line, f->name, CONTROL_FIELD_MAX);
	if (f->len + sep + n + 1 > f->alloc) {
		f->alloc = (f->len + sep + n + 1) * 2;
		f->value = dos_xrealloc(f->value, f->alloc);
	}
	if (sep)
		f->value[f->len] = '\n';
	memcpy(f->value + f->len + sep, s, n);
	f->len += sep + n;
	f->value[f->len] = '\0';
	return 0;
}

static int control_line(struct dos_ctx *ctx, struct dos_control_parser *p, struct dos_control *c,
			const char *s, size_t n)
{
	if (memchr(s, '\0', n))
		return dos_error(ctx, DOS_EFORMAT, "%s, line %zu: NUL byte", p->what, p->line);
	if (s[0] == ' ' || s[0] == '\t')
		return control_continue(ctx, p, c, s, n);
	if (n > CONTROL_FIELD_MAX)
		return dos_error(ctx, DOS_EFORMAT, "%s, line %zu: line longer than %zu bytes",
				 p->what, p->line, CONTROL_FIELD_MAX);
	return control_add_field(ctx, p, c, s, n);
}

int dos_control_parse_next(struct dos_ctx *ctx, struct dos_control_parser *p,
			   struct dos_control *c)
{
	const char *s;
	size_t n;
	int r;

	control_clear(c);
	while (parser_next_line(p, &s, &n)) {
		if (line_blank(s, n)) {
			if (c->n)
				return 1;
			continue;
		}
		if (s[0] == '#')
			continue;
		if (c->n == 0)
			c->line = p->line;
		r = control_line(ctx, p, c, s, n);
		if (r < 0) {
			control_clear(c);
			return r;
		}
	}
	return c->n ? 1 : 0;
}

const char *dos_control_get(const struct dos_control *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcasecmp(c->fields[i].name, name))
			return c->fields[i].value;
	return NULL;
}

/* --- the clearsigned InRelease --- */

#define BEGIN_SIGNED "-----BEGIN PGP SIGNED MESSAGE-----"
#define BEGIN_SIG "-----BEGIN PGP SIGNATURE-----"
#define END_SIG "-----END PGP SIGNATURE-----"

enum armor_state { A_BEFORE, A_HEADERS, A_TEXT, A_SIG, A_AFTER };

static bool line_is(const char *s, size_t n, const char *marker)
{
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n == strlen(marker) && !memcmp(s, marker, n);
}

/* One line of the armor; NULL when fine, else what is wrong. */
static const char *armor_line(enum armor_state *st, const char *s, size_t n)
{
	switch (*st) {
	case A_BEFORE:
		if (line_is(s, n, BEGIN_SIGNED))
			*st = A_HEADERS;
		else if (!line_blank(s, n))
			return "text before the signed block";
		return NULL;
	case A_HEADERS:
		if (line_blank(s, n))
			*st = A_TEXT;
		else if (!memchr(s, ':', n))
			return "malformed armor header";
		return NULL;
	case A_TEXT:
		if (line_is(s, n, BEGIN_SIG))
			*st = A_SIG;
		else if (n > 0 && s[0] == '-' && (n < 2 || s[1] != ' '))
			return "a line in the signed text starts with an unescaped dash";
		return NULL;
	case A_SIG:
		if (line_is(s, n, END_SIG))
			*st = A_AFTER;
		return NULL;
	case A_AFTER:
		if (line_is(s, n, BEGIN_SIGNED))
			return "more than one signed block";
		return line_blank(s, n) ? NULL : "unsigned text after the signature";
	}
	return NULL;
}

/* A clearsigned file may carry unsigned text around its signed block, and
 * a reader that is not gpgv may take it for signed: accept exactly one
 * block and nothing else. */
static int clearsign_check(struct dos_ctx *ctx, const struct dos_archive *a, const char *data,
			   size_t len)
{
	struct dos_control_parser p;
	enum armor_state st = A_BEFORE;
	const char *s, *why = NULL;
	size_t n;

	if (memchr(data, '\0', len))
		why = "NUL byte";
	dos_control_parser_init(&p, data, len, NULL);
	while (!why && parser_next_line(&p, &s, &n))
		why = armor_line(&st, s, n);
	if (!why && st != A_AFTER)
		why = st == A_BEFORE ? "not a clearsigned file" : "truncated signature block";
	if (why && p.line > 0)
		return dos_error(ctx, DOS_ESIGNATURE, "InRelease from %s, line %zu: %s",
				 a->inrelease_url, p.line, why);
	if (why)
		return dos_error(ctx, DOS_ESIGNATURE, "InRelease from %s: %s", a->inrelease_url, why);
	return 0;
}

/* gpgv's complaint from its log: its lines, without the "gpgv: " prefix,
 * joined with "; ". */
static char *gpgv_complaint(const char *log)
{
	struct dos_ctx scratch;
	_cleanup_free_ char *data = NULL;
	char *out = dos_xstrdup(""), *line, *save = NULL;

	dos_ctx_init(&scratch);
	if (dos_read_file(&scratch, log, 1 << 20, &data, NULL) < 0)
		return out;
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *next;
		if (!strncmp(line, "[GNUPG:] ", 9))
			continue; /* status lines: read by signatures_judge */
		if (!strncmp(line, "gpgv: ", 6))
			line += 6;
		while (*line == ' ')
			line++;
		if (!*line || strlen(out) > 800)
			continue;
		next = dos_xasprintf("%s%s%s", out, *out ? "; " : "", line);
		free(out);
		out = next;
	}
	return out;
}

/* What gpgv's status lines say of the signatures (gpg's doc/DETAILS):
 * each starts with NEWSIG; a good one has GOODSIG (EXPKEYSIG, REVKEYSIG or
 * EXPSIG take its place for a key that expired or was revoked, or a
 * signature that expired: gpgv still exits 0 for those, apt refuses them)
 * and a VALIDSIG whose digest (its 8th field) is not MD5, SHA1 or
 * RIPEMD160. */
struct sig_verdict {
	int good, bad, expired, revoked, weak;
};

static void signature_close(struct sig_verdict *v, bool goodsig, int hash)
{
	if (!goodsig)
		return;
	if (hash >= 1 && hash <= 3)
		v->weak++;
	else if (hash > 3)
		v->good++;
}

static struct sig_verdict signatures_judge(const char *log)
{
	struct dos_ctx scratch;
	_cleanup_free_ char *data = NULL;
	struct sig_verdict v = { 0 };
	char *line, *save = NULL;
	bool goodsig = false;
	int hash = 0;

	dos_ctx_init(&scratch);
	if (dos_read_file(&scratch, log, 1 << 20, &data, NULL) < 0)
		return v;
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *st = !strncmp(line, "[GNUPG:] ", 9) ? line + 9 : NULL;
		if (!st)
			continue;
		if (!strncmp(st, "NEWSIG", 6)) {
			signature_close(&v, goodsig, hash);
			goodsig = false;
			hash = 0;
		} else if (!strncmp(st, "GOODSIG ", 8)) {
			goodsig = true;
		} else if (!strncmp(st, "VALIDSIG ", 9)) {
			/* fpr date timestamp expire version reserved pubkey-algo hash-algo */
			if (sscanf(st + 9, "%*s %*s %*s %*s %*s %*s %*s %d", &hash) != 1)
				hash = 0;
		} else if (!strncmp(st, "BADSIG ", 7)) {
			v.bad++;
		} else if (!strncmp(st, "EXPKEYSIG ", 10) || !strncmp(st, "EXPSIG ", 7)) {
			v.expired++;
		} else if (!strncmp(st, "REVKEYSIG ", 10)) {
			v.revoked++;
		}
	}
	signature_close(&v, goodsig, hash);
	return v;
}

/* Runs gpgv on the InRelease; *text gets what gpgv verified (the signed
 * text with its armor and dash-escapes removed), from gpgv itself. Taken
 * when gpgv exits 0, no signature is bad, and at least one is good by the
 * rules above. */
static int gpgv_verify(struct dos_ctx *ctx, const struct dos_archive *a, const char *path,
		       const char *keyring, const char *dir, char **text, size_t *len)
{
	/* Per call: parallel builds open the same archive at once. */
	static _Atomic unsigned long seq;
	_cleanup_free_ char *log = dos_xasprintf("%s/gpgv.log-%ld-%lu", dir, (long)getpid(), ++seq);
	_cleanup_free_ char *home = dos_path_join(dir, "gnupg");
	_cleanup_free_ char *ring = dos_path_absolute(NULL, keyring);
	_cleanup_free_ char *complaint = NULL;
	/* An empty home: no default keyring or option file can join in. */
	char *argv[] = { "gpgv", "--homedir", home, "--keyring", ring, "--status-fd", "2",
			 "--output", "-", (char *)path, NULL };
	struct dos_run_opts o = { .log_path = log };
	struct sig_verdict v;
	int r;

	if (access(ring, R_OK) < 0)
		return dos_error_errno(ctx, DOS_ESIGNATURE, errno, "keyring '%s'", ring);
	if (mkdir(home, 0700) < 0 && errno != EEXIST)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot create folder '%s'", home);
	r = dos_run_capture(ctx, argv, &o, text, len);
	complaint = gpgv_complaint(log);
	v = signatures_judge(log);
	unlink(log);
	if (r < 0 && !*complaint)
		return dos_error_prefix(ctx, "InRelease from %s: cannot verify", a->inrelease_url);
	if (r < 0 || v.bad)
		return dos_error(ctx, DOS_ESIGNATURE, "InRelease from %s: bad signature: %s",
				 a->inrelease_url, complaint);
	if (v.good == 0) {
		free(*text);
		*text = NULL;
		return dos_error(ctx, DOS_ESIGNATURE, "InRelease from %s: no valid signature "
				 "(%d by an expired key or expired, %d by a revoked key, %d with a "
				 "weak digest)", a->inrelease_url, v.expired, v.revoked, v.weak);
	}
	return 0;
}

static int inrelease_verify(struct dos_ctx *ctx, const struct dos_archive *a, const char *path,
			    const char *keyring, const char *dir, char **text, size_t *len)
{
	_cleanup_free_ char *data = NULL;
	size_t n;
	int r;

	r = dos_read_file(ctx, path, INRELEASE_MAX, &data, &n);
	if (r < 0)
		return dos_error_prefix(ctx, "InRelease from %s", a->inrelease_url);
	r = clearsign_check(ctx, a, data, n);
	if (r < 0)
		return r;
	return gpgv_verify(ctx, a, path, keyring, dir, text, len);
}

/* --- the Release fields --- */

/* "Sat, 10 Jun 2023 08:53:35 UTC" (or +hhmm); 0 when unreadable. */
static int64_t parse_date(const char *s)
{
	struct tm tm = { 0 };
	const char *rest = strptime(s, "%a, %d %b %Y %H:%M:%S", &tm);
	int64_t t;

	if (!rest)
		return 0;
	t = (int64_t)timegm(&tm);
	while (*rest == ' ')
		rest++;
	if ((rest[0] == '+' || rest[0] == '-') && strlen(rest) >= 5) {
		int off = (rest[1] - '0') * 600 + (rest[2] - '0') * 60 + (rest[3] - '0') * 10 +
			  (rest[4] - '0');
		t -= (rest[0] == '+' ? 1 : -1) * (int64_t)off * 60;
	}
	return t;
}

/* "<sha256> <size> <path>" */
static int release_add_file(struct dos_ctx *ctx, struct dos_archive *a, char *line)
{
	char *save = NULL, *end;
	char *sha = strtok_r(line, " \t", &save);
	char *size = sha ? strtok_r(NULL, " \t", &save) : NULL;
	char *path = size ? strtok_r(NULL, " \t", &save) : NULL;
	struct dos_archive_file *f;
	unsigned long long n;

	errno = 0;
	n = size ? strtoull(size, &end, 10) : 0;
	if (!path || strtok_r(NULL, " \t", &save) || !dos_sha256_valid(sha) || errno ||
	    *end || !isdigit((unsigned char)size[0]))
		return dos_error(ctx, DOS_EFORMAT, "InRelease from %s: malformed SHA256 line '%.120s'",
				 a->inrelease_url, line);
	a->files = dos_xrealloc(a->files, (a->n_files + 1) * sizeof(*a->files));
	f = &a->files[a->n_files++];
	f->path = dos_xstrdup(path);
	for (int i = 0; i < DOS_SHA256_HEX; i++)
		f->sha256[i] = (char)tolower((unsigned char)sha[i]);
	f->size = n;
	return 0;
}

static int release_files(struct dos_ctx *ctx, struct dos_archive *a, const char *sha256)
{
	_cleanup_free_ char *copy = dos_xstrdup(sha256);
	char *line, *save = NULL;
	int r;

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		r = release_add_file(ctx, a, line);
		if (r < 0)
			return r;
	}
	if (a->n_files == 0)
		return dos_error(ctx, DOS_EFORMAT, "InRelease from %s: empty SHA256 list",
				 a->inrelease_url);
	return 0;
}

/* Whether this is the first time this process takes url expired: one
 * warning per InRelease, however many sources a build fetches from it. */
static bool expired_first_time(const char *url)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct dos_strv warned;
	bool first = true;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; first && i < warned.n; i++)
		first = strcmp(warned.v[i], url) != 0;
	if (first)
		dos_strv_push(&warned, url);
	pthread_mutex_unlock(&lock);
	return first;
}

bool dos_archive_valid_until_ignored(void)
{
	const char *check = getenv("DIRACOS_CHECK_VALID_UNTIL");

	return check && !strcmp(check, "0");
}

static int release_dates(struct dos_ctx *ctx, struct dos_archive *a, const struct dos_control *c)
{
	const char *date = dos_control_get(c, "Date");
	const char *until = dos_control_get(c, "Valid-Until");

	a->date = date ? parse_date(date) : 0;
	if (!until)
		return 0;
	a->valid_until = parse_date(until);
	if (!a->valid_until)
		return dos_error(ctx, DOS_EFORMAT, "InRelease from %s: unreadable Valid-Until '%.64s'",
				 a->inrelease_url, until);
	if (a->valid_until >= (int64_t)time(NULL) || dos_archive_valid_until_ignored())
		return 0;
	if (a->flags & DOS_ARCHIVE_PINNED) {
		if (expired_first_time(a->inrelease_url))
			dos_warn(ctx, "InRelease from %s: expired on %s (Valid-Until); "
				 "taken for files pinned by sha256 only", a->inrelease_url, until);
		return 0;
	}
	return dos_error(ctx, DOS_ESIGNATURE,
			 "InRelease from %s: expired on %s (Valid-Until; "
			 "DIRACOS_CHECK_VALID_UNTIL=0 accepts it, e.g. for a snapshot mirror)",
			 a->inrelease_url, until);
}

static int release_parse(struct dos_ctx *ctx, struct dos_archive *a, const char *text,
			 size_t len)
{
	_cleanup_free_ char *what = dos_xasprintf("InRelease from %s", a->inrelease_url);
	struct dos_control_parser p;
	struct dos_control c = { 0 };
	const char *v = NULL;
	int r;

	dos_control_parser_init(&p, text, len, what);
	r = dos_control_parse_next(ctx, &p, &c);
	if (r == 0)
		r = dos_error(ctx, DOS_EFORMAT, "%s: no fields", what);
	if (r > 0 && !(v = dos_control_get(&c, "SHA256")))
		r = dos_error(ctx, DOS_EFORMAT, "%s: no SHA256 field", what);
	if (r > 0)
		r = release_files(ctx, a, v);
	if (r >= 0)
		r = release_dates(ctx, a, &c);
	if (r >= 0) {
		v = dos_control_get(&c, "Codename");
		a->codename = v ? dos_xstrdup(v) : NULL;
		v = dos_control_get(&c, "Acquire-By-Hash");
		a->by_hash = v && !strcasecmp(v, "yes");
	}
	dos_control_release(&c);
	return r < 0 ? r : 0;
}

/* --- opening --- */

/* <cache>/indices/<suite>-<16 hex of the mirror's digest>: one folder per
 * (mirror, suite), whatever characters the two hold. */
static char *indices_dir(const struct dos_archive *a)
{
	char hex[DOS_SHA256_HEX];
	_cleanup_free_ char *suite = dos_xstrdup(a->suite);

	dos_sha256_buf(a->mirror, strlen(a->mirror), hex);
	for (char *s = suite; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
			*s = '_';
	return dos_xasprintf("%s/indices/%s-%.16s", a->cache->root, suite, hex);
}

static bool same_file(const char *a, const char *b)
{
	struct dos_ctx scratch;
	char ha[DOS_SHA256_HEX], hb[DOS_SHA256_HEX];

	dos_ctx_init(&scratch);
	return dos_sha256_file(&scratch, a, ha) == 0 && dos_sha256_file(&scratch, b, hb) == 0 &&
	       !strcmp(ha, hb);
}

/* Keeps the verified InRelease as the last one seen for (mirror, suite). */
static int inrelease_keep(struct dos_ctx *ctx, struct dos_archive *a, const char *fresh,
			  const char *dir)
{
	a->inrelease_path = dos_path_join(dir, "InRelease");
	a->unchanged = same_file(fresh, a->inrelease_path);
	if (a->unchanged)
		dos_debug(ctx, "InRelease from %s: unchanged", a->inrelease_url);
	if (rename(fresh, a->inrelease_path) < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot rename into '%s'",
				       a->inrelease_path);
	return 0;
}

/* <dir>/InRelease.date: the newest Date taken from this (mirror, suite).
 * A mirror serving an older InRelease than one seen before is rolled back,
 * or replays an old, validly signed one to serve old packages with known
 * holes (Debian's main suites carry no Valid-Until to stop that). */
static int64_t date_seen(const char *dir)
{
	struct dos_ctx scratch;
	_cleanup_free_ char *path = dos_path_join(dir, "InRelease.date");
	_cleanup_free_ char *text = NULL;
	long long when = 0;

	dos_ctx_init(&scratch);
	if (dos_read_file(&scratch, path, 64, &text, NULL) < 0 || sscanf(text, "%lld", &when) != 1)
		return 0;
	return when;
}

static void date_note(struct dos_ctx *ctx, const char *dir, int64_t date)
{
	_cleanup_free_ char *path = dos_path_join(dir, "InRelease.date");
	char text[32];
	int n = snprintf(text, sizeof(text), "%lld\n", (long long)date);

	if (dos_write_file_atomic(ctx, path, text, (size_t)n, 0644) < 0)
		dos_error_clear(ctx); /* a hint for next time, not this run's result */
}

static int release_not_older(struct dos_ctx *ctx, const struct dos_archive *a, int64_t seen)
{
	char was[64], now[64];
	struct tm tm;

	if (!a->date || a->date >= seen)
		return 0;
	strftime(was, sizeof(was), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&(time_t){ seen }, &tm));
	strftime(now, sizeof(now), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&(time_t){ a->date }, &tm));
	if (dos_archive_valid_until_ignored() || (a->flags & DOS_ARCHIVE_PINNED)) {
		dos_warn(ctx, "InRelease from %s: dated %s, older than the %s seen before",
			 a->inrelease_url, now, was);
		return 0;
	}
	return dos_error(ctx, DOS_ESIGNATURE, "InRelease from %s: dated %s, older than the %s "
			 "seen before: the mirror went back in time, or replays an old one "
			 "(DIRACOS_CHECK_VALID_UNTIL=0 accepts it, e.g. for a snapshot mirror)",
			 a->inrelease_url, now, was);
}

static int archive_load(struct dos_ctx *ctx, struct dos_archive *a, const char *keyring)
{
	_cleanup_free_ char *dir = indices_dir(a);
	/* Unique per thread as well as per process: parallel builds open the
	 * same archive at once. */
	static _Atomic unsigned long seq;
	_cleanup_free_ char *fresh = dos_xasprintf("%s/InRelease.new-%ld-%lu", dir, (long)getpid(),
						   ++seq);
	_cleanup_free_ char *text = NULL;
	int64_t seen = 0;
	size_t len = 0;
	int r;

	r = dos_mkdir_p(ctx, dir, 0755);
	if (r < 0)
		return r;
	r = dos_fetch_to_file(ctx, a->inrelease_url, fresh);
	if (r < 0)
		return r;
	r = inrelease_verify(ctx, a, fresh, keyring, dir, &text, &len);
	if (r == 0)
		r = release_parse(ctx, a, text, len);
	if (r == 0) {
		seen = date_seen(dir);
		r = release_not_older(ctx, a, seen);
	}
	if (r == 0)
		r = inrelease_keep(ctx, a, fresh, dir);
	if (r == 0 && a->date > seen)
		date_note(ctx, dir, a->date);
	unlink(fresh);
	return r;
}

static bool suite_valid(const char *suite)
{
	if (!*suite || strstr(suite, ".."))
		return false;
	for (const char *s = suite; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-._/+~", *s))
			return false;
	return true;
}

int dos_archive_open(struct dos_ctx *ctx, struct dos_cache *cache, const char *mirror,
		     const char *suite, const char *keyring, struct dos_archive **out)
{
	return dos_archive_open_flags(ctx, cache, mirror, suite, keyring, 0, out);
}

int dos_archive_open_flags(struct dos_ctx *ctx, struct dos_cache *cache, const char *mirror,
			   const char *suite, const char *keyring, unsigned flags,
			   struct dos_archive **out)
{
	struct dos_archive *a;
	size_t n = strlen(mirror);
	int r;

	if (!suite_valid(suite))
		return dos_error(ctx, DOS_ECONFIG, "suite '%.64s': not a valid suite name", suite);
	while (n > 0 && mirror[n - 1] == '/')
		n--;
	a = dos_xcalloc(1, sizeof(*a));
	a->cache = cache;
	a->flags = flags;
	a->mirror = dos_xasprintf("%.*s", (int)n, mirror);
	a->suite = dos_xstrdup(suite);
	a->inrelease_url = dos_xasprintf("%s/dists/%s/InRelease", a->mirror, suite);
	r = archive_load(ctx, a, keyring ? keyring : DOS_DEBIAN_KEYRING);
	if (r < 0) {
		dos_archive_free(a);
		return r;
	}
	*out = a;
	return 0;
}

void dos_archive_free(struct dos_archive *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_files; i++)
		free(a->files[i].path);
	free(a->files);
	free(a->mirror);
	free(a->suite);
	free(a->inrelease_url);
	free(a->inrelease_path);
	free(a->codename);
	free(a);
}

const struct dos_archive_file *dos_archive_find(const struct dos_archive *a, const char *path)
{
	for (size_t i = 0; i < a->n_files; i++)
		if (!strcmp(a->files[i].path, path))
			return &a->files[i];
	return NULL;
}

/* --- indices --- */

/* The URLs to try for an index: by its hash when the archive offers that
 * (no race with a mirror update between InRelease and the index), then by
 * its name. */
static int index_urls(const struct dos_archive *a, const struct dos_archive_file *f,
		      char *urls[2])
{
	const char *slash = strrchr(f->path, '/');
	int n = 0;

	if (a->by_hash && slash)
		urls[n++] = dos_xasprintf("%s/dists/%s/%.*s/by-hash/SHA256/%s", a->mirror, a->suite,
					  (int)(slash - f->path), f->path, f->sha256);
	urls[n++] = dos_xasprintf("%s/dists/%s/%s", a->mirror, a->suite, f->path);
	return n;
}

static int index_fetch(struct dos_ctx *ctx, struct dos_archive *a,
		       const struct dos_archive_file *f, char **path, int *status)
{
	_cleanup_free_ char *name = dos_xasprintf("index '%s'", f->path);
	char *urls[2];
	int n = index_urls(a, f, urls), r = DOS_EFAIL;

	for (int i = 0; i < n; i++) {
		struct dos_fetch_item item = { .url = urls[i], .sha256 = f->sha256,
					       .size = f->size, .name = name };
		r = dos_fetch_many(ctx, a->cache, &item, 1, f->path);
		*status = item.http_status;
		*path = dos_steal(&item.path);
		dos_fetch_items_release(&item, 1);
		if (r == 0 || *status != 404)
			break;
	}
	for (int i = 0; i < n; i++)
		free(urls[i]);
	return r;
}

static int decompress_into(struct dos_ctx *ctx, struct archive *ar, struct dos_cache_writer *w)
{
	struct archive_entry *entry;
	char buf[1 << 16];
	la_ssize_t n;
	int r;

	r = archive_read_next_header(ar, &entry);
	if (r == ARCHIVE_EOF)
		return 0;
	if (r != ARCHIVE_OK)
		return dos_error(ctx, DOS_EFORMAT, "cannot decompress: %s", archive_error_string(ar));
	while ((n = archive_read_data(ar, buf, sizeof(buf))) > 0) {
		r = dos_cache_writer_write(ctx, w, buf, (size_t)n);
		if (r < 0)
			return r;
	}
	if (n < 0)
		return dos_error(ctx, DOS_EFORMAT, "cannot decompress: %s", archive_error_string(ar));
	return 0;
}

/* Decompresses src into the cache, verified against plain's digest when
 * InRelease lists it. */
static int index_decompress(struct dos_ctx *ctx, struct dos_archive *a, const char *base,
			    const struct dos_archive_file *f, const char *src,
			    const struct dos_archive_file *plain, char **path_out)
{
	struct archive *ar = archive_read_new();
	struct dos_cache_writer *w = NULL;
	int r;

	archive_read_support_filter_all(ar);
	archive_read_support_format_raw(ar);
	if (archive_read_open_filename(ar, src, 1 << 16) != ARCHIVE_OK)
		r = dos_error(ctx, DOS_EFORMAT, "cannot decompress: %s", archive_error_string(ar));
	else
		r = dos_cache_writer_open(ctx, a->cache, plain ? plain->sha256 : NULL,
					  plain ? plain->size : 0, &w);
	if (r == 0)
		r = decompress_into(ctx, ar, w);
	if (r == 0)
		r = dos_cache_writer_commit(ctx, dos_steal(&w), path_out);
	dos_cache_writer_abort(w);
	archive_read_free(ar);
	if (r < 0)
		return dos_error_prefix(ctx, "index '%s' (decompressed from '%s') of %s", base,
					f->path, a->mirror);
	return 0;
}

/* A decompressed index from an earlier run. It is hashed again before use
 * (50 MB take a few tens of milliseconds): a cache damaged since must not
 * feed the resolver. A damaged one is removed and fetched anew. */
static int index_cached(struct dos_ctx *ctx, const struct dos_archive *a,
			const struct dos_archive_file *plain, char **path_out)
{
	char *path = plain ? dos_cache_path(a->cache, plain->sha256) : NULL;
	char hex[DOS_SHA256_HEX];
	struct stat st;

	if (path && stat(path, &st) == 0 && (uint64_t)st.st_size == plain->size &&
	    dos_sha256_file(ctx, path, hex) == 0) {
		if (strcmp(hex, plain->sha256) == 0) {
			*path_out = path;
			return 1;
		}
		dos_warn(ctx, "cached index '%s' is damaged (sha256 %s, expected %s): fetching it again",
			 path, hex, plain->sha256);
		unlink(path);
	}
	dos_error_clear(ctx);
	free(path);
	return 0;
}

static int archive_index(struct dos_ctx *ctx, struct dos_archive *a, const char *base,
			 char **path_out)
{
	static const char *const exts[] = { ".xz", ".gz", "" };
	const struct dos_archive_file *plain = dos_archive_find(a, base);
	bool tried = false;
	int r = 0, status = 0;

	if (index_cached(ctx, a, plain, path_out))
		return 0;
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		_cleanup_free_ char *name = dos_xasprintf("%s%s", base, exts[i]);
		_cleanup_free_ char *path = NULL;
		const struct dos_archive_file *f = dos_archive_find(a, name);
		if (!f)
			continue;
		tried = true;
		r = index_fetch(ctx, a, f, &path, &status);
		if (r == 0 && !exts[i][0])
			*path_out = dos_steal(&path);
		if (r == 0)
			return exts[i][0] ? index_decompress(ctx, a, base, f, path, plain, path_out) : 0;
		/* Only a missing file sends us to the next form: a bad one is reported. */
		if (status != 404 && status != 410)
			return r;
	}
	if (tried)
		return r;
	return dos_error(ctx, DOS_EFAIL, "index '%s' is not listed in InRelease from %s", base,
			 a->inrelease_url);
}

int dos_archive_packages_index(struct dos_ctx *ctx, struct dos_archive *a, const char *component,
			       const char *arch, char **path_out)
{
	_cleanup_free_ char *base = dos_xasprintf("%s/binary-%s/Packages", component, arch);

	return archive_index(ctx, a, base, path_out);
}

int dos_archive_sources_index(struct dos_ctx *ctx, struct dos_archive *a, const char *component,
			      char **path_out)
{
	_cleanup_free_ char *base = dos_xasprintf("%s/source/Sources", component);

	return archive_index(ctx, a, base, path_out);
}
