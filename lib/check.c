/* The audit of a bundle: its entries are gathered first (from one pass over
 * a tarball's stream, or from a walk of a folder whose files are read by
 * worker threads), each regular file's content is looked at once as it
 * goes by (ELF dynamic section, #! line, build paths), then every check
 * runs over the sorted entries in memory. The reading is in check_read.c
 * (see check_internal.h). */
#include "check.h"
#include "check_internal.h"
#include "elffile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define MAX_HOPS 40                      /* symlinks in one lookup, as the kernel */
#define LEAK_MIN 5                       /* shorter build paths would match everywhere */

/* --- small helpers --- */

static void list_push(struct dos_check_list *l, const char *path, char *detail)
{
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? l->alloc * 2 : 8;
		l->v = dos_xrealloc(l->v, l->alloc * sizeof(*l->v));
	}
	l->v[l->n++] = (struct dos_check_item){ dos_xstrdup(path), detail };
}

void list_push_item(struct dos_check_list *l, const char *path, char *detail)
{
	list_push(l, path, detail);
}

static void list_release(struct dos_check_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].detail);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* The folder of a path relative to the top ("" at the top). */
static char *rel_dirname(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? strndup(path, (size_t)(s - path)) : dos_xstrdup("");
}

/* A path as people write it in the known lists: "./usr/x", "/usr/x/". */
static bool path_eq(const char *listed, size_t n, const char *path)
{
	while (n && (*listed == '/' || (*listed == '.' && n > 1 && listed[1] == '/'))) {
		listed++;
		n--;
	}
	while (n && listed[n - 1] == '/')
		n--;
	return strlen(path) == n && !strncmp(listed, path, n);
}

/* --- glibc: its libraries, versions, and the platforms' versions --- */

/* glibc's own libraries: the shared objects of Debian bookworm's libc6
 * (`dpkg -L libc6 | grep '\.so'`, gconv modules left out), plus the
 * dynamic loaders of the other architectures Debian and EL build for.
 * libcrypt.so.1 is not here: it comes from libxcrypt (libcrypt1) now. */
static const char *const glibc_sonames[] = {
	"ld-linux-x86-64.so.2", "libBrokenLocale.so.1", "libanl.so.1", "libc.so.6",
	"libc_malloc_debug.so.0", "libdl.so.2", "libm.so.6", "libmemusage.so",
	"libmvec.so.1", "libnsl.so.1", "libnss_compat.so.2", "libnss_dns.so.2",
	"libnss_files.so.2", "libnss_hesiod.so.2", "libpcprofile.so", "libpthread.so.0",
	"libresolv.so.2", "librt.so.1", "libthread_db.so.1", "libutil.so.1",
	"ld-linux-aarch64.so.1", "ld-linux.so.2", "ld-linux-armhf.so.3", "ld64.so.2",
	"ld64.so.1",
};

bool dos_check_is_glibc(const char *soname)
{
	for (size_t i = 0; i < sizeof(glibc_sonames) / sizeof(glibc_sonames[0]); i++)
		if (!strcmp(glibc_sonames[i], soname))
			return true;
	return false;
}

/* glibc per platform, from each release's libc6 / glibc package. forky
 * (testing) has at least trixie's. */
static const struct {
	const char *names;         /* normalized: lowercase, no "-_.: " */
	const char *glibc;
} platform_table[] = {
	{ " buster debian10 ", "2.28" },
	{ " bullseye debian11 ", "2.31" },
	{ " bookworm debian12 ", "2.36" },
	{ " trixie debian13 ", "2.41" },
	{ " forky debian14 sid ", "2.41" },
	{ " el7 centos7 rhel7 ", "2.17" },
	{ " el8 centos8 rhel8 almalinux8 rocky8 ", "2.28" },
	{ " el9 centos9 rhel9 almalinux9 rocky9 ", "2.34" },
	{ " el10 centos10 rhel10 almalinux10 rocky10 ", "2.39" },
	{ " focal ubuntu2004 ", "2.31" },
	{ " jammy ubuntu2204 ", "2.35" },
	{ " noble ubuntu2404 ", "2.39" },
};

static const char *platform_lookup(const char *name, size_t n)
{
	char key[64];
	size_t k = 0;

	key[k++] = ' ';
	for (size_t i = 0; i < n && k < sizeof(key) - 2; i++)
		if (!strchr("-_.: ", name[i]))
			key[k++] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
	key[k++] = ' ';
	key[k] = '\0';
	for (size_t i = 0; k > 2 && i < sizeof(platform_table) / sizeof(platform_table[0]); i++)
		if (strstr(platform_table[i].names, key))
			return platform_table[i].glibc;
	return NULL;
}

const char *dos_check_platform_glibc(const char *platform)
{
	const char *colon = strrchr(platform, ':');
	const char *g = platform_lookup(platform, strlen(platform));

	/* "debian:bookworm": the part after the colon names it too. */
	return g || !colon ? g : platform_lookup(colon + 1, strlen(colon + 1));
}

#define VERSION(a, b, c) (((uint32_t)(a) << 20) | ((uint32_t)(b) << 10) | (uint32_t)(c))

/* "2.34" or "2.2.5" as a comparable number; 0 when it is not one. */
static uint32_t version_parse(const char *s)
{
	unsigned long part[3] = { 0, 0, 0 };
	char *end;
	int i;

	for (i = 0; i < 3; i++) {
		if (*s < '0' || *s > '9')
			return 0;
		part[i] = strtoul(s, &end, 10);
		if (part[i] > 1023)
			return 0;
		s = end;
		if (*s != '.')
			break;
		s++;
	}
	return *s || i == 0 ? 0 : VERSION(part[0], part[1], part[2]);
}

static uint32_t glibc_version(const char *name)
{
	/* Binaries linked with -z pack-relative-relocs need glibc 2.36. */
	if (!strcmp(name, "GLIBC_ABI_DT_RELR"))
		return VERSION(2, 36, 0);
	return strncmp(name, "GLIBC_", 6) ? 0 : version_parse(name + 6);
}

static char *version_format(uint32_t v)
{
	unsigned a = v >> 20, b = (v >> 10) & 1023, c = v & 1023;

	return c ? dos_xasprintf("%u.%u.%u", a, b, c) : dos_xasprintf("%u.%u", a, b);
}

/* --- the entries, sorted by path, and lookups as the kernel does them --- */

size_t check_tree_push(struct tree *t, char *path, uint32_t mode, uint64_t size)
{
	if (t->n == t->alloc) {
		t->alloc = t->alloc ? t->alloc * 2 : 1024;
		t->v = dos_xrealloc(t->v, t->alloc * sizeof(*t->v));
	}
	t->v[t->n] = (struct centry){ .path = path, .mode = mode, .size = size, .nlink = 1,
				      .seq = t->n };
	return t->n++;
}

static void centry_release(struct centry *e)
{
	free(e->path);
	free(e->target);
	free(e->interp);
	free(e->error);
	check_py_release(e);
	if (e->elf) {
		dos_elf_info_release(e->elf);
		free(e->elf);
	}
}

static int centry_cmp(const void *a, const void *b)
{
	const struct centry *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sorts by path; of entries with the same path the last one wins, as
 * when the tarball is unpacked. */
static void tree_sort(struct tree *t)
{
	size_t w = 0;

	dos_qsort(t->v, t->n, sizeof(*t->v), centry_cmp);
	for (size_t i = 0; i < t->n; i++) {
		if (i + 1 < t->n && !strcmp(t->v[i].path, t->v[i + 1].path))
			centry_release(&t->v[i]);
		else
			t->v[w++] = t->v[i];
	}
	t->n = w;
}

static size_t tree_lower_bound(const struct tree *t, const char *path)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(t->v[mid].path, path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct centry *tree_find(const struct tree *t, const char *path)
{
	size_t i = tree_lower_bound(t, path);

	return i < t->n && !strcmp(t->v[i].path, path) ? &t->v[i] : NULL;
}

/* A folder a tarball has no entry for, but entries under. */
static bool tree_implicit_dir(const struct tree *t, const char *path)
{
	_cleanup_free_ char *prefix = dos_xasprintf("%s/", path);
	size_t i = tree_lower_bound(t, prefix);

	return i < t->n && !strncmp(t->v[i].path, prefix, strlen(prefix));
}

enum lookup { LOOKUP_FOUND, LOOKUP_MISSING, LOOKUP_OUTSIDE, LOOKUP_ABSOLUTE, LOOKUP_LOOP };

void check_pathbuf_push(struct pathbuf *b, const char *comp, size_t n)
{
	b->s = dos_xrealloc(b->s, b->len + n + 2);
	if (b->len)
		b->s[b->len++] = '/';
	memcpy(b->s + b->len, comp, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void pathbuf_pop(struct pathbuf *b)
{
	char *s = strrchr(b->s, '/');

	b->len = s ? (size_t)(s - b->s) : 0;
	b->s[b->len] = '\0';
}

static const struct centry *hardlink_follow(const struct tree *t, const struct centry *e)
{
	return e && e->hardlink ? tree_find(t, e->target) : e;
}

/* One step of a lookup: the component at *p. Returns -1 to go on, or a
 * lookup result. */
static int lookup_step(const struct tree *t, struct pathbuf *cur, char **rest, const char **p,
		       int *hops)
{
	size_t n = strcspn(*p, "/");
	const char *next = (*p)[n] ? *p + n + 1 : *p + n;
	const struct centry *e;

	if (n == 0 || (n == 1 && **p == '.')) {
		*p = next;
		return -1;
	}
	if (n == 2 && !strncmp(*p, "..", 2)) {
		if (!cur->len)
			return LOOKUP_OUTSIDE;
		pathbuf_pop(cur);
		*p = next;
		return -1;
	}
	check_pathbuf_push(cur, *p, n);
	e = tree_find(t, cur->s);
	if (!e && !tree_implicit_dir(t, cur->s))
		return LOOKUP_MISSING;
	if (e && S_ISLNK(e->mode)) {
		char *spliced;
		if (++*hops > MAX_HOPS)
			return LOOKUP_LOOP;
		if (e->target[0] == '/')
			return LOOKUP_ABSOLUTE;
		spliced = *next ? dos_xasprintf("%s/%s", e->target, next) : dos_xstrdup(e->target);
		pathbuf_pop(cur);
		free(*rest);
		*p = *rest = spliced;
		return -1;
	}
	if (e && *next && !S_ISDIR(e->mode))
		return LOOKUP_MISSING;
	*p = next;
	return -1;
}

/* Looks path up from folder dir (both relative to the top; dir has no
 * links or dots), following every symlink and, in a tarball, hard links.
 * On LOOKUP_FOUND, *out is the entry reached (NULL for the top folder or
 * a folder a tarball only implies). */
static enum lookup tree_lookup(const struct tree *t, const char *dir, const char *path,
			       const struct centry **out)
{
	struct pathbuf cur = { dos_xstrdup(dir), strlen(dir) };
	char *rest = dos_xstrdup(path);
	const char *p = rest;
	int hops = 0, r = -1;

	*out = NULL;
	while (*p && r < 0)
		r = lookup_step(t, &cur, &rest, &p, &hops);
	if (r < 0) {
		r = LOOKUP_FOUND;
		*out = cur.len ? hardlink_follow(t, tree_find(t, cur.s)) : NULL;
	}
	free(cur.s);
	free(rest);
	return (enum lookup)r;
}

const struct centry *check_tree_file(const struct scan *sc, const char *path)
{
	const struct centry *e = hardlink_follow(&sc->t, tree_find(&sc->t, path));

	return e && S_ISREG(e->mode) ? e : NULL;
}

const struct centry *check_tree_resolve(const struct scan *sc, const char *path)
{
	const struct centry *e;

	return tree_lookup(&sc->t, "", path, &e) == LOOKUP_FOUND ? e : NULL;
}

/* --- settings: tests and build paths, from diracos.json or the caller --- */

static void leaks_set(struct scan *sc, const char *work, const char *name)
{
	size_t n = work ? strlen(work) : 0;

	sc->settled = true;
	while (n > 1 && work[n - 1] == '/')
		n--;
	if (n == 0) {
		dos_strv_push(&sc->rep->warnings, "no build path known: no search for leaks");
		return;
	}
	if (n < LEAK_MIN) {
		dos_strv_push_owned(&sc->rep->warnings, dos_xasprintf(
			"build path '%.*s' is too short to search for", (int)n, work));
		return;
	}
	sc->lk.work = strndup(work, n);
	sc->lk.work_len = n;
	sc->lk.bundle = dos_xasprintf("%s/bundle/%s", sc->lk.work, name ? name : sc->top);
	sc->lk.bundle_len = strlen(sc->lk.bundle);
	dos_strv_push(&sc->rep->leak_strings, sc->lk.bundle);
	dos_strv_push(&sc->rep->leak_strings, sc->lk.work);
}

/* Called once the top folder is known. */
void check_settings_from_opts(struct scan *sc)
{
	if (!sc->opts->tests)
		return;
	sc->tests = sc->opts->tests;
	leaks_set(sc, sc->opts->work_dir, sc->opts->name);
}

static void settings_from_json(struct scan *sc, const char *text, size_t len)
{
	json_error_t err;
	json_t *root, *b, *t;

	if (sc->opts->tests || sc->tests)
		return;
	root = json_loadb(text, len, 0, &err);
	if (!root) {
		dos_strv_push_owned(&sc->rep->warnings, dos_xasprintf(
			"diracos.json:%d:%d: %s", err.line, err.column, err.text));
		return;
	}
	b = json_object_get(root, "bundle");
	t = json_object_get(b, "tests");
	dos_config_strv_from_json(&sc->own.platforms, json_object_get(t, "platforms"));
	dos_config_strv_from_json(&sc->own.known_broken_links, json_object_get(t, "knownBrokenLinks"));
	dos_config_strv_from_json(&sc->own.known_missing_dependencies,
		       json_object_get(t, "knownMissingDependencies"));
	dos_config_strv_from_json(&sc->own.known_no_bytecode, json_object_get(t, "knownNoBytecode"));
	sc->tests = &sc->own;
	leaks_set(sc, json_string_value(json_object_get(b, "workDir")),
		  json_string_value(json_object_get(b, "name")));
	json_decref(root);
}

/* After the whole bundle was read: what no diracos.json said. */
void check_settings_finish(struct scan *sc)
{
	if (!sc->tests) {
		dos_strv_push(&sc->rep->warnings,
			      "the bundle has no diracos.json: no tests settings (use -c CONFIG)");
		sc->tests = &sc->own;
	}
	if (!sc->settled)
		leaks_set(sc, NULL, NULL);
	sc->broken_used = dos_xcalloc(sc->tests->known_broken_links.n + 1, sizeof(bool));
	sc->missing_used = dos_xcalloc(sc->tests->known_missing_dependencies.n + 1, sizeof(bool));
}

/* The top-level files check reads for itself. */
void check_special_file_take(struct scan *sc, const char *path, const uint8_t *buf, size_t len)
{
	if (!strcmp(path, "diracos.json"))
		settings_from_json(sc, (const char *)buf, len);
	else if (!strcmp(path, "brokenLinks.txt") && !sc->broken_txt)
		sc->broken_txt = strndup((const char *)buf, len);
}

bool check_special_file(const char *path)
{
	return !strcmp(path, "diracos.json") || !strcmp(path, "brokenLinks.txt");
}

/* --- the checks, over the sorted entries --- */

static ssize_t known_index(const struct dos_strv *known, const char *path)
{
	for (size_t i = 0; i < known->n; i++)
		if (path_eq(known->v[i], strlen(known->v[i]), path))
			return (ssize_t)i;
	return -1;
}

static void broken_note(struct scan *sc, const char *path, char *detail)
{
	ssize_t k = known_index(&sc->tests->known_broken_links, path);

	if (k < 0) {
		list_push(&sc->rep->broken_links, path, detail);
		return;
	}
	sc->broken_used[k] = true;
	list_push(&sc->rep->known_broken_links, path, detail);
}

static void link_check(struct scan *sc, const struct centry *e)
{
	_cleanup_free_ char *dir = rel_dirname(e->path);
	const struct centry *found;

	if (e->target[0] == '/') {
		list_push(&sc->rep->absolute_links, e->path, dos_xstrdup(e->target));
		return;
	}
	switch (tree_lookup(&sc->t, dir, e->target, &found)) {
	case LOOKUP_FOUND:
		return;
	case LOOKUP_OUTSIDE:
		list_push(&sc->rep->outside_links, e->path, dos_xstrdup(e->target));
		return;
	default:
		broken_note(sc, e->path, dos_xstrdup(e->target));
	}
}

/* brokenLinks.txt: the links the bundle step found broken and removed. */
static void removed_links_check(struct scan *sc)
{
	char *text = sc->broken_txt, *line, *save = NULL;

	for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
			line[--n] = '\0';
		if (n && !tree_find(&sc->t, line))
			broken_note(sc, line, dos_xstrdup("(removed by the bundle step)"));
	}
}

static void links_check(struct scan *sc)
{
	const struct dos_strv *known = &sc->tests->known_broken_links;

	for (size_t i = 0; i < sc->t.n; i++) {
		const struct centry *e = &sc->t.v[i];
		if (S_ISLNK(e->mode))
			link_check(sc, e);
		else if (e->hardlink)
			list_push(&sc->rep->hard_links, e->path, dos_xasprintf("to %s", e->target));
		else if (S_ISREG(e->mode) && e->nlink > 1)
			list_push(&sc->rep->hard_links, e->path, dos_xasprintf("%u links", e->nlink));
	}
	removed_links_check(sc);
	for (size_t i = 0; i < known->n; i++)
		if (!sc->broken_used[i])
			dos_strv_push(&sc->rep->stale_broken_links, known->v[i]);
}

static void permissions_check(struct scan *sc)
{
	static const struct { uint32_t type; const char *name; } specials[] = {
		{ S_IFCHR, "character device" }, { S_IFBLK, "block device" },
		{ S_IFIFO, "fifo" }, { S_IFSOCK, "socket" },
	};

	for (size_t i = 0; i < sc->t.n; i++) {
		const struct centry *e = &sc->t.v[i];
		uint32_t s = e->mode & (S_ISUID | S_ISGID);
		if (S_ISLNK(e->mode))
			continue;
		if (s)
			list_push(&sc->rep->setuid, e->path, dos_xstrdup(s == S_ISUID ? "setuid" :
					s == S_ISGID ? "setgid" : "setuid, setgid"));
		if (e->mode & S_IWOTH)
			list_push(&sc->rep->world_writable, e->path,
				  dos_xasprintf("%04o", e->mode & 07777));
		for (size_t k = 0; k < sizeof(specials) / sizeof(specials[0]); k++)
			if ((e->mode & S_IFMT) == specials[k].type)
				list_push(&sc->rep->special_files, e->path, dos_xstrdup(specials[k].name));
	}
}

/* One DT_RPATH or DT_RUNPATH folder as a path under the top; NULL for a
 * folder of the host (absolute, or relative to the working folder) or
 * one naming $LIB or $PLATFORM: none of those is in the bundle. */
static char *search_dir(const char *dir, size_t n, const char *origin)
{
	const char *rest;

	if (n >= 7 && !strncmp(dir, "$ORIGIN", 7))
		rest = dir + 7;
	else if (n >= 9 && !strncmp(dir, "${ORIGIN}", 9))
		rest = dir + 9;
	else
		return NULL;
	n -= (size_t)(rest - dir);
	if ((n && *rest != '/') || memchr(rest, '$', n))
		return NULL;
	return dos_xasprintf("%s%.*s", origin, (int)n, rest);
}

/* A library ld.so would load for file from folder dir: a regular ELF file
 * of the same class and machine (an unparsable ELF file counts). */
static bool lib_in(const struct scan *sc, const struct centry *file, const char *dir,
		   const char *name)
{
	_cleanup_free_ char *path = dos_xasprintf("%s/%s", dir, name);
	const struct centry *e;

	if (tree_lookup(&sc->t, "", path, &e) != LOOKUP_FOUND || !e || !S_ISREG(e->mode))
		return false;
	if (!e->elf)
		return e->error != NULL;
	return e->elf->bits == file->elf->bits && e->elf->machine == file->elf->machine;
}

static bool lib_found(const struct scan *sc, const struct centry *file, const char *name)
{
	/* ld.so ignores DT_RPATH when there is a DT_RUNPATH. */
	const char *list = file->elf->runpath ? file->elf->runpath : file->elf->rpath;
	_cleanup_free_ char *origin = rel_dirname(file->path);
	bool found = false;

	while (list && *list && !found) {
		size_t n = strcspn(list, ":");
		char *dir = search_dir(list, n, origin);
		found = dir && lib_in(sc, file, dir, name);
		free(dir);
		list += list[n] ? n + 1 : n;
	}
	return found;
}

static ssize_t known_missing_index(const struct dos_strv *known, const char *file, const char *lib)
{
	for (size_t i = 0; i < known->n; i++) {
		const char *k = known->v[i], *colon = strrchr(k, ':');
		if (colon ? !strcmp(colon + 1, lib) && path_eq(k, (size_t)(colon - k), file) :
			    !strcmp(k, lib))
			return (ssize_t)i;
	}
	return -1;
}

static void libraries_check(struct scan *sc)
{
	const struct dos_strv *known = &sc->tests->known_missing_dependencies;

	for (size_t i = 0; i < sc->t.n; i++) {
		const struct centry *e = &sc->t.v[i];
		if (!e->elf || !e->elf->dynamic)
			continue;
		for (size_t k = 0; k < e->elf->needed.n; k++) {
			const char *lib = e->elf->needed.v[k];
			ssize_t j;
			if (dos_check_is_glibc(lib) || lib_found(sc, e, lib))
				continue;
			j = known_missing_index(known, e->path, lib);
			if (j >= 0)
				sc->missing_used[j] = true;
			list_push(j >= 0 ? &sc->rep->known_missing_libraries :
				  &sc->rep->missing_libraries, e->path, dos_xstrdup(lib));
		}
	}
	for (size_t i = 0; i < known->n; i++)
		if (!sc->missing_used[i])
			dos_strv_push(&sc->rep->stale_missing_libraries, known->v[i]);
}

/* The newest glibc version e needs; notes GLIBC_PRIVATE users. */
static uint32_t elf_glibc_need(struct scan *sc, const struct centry *e)
{
	uint32_t need = 0;
	bool private = false;

	for (size_t i = 0; i < e->elf->n_verneed; i++) {
		const struct dos_elf_verneed *vn = &e->elf->verneed[i];
		if (!dos_check_is_glibc(vn->file))
			continue;
		for (size_t k = 0; k < vn->versions.n; k++) {
			uint32_t v = glibc_version(vn->versions.v[k]);
			need = v > need ? v : need;
			private |= !strcmp(vn->versions.v[k], "GLIBC_PRIVATE");
		}
	}
	if (private)
		dos_strv_push(&sc->rep->glibc_private, e->path);
	return need;
}

static void platforms_check(struct scan *sc, uint32_t floor)
{
	const struct dos_strv *names = &sc->tests->platforms;
	struct dos_check_report *rep = sc->rep;

	rep->platforms = dos_xcalloc(names->n + 1, sizeof(*rep->platforms));
	for (size_t i = 0; i < names->n; i++) {
		struct dos_check_platform *p = &rep->platforms[rep->n_platforms++];
		const char *g = dos_check_platform_glibc(names->v[i]);
		p->name = dos_xstrdup(names->v[i]);
		p->glibc = g ? dos_xstrdup(g) : NULL;
		p->ok = g && version_parse(g) >= floor;
		if (g && !p->ok)
			list_push(&rep->too_old_platforms, p->name, dos_xstrdup(g));
	}
}

static void glibc_check(struct scan *sc)
{
	uint32_t floor = 0;
	const char *who = NULL;

	for (size_t i = 0; i < sc->t.n; i++) {
		uint32_t need = sc->t.v[i].elf ? elf_glibc_need(sc, &sc->t.v[i]) : 0;
		if (need > floor) {
			floor = need;
			who = sc->t.v[i].path;
		}
	}
	if (floor) {
		sc->rep->glibc_floor = version_format(floor);
		sc->rep->glibc_floor_file = dos_xstrdup(who);
	}
	platforms_check(sc, floor);
}

/* A regular, executable file of the bundle at the absolute path. */
static bool interp_shipped(const struct scan *sc, const char *path)
{
	const struct centry *e;

	return tree_lookup(&sc->t, "", path, &e) == LOOKUP_FOUND && e && S_ISREG(e->mode) &&
	       (e->mode & 0111);
}

static bool interp_ok(const struct scan *sc, const char *interp)
{
	_cleanup_free_ char *merged = NULL;

	if (!strcmp(interp, "/bin/sh") || !strcmp(interp, "/usr/bin/env"))
		return true;
	if (interp[0] != '/')
		return false;
	if (interp_shipped(sc, interp))
		return true;
	/* /bin and /usr/bin are one folder on merged-/usr systems. */
	merged = strncmp(interp, "/usr/", 5) ? dos_xasprintf("/usr%s", interp) :
					      dos_xstrdup(interp + 4);
	return interp_shipped(sc, merged);
}

static void leaks_check(struct scan *sc)
{
	for (size_t i = 0; i < sc->t.n; i++) {
		const struct centry *e = &sc->t.v[i];
		if (e->leak)
			list_push(&sc->rep->leaks, e->path, dos_xstrdup(e->leak == LEAK_BUNDLE ?
								sc->lk.bundle : sc->lk.work));
		if (e->interp && !interp_ok(sc, e->interp))
			list_push(&sc->rep->shebangs, e->path, dos_xstrdup(e->interp));
		if (e->error)
			dos_strv_push(&sc->rep->warnings, e->error);
	}
}

static void largest_note(struct dos_check_report *rep, const struct centry *e)
{
	size_t n = rep->n_largest, i;

	if (n == DOS_CHECK_LARGEST && rep->largest[n - 1].bytes >= e->tree_bytes)
		return;
	if (n == DOS_CHECK_LARGEST)
		free(rep->largest[--n].path);
	for (i = n; i > 0 && rep->largest[i - 1].bytes < e->tree_bytes; i--)
		rep->largest[i] = rep->largest[i - 1];
	rep->largest[i] = (struct dos_check_folder){ dos_xstrdup(e->path), e->tree_bytes };
	rep->n_largest = n + 1;
}

/* Adds a file's size to its folders at depths 1 to 3. */
static void folders_add(struct scan *sc, const struct centry *e)
{
	const char *s = e->path;

	for (int depth = 1; depth <= 3 && (s = strchr(s, '/')); depth++, s++) {
		_cleanup_free_ char *dir = strndup(e->path, (size_t)(s - e->path));
		struct centry *d = tree_find(&sc->t, dir);
		if (d)
			d->tree_bytes += e->size;
	}
}

static void summary_fill(struct scan *sc)
{
	struct dos_check_report *rep = sc->rep;

	for (size_t i = 0; i < sc->t.n; i++) {
		const struct centry *e = &sc->t.v[i];
		rep->folders += S_ISDIR(e->mode);
		rep->symlinks += S_ISLNK(e->mode);
		rep->elf_files += e->is_elf;
		if (!S_ISREG(e->mode))
			continue;
		rep->files++;
		rep->bytes += e->hardlink ? 0 : e->size;
		if (!e->hardlink)
			folders_add(sc, e);
	}
	for (size_t i = 0; i < sc->t.n; i++) {
		const struct centry *e = &sc->t.v[i];
		const char *s = e->path;
		int depth = 1;
		while ((s = strchr(s, '/')))
			s++, depth++;
		if (S_ISDIR(e->mode) && depth <= 3 && e->tree_bytes)
			largest_note(rep, e);
	}
}

static void checks_run(struct scan *sc)
{
	tree_sort(&sc->t);
	sc->rep->name = dos_xstrdup(sc->top);
	links_check(sc);
	permissions_check(sc);
	libraries_check(sc);
	glibc_check(sc);
	leaks_check(sc);
	check_python(sc);
	summary_fill(sc);
}

/* --- the run --- */

static void scan_release(struct scan *sc)
{
	for (size_t i = 0; i < sc->t.n; i++)
		centry_release(&sc->t.v[i]);
	free(sc->t.v);
	for (size_t i = 0; i < sc->n_deferred; i++)
		free(sc->deferred[i].buf);
	free(sc->deferred);
	free(sc->top);
	free(sc->lk.work);
	free(sc->lk.bundle);
	free(sc->broken_txt);
	free(sc->broken_used);
	free(sc->missing_used);
	free(sc->no_bytecode_used);
	struct dos_strv *own[] = {
		&sc->own.platforms, &sc->own.imports, &sc->own.commands, &sc->own.scripts,
		&sc->own.known_broken_links, &sc->own.known_missing_dependencies,
		&sc->own.known_no_bytecode,
	};
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		dos_strv_release(own[i]);
}

int dos_check_run(struct dos_ctx *ctx, const struct dos_check_opts *opts,
		  struct dos_check_report *report)
{
	struct scan sc = { .ctx = ctx, .opts = opts, .rep = report };
	struct stat st;
	int r;

	memset(report, 0, sizeof(*report));
	report->strict = opts->strict;
	if (!opts->bundle || stat(opts->bundle, &st) < 0)
		return dos_error_errno(ctx, DOS_EUSAGE, errno, "bundle '%s'",
				       opts->bundle ? opts->bundle : "");
	if (S_ISDIR(st.st_mode)) {
		r = check_folder_read(&sc, opts->bundle);
	} else if (S_ISREG(st.st_mode)) {
		report->tarball = true;
		r = check_tar_read(&sc);
	} else {
		r = dos_error(ctx, DOS_EUSAGE, "bundle '%s' is neither a tarball nor a folder",
			      opts->bundle);
	}
	if (r == 0)
		checks_run(&sc);
	scan_release(&sc);
	return r;
}

void dos_check_report_release(struct dos_check_report *r)
{
	struct dos_check_list *lists[] = {
		&r->absolute_links, &r->outside_links, &r->broken_links, &r->hard_links,
		&r->missing_libraries, &r->leaks, &r->shebangs, &r->setuid, &r->world_writable,
		&r->special_files, &r->too_old_platforms, &r->known_broken_links,
		&r->known_missing_libraries, &r->no_bytecode, &r->orphan_bytecode,
		&r->known_no_bytecode,
	};
	struct dos_strv *strvs[] = {
		&r->stale_broken_links, &r->stale_missing_libraries, &r->warnings,
		&r->glibc_private, &r->leak_strings, &r->stale_no_bytecode, &r->pythons,
	};

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		list_release(lists[i]);
	for (size_t i = 0; i < sizeof(strvs) / sizeof(strvs[0]); i++)
		dos_strv_release(strvs[i]);
	for (size_t i = 0; i < r->n_platforms; i++) {
		free(r->platforms[i].name);
		free(r->platforms[i].glibc);
	}
	free(r->platforms);
	for (size_t i = 0; i < r->n_largest; i++)
		free(r->largest[i].path);
	free(r->name);
	free(r->glibc_floor);
	free(r->glibc_floor_file);
	memset(r, 0, sizeof(*r));
}

size_t dos_check_failures(const struct dos_check_report *r)
{
	const struct dos_check_list *lists[] = {
		&r->absolute_links, &r->outside_links, &r->broken_links, &r->hard_links,
		&r->missing_libraries, &r->leaks, &r->shebangs, &r->setuid, &r->world_writable,
		&r->special_files, &r->too_old_platforms, &r->no_bytecode, &r->orphan_bytecode,
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		n += lists[i]->n;
	if (r->strict)
		n += r->stale_broken_links.n + r->stale_missing_libraries.n +
		     r->stale_no_bytecode.n;
	return n;
}
