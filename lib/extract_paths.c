/* The paths of the bundle root, for the extract files (see
 * extract_internal.h): archive names made clean, folders opened one
 * component at a time and never through a symlink, and the table of which
 * package ships which path, from which the conflicts are listed. */
#include "extract_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- clean names --- */

const char *extract_clean_why(int e)
{
	return e == CLEAN_ABSOLUTE ? "an absolute path is refused" :
	       e == CLEAN_DOTDOT ? "a '..' component is refused" :
	       e == CLEAN_NEWLINE ? "a newline in a name is refused" : "path too long";
}

int extract_path_clean(const char *raw, char out[PATH_MAX])
{
	size_t len = 0;

	if (raw[0] == '/')
		return CLEAN_ABSOLUTE;
	for (const char *p = raw; *p;) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return CLEAN_DOTDOT;
		/* As dpkg: the bundle's lists (brokenLinks.txt, ...) are
		 * one path a line, and a newline would forge entries. */
		if (memchr(p, '\n', n))
			return CLEAN_NEWLINE;
		if (n && !(n == 1 && p[0] == '.')) {
			if (len + n + 2 > PATH_MAX)
				return CLEAN_LONG;
			if (len)
				out[len++] = '/';
			memcpy(out + len, p, n);
			len += n;
		}
		p = *end ? end + 1 : end;
	}
	out[len] = '\0';
	return (int)len;
}

/* --- the path table: open addressing, entries never move --- */

uint64_t extract_path_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;   /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct pentry *extract_ptab_find(const struct ptab *t, const char *path, uint64_t h)
{
	if (!t->cap)
		return NULL;
	for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		struct pentry *e = t->slots[i];
		if (!e || (e->hash == h && !strcmp(e->path, path)))
			return e;
	}
}

static void ptab_place(struct ptab *t, struct pentry *e)
{
	size_t i = e->hash & (t->cap - 1);

	while (t->slots[i])
		i = (i + 1) & (t->cap - 1);
	t->slots[i] = e;
}

static void ptab_grow(struct ptab *t)
{
	struct ptab bigger = { .cap = t->cap ? t->cap * 2 : 4096, .n = t->n };

	bigger.slots = dos_xcalloc(bigger.cap, sizeof(*bigger.slots));
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i])
			ptab_place(&bigger, t->slots[i]);
	free(t->slots);
	*t = bigger;
}

struct pentry *extract_ptab_add(struct ptab *t, const char *path, uint64_t h)
{
	size_t len = strlen(path);
	struct pentry *e = dos_xcalloc(1, sizeof(*e) + len + 1);

	if ((t->n + 1) * 10 > t->cap * 7)
		ptab_grow(t);
	memcpy(e->path, path, len + 1);
	e->hash = h;
	e->owner = NO_OWNER;
	ptab_place(t, e);
	t->n++;
	return e;
}

void extract_ptab_release(struct ptab *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		if (t->slots[i])
			free(t->slots[i]->ship);
		free(t->slots[i]);
	}
	free(t->slots);
}

struct shipper *extract_ship_find(struct pentry *e, size_t pkg)
{
	for (size_t i = 0; i < e->n_ship; i++)
		if (e->ship[i].pkg == pkg)
			return &e->ship[i];
	return NULL;
}

/* --- folders: never through a symlink --- */

void extract_tree_init(struct tree *t, struct dos_ctx *ctx, int rootfd)
{
	t->ctx = ctx;
	t->rootfd = rootfd;
	t->dir_path = NULL;
	t->dir_fd = -1;
}

static void tree_cache(struct tree *t, const char *path, size_t len, int fd)
{
	if (t->dir_fd >= 0)
		close(t->dir_fd);
	free(t->dir_path);
	t->dir_path = strndup(path, len);
	if (!t->dir_path)
		abort();
	t->dir_fd = fd;
}

void extract_tree_release(struct tree *t)
{
	tree_cache(t, "", 0, -1);
	free(t->dir_path);
	t->dir_path = NULL;
}

/* Opens (or creates) the folder path[0..len), last component name, in dfd. */
static int tree_child(struct tree *t, int dfd, const char *name, const char *path, int len)
{
	const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(dfd, name, flags), err;
	struct stat st;

	if (fd < 0 && errno == ENOENT) {
		if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
			return dos_error_errno(t->ctx, DOS_EIO, errno, "cannot create folder '%.*s'",
					       len, path);
		fd = openat(dfd, name, flags);
		if (fd >= 0)
			fchmod(fd, 0755);   /* whatever the umask */
	}
	if (fd >= 0)
		return fd;
	err = errno;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return dos_error(t->ctx, DOS_EFORMAT,
				 "'%.*s' is a symlink: nothing is written through one", len, path);
	return dos_error_errno(t->ctx, err == ENOTDIR ? DOS_EFORMAT : DOS_EIO, err,
			       "cannot open folder '%.*s'", len, path);
}

/* Walks path[from..to) from the folder start; returns a new fd. */
static int tree_walk(struct tree *t, int start, const char *path, size_t from, size_t to)
{
	char buf[PATH_MAX];
	int fd = start;

	memcpy(buf, path, to);
	buf[to] = '\0';
	while (from < to) {
		char *end = strchrnul(buf + from, '/');
		int next;

		*end = '\0';
		next = tree_child(t, fd, buf + from, path, (int)(end - buf));
		if (fd != start)
			close(fd);
		if (next < 0)
			return next;
		fd = next;
		from = (size_t)(end - buf) + 1;
	}
	return fd;
}

/* Starts from the cached folder when path goes through it. */
int extract_tree_parent(struct tree *t, const char *path, const char **leaf)
{
	const char *slash = strrchr(path, '/');
	size_t plen, from = 0, cl;
	int start = t->rootfd, fd;

	*leaf = slash ? slash + 1 : path;
	if (!slash)
		return t->rootfd;
	plen = (size_t)(slash - path);
	cl = t->dir_path ? strlen(t->dir_path) : 0;
	if (t->dir_path && cl <= plen && !memcmp(path, t->dir_path, cl) &&
	    (cl == plen || path[cl] == '/')) {
		if (cl == plen)
			return t->dir_fd;
		start = t->dir_fd;
		from = cl + 1;
	}
	fd = tree_walk(t, start, path, from, plen);
	if (fd >= 0)
		tree_cache(t, path, plen, fd);
	return fd;
}

/* --- the result: folders' modes, conflicts, its release --- */

static int cmp_dir_desc(const void *a, const void *b)
{
	return strcmp((*(struct pentry *const *)b)->path, (*(struct pentry *const *)a)->path);
}

/* Deepest first: a folder without search permission would hide its
 * children. */
int extract_dirs_finish(struct dos_ctx *ctx, const struct ptab *t, int rootfd)
{
	_cleanup_free_ struct pentry **dirs = dos_xcalloc(t->n + 1, sizeof(*dirs));
	size_t n = 0;

	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i] && t->slots[i]->kind == K_DIR)
			dirs[n++] = t->slots[i];
	dos_qsort(dirs, n, sizeof(*dirs), cmp_dir_desc);
	for (size_t i = 0; i < n; i++) {
		const struct timespec ts[2] = { dirs[i]->mtime, dirs[i]->mtime };
		if (fchmodat(rootfd, dirs[i]->path, dirs[i]->mode, 0) < 0 ||
		    utimensat(rootfd, dirs[i]->path, ts, AT_SYMLINK_NOFOLLOW) < 0)
			return dos_error_errno(ctx, DOS_EIO, errno, "folder '%s': cannot set its mode",
					       dirs[i]->path);
	}
	return 0;
}

struct conflict_idx {
	const char *path;
	size_t first, second;
};

static int cmp_conflict(const void *pa, const void *pb)
{
	const struct conflict_idx *a = pa, *b = pb;
	int c = strcmp(a->path, b->path);

	return c ? c : (a->second > b->second) - (a->second < b->second);
}

static void entry_conflicts(struct pentry *e, struct conflict_idx **v, size_t *n)
{
	struct shipper *first = &e->ship[0];

	for (size_t i = 1; i < e->n_ship; i++)
		if (e->ship[i].pkg < first->pkg)
			first = &e->ship[i];
	for (size_t i = 0; i < e->n_ship; i++) {
		struct shipper *s = &e->ship[i];
		if (s != first && (s->kind != first->kind || strcmp(s->digest, first->digest))) {
			struct conflict_idx *c = extract_vec_push(v, n, sizeof(**v));
			*c = (struct conflict_idx){ e->path, first->pkg, s->pkg };
		}
	}
}

void extract_conflicts_build(const struct ptab *t, const struct dos_extract_pkg *pkgs,
			     struct dos_extract_result *out)
{
	struct conflict_idx *v = NULL;
	size_t n = 0;

	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i] && t->slots[i]->n_ship > 1)
			entry_conflicts(t->slots[i], &v, &n);
	if (n)
		dos_qsort(v, n, sizeof(*v), cmp_conflict);
	out->conflicts = n ? dos_xcalloc(n, sizeof(*out->conflicts)) : NULL;
	for (size_t i = 0; i < n; i++) {
		out->conflicts[i].path = dos_xstrdup(v[i].path);
		out->conflicts[i].first_pkg = dos_xstrdup(pkgs[v[i].first].name);
		out->conflicts[i].second_pkg = dos_xstrdup(pkgs[v[i].second].name);
	}
	out->n_conflicts = n;
	free(v);
}

void extract_notes_release(struct dos_extract_note *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].package);
	}
	free(v);
}

void dos_extract_result_release(struct dos_extract_result *r)
{
	for (size_t i = 0; i < r->n_alternatives; i++)
		extract_alternative_release(&r->alternatives[i]);
	free(r->alternatives);
	for (size_t i = 0; i < r->n_conflicts; i++) {
		free(r->conflicts[i].path);
		free(r->conflicts[i].first_pkg);
		free(r->conflicts[i].second_pkg);
	}
	free(r->conflicts);
	extract_notes_release(r->setids, r->n_setids);
	extract_notes_release(r->skipped, r->n_skipped);
	for (size_t i = 0; i < r->n_pkgs; i++) {
		free(r->pkgs[i].name);
		free(r->pkgs[i].license);
		dos_strv_release(&r->pkgs[i].paths);
	}
	free(r->pkgs);
	memset(r, 0, sizeof(*r));
}
