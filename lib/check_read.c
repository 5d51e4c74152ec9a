/* The two readers of the audit (see check_internal.h): an unpacked bundle
 * is walked, then its regular files are mapped and looked at by worker
 * threads; a tarball is one stream, each regular file's data going through
 * a sink as it comes by, held whole only when small enough (ELF files,
 * and until the build paths are known, other files too). */
#include "check.h"
#include "check_internal.h"
#include "elffile.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 256                    /* folder nesting we walk */
#define ELF_MAX ((uint64_t)1 << 30)      /* larger ELF files are not parsed */
#define DEFER_MAX ((size_t)64 << 20)     /* tarball content kept until the build paths are known */
#define SETTINGS_MAX ((uint64_t)16 << 20) /* diracos.json and brokenLinks.txt */
#define SHEBANG_MAX 256

/* --- content: ELF files, #! lines, build paths --- */

static int leak_find(const struct leaks *lk, const uint8_t *buf, size_t len)
{
	const uint8_t *p;

	if (!lk || !lk->work || !(p = memmem(buf, len, lk->work, lk->work_len)))
		return LEAK_NONE;
	/* The bundle's path starts with work: it can only be at or after p. */
	if (memmem(p, len - (size_t)(p - buf), lk->bundle, lk->bundle_len))
		return LEAK_BUNDLE;
	return LEAK_WORK;
}

/* A search over a stream: each block, and the junction of the last
 * bytes of the one before with the first bytes of this one. */
struct leak_stream {
	const struct leaks *lk;
	uint8_t *carry;            /* 2 * (bundle_len - 1) bytes */
	size_t len;
	int found;
};

static void leak_stream_feed(struct leak_stream *s, const uint8_t *b, size_t n)
{
	size_t keep, k;
	int f;

	if (!s->lk || !s->lk->work || s->found == LEAK_BUNDLE)
		return;
	keep = s->lk->bundle_len - 1;
	k = n < keep ? n : keep;
	if (!s->carry)
		s->carry = dos_xmalloc(2 * keep + 1);
	memcpy(s->carry + s->len, b, k);
	f = leak_find(s->lk, s->carry, s->len + k);
	s->found = f > s->found ? f : s->found;
	f = leak_find(s->lk, b, n);
	s->found = f > s->found ? f : s->found;
	if (n >= keep) {
		memcpy(s->carry, b + n - keep, keep);
		s->len = keep;
	} else {
		s->len += k;
		if (s->len > keep) {
			memmove(s->carry, s->carry + s->len - keep, keep);
			s->len = keep;
		}
	}
}

/* The interpreter of a #! line; NULL when there is none. */
static char *shebang_interp(const uint8_t *buf, size_t len)
{
	size_t n = len < SHEBANG_MAX ? len : SHEBANG_MAX, i = 2, start;

	if (n < 3 || buf[0] != '#' || buf[1] != '!')
		return NULL;
	while (i < n && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	/* The set holds a NUL too: memchr looks at all five bytes. */
	for (start = i; i < n && !memchr(" \t\r\n", buf[i], 5); i++)
		;
	return i > start ? strndup((const char *)buf + start, i - start) : NULL;
}

static void elf_take(struct dos_ctx *ctx, struct centry *e, const uint8_t *buf, size_t len)
{
	struct dos_elf_info info;

	e->is_elf = true;
	if (dos_elf_parse(ctx, e->path, buf, len, &info) < 0) {
		e->error = dos_xstrdup(ctx->msg);
		dos_error_clear(ctx);
		return;
	}
	e->elf = dos_xmalloc(sizeof(info));
	*e->elf = info;
}

/* Looks at one regular file's whole content. lk NULL: no leak search. */
static void content_scan(struct dos_ctx *ctx, const struct leaks *lk, struct centry *e,
			 const uint8_t *buf, size_t len)
{
	if (dos_elf_is_elf(buf, len))
		elf_take(ctx, e, buf, len);
	else if (e->mode & 0111)
		e->interp = shebang_interp(buf, len);
	e->leak = (uint8_t)leak_find(lk, buf, len);
}

/* --- an unpacked bundle: a walk, then the files read in threads --- */

static int folder_walk(struct scan *sc, int dfd, const char *rel, int depth);

static int folder_entry(struct scan *sc, int dfd, const char *rel, const char *name, int depth)
{
	char *path = *rel ? dos_path_join(rel, name) : dos_xstrdup(name);
	struct stat st;
	struct centry *e;
	size_t i;
	int fd;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		dos_error_errno(sc->ctx, DOS_EIO, errno, "'%s'", path);
		free(path);
		return DOS_EIO;
	}
	i = check_tree_push(&sc->t, path, st.st_mode, (uint64_t)st.st_size);
	e = &sc->t.v[i];
	e->nlink = (uint32_t)st.st_nlink;
	if (S_ISLNK(st.st_mode)) {
		char buf[4096];
		ssize_t n = readlinkat(dfd, name, buf, sizeof(buf) - 1);
		e->target = strndup(buf, n < 0 ? 0 : (size_t)n);
	}
	if (!S_ISDIR(st.st_mode))
		return 0;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return dos_error_errno(sc->ctx, DOS_EIO, errno, "folder '%s'", path);
	return folder_walk(sc, fd, path, depth + 1);
}

/* Walks the folder open at dfd (and closes it). */
static int folder_walk(struct scan *sc, int dfd, const char *rel, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		close(dfd);
		return dos_error_errno(sc->ctx, DOS_EIO, errno, "folder '%s'", rel);
	}
	if (depth > MAX_DEPTH)
		r = dos_error(sc->ctx, DOS_EFORMAT, "folder '%s': nested too deep", rel);
	while (r == 0 && (errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			r = folder_entry(sc, dirfd(d), rel, de->d_name, depth);
	}
	if (r == 0 && errno)
		r = dos_error_errno(sc->ctx, DOS_EIO, errno, "folder '%s'", rel);
	closedir(d);
	return r;
}

struct pool {
	struct scan *sc;
	int root_fd;
	size_t *todo, n;
	atomic_size_t next;
};

static void file_read(struct dos_ctx *ctx, struct pool *p, struct centry *e)
{
	int fd = openat(p->root_fd, e->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	void *map;

	check_py_begin(e, p->sc->py_bins);
	if (fd < 0 || fstat(fd, &st) < 0) {
		e->error = dos_xasprintf("file '%s': cannot read: %s", e->path, strerror(errno));
		e->unreadable = true;
	} else if (!S_ISREG(st.st_mode)) {
		/* Replaced since the walk: errno says nothing here. */
		e->error = dos_xasprintf("file '%s': cannot read: not a regular file", e->path);
		e->unreadable = true;
	} else if (st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
		if (map == MAP_FAILED) {
			e->error = dos_xasprintf("file '%s': cannot map: %s", e->path, strerror(errno));
			e->unreadable = true;
		} else {
			content_scan(ctx, p->sc->lk.work ? &p->sc->lk : NULL, e, map, (size_t)st.st_size);
			check_py_feed(e, map, (size_t)st.st_size);
			munmap(map, (size_t)st.st_size);
		}
	}
	if (fd >= 0)
		close(fd);
	check_py_end(e);
}

static void *pool_worker(void *arg)
{
	struct pool *p = arg;
	struct dos_ctx ctx;
	size_t i;

	dos_ctx_init(&ctx);
	while ((i = atomic_fetch_add(&p->next, 1)) < p->n)
		file_read(&ctx, p, &p->sc->t.v[p->todo[i]]);
	return NULL;
}

static int folder_read_files(struct scan *sc, int root_fd)
{
	struct pool p = { .sc = sc, .root_fd = root_fd };
	int threads = sc->ctx->jobs > 0 ? sc->ctx->jobs : 1;
	pthread_t tid[64];
	int started = 0;

	p.todo = dos_xcalloc(sc->t.n + 1, sizeof(size_t));
	for (size_t i = 0; i < sc->t.n; i++)
		if (S_ISREG(sc->t.v[i].mode) && strcmp(sc->t.v[i].path, "diracos.json"))
			p.todo[p.n++] = i;
	atomic_init(&p.next, 0);
	for (; started < threads && started < 64 && (size_t)started < p.n; started++)
		if (pthread_create(&tid[started], NULL, pool_worker, &p) != 0)
			break;
	if (started == 0)
		pool_worker(&p);
	for (int i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	free(p.todo);
	for (size_t i = 0; i < sc->t.n; i++)
		if (sc->t.v[i].unreadable)
			return dos_error(sc->ctx, DOS_EIO, "%s", sc->t.v[i].error);
	return 0;
}

static void folder_settings(struct scan *sc, const char *root)
{
	static const char *const names[] = { "diracos.json", "brokenLinks.txt" };

	check_settings_from_opts(sc);
	for (size_t i = 0; i < 2; i++) {
		_cleanup_free_ char *path = dos_path_join(root, names[i]), *text = NULL;
		struct stat st;
		size_t len;

		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (dos_read_file(sc->ctx, path, SETTINGS_MAX, &text, &len) == 0)
			check_special_file_take(sc, names[i], (const uint8_t *)text, len);
		else
			dos_strv_push(&sc->rep->warnings, sc->ctx->msg);
		dos_error_clear(sc->ctx);
	}
	check_settings_finish(sc);
}

int check_folder_read(struct scan *sc, const char *dir)
{
	_cleanup_free_ char *real = realpath(dir, NULL);
	int fd = real ? open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	_cleanup_close_ int root_fd = fd >= 0 ? dup(fd) : -1;
	struct stat st;
	int r;

	if (fd < 0 || root_fd < 0) {
		r = dos_error_errno(sc->ctx, DOS_EIO, errno, "bundle folder '%s'", dir);
		if (fd >= 0)
			close(fd);
		return r;
	}
	if (fstatat(root_fd, "diracosrc", &st, AT_SYMLINK_NOFOLLOW) < 0) {
		close(fd);
		return dos_error(sc->ctx, DOS_EUSAGE, "'%s' holds no diracosrc: not a bundle's top folder",
				 dir);
	}
	sc->top = dos_xstrdup(strrchr(real, '/') + 1);
	folder_settings(sc, real);
	r = folder_walk(sc, fd, "", 0);
	for (size_t i = 0; r == 0 && i < sc->t.n; i++) {
		int b = check_py_bin_index(sc->t.v[i].path);
		sc->py_bins |= b >= 0 ? 1u << b : 0;
	}
	if (r == 0)
		r = folder_read_files(sc, root_fd);
	return r;
}

/* --- a tarball: one stream --- */

static int tar_error(struct scan *sc, struct archive *a, const char *what)
{
	return dos_error(sc->ctx, DOS_EFORMAT, "tarball '%s': %s%s", sc->opts->bundle, what,
			 archive_error_string(a) ? archive_error_string(a) : "not readable");
}

static int tar_open(struct scan *sc, struct archive **out)
{
	struct archive *a = archive_read_new();

	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, sc->opts->bundle, 1 << 17) != ARCHIVE_OK) {
		/* libarchive says "not an archive" with EILSEQ */
		int code = archive_errno(a) == EILSEQ ? DOS_EFORMAT : DOS_EIO;
		int r = dos_error(sc->ctx, code, "tarball '%s': %s", sc->opts->bundle,
				  archive_error_string(a) ? archive_error_string(a) : "cannot open");
		archive_read_free(a);
		return r;
	}
	*out = a;
	return 0;
}

/* Splits an entry's name into its top folder and the path under it ("" for
 * the top itself); NULL for an absolute name or one with "..". */
static char *tar_name_split(const char *name, char **top)
{
	struct pathbuf b = { dos_xstrdup(""), 0 };
	const char *p = name;

	*top = NULL;
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && !strncmp(p, "..", 2))
			break;
		if (n && !(n == 1 && *p == '.')) {
			if (!*top)
				*top = strndup(p, n);
			else
				check_pathbuf_push(&b, p, n);
		}
		p = p[n] ? p + n + 1 : p + n;
	}
	if (name[0] != '/' && !*p && *top)
		return b.s;
	free(*top);
	free(b.s);
	*top = NULL;
	return NULL;
}

struct sink {
	bool decided, whole;
	uint8_t *buf;
	size_t len, cap;
	uint8_t head[SHEBANG_MAX];
	size_t head_len;
	struct leak_stream ls;
};

static void sink_decide(struct scan *sc, struct sink *s, struct centry *e, const uint8_t *p,
			size_t n)
{
	bool elf = n < 4 || dos_elf_is_elf(p, n);

	s->decided = true;
	if (check_special_file(e->path))
		s->whole = e->size <= SETTINGS_MAX;
	else if (elf)
		s->whole = e->size <= ELF_MAX;
	else if (!sc->settled)
		s->whole = sc->deferred_bytes + e->size <= DEFER_MAX;
	if (elf && !s->whole && n >= 4) {
		e->is_elf = true;
		e->error = dos_xasprintf("ELF file '%s': larger than 1 GiB, not read", e->path);
	}
	if (!s->whole && !sc->settled && !check_special_file(e->path))
		e->rescan = sc->need_rescan = true;
	if (s->whole) {
		s->cap = (size_t)e->size;
		s->buf = dos_xcalloc(1, s->cap + 1);
	}
	s->ls.lk = sc->settled ? &sc->lk : NULL;
}

static void sink_feed(struct sink *s, const uint8_t *p, size_t n, int64_t off)
{
	if (s->whole) {
		if (off >= 0 && (uint64_t)off < s->cap) {
			size_t k = n < s->cap - (size_t)off ? n : s->cap - (size_t)off;
			memcpy(s->buf + off, p, k);
			if ((size_t)off + k > s->len)
				s->len = (size_t)off + k;
		}
		return;
	}
	if (s->head_len < SHEBANG_MAX) {
		size_t k = n < SHEBANG_MAX - s->head_len ? n : SHEBANG_MAX - s->head_len;
		memcpy(s->head + s->head_len, p, k);
		s->head_len += k;
	}
	leak_stream_feed(&s->ls, p, n);
}

static void sink_finish(struct scan *sc, struct sink *s, size_t idx)
{
	struct centry *e = &sc->t.v[idx];

	if (!s->whole) {
		if (e->mode & 0111)
			e->interp = shebang_interp(s->head, s->head_len);
		e->leak = (uint8_t)s->ls.found;
		free(s->ls.carry);
		return;
	}
	if (check_special_file(e->path))
		check_special_file_take(sc, e->path, s->buf, s->len);
	if (!strcmp(e->path, "diracos.json")) {
		free(s->buf);
		return;
	}
	content_scan(sc->ctx, sc->settled ? &sc->lk : NULL, e, s->buf, s->len);
	if (!sc->settled && sc->deferred_bytes + s->len > DEFER_MAX)
		e->rescan = sc->need_rescan = true;
	if (sc->settled || e->rescan) {
		free(s->buf);
		return;
	}
	sc->deferred = dos_xrealloc(sc->deferred, (sc->n_deferred + 1) * sizeof(*sc->deferred));
	sc->deferred[sc->n_deferred++] = (struct deferred){ idx, s->buf, s->len };
	sc->deferred_bytes += s->len;
}

/* Streams one regular file's data through a sink. */
static int tar_content(struct scan *sc, struct archive *a, size_t idx)
{
	struct sink s = { 0 };
	const void *p;
	size_t n;
	int64_t off;
	int r;

	/* Python's sources and bytecode: their blocks come in order. */
	check_py_begin(&sc->t.v[idx], sc->py_bins);
	while ((r = archive_read_data_block(a, &p, &n, &off)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		if (!s.decided)
			sink_decide(sc, &s, &sc->t.v[idx], p, n);
		sink_feed(&s, p, n, off);
		check_py_feed(&sc->t.v[idx], p, n);
	}
	check_py_end(&sc->t.v[idx]);
	if (r != ARCHIVE_EOF) {
		free(s.buf);
		free(s.ls.carry);
		return tar_error(sc, a, "");
	}
	if (s.decided)
		sink_finish(sc, &s, idx);
	return 0;
}

static int tar_top_check(struct scan *sc, char *top, const char *name)
{
	if (!sc->top) {
		sc->top = top;
		check_settings_from_opts(sc);
		return 0;
	}
	if (strcmp(top, sc->top)) {
		free(top);
		return dos_error(sc->ctx, DOS_EFORMAT, "tarball '%s': entry '%s' is not under the top "
				 "folder '%s'", sc->opts->bundle, name, sc->top);
	}
	free(top);
	return 0;
}

/* A hard link entry: a regular file whose content is its target's. */
static void tar_hardlink(struct scan *sc, struct centry *e, const char *target)
{
	char *top = NULL, *rel = tar_name_split(target, &top);

	e->hardlink = true;
	e->mode = S_IFREG | (e->mode & 07777);
	e->size = 0;
	if (rel && *rel && !strcmp(top, sc->top)) {
		e->target = rel;
		rel = NULL;
	} else {
		e->target = dos_xstrdup(target);
	}
	free(rel);
	free(top);
}

static int tar_entry(struct scan *sc, struct archive *a, struct archive_entry *ae, size_t seq)
{
	const char *name = archive_entry_pathname(ae), *hl = archive_entry_hardlink(ae);
	char *top = NULL, *rel = name ? tar_name_split(name, &top) : NULL;
	struct centry *e;
	size_t i;
	int r, b;

	if (!rel)
		return dos_error(sc->ctx, DOS_EFORMAT, "tarball '%s': entry '%s' is outside the "
				 "bundle's top folder", sc->opts->bundle, name ? name : "");
	r = tar_top_check(sc, top, name);
	if (r < 0 || !*rel) {
		free(rel);
		return r;
	}
	i = check_tree_push(&sc->t, rel, archive_entry_mode(ae),
		      archive_entry_size(ae) > 0 ? (uint64_t)archive_entry_size(ae) : 0);
	e = &sc->t.v[i];
	e->seq = seq;
	sc->has_rc |= !strcmp(rel, "diracosrc");
	if ((b = check_py_bin_index(rel)) >= 0)
		sc->py_bins |= 1u << b;
	if (hl)
		tar_hardlink(sc, e, hl);
	else if (S_ISLNK(e->mode))
		e->target = dos_xstrdup(archive_entry_symlink(ae) ? archive_entry_symlink(ae) : "");
	else if (S_ISREG(e->mode))
		return tar_content(sc, a, i);
	return 0;
}

static void deferred_flush(struct scan *sc)
{
	for (size_t i = 0; i < sc->n_deferred; i++) {
		struct deferred *d = &sc->deferred[i];
		sc->t.v[d->idx].leak = (uint8_t)leak_find(&sc->lk, d->buf, d->len);
		free(d->buf);
	}
	free(sc->deferred);
	sc->deferred = NULL;
	sc->n_deferred = 0;
}

static void rescan_entry(struct archive *a, const struct leaks *lk, struct centry *e)
{
	struct leak_stream ls = { .lk = lk };
	const void *p;
	size_t n;
	int64_t off;

	while (archive_read_data_block(a, &p, &n, &off) == ARCHIVE_OK)
		leak_stream_feed(&ls, p, n);
	e->leak = (uint8_t)ls.found;
	free(ls.carry);
}

/* The second pass, only when files too large to keep came before the
 * bundle's diracos.json said what to search for. Entries are still in
 * the order they came in. */
static int tar_rescan(struct scan *sc)
{
	struct archive *a;
	struct archive_entry *ae;
	size_t seq = 0, j = 0;
	int ar, r = tar_open(sc, &a);

	if (r < 0)
		return r;
	while ((ar = archive_read_next_header(a, &ae)) == ARCHIVE_OK || ar == ARCHIVE_WARN) {
		while (j < sc->t.n && sc->t.v[j].seq < seq)
			j++;
		if (j < sc->t.n && sc->t.v[j].seq == seq && sc->t.v[j].rescan)
			rescan_entry(a, &sc->lk, &sc->t.v[j]);
		seq++;
	}
	r = ar == ARCHIVE_EOF ? 0 : tar_error(sc, a, "");
	archive_read_free(a);
	return r;
}

static int tar_entries(struct scan *sc, struct archive *a)
{
	struct archive_entry *ae;
	size_t seq = 0;
	int ar, r;

	for (;;) {
		ar = archive_read_next_header(a, &ae);
		if (ar == ARCHIVE_EOF)
			return 0;
		if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN)
			return tar_error(sc, a, seq ? "" : "not a tarball: ");
		r = tar_entry(sc, a, ae, seq++);
		if (r < 0)
			return r;
	}
}

int check_tar_read(struct scan *sc)
{
	struct archive *a;
	int r = tar_open(sc, &a);

	if (r < 0)
		return r;
	r = tar_entries(sc, a);
	archive_read_free(a);
	if (r == 0 && !sc->top)
		r = dos_error(sc->ctx, DOS_EFORMAT, "tarball '%s' is empty", sc->opts->bundle);
	if (r == 0 && !sc->has_rc)
		r = dos_error(sc->ctx, DOS_EFORMAT, "tarball '%s' holds no diracosrc at the top of "
			      "'%s': not a bundle", sc->opts->bundle, sc->top);
	if (r < 0)
		return r;
	check_settings_finish(sc);
	deferred_flush(sc);
	if (sc->need_rescan && sc->lk.work)
		r = tar_rescan(sc);
	return r;
}
