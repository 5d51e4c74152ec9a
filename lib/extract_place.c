/* Placing one entry of a package in the bundle root under the path
 * table's rules (see extract.c's top comment): its content copied, hashed
 * or compared, written in place or beside and renamed over, or what an
 * earlier run left there taken over. See extract_internal.h. */
#include "extract_internal.h"
#include "untar.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPYRIGHT_MAX (256 << 10)     /* bytes of a copyright file parsed */
#define CMP_BLOCK (256 << 10)         /* an earlier run's file is compared in blocks this big */

static int pwrite_all(int fd, const void *buf, size_t len, int64_t pos)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		pos += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 1 with a block of data, 0 at its end. */
static int source_next(struct worker *w, struct source *s, const void **buf, size_t *len)
{
	la_int64_t off;
	ssize_t n;
	int r;

	if (!s->a) {
		do
			n = read(s->fd, s->buf, EXTRACT_COPY_BLOCK);
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
		return dos_error(&w->ctx, DOS_EFORMAT, "truncated or corrupt payload: %s",
				 dos_untar_error(s->a));
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

/* Where content goes: nowhere (fd < 0), a new file, or a file an earlier
 * run left (old_size >= 0), which is written only where its bytes differ:
 * a package that did not change is then neither rewritten nor written back
 * to disk. */
struct sink {
	int fd;
	int64_t old_size;
};

/* Whether the file already holds buf at pos. */
static bool sink_holds(struct worker *w, const struct sink *k, const char *buf, size_t len,
		       int64_t pos)
{
	if (pos + (int64_t)len > k->old_size)
		return false;
	if (!w->cmp_buf)
		w->cmp_buf = dos_xmalloc(CMP_BLOCK);
	while (len) {
		size_t want = len < CMP_BLOCK ? len : CMP_BLOCK;
		ssize_t n = pread(k->fd, w->cmp_buf, want, (off_t)pos);
		if (n != (ssize_t)want || memcmp(w->cmp_buf, buf, want))
			return false;
		buf += want;
		pos += (int64_t)want;
		len -= want;
	}
	return true;
}

static int sink_write(struct worker *w, const struct sink *k, const void *buf, size_t len,
		      int64_t pos)
{
	int r;

	if (k->fd < 0 || (k->old_size >= 0 && sink_holds(w, k, buf, len, pos)))
		return 0;
	r = pwrite_all(k->fd, buf, len, pos);
	return r < 0 ? dos_error_errno(&w->ctx, DOS_EIO, -r, "cannot write") : 0;
}

/* Streams the content into the sink, hashing it, and checks that the
 * payload holds the size the entry declares. */
static int content_copy(struct worker *w, struct item *it, const struct sink *k,
			char digest[DOS_SHA256_HEX])
{
	struct dos_sha256 *h = dos_sha256_new();
	const void *buf;
	int64_t got = 0;
	size_t len;
	int r = 0;

	/* Nothing read for an empty file: an empty hard-link set is held to
	 * the end of the payload, where reading again is an error. */
	while (it->size > 0 && (r = source_next(w, &it->src, &buf, &len)) > 0) {
		dos_sha256_update(h, buf, len);
		if (it->capture)
			capture_add(it, buf, len);
		r = sink_write(w, k, buf, len, got);
		if (r < 0)
			break;
		got += (int64_t)len;
	}
	dos_sha256_final(h, digest);
	if (r == 0 && got != it->size)
		r = dos_error(&w->ctx, DOS_EFORMAT, "truncated payload: %lld of %lld bytes",
			      (long long)got, (long long)it->size);
	if (r == 0 && k->old_size > got && ftruncate(k->fd, (off_t)got) < 0)
		r = dos_error_errno(&w->ctx, DOS_EIO, errno, "cannot truncate");
	if (r == 0) {
		w->out->files++;
		w->out->bytes += (uint64_t)got;
	}
	return r;
}

static int item_digest(struct worker *w, struct item *it, char digest[DOS_SHA256_HEX])
{
	const struct sink nowhere = { -1, -1 };

	if (it->kind == K_LINK) {
		dos_sha256_buf(it->target, strlen(it->target), digest);
		return 0;
	}
	return content_copy(w, it, &nowhere, digest);
}

/* Fills the open file name in pfd; on failure, removes it. */
static int file_fill(struct worker *w, struct item *it, int pfd, const char *name,
		     const struct sink *k, char digest[DOS_SHA256_HEX])
{
	const struct timespec ts[2] = { it->mtime, it->mtime };
	int r = content_copy(w, it, k, digest);

	if (r == 0 && (fchmod(k->fd, it->mode) < 0 || futimens(k->fd, ts) < 0))
		r = dos_error_errno(&w->ctx, DOS_EIO, errno, "cannot set mode or mtime");
	if (r < 0)
		unlinkat(pfd, name, 0);
	return r;
}

/* Creates the item as name in pfd, never replacing anything: returns 1
 * when the name is taken. */
static int node_create(struct worker *w, struct item *it, int pfd, const char *name,
		       char digest[DOS_SHA256_HEX])
{
	const struct timespec ts[2] = { it->mtime, it->mtime };
	struct sink k = { -1, -1 };
	int r;

	if (it->kind == K_LINK) {
		if (symlinkat(it->target, pfd, name) < 0)
			return errno == EEXIST ? 1 : dos_error_errno(&w->ctx, DOS_EIO, errno,
								     "cannot create symlink");
		utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
		return item_digest(w, it, digest);
	}
	k.fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (k.fd < 0)
		return errno == EEXIST ? 1 : dos_error_errno(&w->ctx, DOS_EIO, errno, "cannot create");
	r = file_fill(w, it, pfd, name, &k, digest);
	close(k.fd);
	return r;
}

/* A symlink an earlier run left: kept when its target is the same. */
static int link_keep(struct worker *w, struct item *it, int pfd, const char *name,
		     char digest[DOS_SHA256_HEX])
{
	const struct timespec ts[2] = { it->mtime, it->mtime };
	char target[EXTRACT_LINK_TARGET_MAX + 1];
	ssize_t n = readlinkat(pfd, name, target, sizeof(target));

	if (n < 0 || (size_t)n != strlen(it->target) || memcmp(target, it->target, (size_t)n))
		return 1;
	utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
	return item_digest(w, it, digest);
}

/* A plain file an earlier run left, written over: no other link to it,
 * so nothing elsewhere is written through it. */
static int file_take_over(struct worker *w, struct item *it, int pfd, const char *name,
			  char digest[DOS_SHA256_HEX])
{
	const int flags = O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	struct sink k = { -1, -1 };
	struct stat st, now;
	int r;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_nlink != 1)
		return 1;
	k.fd = openat(pfd, name, flags);
	if (k.fd < 0)
		return 1;
	/* Still the file looked at: nothing swapped it meanwhile. */
	if (fstat(k.fd, &now) < 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev ||
	    !S_ISREG(now.st_mode) || now.st_nlink != 1) {
		close(k.fd);
		return 1;
	}
	k.old_size = now.st_size;
	r = file_fill(w, it, pfd, name, &k, digest);
	close(k.fd);
	return r;
}

/* What an earlier run left at name, taken over when it is of the same
 * kind. Reusing the inodes, rather than unlinking and creating, keeps a
 * rebuild fast on ext4 without a journal, where allocating an inode skips
 * every inode freed in the last minute one by one: creating thousands of
 * files right after deleting as many takes seconds. Returns 1 when the
 * name holds anything else. */
static int node_reuse(struct worker *w, struct item *it, int pfd, const char *name,
		      char digest[DOS_SHA256_HEX])
{
	if (it->kind == K_LINK)
		return link_keep(w, it, pfd, name, digest);
	return file_take_over(w, it, pfd, name, digest);
}

enum action { A_DIRECT, A_TEMP, A_HASH };

/* Under the lock: registers the package as a shipper of the path and
 * says how to treat it. */
static int item_claim(struct worker *w, struct item *it, struct pentry **pe, size_t *ship,
		      enum action *act)
{
	uint64_t h = extract_path_hash(it->rel);
	struct pentry *e = extract_ptab_find(&w->sh->tab, it->rel, h);
	struct shipper *s;

	if (e && e->kind == K_DIR)
		return dos_error(&w->ctx, DOS_EFORMAT, "a folder in package '%s'",
				 e->owner == NO_OWNER ? "?" : w->sh->pkgs[e->owner].name);
	if (e && extract_ship_find(e, w->idx))
		return dos_error(&w->ctx, DOS_EFORMAT, "appears twice in the package");
	if (!e) {
		e = extract_ptab_add(&w->sh->tab, it->rel, h);
		e->owner = w->idx;
		e->kind = it->kind;
		e->writing = true;
		*act = A_DIRECT;
	} else {
		*act = e->owner < w->idx ? A_HASH : A_TEMP;
	}
	*ship = e->n_ship;
	s = extract_vec_push(&e->ship, &e->n_ship, sizeof(*e->ship));
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

	/* Left by an earlier run: no package of this run has it. */
	if (r == 1)
		r = node_reuse(w, it, pfd, leaf, digest);
	if (r == 1) {
		if (unlinkat(pfd, leaf, 0) == 0)
			r = node_create(w, it, pfd, leaf, digest);
		/* A folder made for the files under this path (by another
		 * package, say): the packages conflict, the disk is fine. */
		else if (errno == EISDIR)
			r = dos_error(&w->ctx, DOS_EFORMAT, "a folder is in the way, made for the "
				      "files under this path");
		else
			r = dos_error_errno(&w->ctx, DOS_EIO, errno, "cannot replace what is there");
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
int extract_item_place(struct worker *w, struct item *it)
{
	char digest[DOS_SHA256_HEX] = "";
	struct pentry *e = NULL;
	enum action act = A_HASH;
	const char *leaf;
	size_t ship = 0;
	int pfd, r;

	pfd = extract_tree_parent(&w->tree, it->rel, &leaf);
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
