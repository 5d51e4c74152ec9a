/* The local package repository. See repo.h.
 *
 * A commit is ordered so that a crash anywhere leaves a usable repository:
 * the new .deb files are copied into the pool under temporary names and
 * renamed to names no index uses yet (content-addressed folders), then the
 * indices are replaced atomically, then the build log and the record, and
 * only then are the pool files no index names removed. The indices are
 * rebuilt from what the records own: a stanza stays only while some other
 * package's record names its file, so what a crash left half-committed
 * disappears at the next commit. The package files a commit takes are
 * read and checked by repo_deb.c. */
#include "repo_internal.h"
#include "repo_rpm.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORD_MAX (16 << 20)
#define INDEX_MAX (1ULL << 30)
#define REPO_NAME_MAX 200
#define HASH_DIR_LEN 16                /* hex digits of the pool folder names */

/* Section 0 is the repository's root, section 1 the build-only one. */
static const char *const section_prefix[2] = { "", "buildonly/" };

struct dos_repo {
	char *path, *url;
	char *index[2];
	int lock_fd;
	bool locked;               /* lock_fd holds the lock (else: another's pid in it) */
	bool writable;
	pthread_mutex_t mu;
};

/* --- small helpers --- */

static void *vec_push(void *pv, size_t *n, size_t *alloc, size_t size)
{
	void **v = pv;
	void *slot;

	if (*n == *alloc) {
		*alloc = *alloc ? 2 * *alloc : 8;
		*v = dos_xrealloc(*v, *alloc * size);
	}
	slot = (char *)*v + (*n)++ * size;
	memset(slot, 0, size);
	return slot;
}

/* Copies in to out; size and sha256 of what was copied. */
static int fd_copy(struct dos_ctx *ctx, int in, int out, const char *what, uint64_t *size,
		   char sha256[DOS_SHA256_HEX])
{
	struct dos_sha256 *h = dos_sha256_new();
	_cleanup_free_ char *buf = dos_xmalloc(REPO_READ_BLOCK);
	ssize_t n;
	int r = 0;

	*size = 0;
	while (r == 0 && (n = read(in, buf, REPO_READ_BLOCK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = dos_error_errno(ctx, DOS_EIO, errno, "cannot read");
			break;
		}
		dos_sha256_update(h, buf, (size_t)n);
		*size += (uint64_t)n;
		r = dos_fd_write(ctx, out, buf, (size_t)n, what);
	}
	dos_sha256_final(h, sha256);
	return r;
}

/* A configured package's name as a file name: no slash, no leading dot. */
static bool name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > REPO_NAME_MAX || !isalnum((unsigned char)name[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._+-", name[i]))
			return false;
	return true;
}

/* --- indices --- */

struct stanza {
	char *text;     /* ending in one newline */
	char *package, *version, *arch, *filename, *sha256, *size;
};

struct index {
	struct stanza *v;
	size_t n, alloc;
};

static void stanza_release(struct stanza *s)
{
	free(s->text);
	free(s->package);
	free(s->version);
	free(s->arch);
	free(s->filename);
	free(s->sha256);
	free(s->size);
}

static void index_release(struct index *ix)
{
	for (size_t i = 0; i < ix->n; i++)
		stanza_release(&ix->v[i]);
	free(ix->v);
	memset(ix, 0, sizeof(*ix));
}

/* A Filename: of section s that stays in its pool: "<prefix>pool/<hex16>/<file>". */
static bool filename_ok(int s, const char *fn)
{
	const char *p = fn, *leaf;
	size_t pl = strlen(section_prefix[s]);

	if (strncmp(p, section_prefix[s], pl) || strncmp(p + pl, "pool/", 5))
		return false;
	p += pl + 5;
	for (int i = 0; i < HASH_DIR_LEN; i++)
		if (!isxdigit((unsigned char)p[i]) || isupper((unsigned char)p[i]))
			return false;
	leaf = p + HASH_DIR_LEN + 1;
	return p[HASH_DIR_LEN] == '/' && *leaf && *leaf != '.' && !strchr(leaf, '/');
}

bool dos_repo_filename_ok(const char *filename)
{
	return filename_ok(0, filename) || filename_ok(1, filename);
}

static struct stanza *stanza_add(struct index *ix, char *text)
{
	struct stanza *s = vec_push(&ix->v, &ix->n, &ix->alloc, sizeof(*ix->v));

	s->text = text;
	s->package = dos_repo_control_field(text, "Package");
	s->version = dos_repo_control_field(text, "Version");
	s->arch = dos_repo_control_field(text, "Architecture");
	s->filename = dos_repo_control_field(text, "Filename");
	s->sha256 = dos_repo_control_field(text, "SHA256");
	s->size = dos_repo_control_field(text, "Size");
	return s;
}

static int index_parse(struct dos_ctx *ctx, int s, const char *buf, struct index *ix)
{
	const char *p = buf;

	while (*p) {
		const char *end = strstr(p, "\n\n");
		size_t n = end ? (size_t)(end - p) + 1 : strlen(p);
		struct stanza *st;

		if (*p == '\n') {
			p++;
			continue;
		}
		st = stanza_add(ix, dos_xstrndup(p, n));
		if (!st->package || !st->version || !st->filename || !filename_ok(s, st->filename))
			return dos_error(ctx, DOS_EFORMAT, "stanza %zu has no Package, Version, or a good Filename",
					 ix->n);
		p += n;
	}
	return 0;
}

static int index_load(struct dos_ctx *ctx, struct dos_repo *repo, int s, struct index *ix, char **raw)
{
	_cleanup_free_ char *text = NULL;
	int r = dos_read_file(ctx, repo->index[s], INDEX_MAX, &text, NULL);

	memset(ix, 0, sizeof(*ix));
	if (r == 0)
		r = index_parse(ctx, s, text, ix);
	if (r < 0)
		return dos_error_prefix(ctx, "index '%s'", repo->index[s]);
	if (raw)
		*raw = dos_steal(&text);
	return 0;
}

static int stanza_cmp(const void *pa, const void *pb)
{
	const struct stanza *a = pa, *b = pb;
	int r = strcmp(a->package, b->package);

	/* Versions need no order: one configured package owns a name, and
	 * gives one file per architecture. */
	if (!r)
		r = strcmp(a->arch ? a->arch : "", b->arch ? b->arch : "");
	return r ? r : strcmp(a->filename, b->filename);
}

static char *index_format(struct index *ix)
{
	size_t len = 0, pos = 0;
	char *out;

	dos_qsort(ix->v, ix->n, sizeof(*ix->v), stanza_cmp);
	for (size_t i = 0; i < ix->n; i++)
		len += strlen(ix->v[i].text) + 1;
	out = dos_xmalloc(len + 1);
	for (size_t i = 0; i < ix->n; i++) {
		size_t n = strlen(ix->v[i].text);
		memcpy(out + pos, ix->v[i].text, n);
		out[pos + n] = '\n';
		pos += n + 1;
	}
	out[pos] = '\0';
	return out;
}

/* --- records --- */

static char *record_path(const struct dos_repo *repo, const char *name, const char *ext)
{
	return dos_xasprintf("%s/records/%s.%s", repo->path, name, ext);
}

static json_t *record_load(struct dos_repo *repo, const char *name)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	struct dos_ctx quiet;
	size_t len;
	json_t *j;

	if (!name_ok(name))
		return NULL;
	dos_ctx_init(&quiet);
	path = record_path(repo, name, "json");
	if (dos_read_file(&quiet, path, RECORD_MAX, &text, &len) < 0)
		return NULL;
	j = json_loadb(text, len, 0, NULL);
	if (j && !json_is_object(j))
		json_decref(dos_steal(&j));
	return j;
}

json_t *dos_repo_record_get(struct dos_repo *repo, const char *name)
{
	return record_load(repo, name);
}

char *dos_repo_key(struct dos_repo *repo, const char *name)
{
	json_t *j = record_load(repo, name);
	const char *key = j ? json_string_value(json_object_get(j, "key")) : NULL;
	char *out = key ? dos_xstrdup(key) : NULL;

	json_decref(j);
	return out;
}

int dos_repo_names(struct dos_ctx *ctx, struct dos_repo *repo, struct dos_strv *names)
{
	_cleanup_free_ char *dir = dos_path_join(repo->path, "records");
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return errno == ENOENT ? 0 : dos_error_errno(ctx, DOS_EIO, errno, "cannot read '%s'", dir);
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n > 5 && !strcmp(e->d_name + n - 5, ".json") && e->d_name[0] != '.')
			dos_strv_push_owned(names, dos_xstrndup(e->d_name, n - 5));
	}
	closedir(d);
	dos_strv_sort(names);
	return 0;
}

/* The files the records of packages other than skip own. */
static int owned_load(struct dos_ctx *ctx, struct dos_repo *repo, const char *skip,
		      struct dos_strv *files, struct dos_strv *binaries, struct dos_strv *owners)
{
	struct dos_strv names = { 0 };
	int r = dos_repo_names(ctx, repo, &names);

	for (size_t i = 0; r == 0 && i < names.n; i++) {
		json_t *j = strcmp(names.v[i], skip) ? record_load(repo, names.v[i]) : NULL;
		json_t *o;
		size_t k;

		if (!j && strcmp(names.v[i], skip))
			dos_warn(ctx, "record '%s': unreadable, its packages leave the index", names.v[i]);
		json_array_foreach(json_object_get(j, "outputs"), k, o) {
			const char *fn = json_string_value(json_object_get(o, "filename"));
			const char *pkg = json_string_value(json_object_get(o, "package"));
			if (!fn || !pkg)
				continue;
			dos_strv_push(files, fn);
			dos_strv_push(binaries, pkg);
			dos_strv_push(owners, names.v[i]);
		}
		json_decref(j);
	}
	dos_strv_release(&names);
	return r;
}

/* --- the pool --- */

struct staged {
	char *tmp;              /* the copy, in the pool, under a temporary name */
	char *rel;              /* its final Filename */
	struct repo_control c;
	char sha256[DOS_SHA256_HEX];
	uint64_t size;
	bool created;           /* renamed to rel by this commit */
};

static void staged_release(struct staged *st)
{
	if (st->tmp)
		unlink(st->tmp);
	free(st->tmp);
	free(st->rel);
	repo_control_release(&st->c);
}

static int stage_copy(struct dos_ctx *ctx, const char *src, const char *pooldir, struct staged *st)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = -1;
	struct stat sb;
	int r;

	if (in < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot open");
	if (fstat(in, &sb) < 0 || !S_ISREG(sb.st_mode))
		return dos_error(ctx, DOS_EFORMAT, "not a regular file");
	st->tmp = dos_xasprintf("%s/.incoming-XXXXXX", pooldir);
	out = mkostemp(st->tmp, O_CLOEXEC);
	if (out < 0) {
		free(dos_steal(&st->tmp));
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot create a file in '%s'", pooldir);
	}
	r = fd_copy(ctx, in, out, st->tmp, &st->size, st->sha256);
	if (r == 0 && (fchmod(out, 0644) < 0 || fsync(out) < 0))
		r = dos_error_errno(ctx, DOS_EIO, errno, "cannot write '%s'", st->tmp);
	return r;
}

/* Copies a .deb into section s's pool and reads it whole from the copy. */
static int stage_one(struct dos_ctx *ctx, struct dos_repo *repo, int s, const char *src,
		     struct staged *st)
{
	_cleanup_free_ char *pooldir = dos_xasprintf("%s/%spool", repo->path, section_prefix[s]);
	_cleanup_free_ char *raw = NULL;
	const char *ver;
	size_t len;
	int r = stage_copy(ctx, src, pooldir, st);

	if (r == 0)
		r = repo_deb_read(ctx, st->tmp, true, &raw, &len);
	if (r == 0)
		r = repo_control_parse(ctx, raw, len, &st->c);
	if (r < 0)
		return dos_error_prefix(ctx, "'%s'", src);
	ver = strchr(st->c.version, ':') ? strchr(st->c.version, ':') + 1 : st->c.version;
	st->rel = dos_xasprintf("%spool/%.*s/%s_%s_%s.deb", section_prefix[s], HASH_DIR_LEN, st->sha256,
				st->c.package, ver, st->c.arch);
	return 0;
}

/* Makes a rename into dir last before an index names its file. */
static int dir_sync(struct dos_ctx *ctx, const char *dir)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot sync '%s'", dir);
	return 0;
}

/* Moves a staged copy to its final name; an identical file already there
 * is kept (the same package committed again). */
static int stage_place(struct dos_ctx *ctx, struct dos_repo *repo, struct staged *st)
{
	_cleanup_free_ char *path = dos_path_join(repo->path, st->rel);
	_cleanup_free_ char *dir = dos_path_dirname(path);
	char have[DOS_SHA256_HEX];
	int r = dos_mkdir_p(ctx, dir, 0755);

	if (r < 0)
		return r;
	if (access(path, F_OK) == 0) {
		r = dos_sha256_file(ctx, path, have);
		if (r == 0 && strcmp(have, st->sha256))
			r = dos_error(ctx, DOS_ECHECKSUM, "pool file '%s' exists with other content", st->rel);
		return r;
	}
	if (rename(st->tmp, path) < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot rename into '%s'", path);
	free(dos_steal(&st->tmp));
	st->created = true;
	return dir_sync(ctx, dir);
}

/* Who walks a pool: what to keep, and whether the rest is removed or listed. */
struct walk {
	struct dos_repo *repo;
	const struct dos_strv *keep;
	struct dos_strv *strays;   /* NULL: remove them */
	struct dos_ctx quiet;
};

static void walk_stray(struct walk *w, const char *rel)
{
	_cleanup_free_ char *path = dos_path_join(w->repo->path, rel);

	if (w->strays)
		dos_strv_push(w->strays, rel);
	else
		dos_rm_rf(&w->quiet, path);
}

/* A pool folder <hex16>, opened without following a symlink: false when
 * rel is not one. */
static bool walk_hash_dir(struct walk *w, int s, const char *rel)
{
	_cleanup_free_ char *path = dos_path_join(w->repo->path, rel);
	_cleanup_free_ char *probe = dos_xasprintf("%s/x", rel);
	int fd = filename_ok(s, probe) ? open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while ((e = readdir(d))) {
		_cleanup_free_ char *frel = dos_xasprintf("%s/%s", rel, e->d_name);
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && !dos_strv_contains(w->keep, frel))
			walk_stray(w, frel);
	}
	closedir(d);
	if (!w->strays)
		rmdir(path);
	return true;
}

/* The files of a section's pool no index names: removed, or listed. */
static void pool_walk(struct dos_repo *repo, int s, const struct dos_strv *keep, struct dos_strv *strays)
{
	_cleanup_free_ char *pooldir = dos_xasprintf("%s/%spool", repo->path, section_prefix[s]);
	struct walk w = { .repo = repo, .keep = keep, .strays = strays };
	DIR *d = opendir(pooldir);
	struct dirent *e;

	dos_ctx_init(&w.quiet);
	while (d && (e = readdir(d))) {
		_cleanup_free_ char *rel = dos_xasprintf("%spool/%s", section_prefix[s], e->d_name);
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && !walk_hash_dir(&w, s, rel))
			walk_stray(&w, rel);
	}
	if (d)
		closedir(d);
}

/* --- opening, the lock --- */

static int lock_take(struct dos_ctx *ctx, struct dos_repo *repo, unsigned flags)
{
	_cleanup_free_ char *path = dos_path_join(repo->path, ".lock");
	int op = (flags & DOS_REPO_READ) ? LOCK_SH : LOCK_EX;
	char pid[32] = "";

	repo->lock_fd = open(path, (flags & DOS_REPO_READ) ? O_RDONLY | O_CLOEXEC : O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (repo->lock_fd < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "repository '%s': cannot open its lock", repo->path);
	if (flock(repo->lock_fd, op | LOCK_NB) == 0)
		goto locked;
	if (errno != EWOULDBLOCK)
		return dos_error_errno(ctx, DOS_EIO, errno, "repository '%s': cannot lock", repo->path);
	if (pread(repo->lock_fd, pid, sizeof(pid) - 1, 0) <= 0 || atoi(pid) <= 0 || kill(atoi(pid), 0) < 0)
		pid[0] = '\0';
	pid[strcspn(pid, "\n")] = '\0';
	if (!(flags & DOS_REPO_WAIT))
		return dos_error(ctx, DOS_EFAIL, "repository '%s': in use by another diracos process%s%s%s",
				 repo->path, *pid ? " (pid " : "", pid, *pid ? ")" : "");
	dos_info(ctx, "repository '%s': waiting for another diracos process to finish", repo->path);
	while (flock(repo->lock_fd, op) < 0)
		if (errno != EINTR)
			return dos_error_errno(ctx, DOS_EIO, errno, "repository '%s': cannot lock", repo->path);
locked:
	repo->locked = true;
	if (op == LOCK_EX) {
		int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if (ftruncate(repo->lock_fd, 0) < 0 || pwrite(repo->lock_fd, pid, (size_t)n, 0) != n)
			dos_debug(ctx, "repository '%s': cannot note our pid in the lock", repo->path);
	}
	return 0;
}

static int layout_create(struct dos_ctx *ctx, struct dos_repo *repo)
{
	const char *const dirs[] = { "records", "pool", "buildonly/pool" };
	int r = 0;

	for (size_t i = 0; r == 0 && i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		_cleanup_free_ char *p = dos_path_join(repo->path, dirs[i]);
		r = dos_mkdir_p(ctx, p, 0755);
	}
	for (int s = 0; r == 0 && s < 2; s++)
		if (access(repo->index[s], F_OK) < 0)
			r = dos_write_file_atomic(ctx, repo->index[s], "", 0, 0644);
	return r;
}

int dos_repo_open(struct dos_ctx *ctx, const char *path, unsigned flags, struct dos_repo **out)
{
	struct dos_repo *repo = dos_xcalloc(1, sizeof(*repo));
	int r;

	*out = NULL;
	repo->lock_fd = -1;
	repo->path = dos_path_absolute(NULL, path);
	repo->url = dos_xasprintf("file://%s", repo->path);
	repo->index[0] = dos_path_join(repo->path, "Packages");
	repo->index[1] = dos_path_join(repo->path, "buildonly/Packages");
	repo->writable = !(flags & DOS_REPO_READ);
	pthread_mutex_init(&repo->mu, NULL);
	if (repo->writable)
		r = dos_mkdir_p(ctx, repo->path, 0755);
	else if (access(repo->index[0], R_OK) < 0)
		r = dos_error_errno(ctx, DOS_EIO, errno, "repository '%s': cannot read its index", repo->path);
	else
		r = 0;
	if (r == 0)
		r = lock_take(ctx, repo, flags);
	if (r == 0 && repo->writable)
		r = layout_create(ctx, repo);
	if (r < 0) {
		dos_repo_free(repo);
		return r;
	}
	*out = repo;
	return 0;
}

void dos_repo_free(struct dos_repo *repo)
{
	if (!repo)
		return;
	if (repo->lock_fd >= 0) {
		/* Our pid goes, never the holder's when the lock was not ours; on
		 * a crash only a stale pid stays: messages check it is alive. */
		int ignored = repo->writable && repo->locked ? ftruncate(repo->lock_fd, 0) : 0;

		(void)ignored;
		close(repo->lock_fd);
	}
	pthread_mutex_destroy(&repo->mu);
	free(repo->path);
	free(repo->url);
	free(repo->index[0]);
	free(repo->index[1]);
	free(repo);
}

const char *dos_repo_path(const struct dos_repo *repo)
{
	return repo->path;
}

const char *dos_repo_url(const struct dos_repo *repo)
{
	return repo->url;
}

const char *dos_repo_index(const struct dos_repo *repo, bool build_only)
{
	return repo->index[build_only ? 1 : 0];
}

char *dos_repo_sources_list(const char *mount_path)
{
	return dos_xasprintf("deb [trusted=yes] file:%s ./\ndeb [trusted=yes] file:%s buildonly/\n",
			     mount_path, mount_path);
}

/* --- a commit: stage, check, index, record, sweep --- */

struct txn {
	struct dos_ctx *ctx;
	struct dos_repo *repo;
	const struct dos_repo_record *rec;  /* NULL when removing */
	const char *name;
	int s;                              /* the section the new outputs go to */
	struct staged *st;
	size_t n, alloc;
	struct index ix[2];                 /* the new indices */
	char *old[2], *text[2];             /* old and new index texts */
	bool written[2];
	struct dos_strv files, binaries, owners; /* what other records own */
	struct dos_atomic rec_af, log_af;
	bool has_rec, has_log;
};

static int staged_cmp(const void *pa, const void *pb)
{
	const struct staged *a = pa, *b = pb;
	int r = strcmp(a->c.package, b->c.package);

	return r ? r : strcmp(a->c.arch, b->c.arch);
}

static int txn_stage(struct txn *t, const char *const *debs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct staged *st = vec_push(&t->st, &t->n, &t->alloc, sizeof(*t->st));
		int r = stage_one(t->ctx, t->repo, t->s, debs[i], st);
		if (r < 0)
			return r;
	}
	dos_qsort(t->st, t->n, sizeof(*t->st), staged_cmp);
	return 0;
}

/* One configured package per binary package name, one file per name and
 * architecture. */
static int txn_check(struct txn *t)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct repo_control *c = &t->st[i].c;
		if (i > 0 && staged_cmp(&t->st[i - 1], &t->st[i]) == 0)
			return dos_error(t->ctx, DOS_EFAIL, "binary package '%s' (%s) given twice",
					 c->package, c->arch);
		for (size_t k = 0; k < t->binaries.n; k++)
			if (!strcmp(t->binaries.v[k], c->package))
				return dos_error(t->ctx, DOS_EFAIL,
						 "binary package '%s' is already built by package '%s'",
						 c->package, t->owners.v[k]);
	}
	return 0;
}

/* The stanzas other records own, and the new ones. */
static int txn_index(struct txn *t, int s)
{
	struct index old;
	int r = index_load(t->ctx, t->repo, s, &old, &t->old[s]);

	if (r < 0)
		return r;
	for (size_t i = 0; i < old.n; i++) {
		if (!dos_strv_contains(&t->files, old.v[i].filename))
			continue;
		*(struct stanza *)vec_push(&t->ix[s].v, &t->ix[s].n, &t->ix[s].alloc, sizeof(old.v[i])) = old.v[i];
		memset(&old.v[i], 0, sizeof(old.v[i]));
	}
	index_release(&old);
	for (size_t i = 0; s == t->s && i < t->n; i++) {
		struct staged *st = &t->st[i];
		stanza_add(&t->ix[s], dos_xasprintf("%sFilename: %s\nSize: %llu\nSHA256: %s\n", st->c.text,
						    st->rel, (unsigned long long)st->size, st->sha256));
	}
	t->text[s] = index_format(&t->ix[s]);
	return 0;
}

static json_t *txn_record_json(struct txn *t)
{
	const struct dos_repo_record *rec = t->rec;
	_cleanup_free_ char *log = t->has_log ? dos_xasprintf("records/%s.log", rec->name) : NULL;
	json_t *outs = json_array();

	for (size_t i = 0; i < t->n; i++) {
		const struct staged *st = &t->st[i];
		json_array_append_new(outs, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "package", st->c.package,
						      "version", st->c.version, "architecture", st->c.arch,
						      "filename", st->rel, "size", (json_int_t)st->size,
						      "sha256", st->sha256));
	}
	return json_pack("{s:s, s:s, s:b, s:O?, s:s?, s:o}", "name", rec->name, "key", rec->key,
			 "buildOnly", rec->build_only, "inputs", rec->inputs, "log", log, "outputs", outs);
}

/* Writes the log copy and the record under temporary names: committing
 * them later is a rename. */
static int txn_prepare_log(struct txn *t)
{
	_cleanup_free_ char *path = record_path(t->repo, t->name, "log");
	_cleanup_close_ int in = open(t->rec->log_path, O_RDONLY | O_CLOEXEC);
	char sha[DOS_SHA256_HEX];
	uint64_t size;
	int r;

	if (in < 0)
		return dos_error_errno(t->ctx, DOS_EIO, errno, "build log '%s': cannot open", t->rec->log_path);
	r = dos_atomic_open(t->ctx, &t->log_af, path, 0644);
	if (r < 0)
		return r;
	t->has_log = true;
	r = fd_copy(t->ctx, in, t->log_af.fd, path, &size, sha);
	return r < 0 ? dos_error_prefix(t->ctx, "build log '%s'", t->rec->log_path) : 0;
}

static int txn_prepare_record(struct txn *t)
{
	_cleanup_free_ char *path = record_path(t->repo, t->name, "json");
	_cleanup_free_ char *text = NULL;
	json_t *j;
	int r = t->rec->log_path ? txn_prepare_log(t) : 0;

	if (r < 0)
		return r;
	j = txn_record_json(t);
	text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	if (!text)
		return dos_error(t->ctx, DOS_EFAIL, "cannot format the record (a key or input not UTF-8?)");
	r = dos_atomic_open(t->ctx, &t->rec_af, path, 0644);
	if (r < 0)
		return r;
	t->has_rec = true;
	r = dos_atomic_write(t->ctx, &t->rec_af, text, strlen(text));
	return r < 0 ? r : dos_atomic_write(t->ctx, &t->rec_af, "\n", 1);
}

static int txn_write_indices(struct txn *t)
{
	for (int k = 0; k < 2; k++) {
		int s = k == 0 ? t->s : !t->s;
		int r;
		if (!strcmp(t->old[s], t->text[s]))
			continue;
		r = dos_write_file_atomic(t->ctx, t->repo->index[s], t->text[s], strlen(t->text[s]), 0644);
		if (r < 0)
			return r;
		t->written[s] = true;
	}
	return 0;
}

static int txn_finish(struct txn *t)
{
	_cleanup_free_ char *rpath = record_path(t->repo, t->name, "json");
	_cleanup_free_ char *lpath = record_path(t->repo, t->name, "log");
	int r;

	if (!t->rec) {
		if (unlink(rpath) < 0 && errno != ENOENT)
			return dos_error_errno(t->ctx, DOS_EIO, errno, "cannot remove '%s'", rpath);
		unlink(lpath);
		return 0;
	}
	if (t->has_log) {
		t->has_log = false;
		r = dos_atomic_commit(t->ctx, &t->log_af);
		if (r < 0)
			return r;
	} else {
		unlink(lpath);    /* an older build's log */
	}
	t->has_rec = false;
	return dos_atomic_commit(t->ctx, &t->rec_af);
}

/* Puts back the old indices and removes the pool files this commit made. */
static void txn_rollback(struct txn *t)
{
	struct dos_ctx quiet;

	dos_ctx_init(&quiet);
	for (int s = 0; s < 2; s++)
		if (t->written[s] && dos_write_file_atomic(&quiet, t->repo->index[s], t->old[s],
							   strlen(t->old[s]), 0644) < 0)
			dos_warn(t->ctx, "index '%s': cannot restore: %s", t->repo->index[s], quiet.msg);
	for (size_t i = 0; i < t->n; i++) {
		_cleanup_free_ char *path = dos_path_join(t->repo->path, t->st[i].rel ? t->st[i].rel : "");
		_cleanup_free_ char *dir = dos_path_dirname(path);
		if (!t->st[i].created)
			continue;
		unlink(path);
		rmdir(dir);
	}
}

static void txn_sweep(struct txn *t)
{
	for (int s = 0; s < 2; s++) {
		struct dos_strv keep = { 0 };
		for (size_t i = 0; i < t->ix[s].n; i++)
			dos_strv_push(&keep, t->ix[s].v[i].filename);
		pool_walk(t->repo, s, &keep, NULL);
		dos_strv_release(&keep);
	}
}

static void txn_release(struct txn *t)
{
	for (size_t i = 0; i < t->n; i++)
		staged_release(&t->st[i]);
	free(t->st);
	for (int s = 0; s < 2; s++) {
		index_release(&t->ix[s]);
		free(t->old[s]);
		free(t->text[s]);
	}
	dos_strv_release(&t->files);
	dos_strv_release(&t->binaries);
	dos_strv_release(&t->owners);
	if (t->has_rec)
		dos_atomic_abort(&t->rec_af);
	if (t->has_log)
		dos_atomic_abort(&t->log_af);
}

static int txn_run(struct txn *t, const char *const *debs, size_t n)
{
	int r = owned_load(t->ctx, t->repo, t->name, &t->files, &t->binaries, &t->owners);

	if (r == 0)
		r = txn_stage(t, debs, n);
	if (r == 0)
		r = txn_check(t);
	for (int s = 0; r == 0 && s < 2; s++)
		r = txn_index(t, s);
	if (r == 0 && t->rec)
		r = txn_prepare_record(t);
	for (size_t i = 0; r == 0 && i < t->n; i++)
		r = stage_place(t->ctx, t->repo, &t->st[i]);
	if (r == 0)
		r = txn_write_indices(t);
	if (r == 0)
		r = txn_finish(t);
	if (r < 0)
		txn_rollback(t);
	else
		txn_sweep(t);
	return r;
}

static int repo_change(struct dos_ctx *ctx, struct dos_repo *repo, const char *name,
		       const struct dos_repo_record *rec, const char *const *debs, size_t n)
{
	struct txn t = { .ctx = ctx, .repo = repo, .rec = rec, .name = name };
	int r;

	if (!repo->writable)
		return dos_error(ctx, DOS_EFAIL, "repository '%s': opened for reading only", repo->path);
	if (!name_ok(name))
		return dos_error(ctx, DOS_EFAIL, "package '%s': not a name the repository can record", name);
	if (rec && (!rec->key || !*rec->key || strchr(rec->key, '\n')))
		return dos_error(ctx, DOS_EFAIL, "package '%s': no content key", name);
	t.s = rec && rec->build_only ? 1 : 0;
	pthread_mutex_lock(&repo->mu);
	r = txn_run(&t, debs, n);
	pthread_mutex_unlock(&repo->mu);
	txn_release(&t);
	return r < 0 ? dos_error_prefix(ctx, "package '%s'", name) : 0;
}

int dos_repo_commit(struct dos_ctx *ctx, struct dos_repo *repo, const struct dos_repo_record *rec,
		    const char *const *debs, size_t n_debs)
{
	return repo_change(ctx, repo, rec->name, rec, debs, n_debs);
}

int dos_repo_remove(struct dos_ctx *ctx, struct dos_repo *repo, const char *name)
{
	return repo_change(ctx, repo, name, NULL, NULL, 0);
}

/* --- verify --- */

static void problem(struct dos_strv *problems, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct dos_strv *problems, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	dos_strv_push_owned(problems, s);
}

static void verify_stanza(struct dos_ctx *ctx, struct dos_repo *repo, const struct stanza *st,
			  struct dos_strv *problems)
{
	_cleanup_free_ char *path = dos_path_join(repo->path, st->filename);
	char have[DOS_SHA256_HEX];
	struct stat sb;

	if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		problem(problems, "'%s': missing", st->filename);
		return;
	}
	if (!st->size || !st->sha256 || !dos_sha256_valid(st->sha256)) {
		problem(problems, "'%s': the index gives no Size or SHA256", st->filename);
		return;
	}
	if (strtoull(st->size, NULL, 10) != (unsigned long long)sb.st_size)
		problem(problems, "'%s': %lld bytes, the index says %s", st->filename,
			(long long)sb.st_size, st->size);
	else if (dos_sha256_file(ctx, path, have) < 0)
		problem(problems, "'%s': %s", st->filename, ctx->msg);
	else if (strcasecmp(have, st->sha256))
		problem(problems, "'%s': sha256 %s, the index says %s", st->filename, have, st->sha256);
}

static void verify_section(struct dos_ctx *ctx, struct dos_repo *repo, int s,
			   struct dos_strv *indexed, struct dos_strv *problems)
{
	struct dos_strv strays = { 0 }, keep = { 0 };
	struct index ix;

	if (index_load(ctx, repo, s, &ix, NULL) < 0) {
		problem(problems, "%s", ctx->msg);
		index_release(&ix);
		return;
	}
	for (size_t i = 0; i < ix.n; i++) {
		verify_stanza(ctx, repo, &ix.v[i], problems);
		dos_strv_push(&keep, ix.v[i].filename);
		dos_strv_push(indexed, ix.v[i].filename);
	}
	pool_walk(repo, s, &keep, &strays);
	for (size_t i = 0; i < strays.n; i++)
		problem(problems, "'%s': in the pool but in no index", strays.v[i]);
	dos_strv_release(&strays);
	dos_strv_release(&keep);
	index_release(&ix);
}

static void verify_records(struct dos_ctx *ctx, struct dos_repo *repo, const struct dos_strv *indexed,
			   struct dos_strv *problems)
{
	struct dos_strv names = { 0 }, owned = { 0 };

	if (dos_repo_names(ctx, repo, &names) < 0)
		problem(problems, "%s", ctx->msg);
	for (size_t i = 0; i < names.n; i++) {
		json_t *j = record_load(repo, names.v[i]), *o;
		size_t k;

		const char *format = j ? json_string_value(json_object_get(j, "format")) : NULL;

		if (!j || !json_is_string(json_object_get(j, "key")))
			problem(problems, "record '%s': unreadable", names.v[i]);
		json_array_foreach(json_object_get(j, "outputs"), k, o) {
			const char *fn = json_string_value(json_object_get(o, "filename"));
			/* .rpm outputs live in the rpm-md sections (repo_rpm.c). */
			if (format && !strcmp(format, "rpm"))
				dos_repo_rpm_verify_output(repo->path, names.v[i], o, problems);
			else if (!fn || !dos_strv_contains(indexed, fn))
				problem(problems, "record '%s': output '%s' is in no index", names.v[i],
					fn ? fn : "?");
			else
				dos_strv_push(&owned, fn);
		}
		json_decref(j);
	}
	for (size_t i = 0; i < indexed->n; i++)
		if (!dos_strv_contains(&owned, indexed->v[i]))
			problem(problems, "'%s': indexed, but no record names it", indexed->v[i]);
	dos_strv_release(&owned);
	dos_strv_release(&names);
}

int dos_repo_verify(struct dos_ctx *ctx, struct dos_repo *repo, struct dos_strv *problems)
{
	struct dos_strv indexed = { 0 };
	size_t before = problems->n;

	pthread_mutex_lock(&repo->mu);
	for (int s = 0; s < 2; s++)
		verify_section(ctx, repo, s, &indexed, problems);
	verify_records(ctx, repo, &indexed, problems);
	pthread_mutex_unlock(&repo->mu);
	dos_strv_release(&indexed);
	dos_error_clear(ctx);
	if (problems->n == before)
		return 0;
	return dos_error(ctx, DOS_ECHECKSUM, "repository '%s': %zu problem%s", repo->path,
			 problems->n - before, problems->n - before == 1 ? "" : "s");
}
