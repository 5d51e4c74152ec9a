/* Unpacking .deb files into a bundle root. See extract.h.
 *
 * How threads agree on a path two packages ship: a shared table records,
 * for each path, the package whose version is on disk (its owner) and every
 * package shipping it, with a digest of its content. The first to claim a
 * path writes it in place. A later claimer that comes earlier in the input
 * writes a temporary file beside it and renames it over, under the table
 * lock; one that comes later only hashes its content. A file on disk is
 * thus never changed once written, only replaced by a rename: this is what
 * lets a hard link copy its target from disk. What an earlier run left at
 * a path is the first claimer's to take over or replace (node_reuse). The
 * placing of one entry under these rules is extract_place.c. */
#include "extract_internal.h"
#include "progress.h"
#include "untar.h"

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

#define SIZE_CHECK_MIN (64 << 20)     /* bigger entries are checked against the free space */

/* --- small helpers --- */

/* Appends a zeroed element to an array grown only by this function: it
 * is full exactly when its length is zero or a power of two. */
void *extract_vec_push(void *pv, size_t *n, size_t size)
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

static void note_add(struct dos_extract_note **v, size_t *n, const char *path,
		     const char *package, unsigned mode)
{
	struct dos_extract_note *note = extract_vec_push(v, n, sizeof(**v));

	note->path = dos_xstrdup(path);
	note->package = dos_xstrdup(package);
	note->mode = mode;
}

/* --- reading a .deb: an ar archive, its members read as streams --- */

enum member { M_CONTROL = 1, M_DATA, M_OTHER };

static int deb_open(struct dos_ctx *ctx, struct deb *d, const char *path)
{
	memset(d, 0, sizeof(*d));
	return dos_deb_reader_open(ctx, &d->ar, path);
}

void extract_deb_inner_close(struct deb *d)
{
	dos_deb_reader_inner_close(&d->ar);
}

static void deb_close(struct deb *d)
{
	extract_rpm_close(d);
	dos_deb_reader_close(&d->ar);
}

static int deb_check_version(struct dos_ctx *ctx, struct deb *d, const char *name)
{
	char buf[16] = "";

	if (strcmp(name, "debian-binary"))
		return dos_error(ctx, DOS_EFORMAT, "not a Debian package: first member is '%s'", name);
	if (archive_read_data(d->ar.outer, buf, sizeof(buf) - 1) < 0)
		return dos_error(ctx, DOS_EFORMAT, "debian-binary: %s", dos_untar_error(d->ar.outer));
	if (strncmp(buf, "2.", 2))
		return dos_error(ctx, DOS_EFORMAT, "unsupported package format version '%.4s'", buf);
	return M_OTHER;
}

/* Moves to the next member: returns its kind, or 0 at the end. */
static int deb_next(struct dos_ctx *ctx, struct deb *d)
{
	struct archive_entry *ae;
	const char *name;
	int r = archive_read_next_header(d->ar.outer, &ae);

	if (r == ARCHIVE_EOF && d->members)
		return 0;
	if (r != ARCHIVE_OK)
		return dos_error(ctx, DOS_EFORMAT, "not a Debian package: %s",
				 r == ARCHIVE_EOF ? "empty archive" : dos_untar_error(d->ar.outer));
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

int extract_deb_inner_open(struct dos_ctx *ctx, struct deb *d)
{
	return dos_deb_reader_inner_open(ctx, &d->ar, d->member);
}

int extract_deb_inner_next(struct dos_ctx *ctx, struct deb *d, struct archive_entry **ae)
{
	if (d->rpm)
		return extract_rpm_next(ctx, d, ae);
	return dos_deb_reader_inner_next(ctx, &d->ar, d->member, ae);
}

/* --- entries, by kind; extract_place.c places them --- */

static int dir_extract(struct worker *w, const char *rel, mode_t mode, struct timespec mtime)
{
	uint64_t h = extract_path_hash(rel);
	struct pentry *e;
	const char *leaf;
	struct stat st;
	int pfd = extract_tree_parent(&w->tree, rel, &leaf), r = 0;

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
	e = extract_ptab_find(&w->sh->tab, rel, h);
	if (e && e->kind != K_DIR)
		r = dos_error(&w->ctx, DOS_EFORMAT, "a folder where package '%s' has a file or symlink",
			      w->sh->pkgs[e->owner].name);
	else if (!e)
		e = extract_ptab_add(&w->sh->tab, rel, h), e->kind = K_DIR;
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
	e = extract_ptab_find(&w->sh->tab, target, extract_path_hash(target));
	s = e && e->kind != K_DIR ? extract_ship_find(e, w->idx) : NULL;
	if (!s || s->kind != K_FILE)
		r = dos_error(&w->ctx, DOS_EFORMAT, "hard link to '%.512s%s', which is not a file "
			      "the package holds before it", target, strlen(target) > 512 ? "..." : "");
	else if (e->owner == w->idx)
		r = pfd = extract_tree_parent(&w->tree, target, &leaf);
	/* Under the lock: nobody renames over it while we open it. */
	if (pfd >= 0) {
		r = 0;
		*fd = openat(pfd, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (*fd < 0)
			r = dos_error_errno(&w->ctx, DOS_EIO, errno, "cannot open '%.512s%s'", target,
					    strlen(target) > 512 ? "..." : "");
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
	int r = extract_is_rpm(w->pkg->path) ? extract_rpm_open(&w->ctx, &d, w->pkg->path) :
		deb_open(&w->ctx, &d, w->pkg->path);

	while (r >= 0 && !d.rpm && (r = deb_next(&w->ctx, &d)) > 0 && r != M_DATA)
		;
	if (r == M_DATA)
		r = extract_deb_inner_open(&w->ctx, &d);
	while (!found && r >= 0 && (r = extract_deb_inner_next(&w->ctx, &d, &ae)) > 0) {
		const char *name = archive_entry_pathname(ae);
		if (!name || extract_path_clean(name, rel) <= 0 || strcmp(rel, target) ||
		    archive_entry_filetype(ae) != AE_IFREG || archive_entry_hardlink(ae))
			continue;
		found = true;
		it->size = archive_entry_size(ae);
		it->src.a = d.ar.inner;
		r = extract_item_place(w, it);
	}
	deb_close(&d);
	if (r >= 0 && !found)
		r = dos_error(&w->ctx, DOS_EFORMAT, "hard link target '%.512s%s' not found again",
			      target, strlen(target) > 512 ? "..." : "");
	return r < 0 ? r : 0;
}

/* Hard links become copies: the bundle holds none. */
static int hardlink_extract(struct worker *w, const char *rel, struct archive_entry *ae)
{
	char target[PATH_MAX];
	struct item it;
	struct stat st;
	const char *raw = archive_entry_hardlink(ae);
	int len = extract_path_clean(raw, target), fd, r;

	/* Cut as entry names are: the cause stays in the message. */
	if (len <= 0)
		return dos_error(&w->ctx, DOS_EFORMAT, "hard link to '%.512s%s': %s", raw,
				 strlen(raw) > 512 ? "..." : "",
				 len ? extract_clean_why(len) : "the root");
	item_init(&it, rel, ae, K_FILE);
	r = hardlink_source(w, target, &fd);
	if (r < 0)
		return r;
	if (fd < 0)
		return hardlink_from_deb(w, &it, target);
	if (!w->copy_buf)
		w->copy_buf = dos_xmalloc(EXTRACT_COPY_BLOCK);
	it.src = (struct source){ .fd = fd, .buf = w->copy_buf };
	if (fstat(fd, &st) < 0)
		r = dos_error_errno(&w->ctx, DOS_EIO, errno, "cannot stat '%.512s%s'", target,
				    strlen(target) > 512 ? "..." : "");
	it.size = st.st_size;
	if (r == 0)
		r = extract_item_place(w, &it);
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
	it.src.a = d->ar.inner;
	it.capture = !strcmp(rel, w->copyright);
	r = extract_item_place(w, &it);
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
	if (strlen(target) > EXTRACT_LINK_TARGET_MAX)
		return dos_error(&w->ctx, DOS_EFORMAT, "symlink target too long");
	item_init(&it, rel, ae, K_LINK);
	it.target = target;
	return extract_item_place(w, &it);
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
	/* Names are cut in messages: a hostile long one would push the
	 * cause out of the message buffer. */
	len = extract_path_clean(raw, rel);
	if (len < 0)
		return dos_error(&w->ctx, DOS_EFORMAT, "entry '%.512s%s': %s", raw,
				 strlen(raw) > 512 ? "..." : "", extract_clean_why(len));
	if (len == 0)
		return 0;   /* the root folder itself */
	r = entry_dispatch(w, d, rel, ae);
	if (r < 0)
		return dos_error_prefix(&w->ctx, "entry '%.512s%s'", rel, len > 512 ? "..." : "");
	return 0;
}

static int data_extract(struct worker *w, struct deb *d)
{
	struct archive_entry *ae;
	int r = d->rpm ? 0 : extract_deb_inner_open(&w->ctx, d);

	while (r >= 0 && (r = extract_deb_inner_next(&w->ctx, d, &ae)) > 0) {
		if (extract_stopped(w->sh))
			r = dos_error(&w->ctx, DOS_EINTR, "stopped");
		else
			r = entry_extract(w, d, ae);
	}
	extract_deb_inner_close(d);
	return r;
}

/* --- workers --- */

/* An .rpm: its payload is the data; it has no maintainer scripts we read. */
static int rpm_extract(struct worker *w)
{
	struct deb d;
	int r = extract_rpm_open(&w->ctx, &d, w->pkg->path);

	if (r == 0)
		r = data_extract(w, &d);
	deb_close(&d);
	return r;
}

static int deb_extract(struct worker *w)
{
	bool control = false, data = false;
	struct deb d;
	int r;

	if (extract_is_rpm(w->pkg->path))
		return rpm_extract(w);
	r = deb_open(&w->ctx, &d, w->pkg->path);

	while (r >= 0 && (r = deb_next(&w->ctx, &d)) > 0) {
		if (r == M_CONTROL && !control)
			control = true, r = extract_control_read(&w->ctx, w->sh->ctx, &d, w->pkg->name,
								       &w->out->alts, &w->out->n_alts);
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
		extract_tree_init(&ws[i].tree, &ws[i].ctx, sh->rootfd);
	}
	for (int i = 0; threads > 1 && i < threads; i++)
		if (pthread_create(&tids[started], NULL, worker_main, &ws[started]) == 0)
			started++;
	if (started == 0)
		worker_main(&ws[0]);
	for (int i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	for (int i = 0; i < threads; i++) {
		extract_tree_release(&ws[i].tree);
		free(ws[i].copy_buf);
		free(ws[i].cmp_buf);
	}
	free(tids);
	free(ws);
}

/* --- the result --- */

static void notes_move(struct dos_extract_note **to, size_t *n_to, struct dos_extract_note **from,
		       size_t *n_from)
{
	for (size_t i = 0; i < *n_from; i++)
		*(struct dos_extract_note *)extract_vec_push(to, n_to, sizeof(**to)) = (*from)[i];
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
			*(struct dos_alternative *)extract_vec_push(&out->alternatives, &out->n_alternatives,
							    sizeof(*o->alts)) = o->alts[k];
		free(dos_steal(&o->alts));
		o->n_alts = 0;
		notes_move(&out->setids, &out->n_setids, &o->setids, &o->n_setids);
		notes_move(&out->skipped, &out->n_skipped, &o->skipped, &o->n_skipped);
		out->files += o->files;
		out->bytes += o->bytes;
	}
	extract_conflicts_build(&sh->tab, sh->pkgs, out);
}

static void pkg_out_release(struct pkg_out *o)
{
	dos_strv_release(&o->paths);
	free(o->license);
	for (size_t i = 0; i < o->n_alts; i++)
		extract_alternative_release(&o->alts[i]);
	free(o->alts);
	extract_notes_release(o->setids, o->n_setids);
	extract_notes_release(o->skipped, o->n_skipped);
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
	r = sh.stop ? dos_error(ctx, sh.err_code, "%s", sh.err_msg) :
	    extract_dirs_finish(ctx, &sh.tab, sh.rootfd);
	if (r == 0)
		result_build(&sh, out);
	for (size_t i = 0; i < n; i++)
		pkg_out_release(&sh.outs[i]);
	free(sh.outs);
	free(sh.order);
	extract_ptab_release(&sh.tab);
	pthread_cond_destroy(&sh.written);
	pthread_mutex_destroy(&sh.lock);
	close(sh.rootfd);
	return r;
}

