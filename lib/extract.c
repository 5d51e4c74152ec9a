/* Unpacking .deb files into a bundle root. See extract.h.
 *
 * How threads agree on a path two packages ship: a shared table records,
 * for each path, the package whose version is on disk (its owner) and every
 * package shipping it, with a digest of its content. The first to claim a
 * path writes it in place. A later claimer that comes earlier in the input
 * writes a temporary file beside it and renames it over, under the table
 * lock; one that comes later only hashes its content. A file on disk is
 * thus never changed once written, only replaced by a rename: this is what
 * lets a hard link copy its target from disk. */
#include "extract.h"
#include "progress.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define READ_BLOCK (1 << 20)          /* the .deb is read in blocks this big */
#define SCRIPT_MAX (1 << 20)          /* larger maintainer scripts are not parsed */
#define COPYRIGHT_MAX (256 << 10)     /* bytes of a copyright file parsed */
#define LINK_TARGET_MAX 4095
#define SIZE_CHECK_MIN (64 << 20)     /* bigger entries are checked against the free space */
#define NO_OWNER SIZE_MAX

/* --- small helpers --- */

/* Appends a zeroed element to an array grown only by this function: it
 * is full exactly when its length is zero or a power of two. */
static void *vec_push(void *pv, size_t *n, size_t size)
{
	void **v = pv;
	void *slot;

	if ((*n & (*n - 1)) == 0)
		*v = dos_xrealloc(*v, (*n ? *n * 2 : 1) * size);
	slot = (char *)*v + *n * size;
	memset(slot, 0, size);
	(*n)++;
	return slot;
}

static const char *aerr(struct archive *a)
{
	const char *s = archive_error_string(a);

	return s ? s : "unknown libarchive error";
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

enum clean_err { CLEAN_ABSOLUTE = -1, CLEAN_DOTDOT = -2, CLEAN_LONG = -3 };

static const char *clean_why(int e)
{
	return e == CLEAN_ABSOLUTE ? "an absolute path is refused" :
	       e == CLEAN_DOTDOT ? "a '..' component is refused" : "path too long";
}

/* Turns an archive name into a clean relative path: a leading "./", and
 * "." or empty components, dropped. Returns its length (0 for the root
 * itself) or a negative clean_err. */
static int path_clean(const char *raw, char out[PATH_MAX])
{
	size_t len = 0;

	if (raw[0] == '/')
		return CLEAN_ABSOLUTE;
	for (const char *p = raw; *p;) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return CLEAN_DOTDOT;
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

enum kind { K_DIR = 1, K_FILE, K_LINK };

struct shipper {
	size_t pkg;
	enum kind kind;
	char digest[DOS_SHA256_HEX];
};

struct pentry {
	uint64_t hash;
	enum kind kind;            /* what is on disk */
	bool writing;              /* its owner is writing it in place */
	size_t owner;              /* the package whose version is on disk */
	mode_t mode;               /* folders: the owner's, applied at the end */
	struct timespec mtime;
	struct shipper *ship;      /* files and symlinks: each package shipping it */
	size_t n_ship;
	char path[];
};

struct ptab {
	struct pentry **slots;
	size_t cap, n;
};

static uint64_t path_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;   /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct pentry *ptab_find(const struct ptab *t, const char *path, uint64_t h)
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

static struct pentry *ptab_add(struct ptab *t, const char *path, uint64_t h)
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

static void ptab_release(struct ptab *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		if (t->slots[i])
			free(t->slots[i]->ship);
		free(t->slots[i]);
	}
	free(t->slots);
}

static struct shipper *ship_find(struct pentry *e, size_t pkg)
{
	for (size_t i = 0; i < e->n_ship; i++)
		if (e->ship[i].pkg == pkg)
			return &e->ship[i];
	return NULL;
}

/* --- the state workers share, and each worker's own --- */

struct pkg_out {
	struct dos_strv paths;
	char *license;
	struct dos_alternative *alts;
	size_t n_alts;
	struct dos_extract_note *setids, *skipped;
	size_t n_setids, n_skipped;
	uint64_t files, bytes;
};

struct shared {
	struct dos_ctx *ctx;             /* the caller's: warnings only */
	int rootfd;
	const struct dos_extract_pkg *pkgs;
	size_t n, next;
	size_t *order;                   /* biggest files first */
	struct pkg_out *outs;
	struct ptab tab;
	pthread_mutex_t lock;            /* guards tab, next, stop and the error */
	pthread_cond_t written;          /* an entry stopped being written */
	bool stop;
	int err_code;
	char err_msg[DOS_ERRMSG_MAX];
	struct dos_progress progress;
};

/* Folders opened from the root one component at a time, with the last
 * one kept open: archives list a folder's files together. */
struct tree {
	struct dos_ctx *ctx;
	int rootfd;
	char *dir_path;
	int dir_fd;
};

struct worker {
	struct shared *sh;
	struct dos_ctx ctx;              /* this worker's errors */
	struct tree tree;
	int id;
	size_t idx;                      /* the package being extracted */
	const struct dos_extract_pkg *pkg;
	struct pkg_out *out;
	char *copyright;                 /* usr/share/doc/<pkg>/copyright */
	unsigned tmp_seq;
	char *copy_buf;                  /* hard link copies */
};

static bool stopped(struct shared *sh)
{
	return __atomic_load_n(&sh->stop, __ATOMIC_RELAXED);
}

static void note_add(struct dos_extract_note **v, size_t *n, const char *path,
		     const char *package, unsigned mode)
{
	struct dos_extract_note *note = vec_push(v, n, sizeof(**v));

	note->path = dos_xstrdup(path);
	note->package = dos_xstrdup(package);
	note->mode = mode;
}

/* --- folders: never through a symlink --- */

static void tree_init(struct tree *t, struct dos_ctx *ctx, int rootfd)
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

static void tree_release(struct tree *t)
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

/* The folder holding path's last component (*leaf). The fd belongs to the
 * tree: valid until its next call. */
static int tree_parent(struct tree *t, const char *path, const char **leaf)
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

/* --- reading a .deb: an ar archive, its members read as streams --- */

enum member { M_CONTROL = 1, M_DATA, M_OTHER };

struct deb {
	struct archive *outer, *inner;
	int fd;
	int members;
	char member[64];
};

static la_ssize_t member_read(struct archive *a, void *data, const void **buf)
{
	struct deb *d = data;
	size_t size;
	la_int64_t off;
	int r = archive_read_data_block(d->outer, buf, &size, &off);

	if (r == ARCHIVE_EOF)
		return 0;
	if (r != ARCHIVE_OK) {
		archive_set_error(a, EIO, "%s", aerr(d->outer));
		return -1;
	}
	return (la_ssize_t)size;
}

static int deb_open(struct dos_ctx *ctx, struct deb *d, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	if (fd < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot open");
	d->fd = fd;
	d->outer = archive_read_new();
	if (!d->outer)
		return dos_error(ctx, DOS_ENOMEM, "out of memory");
	archive_read_support_format_ar(d->outer);
	if (archive_read_open_fd(d->outer, fd, READ_BLOCK) != ARCHIVE_OK)
		return dos_error(ctx, DOS_EFORMAT, "not a Debian package: %s", aerr(d->outer));
	return 0;
}

static void deb_inner_close(struct deb *d)
{
	if (d->inner)
		archive_read_free(d->inner);
	d->inner = NULL;
}

static void deb_close(struct deb *d)
{
	deb_inner_close(d);
	if (d->outer)
		archive_read_free(d->outer);
	d->outer = NULL;
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

static int deb_check_version(struct dos_ctx *ctx, struct deb *d, const char *name)
{
	char buf[16] = "";

	if (strcmp(name, "debian-binary"))
		return dos_error(ctx, DOS_EFORMAT, "not a Debian package: first member is '%s'", name);
	if (archive_read_data(d->outer, buf, sizeof(buf) - 1) < 0)
		return dos_error(ctx, DOS_EFORMAT, "debian-binary: %s", aerr(d->outer));
	if (strncmp(buf, "2.", 2))
		return dos_error(ctx, DOS_EFORMAT, "unsupported package format version '%.4s'", buf);
	return M_OTHER;
}

/* Moves to the next member: returns its kind, or 0 at the end. */
static int deb_next(struct dos_ctx *ctx, struct deb *d)
{
	struct archive_entry *ae;
	const char *name;
	int r = archive_read_next_header(d->outer, &ae);

	if (r == ARCHIVE_EOF && d->members)
		return 0;
	if (r != ARCHIVE_OK)
		return dos_error(ctx, DOS_EFORMAT, "not a Debian package: %s",
				 r == ARCHIVE_EOF ? "empty archive" : aerr(d->outer));
	name = archive_entry_pathname(ae);
	name = name ? name : "";
	snprintf(d->member, sizeof(d->member), "%s", name);
	if (d->members++ == 0)
		return deb_check_version(ctx, d, name);
	if (!strncmp(name, "control.tar", 11))
		return M_CONTROL;
	if (!strncmp(name, "data.tar", 8))
		return M_DATA;
	if (name[0] == '_')
		return M_OTHER;
	return dos_error(ctx, DOS_EFORMAT, "unexpected member '%s'", name);
}

/* Opens the current member as a tar stream, without a temporary file. */
static int deb_inner_open(struct dos_ctx *ctx, struct deb *d)
{
	d->inner = archive_read_new();
	if (!d->inner)
		return dos_error(ctx, DOS_ENOMEM, "out of memory");
	archive_read_support_format_tar(d->inner);
	/* The compressions dpkg knows, each in-process; support_filter_all
	 * would also accept some through external programs. */
	archive_read_support_filter_gzip(d->inner);
	archive_read_support_filter_xz(d->inner);
	archive_read_support_filter_lzma(d->inner);
	archive_read_support_filter_bzip2(d->inner);
	archive_read_support_filter_zstd(d->inner);
	if (archive_read_open(d->inner, d, NULL, member_read, NULL) != ARCHIVE_OK)
		return dos_error(ctx, DOS_EFORMAT, "%s: truncated or corrupt: %s", d->member,
				 aerr(d->inner));
	return 0;
}

/* 1 with the next entry, 0 at the end. */
static int deb_inner_next(struct dos_ctx *ctx, struct deb *d, struct archive_entry **ae)
{
	int r = archive_read_next_header(d->inner, ae);

	if (r == ARCHIVE_EOF)
		return 0;
	if (r == ARCHIVE_OK || r == ARCHIVE_WARN)
		return 1;
	return dos_error(ctx, DOS_EFORMAT, "%s: truncated or corrupt: %s", d->member, aerr(d->inner));
}

/* --- entries: content, then placement under the table's rules --- */

struct source {
	struct archive *a;         /* the current entry's data, or */
	int fd;                    /* a file's (hard link copies) */
	char *buf;
	int64_t pos;
};

struct item {
	const char *rel;
	enum kind kind;
	mode_t mode;
	struct timespec mtime;
	int64_t size;
	const char *target;        /* symlinks */
	struct source src;         /* files */
	bool capture;              /* keep the start of the content */
	char *captured;
	size_t n_captured;
};

/* 1 with a block of data, 0 at its end. */
static int source_next(struct worker *w, struct source *s, const void **buf, size_t *len)
{
	la_int64_t off;
	ssize_t n;
	int r;

	if (!s->a) {
		do
			n = read(s->fd, s->buf, READ_BLOCK);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return dos_error_errno(&w->ctx, DOS_EIO, errno, "cannot read the link's target");
		*buf = s->buf;
		*len = (size_t)n;
		return n > 0;
	}
	r = archive_read_data_block(s->a, buf, len, &off);
	if (r == ARCHIVE_EOF)
		return 0;
	if (r != ARCHIVE_OK)
		return dos_error(&w->ctx, DOS_EFORMAT, "truncated or corrupt payload: %s", aerr(s->a));
	if (off != s->pos)
		return dos_error(&w->ctx, DOS_EFORMAT, "sparse files are not supported");
	s->pos += (int64_t)*len;
	return 1;
}

static void capture_add(struct item *it, const void *buf, size_t len)
{
	size_t room = COPYRIGHT_MAX - it->n_captured;

	if (!it->captured)
		it->captured = dos_xmalloc(COPYRIGHT_MAX + 1);
	len = len < room ? len : room;
	memcpy(it->captured + it->n_captured, buf, len);
	it->n_captured += len;
	it->captured[it->n_captured] = '\0';
}

/* Streams the content into fd (nowhere when fd < 0), hashing it, and checks
 * that the payload holds the size the entry declares. */
static int content_copy(struct worker *w, struct item *it, int fd, char digest[DOS_SHA256_HEX])
{
	struct dos_sha256 *h = dos_sha256_new();
	const void *buf;
	int64_t got = 0;
	size_t len;
	int r;

	while ((r = source_next(w, &it->src, &buf, &len)) > 0) {
		dos_sha256_update(h, buf, len);
		if (it->capture)
			capture_add(it, buf, len);
		got += (int64_t)len;
		if (fd >= 0 && (r = write_all(fd, buf, len)) < 0) {
			r = dos_error_errno(&w->ctx, DOS_EIO, -r, "cannot write");
			break;
		}
	}
	dos_sha256_final(h, digest);
	if (r == 0 && got != it->size)
		r = dos_error(&w->ctx, DOS_EFORMAT, "truncated payload: %lld of %lld bytes",
			      (long long)got, (long long)it->size);
	if (r == 0) {
		w->out->files++;
		w->out->bytes += (uint64_t)got;
	}
	return r;
}

static int item_digest(struct worker *w, struct item *it, char digest[DOS_SHA256_HEX])
{
	if (it->kind == K_LINK) {
		dos_sha256_buf(it->target, strlen(it->target), digest);
		return 0;
	}
	return content_copy(w, it, -1, digest);
}

/* Creates the item as name in pfd, never replacing anything: returns 1
 * when the name is taken. */
static int node_create(struct worker *w, struct item *it, int pfd, const char *name,
		       char digest[DOS_SHA256_HEX])
{
	const struct timespec ts[2] = { it->mtime, it->mtime };
	_cleanup_close_ int fd = -1;
	int r;

	if (it->kind == K_LINK) {
		if (symlinkat(it->target, pfd, name) < 0)
			return errno == EEXIST ? 1 : dos_error_errno(&w->ctx, DOS_EIO, errno,
								     "cannot create symlink");
		utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
		return item_digest(w, it, digest);
	}
	fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? 1 : dos_error_errno(&w->ctx, DOS_EIO, errno, "cannot create");
	r = content_copy(w, it, fd, digest);
	if (r == 0 && (fchmod(fd, it->mode) < 0 || futimens(fd, ts) < 0))
		r = dos_error_errno(&w->ctx, DOS_EIO, errno, "cannot set mode or mtime");
	if (r < 0)
		unlinkat(pfd, name, 0);
	return r;
}

enum action { A_DIRECT, A_TEMP, A_HASH };

/* Under the lock: registers the package as a shipper of the path and
 * says how to treat it. */
static int item_claim(struct worker *w, struct item *it, struct pentry **pe, size_t *ship,
		      enum action *act)
{
	uint64_t h = path_hash(it->rel);
	struct pentry *e = ptab_find(&w->sh->tab, it->rel, h);
	struct shipper *s;

	if (e && e->kind == K_DIR)
		return dos_error(&w->ctx, DOS_EFORMAT, "a folder in package '%s'",
				 e->owner == NO_OWNER ? "?" : w->sh->pkgs[e->owner].name);
	if (e && ship_find(e, w->idx))
		return dos_error(&w->ctx, DOS_EFORMAT, "appears twice in the package");
	if (!e) {
		e = ptab_add(&w->sh->tab, it->rel, h);
		e->owner = w->idx;
		e->kind = it->kind;
		e->writing = true;
		*act = A_DIRECT;
	} else {
		*act = e->owner < w->idx ? A_HASH : A_TEMP;
	}
	*ship = e->n_ship;
	s = vec_push(&e->ship, &e->n_ship, sizeof(*e->ship));
	s->pkg = w->idx;
	s->kind = it->kind;
	*pe = e;
	return 0;
}

static void ship_done(struct shared *sh, struct pentry *e, size_t ship, const char *digest,
		      bool written)
{
	pthread_mutex_lock(&sh->lock);
	memcpy(e->ship[ship].digest, digest, DOS_SHA256_HEX);
	if (written) {
		e->writing = false;
		pthread_cond_broadcast(&sh->written);
	}
	pthread_mutex_unlock(&sh->lock);
}

/* First claimer: writes in place. */
static int item_direct(struct worker *w, struct item *it, struct pentry *e, size_t ship,
		       int pfd, const char *leaf)
{
	char digest[DOS_SHA256_HEX] = "";
	int r = node_create(w, it, pfd, leaf, digest);

	if (r == 1) {
		/* Left by an earlier run: no package of this run has it. */
		if (unlinkat(pfd, leaf, 0) < 0)
			r = dos_error_errno(&w->ctx, DOS_EIO, errno, "cannot replace what is there");
		else
			r = node_create(w, it, pfd, leaf, digest);
		if (r == 1)
			r = dos_error(&w->ctx, DOS_EIO, "created by someone else meanwhile");
	}
	ship_done(w->sh, e, ship, digest, true);
	return r;
}

/* An earlier package than the owner: a temporary file, renamed over the
 * owner's version unless an even earlier package got there meanwhile. */
static int item_temp(struct worker *w, struct item *it, struct pentry *e, size_t ship,
		     int pfd, const char *leaf)
{
	struct shared *sh = w->sh;
	char tmp[64], digest[DOS_SHA256_HEX] = "";
	bool wins = false;
	int r, tries = 0;

	do {
		snprintf(tmp, sizeof(tmp), ".dos-extract.%d.%u", w->id, w->tmp_seq++);
		r = node_create(w, it, pfd, tmp, digest);
	} while (r == 1 && ++tries < 1000);
	if (r)
		return r < 0 ? r : dos_error(&w->ctx, DOS_EIO, "no free temporary name");
	pthread_mutex_lock(&sh->lock);
	while (e->writing && !sh->stop)
		pthread_cond_wait(&sh->written, &sh->lock);
	if (e->writing)
		r = dos_error(&w->ctx, DOS_EINTR, "stopped");
	else if (e->owner > w->idx && renameat(pfd, tmp, pfd, leaf) < 0)
		r = dos_error_errno(&w->ctx, DOS_EIO, errno, "cannot replace the later package's version");
	else if (e->owner > w->idx)
		wins = true, e->owner = w->idx, e->kind = it->kind;
	memcpy(e->ship[ship].digest, digest, DOS_SHA256_HEX);
	pthread_mutex_unlock(&sh->lock);
	if (!wins)
		unlinkat(pfd, tmp, 0);
	return r;
}

/* Writes a file or symlink (or only hashes it) by the table's rules. */
static int item_place(struct worker *w, struct item *it)
{
	char digest[DOS_SHA256_HEX] = "";
	struct pentry *e = NULL;
	enum action act = A_HASH;
	const char *leaf;
	size_t ship = 0;
	int pfd, r;

	pfd = tree_parent(&w->tree, it->rel, &leaf);
	if (pfd < 0)
		return pfd;
	pthread_mutex_lock(&w->sh->lock);
	r = item_claim(w, it, &e, &ship, &act);
	pthread_mutex_unlock(&w->sh->lock);
	if (r < 0)
		return r;
	if (act == A_DIRECT)
		return item_direct(w, it, e, ship, pfd, leaf);
	if (act == A_TEMP)
		return item_temp(w, it, e, ship, pfd, leaf);
	r = item_digest(w, it, digest);
	ship_done(w->sh, e, ship, digest, false);
	return r;
}

static int dir_extract(struct worker *w, const char *rel, mode_t mode, struct timespec mtime)
{
	uint64_t h = path_hash(rel);
	struct pentry *e;
	const char *leaf;
	struct stat st;
	int pfd = tree_parent(&w->tree, rel, &leaf), r = 0;

	if (pfd < 0)
		return pfd;
	/* Owner-only while extracting; the real mode comes at the end. */
	if (mkdirat(pfd, leaf, 0700) < 0) {
		if (errno != EEXIST)
			return dos_error_errno(&w->ctx, DOS_EIO, errno, "cannot create folder");
		if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			return dos_error(&w->ctx, DOS_EFORMAT, "a folder where a file or symlink is");
	}
	pthread_mutex_lock(&w->sh->lock);
	e = ptab_find(&w->sh->tab, rel, h);
	if (e && e->kind != K_DIR)
		r = dos_error(&w->ctx, DOS_EFORMAT, "a folder where package '%s' has a file or symlink",
			      w->sh->pkgs[e->owner].name);
	else if (!e)
		e = ptab_add(&w->sh->tab, rel, h), e->kind = K_DIR;
	if (r == 0 && w->idx < e->owner)
		e->owner = w->idx, e->mode = mode, e->mtime = mtime;
	pthread_mutex_unlock(&w->sh->lock);
	return r;
}

/* Checks that a big entry can fit: a hostile size is refused early. */
static int size_check(struct worker *w, int64_t size)
{
	struct statvfs sv;

	if (size < 0)
		return dos_error(&w->ctx, DOS_EFORMAT, "negative size");
	if (size < SIZE_CHECK_MIN || fstatvfs(w->sh->rootfd, &sv) < 0)
		return 0;
	if ((uint64_t)size > (uint64_t)sv.f_bavail * sv.f_frsize)
		return dos_error(&w->ctx, DOS_EFORMAT,
				 "declares %lld bytes, more than the %llu free in the bundle root",
				 (long long)size, (unsigned long long)sv.f_bavail * sv.f_frsize);
	return 0;
}

static void item_init(struct item *it, const char *rel, struct archive_entry *ae, enum kind kind)
{
	memset(it, 0, sizeof(*it));
	it->rel = rel;
	it->kind = kind;
	it->mode = archive_entry_perm(ae) & 0777;
	it->mtime.tv_sec = archive_entry_mtime(ae);
	it->mtime.tv_nsec = archive_entry_mtime_nsec(ae);
	it->src.fd = -1;
}

/* The content of our own version of target: from disk when it is ours
 * there (*fd), else *fd is -1 and the caller reads the package again. */
static int hardlink_source(struct worker *w, const char *target, int *fd)
{
	struct pentry *e;
	struct shipper *s;
	const char *leaf;
	int pfd = -1, r = 0;

	*fd = -1;
	pthread_mutex_lock(&w->sh->lock);
	e = ptab_find(&w->sh->tab, target, path_hash(target));
	s = e && e->kind != K_DIR ? ship_find(e, w->idx) : NULL;
	if (!s || s->kind != K_FILE)
		r = dos_error(&w->ctx, DOS_EFORMAT,
			      "hard link to '%s', which is not a file the package holds before it", target);
	else if (e->owner == w->idx)
		r = pfd = tree_parent(&w->tree, target, &leaf);
	/* Under the lock: nobody renames over it while we open it. */
	if (pfd >= 0) {
		r = 0;
		*fd = openat(pfd, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (*fd < 0)
			r = dos_error_errno(&w->ctx, DOS_EIO, errno, "cannot open '%s'", target);
	}
	pthread_mutex_unlock(&w->sh->lock);
	return r < 0 ? r : 0;
}

/* The rare case of a hard link whose target lost a conflict: our version
 * is read again from the package. */
static int hardlink_from_deb(struct worker *w, struct item *it, const char *target)
{
	struct archive_entry *ae;
	char rel[PATH_MAX];
	bool found = false;
	struct deb d;
	int r = deb_open(&w->ctx, &d, w->pkg->path);

	while (r >= 0 && (r = deb_next(&w->ctx, &d)) > 0 && r != M_DATA)
		;
	if (r == M_DATA)
		r = deb_inner_open(&w->ctx, &d);
	while (!found && r >= 0 && (r = deb_inner_next(&w->ctx, &d, &ae)) > 0) {
		const char *name = archive_entry_pathname(ae);
		if (!name || path_clean(name, rel) <= 0 || strcmp(rel, target) ||
		    archive_entry_filetype(ae) != AE_IFREG || archive_entry_hardlink(ae))
			continue;
		found = true;
		it->size = archive_entry_size(ae);
		it->src.a = d.inner;
		r = item_place(w, it);
	}
	deb_close(&d);
	if (r >= 0 && !found)
		r = dos_error(&w->ctx, DOS_EFORMAT, "hard link target '%s' not found again", target);
	return r < 0 ? r : 0;
}

/* Hard links become copies: the bundle holds none. */
static int hardlink_extract(struct worker *w, const char *rel, struct archive_entry *ae)
{
	char target[PATH_MAX];
	struct item it;
	struct stat st;
	int len = path_clean(archive_entry_hardlink(ae), target), fd, r;

	if (len <= 0)
		return dos_error(&w->ctx, DOS_EFORMAT, "hard link to '%s': %s",
				 archive_entry_hardlink(ae), len ? clean_why(len) : "the root");
	item_init(&it, rel, ae, K_FILE);
	r = hardlink_source(w, target, &fd);
	if (r < 0)
		return r;
	if (fd < 0)
		return hardlink_from_deb(w, &it, target);
	if (!w->copy_buf)
		w->copy_buf = dos_xmalloc(READ_BLOCK);
	it.src = (struct source){ .fd = fd, .buf = w->copy_buf };
	if (fstat(fd, &st) < 0)
		r = dos_error_errno(&w->ctx, DOS_EIO, errno, "cannot stat '%s'", target);
	it.size = st.st_size;
	if (r == 0)
		r = item_place(w, &it);
	close(fd);
	return r;
}

static int special_skip(struct worker *w, const char *rel, struct archive_entry *ae)
{
	mode_t type = archive_entry_filetype(ae);
	const char *what = type == AE_IFCHR ? "character device" : type == AE_IFBLK ? "block device" :
			   type == AE_IFIFO ? "FIFO" : type == AE_IFSOCK ? "socket" : "special file";

	dos_warn(w->sh->ctx, "package '%s': entry '%s': %s not extracted", w->pkg->name, rel, what);
	note_add(&w->out->skipped, &w->out->n_skipped, rel, w->pkg->name, archive_entry_mode(ae));
	return 0;
}

static int file_extract(struct worker *w, struct deb *d, const char *rel, struct archive_entry *ae)
{
	struct item it;
	int r = size_check(w, archive_entry_size(ae));

	if (r < 0)
		return r;
	item_init(&it, rel, ae, K_FILE);
	it.size = archive_entry_size(ae);
	it.src.a = d->inner;
	it.capture = !strcmp(rel, w->copyright);
	r = item_place(w, &it);
	if (r == 0 && it.captured) {
		free(w->out->license);
		w->out->license = dos_extract_parse_license(it.captured);
	}
	free(it.captured);
	return r;
}

static int symlink_extract(struct worker *w, const char *rel, struct archive_entry *ae)
{
	const char *target = archive_entry_symlink(ae);
	struct item it;

	if (!target || !*target)
		return dos_error(&w->ctx, DOS_EFORMAT, "symlink without a target");
	if (strlen(target) > LINK_TARGET_MAX)
		return dos_error(&w->ctx, DOS_EFORMAT, "symlink target too long");
	item_init(&it, rel, ae, K_LINK);
	it.target = target;
	return item_place(w, &it);
}

static int entry_dispatch(struct worker *w, struct deb *d, const char *rel, struct archive_entry *ae)
{
	mode_t type = archive_entry_filetype(ae), perm = archive_entry_perm(ae);
	struct timespec mtime = { archive_entry_mtime(ae), archive_entry_mtime_nsec(ae) };

	if (!archive_entry_hardlink(ae) && type != AE_IFDIR && type != AE_IFREG && type != AE_IFLNK)
		return special_skip(w, rel, ae);
	if (perm & (S_ISUID | S_ISGID))
		note_add(&w->out->setids, &w->out->n_setids, rel, w->pkg->name, archive_entry_mode(ae));
	dos_strv_push(&w->out->paths, rel);
	if (archive_entry_hardlink(ae))
		return hardlink_extract(w, rel, ae);
	if (type == AE_IFDIR)
		return dir_extract(w, rel, perm & 01777, mtime);
	if (type == AE_IFLNK)
		return symlink_extract(w, rel, ae);
	return file_extract(w, d, rel, ae);
}

static int entry_extract(struct worker *w, struct deb *d, struct archive_entry *ae)
{
	const char *raw = archive_entry_pathname(ae);
	char rel[PATH_MAX];
	int len, r;

	if (!raw)
		return dos_error(&w->ctx, DOS_EFORMAT, "%s: an entry without a name", d->member);
	len = path_clean(raw, rel);
	if (len < 0)
		return dos_error(&w->ctx, DOS_EFORMAT, "entry '%s': %s", raw, clean_why(len));
	if (len == 0)
		return 0;   /* the root folder itself */
	r = entry_dispatch(w, d, rel, ae);
	return r < 0 ? dos_error_prefix(&w->ctx, "entry '%s'", rel) : 0;
}

static int data_extract(struct worker *w, struct deb *d)
{
	struct archive_entry *ae;
	int r = deb_inner_open(&w->ctx, d);

	while (r >= 0 && (r = deb_inner_next(&w->ctx, d, &ae)) > 0) {
		if (stopped(w->sh))
			r = dos_error(&w->ctx, DOS_EINTR, "stopped");
		else
			r = entry_extract(w, d, ae);
	}
	deb_inner_close(d);
	return r;
}

/* --- maintainer scripts: update-alternatives --- */

#define OPERATORS ";&|<>()"

/* Splits a shell line into words in place: quotes removed, operators as
 * ";" words, a comment ends it. */
static size_t line_split(char *s, char **words, size_t max)
{
	char *r = s, *w = s;
	size_t n = 0;

	while (*r && n < max) {
		char c;
		if (*r == ' ' || *r == '\t' || *r == '\r') {
			r++;
			continue;
		}
		if (*r == '#')
			break;
		if (strchr(OPERATORS, *r)) {
			words[n++] = ";";
			r++;
			continue;
		}
		words[n++] = w;
		while (*r && !strchr(" \t\r" OPERATORS, *r)) {
			char q = *r;
			if (q != '\'' && q != '"') {
				*w++ = *r++;
				continue;
			}
			for (r++; *r && *r != q;)
				*w++ = *r++;
			r += *r == q;
		}
		c = *r;
		*w++ = '\0';   /* w <= r + 1: may overwrite the delimiter, kept in c */
		r += c != '\0';
		if (c && strchr(OPERATORS, c) && n < max)
			words[n++] = ";";
	}
	return n;
}

static void alt_add(struct dos_alternative **alts, size_t *n, char **args, long priority,
		    const char *package, const char *master)
{
	struct dos_alternative *a = vec_push(alts, n, sizeof(**alts));

	a->link = dos_xstrdup(args[0]);
	a->name = dos_xstrdup(args[1]);
	a->path = dos_xstrdup(args[2]);
	a->priority = priority;
	a->package = dos_xstrdup(package);
	a->master = master ? dos_xstrdup(master) : NULL;
}

static bool alt_args_ok(char **args)
{
	return args[0][0] == '/' && args[2][0] == '/' && args[1][0] && !strchr(args[1], '/');
}

/* One update-alternatives command, args[0..m) its arguments. */
static void alt_command(char **args, size_t m, const char *package,
			struct dos_alternative **alts, size_t *n)
{
	const char *master;
	size_t i = 0;
	char *end;
	long prio;

	for (size_t k = 0; k < m; k++)
		if (strpbrk(args[k], "$`"))
			return;   /* shell variables: not ours to guess */
	while (i < m && strcmp(args[i], "--install"))
		i++;
	if (i + 5 > m || !alt_args_ok(args + i + 1))
		return;
	master = args[i + 2];
	prio = strtol(args[i + 4], &end, 10);
	if (!*args[i + 4] || *end)
		return;
	alt_add(alts, n, args + i + 1, prio, package, NULL);
	for (i += 5; i + 4 <= m && !strcmp(args[i], "--slave"); i += 4)
		if (alt_args_ok(args + i + 1))
			alt_add(alts, n, args + i + 1, prio, package, master);
}

static bool is_update_alternatives(const char *word)
{
	const char *base = strrchr(word, '/');

	return !strcmp(base ? base + 1 : word, "update-alternatives");
}

#define WORDS_MAX 512

void dos_extract_parse_alternatives(const char *script, const char *package,
				    struct dos_alternative **alts, size_t *n)
{
	_cleanup_free_ char *text = dos_xstrdup(script);
	_cleanup_free_ char **words = dos_xmalloc(WORDS_MAX * sizeof(char *));
	char *line, *save = NULL;

	for (char *p = text; *p; p++)   /* continuation lines */
		if (p[0] == '\\' && p[1] == '\n')
			p[0] = p[1] = ' ';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t nw = line_split(line, words, WORDS_MAX);
		for (size_t i = 0; i < nw; i++) {
			size_t end = i + 1;
			if (!is_update_alternatives(words[i]))
				continue;
			while (end < nw && strcmp(words[end], ";"))
				end++;
			alt_command(words + i + 1, end - i - 1, package, alts, n);
			i = end;
		}
	}
}

static int script_read(struct worker *w, struct deb *d, struct archive_entry *ae, char **out)
{
	int64_t size = archive_entry_size(ae);
	char *buf;
	la_ssize_t got;

	if (size < 0 || size > SCRIPT_MAX) {
		dos_warn(w->sh->ctx, "package '%s': maintainer script too large, not parsed",
			 w->pkg->name);
		return 0;
	}
	buf = dos_xmalloc((size_t)size + 1);
	got = archive_read_data(d->inner, buf, (size_t)size);
	if (got != size) {
		free(buf);
		return dos_error(&w->ctx, DOS_EFORMAT, "%s: truncated maintainer script%s%s", d->member,
				 got < 0 ? ": " : "", got < 0 ? aerr(d->inner) : "");
	}
	buf[size] = '\0';
	*out = buf;
	return 0;
}

/* Reads preinst and postinst, for their update-alternatives commands. */
static int control_read(struct worker *w, struct deb *d)
{
	char *scripts[2] = { NULL, NULL };   /* preinst, postinst */
	struct archive_entry *ae;
	char rel[PATH_MAX];
	int r = deb_inner_open(&w->ctx, d);

	while (r >= 0 && (r = deb_inner_next(&w->ctx, d, &ae)) > 0) {
		const char *name = archive_entry_pathname(ae);
		int k;
		if (!name || path_clean(name, rel) <= 0 || archive_entry_filetype(ae) != AE_IFREG)
			continue;
		k = !strcmp(rel, "preinst") ? 0 : !strcmp(rel, "postinst") ? 1 : -1;
		if (k >= 0 && !scripts[k])
			r = script_read(w, d, ae, &scripts[k]);
	}
	for (int k = 0; k < 2; k++) {
		if (r == 0 && scripts[k])
			dos_extract_parse_alternatives(scripts[k], w->pkg->name, &w->out->alts,
						       &w->out->n_alts);
		free(scripts[k]);
	}
	deb_inner_close(d);
	return r;
}

/* --- copyright: the machine-readable format's License --- */

/* When line is "Name: value", points *value at the trimmed value. */
static bool field_match(const char *line, const char *eol, const char *name, const char **value,
			size_t *len)
{
	size_t n = strlen(name);
	const char *v, *e = eol;

	if ((size_t)(eol - line) <= n || strncasecmp(line, name, n) || line[n] != ':')
		return false;
	for (v = line + n + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
		;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*value = v;
	*len = (size_t)(e - v);
	return true;
}

struct para {
	int index;
	bool any, star, format;
	const char *lic;
	size_t lic_len;
};

static char *xstrndup(const char *s, size_t n)
{
	return dos_xasprintf("%.*s", (int)n, s);
}

/* At a paragraph's end: the license when it is the first "Files: *" one;
 * *bad when the header says the file is not machine-readable. */
static char *para_end(struct para *p, const char **header, size_t *header_len, bool *bad)
{
	char *lic = NULL;

	if (p->index == 0 && !p->format)
		*bad = true;
	else if (p->star && p->lic_len)
		lic = xstrndup(p->lic, p->lic_len);
	else if (p->index == 0)
		*header = p->lic, *header_len = p->lic_len;
	*p = (struct para){ .index = p->index + 1, .format = true };
	return lic;
}

static void para_line(struct para *p, const char *line, const char *eol)
{
	const char *v;
	size_t len;

	p->any = true;
	if (field_match(line, eol, "Format", &v, &len))
		p->format = memmem(v, len, "copyright-format/1.0", 20) != NULL;
	else if (field_match(line, eol, "Files", &v, &len))
		p->star = len && v[0] == '*' && (len == 1 || v[1] == ' ' || v[1] == '\t');
	else if (field_match(line, eol, "License", &v, &len))
		p->lic = v, p->lic_len = len;
}

char *dos_extract_parse_license(const char *text)
{
	struct para p = { 0 };
	const char *header = NULL, *eol;
	size_t header_len = 0;
	bool bad = false;
	char *lic = NULL;

	for (const char *line = text; !lic && !bad; line = eol + 1) {
		bool blank;
		eol = strchrnul(line, '\n');
		blank = strspn(line, " \t\r") >= (size_t)(eol - line);
		if (!blank && line[0] != ' ' && line[0] != '\t')
			para_line(&p, line, eol);
		if ((blank || !*eol) && p.any)
			lic = para_end(&p, &header, &header_len, &bad);
		if (!*eol)
			break;
	}
	if (lic || bad)
		return lic;
	return header && header_len ? xstrndup(header, header_len) : NULL;
}

/* --- workers --- */

static int deb_extract(struct worker *w)
{
	bool control = false, data = false;
	struct deb d;
	int r = deb_open(&w->ctx, &d, w->pkg->path);

	while (r >= 0 && (r = deb_next(&w->ctx, &d)) > 0) {
		if (r == M_CONTROL && !control)
			control = true, r = control_read(w, &d);
		else if (r == M_DATA && !data)
			data = true, r = data_extract(w, &d);
		else if (r != M_OTHER)
			r = dos_error(&w->ctx, DOS_EFORMAT, "member '%s' appears twice", d.member);
	}
	deb_close(&d);
	if (r == 0 && !data)
		r = dos_error(&w->ctx, DOS_EFORMAT, "no data.tar member");
	return r;
}

static int pkg_extract(struct worker *w, size_t i)
{
	const char *name;
	size_t base;
	int r;

	w->idx = i;
	w->pkg = &w->sh->pkgs[i];
	w->out = &w->sh->outs[i];
	name = w->pkg->name;
	base = strcspn(name, ":");   /* the doc folder has no architecture */
	w->copyright = dos_xasprintf("usr/share/doc/%.*s/copyright", (int)base, name);
	r = deb_extract(w);
	free(w->copyright);
	w->copyright = NULL;
	if (r < 0)
		return dos_error_prefix(&w->ctx, "package '%s' (%s)", name, w->pkg->path);
	return 0;
}

/* Keeps the first error; the others stop at their next entry. */
static void worker_fail(struct worker *w)
{
	struct shared *sh = w->sh;

	pthread_mutex_lock(&sh->lock);
	if (!sh->stop) {
		sh->err_code = w->ctx.code ? w->ctx.code : DOS_EFAIL;
		memcpy(sh->err_msg, w->ctx.msg, sizeof(sh->err_msg));
	}
	__atomic_store_n(&sh->stop, true, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&sh->written);
	pthread_mutex_unlock(&sh->lock);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;

	for (;;) {
		size_t i;
		pthread_mutex_lock(&sh->lock);
		i = sh->stop || sh->next >= sh->n ? sh->n : sh->order[sh->next++];
		pthread_mutex_unlock(&sh->lock);
		if (i >= sh->n)
			break;
		if (pkg_extract(w, i) < 0) {
			worker_fail(w);
			break;
		}
		dos_progress_advance(&sh->progress, 1);
	}
	return NULL;
}

struct sized {
	size_t idx;
	off_t size;
};

static int cmp_sized_desc(const void *pa, const void *pb)
{
	const struct sized *a = pa, *b = pb;

	if (a->size != b->size)
		return a->size < b->size ? 1 : -1;
	return (a->idx > b->idx) - (a->idx < b->idx);
}

/* The biggest packages start first, so that no thread is left alone with
 * a big one at the end. The result does not depend on this order. */
static size_t *order_by_size(const struct dos_extract_pkg *pkgs, size_t n)
{
	struct sized *v = dos_xcalloc(n + 1, sizeof(*v));
	size_t *order = dos_xcalloc(n + 1, sizeof(*order));
	struct stat st;

	for (size_t i = 0; i < n; i++)
		v[i] = (struct sized){ i, stat(pkgs[i].path, &st) == 0 ? st.st_size : 0 };
	qsort(v, n, sizeof(*v), cmp_sized_desc);
	for (size_t i = 0; i < n; i++)
		order[i] = v[i].idx;
	free(v);
	return order;
}

static void workers_run(struct shared *sh, int threads)
{
	struct worker *ws = dos_xcalloc((size_t)threads, sizeof(*ws));
	pthread_t *tids = dos_xcalloc((size_t)threads, sizeof(*tids));
	int started = 0;

	for (int i = 0; i < threads; i++) {
		ws[i].sh = sh;
		ws[i].id = i;
		dos_ctx_init(&ws[i].ctx);
		tree_init(&ws[i].tree, &ws[i].ctx, sh->rootfd);
	}
	for (int i = 0; threads > 1 && i < threads; i++)
		if (pthread_create(&tids[started], NULL, worker_main, &ws[started]) == 0)
			started++;
	if (started == 0)
		worker_main(&ws[0]);
	for (int i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	for (int i = 0; i < threads; i++) {
		tree_release(&ws[i].tree);
		free(ws[i].copy_buf);
	}
	free(tids);
	free(ws);
}

/* --- the result --- */

static int cmp_dir_desc(const void *a, const void *b)
{
	return strcmp((*(struct pentry *const *)b)->path, (*(struct pentry *const *)a)->path);
}

/* Gives folders their owner's mode and mtime, deepest first: a folder
 * without search permission would hide its children. */
static int dirs_finish(struct shared *sh)
{
	_cleanup_free_ struct pentry **dirs = dos_xcalloc(sh->tab.n + 1, sizeof(*dirs));
	size_t n = 0;

	for (size_t i = 0; i < sh->tab.cap; i++)
		if (sh->tab.slots[i] && sh->tab.slots[i]->kind == K_DIR)
			dirs[n++] = sh->tab.slots[i];
	qsort(dirs, n, sizeof(*dirs), cmp_dir_desc);
	for (size_t i = 0; i < n; i++) {
		const struct timespec ts[2] = { dirs[i]->mtime, dirs[i]->mtime };
		if (fchmodat(sh->rootfd, dirs[i]->path, dirs[i]->mode, 0) < 0 ||
		    utimensat(sh->rootfd, dirs[i]->path, ts, AT_SYMLINK_NOFOLLOW) < 0)
			return dos_error_errno(sh->ctx, DOS_EIO, errno, "folder '%s': cannot set its mode",
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
			struct conflict_idx *c = vec_push(v, n, sizeof(**v));
			*c = (struct conflict_idx){ e->path, first->pkg, s->pkg };
		}
	}
}

static void conflicts_build(struct shared *sh, struct dos_extract_result *out)
{
	struct conflict_idx *v = NULL;
	size_t n = 0;

	for (size_t i = 0; i < sh->tab.cap; i++)
		if (sh->tab.slots[i] && sh->tab.slots[i]->n_ship > 1)
			entry_conflicts(sh->tab.slots[i], &v, &n);
	if (n)
		qsort(v, n, sizeof(*v), cmp_conflict);
	out->conflicts = n ? dos_xcalloc(n, sizeof(*out->conflicts)) : NULL;
	for (size_t i = 0; i < n; i++) {
		out->conflicts[i].path = dos_xstrdup(v[i].path);
		out->conflicts[i].first_pkg = dos_xstrdup(sh->pkgs[v[i].first].name);
		out->conflicts[i].second_pkg = dos_xstrdup(sh->pkgs[v[i].second].name);
	}
	out->n_conflicts = n;
	free(v);
}

static void notes_move(struct dos_extract_note **to, size_t *n_to, struct dos_extract_note **from,
		       size_t *n_from)
{
	for (size_t i = 0; i < *n_from; i++)
		*(struct dos_extract_note *)vec_push(to, n_to, sizeof(**to)) = (*from)[i];
	free(*from);
	*from = NULL;
	*n_from = 0;
}

static void result_build(struct shared *sh, struct dos_extract_result *out)
{
	out->pkgs = dos_xcalloc(sh->n, sizeof(*out->pkgs));
	out->n_pkgs = sh->n;
	for (size_t i = 0; i < sh->n; i++) {
		struct pkg_out *o = &sh->outs[i];
		out->pkgs[i].name = dos_xstrdup(sh->pkgs[i].name);
		out->pkgs[i].license = dos_steal(&o->license);
		out->pkgs[i].paths = o->paths;
		memset(&o->paths, 0, sizeof(o->paths));
		dos_strv_sort(&out->pkgs[i].paths);
		for (size_t k = 0; k < o->n_alts; k++)
			*(struct dos_alternative *)vec_push(&out->alternatives, &out->n_alternatives,
							    sizeof(*o->alts)) = o->alts[k];
		free(dos_steal(&o->alts));
		o->n_alts = 0;
		notes_move(&out->setids, &out->n_setids, &o->setids, &o->n_setids);
		notes_move(&out->skipped, &out->n_skipped, &o->skipped, &o->n_skipped);
		out->files += o->files;
		out->bytes += o->bytes;
	}
	conflicts_build(sh, out);
}

static void alternative_release(struct dos_alternative *a)
{
	free(a->link);
	free(a->name);
	free(a->path);
	free(a->package);
	free(a->master);
}

static void notes_release(struct dos_extract_note *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].package);
	}
	free(v);
}

static void pkg_out_release(struct pkg_out *o)
{
	dos_strv_release(&o->paths);
	free(o->license);
	for (size_t i = 0; i < o->n_alts; i++)
		alternative_release(&o->alts[i]);
	free(o->alts);
	notes_release(o->setids, o->n_setids);
	notes_release(o->skipped, o->n_skipped);
}

void dos_extract_result_release(struct dos_extract_result *r)
{
	for (size_t i = 0; i < r->n_alternatives; i++)
		alternative_release(&r->alternatives[i]);
	free(r->alternatives);
	for (size_t i = 0; i < r->n_conflicts; i++) {
		free(r->conflicts[i].path);
		free(r->conflicts[i].first_pkg);
		free(r->conflicts[i].second_pkg);
	}
	free(r->conflicts);
	notes_release(r->setids, r->n_setids);
	notes_release(r->skipped, r->n_skipped);
	for (size_t i = 0; i < r->n_pkgs; i++) {
		free(r->pkgs[i].name);
		free(r->pkgs[i].license);
		dos_strv_release(&r->pkgs[i].paths);
	}
	free(r->pkgs);
	memset(r, 0, sizeof(*r));
}

int dos_extract_debs(struct dos_ctx *ctx, const char *root, const struct dos_extract_pkg *pkgs,
		     size_t n, int threads, struct dos_extract_result *out)
{
	struct shared sh = { .ctx = ctx, .pkgs = pkgs, .n = n };
	int r;

	memset(out, 0, sizeof(*out));
	r = dos_mkdir_p(ctx, root, 0755);
	if (r < 0)
		return r;
	sh.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sh.rootfd < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot open bundle root '%s'", root);
	sh.outs = dos_xcalloc(n + 1, sizeof(*sh.outs));
	sh.order = order_by_size(pkgs, n);
	pthread_mutex_init(&sh.lock, NULL);
	pthread_cond_init(&sh.written, NULL);
	threads = threads > 0 ? threads : ctx->jobs;
	threads = (size_t)threads > n ? (int)n : threads;
	dos_progress_start(&sh.progress, ctx, "extracting", n, 0);
	workers_run(&sh, threads > 0 ? threads : 1);
	dos_progress_finish(&sh.progress);
	r = sh.stop ? dos_error(ctx, sh.err_code, "%s", sh.err_msg) : dirs_finish(&sh);
	if (r == 0)
		result_build(&sh, out);
	for (size_t i = 0; i < n; i++)
		pkg_out_release(&sh.outs[i]);
	free(sh.outs);
	free(sh.order);
	ptab_release(&sh.tab);
	pthread_cond_destroy(&sh.written);
	pthread_mutex_destroy(&sh.lock);
	close(sh.rootfd);
	return r;
}

/* --- alternatives as relative symlinks --- */

/* The target of a symlink at link reaching path, both clean and relative
 * to the same root. */
static int link_relative(const char *link, const char *path, char out[PATH_MAX])
{
	size_t common = 0, len = 0;

	for (size_t i = 0; link[i] && link[i] == path[i]; i++)
		if (link[i] == '/')
			common = i + 1;
	for (const char *p = link + common; (p = strchr(p, '/')); p++) {
		if (len + 3 >= PATH_MAX)
			return -1;
		memcpy(out + len, "../", 3);
		len += 3;
	}
	if (len + strlen(path + common) >= PATH_MAX)
		return -1;
	strcpy(out + len, path + common);
	return 0;
}

static bool alt_wins(const struct dos_extract_result *r, size_t i)
{
	const struct dos_alternative *a = &r->alternatives[i];

	for (size_t j = 0; j < r->n_alternatives; j++) {
		const struct dos_alternative *b = &r->alternatives[j];
		if (j == i || b->master || strcmp(a->name, b->name))
			continue;
		if (b->priority > a->priority || (b->priority == a->priority && j < i))
			return false;
	}
	return true;
}

/* 1 when the link was made, 0 when skipped with a warning. */
static int alt_link(struct dos_ctx *ctx, struct tree *t, const struct dos_alternative *a)
{
	char link[PATH_MAX], path[PATH_MAX], target[PATH_MAX];
	const char *leaf;
	struct stat st;
	int pfd;

	if (a->link[0] != '/' || a->path[0] != '/' || path_clean(a->link + 1, link) <= 0 ||
	    path_clean(a->path + 1, path) <= 0 || link_relative(link, path, target) < 0) {
		dos_warn(ctx, "alternative '%s': bad link '%s' or path '%s', not created", a->name,
			 a->link, a->path);
		return 0;
	}
	if (!strcmp(link, path))
		return 0;
	pfd = tree_parent(t, link, &leaf);
	if (pfd >= 0 && fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISLNK(st.st_mode)) {
		dos_warn(ctx, "alternative '%s': '%s' exists and is not a symlink, left alone",
			 a->name, a->link);
		return 0;
	}
	if (pfd >= 0)
		unlinkat(pfd, leaf, 0);
	if (pfd < 0 || symlinkat(target, pfd, leaf) < 0) {
		dos_warn(ctx, "alternative '%s': cannot create '%s': %s", a->name, a->link,
			 pfd < 0 ? t->ctx->msg : strerror(errno));
		return 0;
	}
	return 1;
}

int dos_extract_apply_alternatives(struct dos_ctx *ctx, const char *root,
				   const struct dos_extract_result *r)
{
	_cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dos_ctx local;
	struct tree t;
	int made = 0;

	if (rootfd < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot open bundle root '%s'", root);
	dos_ctx_init(&local);
	tree_init(&t, &local, rootfd);
	for (size_t i = 0; i < r->n_alternatives; i++) {
		if (r->alternatives[i].master || !alt_wins(r, i))
			continue;
		made += alt_link(ctx, &t, &r->alternatives[i]);
		for (size_t j = i + 1; j < r->n_alternatives && r->alternatives[j].master; j++)
			made += alt_link(ctx, &t, &r->alternatives[j]);
	}
	tree_release(&t);
	return made;
}
