/* The bundle's Python bytecode, audited (see check.h): every source under
 * usr/lib/python3.X/ and usr/lib/python3/dist-packages/ needs a valid
 * __pycache__/NAME.cpython-3X.pyc for the bundle's Python 3.X (the highest
 * of usr/bin, the one the bundle step compiles for), and
 * every __pycache__ .pyc there needs its source.
 *
 * "Valid" is what an import from a read-only mount accepts without
 * compiling: the magic number of that Python, hash-based flags, and the
 * source hash CPython's _imp.source_hash() gives (importlib's
 * _validate_hash_pyc): SipHash keyed with k0 = the raw magic number (its 4
 * bytes as a little-endian integer), k1 = 0 (Python/pyhash.c's
 * _Py_KeyedHash), the 8 bytes little-endian. A .pyc that is valid for its
 * source even when the source is later edited ("unchecked-hash") would be
 * taken as is by Python: only check can tell it is stale.
 *
 * The content of each file is read once: a source is hashed as it streams
 * by, for the Pythons the bundle may ship (those of usr/bin seen so far in
 * a tarball, which sorts usr/bin before usr/lib; all the table's when none
 * was), a .pyc keeps its 16-byte header. */
#include "check.h"
#include "check_internal.h"
#include "siphash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PYC_HEAD 16
#define DIST "usr/lib/python3/dist-packages/"

/* Magic numbers of the releases, from each one's
 * Lib/importlib/_bootstrap_external.py (MAGIC_NUMBER = (N).to_bytes(2,
 * 'little') + b'\r\n'). Other versions are not checked (a warning). */
static const struct {
	int minor;
	uint16_t magic;
} magics[CHECK_PY_VERSIONS] = {
	{ 8, 3413 }, { 9, 3425 }, { 10, 3439 }, { 11, 3495 }, { 12, 3531 }, { 13, 3571 },
};

#define IMPORTLIB "/importlib/_bootstrap_external.py"
#define IMPORTLIB_MAX ((size_t)1 << 20)

struct pyfile {
	bool source;
	/* importlib/_bootstrap_external.py: its text, for MAGIC_NUMBER */
	char *text;
	size_t text_len;
	int magic;                             /* -1: none found */
	uint32_t want;                         /* table indexes hashed */
	struct dos_siphash st[CHECK_PY_VERSIONS];
	uint64_t hash[CHECK_PY_VERSIONS];
	uint8_t head[PYC_HEAD];
	size_t head_len;
};

static int version_index(int minor)
{
	for (int i = 0; i < CHECK_PY_VERSIONS; i++)
		if (magics[i].minor == minor)
			return i;
	return -1;
}

static uint32_t raw_magic(int i)
{
	return (uint32_t)magics[i].magic | ((uint32_t)'\r' << 16) | ((uint32_t)'\n' << 24);
}

uint64_t dos_check_pyc_source_hash(int minor, const void *buf, size_t len)
{
	struct dos_siphash s;
	int i = version_index(minor);

	if (i < 0)
		return 0;
	dos_siphash_init(&s, raw_magic(i), 0, minor >= 11 ? 1 : 2, minor >= 11 ? 3 : 4);
	dos_siphash_feed(&s, buf, len);
	return dos_siphash_final(&s);
}

/* "python3.11" at name -> 11, else -1; end gets what follows the digits. */
static int minor_parse(const char *name, const char **end)
{
	int minor = 0, digits = 0;

	if (strncmp(name, "python3.", 8))
		return -1;
	for (name += 8; *name >= '0' && *name <= '9' && digits < 3; name++, digits++)
		minor = minor * 10 + (*name - '0');
	*end = name;
	return digits ? minor : -1;
}

/* The table index of a usr/bin/python3.X name, -1 for any other path. */
int check_py_bin_index(const char *path)
{
	const char *end;
	int minor;

	if (strncmp(path, "usr/bin/", 8) || (minor = minor_parse(path + 8, &end)) < 0 || *end)
		return -1;
	return version_index(minor);
}

/* -2: not in a module folder; -1: dist-packages; else the minor version
 * of usr/lib/python3.X/. */
static int module_folder(const char *path)
{
	const char *end;
	int minor;

	if (!strncmp(path, DIST, strlen(DIST)))
		return -1;
	if (strncmp(path, "usr/lib/", 8) || (minor = minor_parse(path + 8, &end)) < 0 ||
	    *end != '/')
		return -2;
	return minor;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

static bool in_pycache(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash - path >= 12 && !strncmp(slash - 12, "/__pycache__", 12);
}

void check_py_begin(struct centry *e, uint32_t bins)
{
	int where = module_folder(e->path), i;
	struct pyfile *py;

	if (where == -2 || !S_ISREG(e->mode))
		return;
	if (ends_with(e->path, ".pyc") && in_pycache(e->path)) {
		e->py = dos_xcalloc(1, sizeof(*e->py));
		return;
	}
	if (!ends_with(e->path, ".py") || in_pycache(e->path))
		return;
	py = e->py = dos_xcalloc(1, sizeof(*py));
	py->source = true;
	py->magic = -1;
	if (where >= 0 && ends_with(e->path, IMPORTLIB) && e->size < IMPORTLIB_MAX)
		py->text = dos_xcalloc(1, (size_t)e->size + 1);
	if (where >= 0)
		py->want = (i = version_index(where)) >= 0 ? 1u << i : 0;
	else
		py->want = bins ? bins : (1u << CHECK_PY_VERSIONS) - 1;
	for (i = 0; i < CHECK_PY_VERSIONS; i++)
		if (py->want & (1u << i))
			dos_siphash_init(&py->st[i], raw_magic(i), 0, magics[i].minor >= 11 ? 1 : 2,
					 magics[i].minor >= 11 ? 3 : 4);
}

void check_py_feed(struct centry *e, const uint8_t *buf, size_t n)
{
	struct pyfile *py = e->py;

	if (!py)
		return;
	if (!py->source) {
		size_t k = n < PYC_HEAD - py->head_len ? n : PYC_HEAD - py->head_len;
		memcpy(py->head + py->head_len, buf, k);
		py->head_len += k;
		return;
	}
	if (py->text && py->text_len + n <= (size_t)e->size) {
		memcpy(py->text + py->text_len, buf, n);
		py->text_len += n;
	}
	for (int i = 0; i < CHECK_PY_VERSIONS; i++)
		if (py->want & (1u << i))
			dos_siphash_feed(&py->st[i], buf, n);
}

/* "MAGIC_NUMBER = (3571).to_bytes(2, 'little') + b'\r\n'" in importlib's
 * text (3.8 to 3.13 write it so); -1 when absent. */
static int magic_parse(const char *text)
{
	const char *p = strstr(text, "\nMAGIC_NUMBER = (");
	long v;
	char *end;

	if (!p)
		return -1;
	v = strtol(p + strlen("\nMAGIC_NUMBER = ("), &end, 10);
	return *end == ')' && v > 0 && v < 65536 ? (int)v : -1;
}

void check_py_end(struct centry *e)
{
	struct pyfile *py = e->py;

	if (py && py->text) {
		py->magic = magic_parse(py->text);
		free(py->text);
		py->text = NULL;
	}
	for (int i = 0; py && py->source && i < CHECK_PY_VERSIONS; i++)
		if (py->want & (1u << i))
			py->hash[i] = dos_siphash_final(&py->st[i]);
}

void check_py_release(struct centry *e)
{
	if (e->py)
		free(e->py->text);
	free(e->py);
	e->py = NULL;
}

/* --- the check, over the sorted entries --- */

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Why the .pyc at pyc is not valid for source e under version i; NULL
 * when it is. */
static char *pyc_verdict(const struct centry *src, const struct centry *pyc, int i,
			 const char *name)
{
	const struct pyfile *b = pyc ? pyc->py : NULL;
	uint64_t h = 0;

	if (!pyc)
		return dos_xasprintf("no __pycache__/%s", name);
	if (!b || b->head_len < PYC_HEAD)
		return dos_xasprintf("__pycache__/%s: truncated", name);
	if (b->head[0] != (magics[i].magic & 0xff) || b->head[1] != (magics[i].magic >> 8) ||
	    b->head[2] != '\r' || b->head[3] != '\n')
		return dos_xasprintf("__pycache__/%s: magic number %u, not 3.%d's %u", name,
				     (unsigned)b->head[0] | (unsigned)b->head[1] << 8,
				     magics[i].minor, (unsigned)magics[i].magic);
	/* importlib refuses flags other than hash-based and check_source */
	if ((b->head[4] & ~3) || b->head[5] || b->head[6] || b->head[7])
		return dos_xasprintf("__pycache__/%s: invalid flags", name);
	if (!(b->head[4] & 1))
		return dos_xasprintf("__pycache__/%s: timestamp-based, not hash-based", name);
	for (int k = 7; k >= 0; k--)
		h = (h << 8) | b->head[8 + k];
	if (!(src->py->want & (1u << i)) || h != src->py->hash[i])
		return dos_xasprintf("__pycache__/%s: stale, the source hash differs", name);
	return NULL;
}

static bool known_no_bytecode(struct scan *sc, const char *path)
{
	const struct dos_strv *k = &sc->tests->known_no_bytecode;
	bool hit = false;

	for (size_t i = 0; i < k->n; i++) {
		const char *p = k->v[i];
		size_t n;
		while (*p == '/' || (p[0] == '.' && p[1] == '/'))
			p += *p == '/' ? 1 : 2;
		n = strlen(p);
		/* "folder/" covers everything under it. */
		if (n && (p[n - 1] == '/' ? !strncmp(path, p, n) : !strcmp(path, p))) {
			sc->no_bytecode_used[i] = true;
			hit = true;
		}
	}
	return hit;
}

static void source_check(struct scan *sc, const struct centry *e, const struct centry *c, int i)
{
	const char *base = base_name(e->path);
	_cleanup_free_ char *name = dos_xasprintf("%.*s.cpython-3%d.pyc",
		(int)(strlen(base) - 3), base, magics[i].minor);
	_cleanup_free_ char *pyc = dos_xasprintf("%.*s__pycache__/%s", (int)(base - e->path),
						 e->path, name);
	char *why = pyc_verdict(c, check_tree_file(sc, pyc), i, name);

	if (!why)
		sc->rep->bytecode_ok++;
	else if (known_no_bytecode(sc, e->path))
		list_push_item(&sc->rep->known_no_bytecode, e->path, why);
	else
		list_push_item(&sc->rep->no_bytecode, e->path, why);
}

/* A .pyc of __pycache__ whose NAME.py next to the folder is gone. */
static void orphan_check(struct scan *sc, const struct centry *e)
{
	const char *base = base_name(e->path);
	size_t dir = (size_t)(base - e->path) - strlen("__pycache__/");
	size_t n = strlen(base) - strlen(".pyc");
	_cleanup_free_ char *src = NULL;

	/* NAME.TAG.pyc or NAME.TAG.opt-N.pyc; NAME may hold dots */
	while (n && base[n - 1] != '.')
		n--;
	if (n > 1 && !strncmp(base + n, "opt-", 4))
		for (n--; n && base[n - 1] != '.'; n--)
			;
	if (n < 2)
		return;
	src = dos_xasprintf("%.*s%.*s.py", (int)dir, e->path, (int)(n - 1), base);

	if (!check_tree_file(sc, src))
		list_push_item(&sc->rep->orphan_bytecode, e->path,
			       dos_xasprintf("no %s", base_name(src)));
}

/* The magic number the bundle's own importlib states, when it does, is
 * the table's (a table gone wrong would call every .pyc foreign). */
static bool magic_agrees(struct scan *sc, int minor)
{
	_cleanup_free_ char *path = dos_xasprintf("usr/lib/python3.%d%s", minor, IMPORTLIB);
	const struct centry *e = check_tree_file(sc, path);
	int i = version_index(minor);

	if (!e || !e->py || e->py->magic < 0 || e->py->magic == magics[i].magic)
		return true;
	dos_strv_push_owned(&sc->rep->warnings, dos_xasprintf(
		"%s: magic number %d, not the %u diracos check knows for 3.%d: the bytecode is "
		"not checked", path, e->py->magic, (unsigned)magics[i].magic, minor));
	return false;
}

/* The bundle's Python as a table bit: the highest usr/bin/python3.X that is
 * an executable file (or a link to one inside the bundle), the one the
 * bundle step compiles for (bytecode.c); 0 when none. Others are named in
 * warnings, their bytecode not checked. */
static uint32_t python_find(struct scan *sc)
{
	int best = -1, unknown = -1;

	for (size_t k = 0; k < sc->t.n; k++) {
		const struct centry *e = &sc->t.v[k], *f;
		const char *end;
		int minor;
		if (strncmp(e->path, "usr/bin/", 8) || (minor = minor_parse(e->path + 8, &end)) < 0 ||
		    *end || !(f = check_tree_resolve(sc, e->path)) || !S_ISREG(f->mode) ||
		    !(f->mode & 0111))
			continue;
		if (version_index(minor) < 0)
			unknown = minor > unknown ? minor : unknown;
		else if (minor != best && best >= 0)
			dos_strv_push_owned(&sc->rep->warnings, dos_xasprintf(
				"usr/bin/python3.%d: not the bundle's Python (the highest version): "
				"its bytecode is not checked", minor < best ? minor : best));
		if (version_index(minor) >= 0 && minor > best)
			best = minor;
	}
	if (unknown > best) {
		dos_strv_push_owned(&sc->rep->warnings, dos_xasprintf(
			"usr/bin/python3.%d: Python 3.%d's magic number is not known: the bytecode "
			"is not checked", unknown, unknown));
		return 0;
	}
	if (best < 0 || !magic_agrees(sc, best))
		return 0;
	dos_strv_push_owned(&sc->rep->pythons, dos_xasprintf("3.%d", best));
	return 1u << version_index(best);
}

void check_python(struct scan *sc)
{
	const struct dos_strv *known = &sc->tests->known_no_bytecode;
	uint32_t bins = python_find(sc);

	sc->no_bytecode_used = dos_xcalloc(known->n + 1, sizeof(bool));
	for (size_t k = 0; bins && k < sc->t.n; k++) {
		const struct centry *e = &sc->t.v[k];
		/* A tarball's hard link has its target's content. */
		const struct centry *c = e->hardlink ? check_tree_file(sc, e->path) : e;
		int where = module_folder(e->path);
		if (where == -2 || !c || !c->py || !ends_with(e->path, c->py->source ? ".py" : ".pyc"))
			continue;
		if (!c->py->source) {
			orphan_check(sc, e);
			continue;
		}
		bool counted = false;
		for (int i = 0; i < CHECK_PY_VERSIONS; i++) {
			if (!(bins & (1u << i)) || (where >= 0 && where != magics[i].minor))
				continue;
			sc->rep->py_sources += !counted;
			counted = true;
			source_check(sc, e, c, i);
		}
	}
	for (size_t i = 0; bins && i < known->n; i++)
		if (!sc->no_bytecode_used[i])
			dos_strv_push(&sc->rep->stale_no_bytecode, known->v[i]);
}
