#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- allocation --- */

static void out_of_memory(void)
{
	fputs("fatal: out of memory\n", stderr);
	abort();
}

void *dos_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		out_of_memory();
	return p;
}

void *dos_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		out_of_memory();
	return p;
}

void *dos_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		out_of_memory();
	return p;
}

char *dos_xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		out_of_memory();
	return d;
}

char *dos_xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);

	if (!d)
		out_of_memory();
	return d;
}

char *dos_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		out_of_memory();
	return s;
}

/* --- sha256 --- */

struct dos_sha256 {
	EVP_MD_CTX *md;
};

struct dos_sha256 *dos_sha256_new(void)
{
	struct dos_sha256 *h = dos_xmalloc(sizeof(*h));

	h->md = EVP_MD_CTX_new();
	if (!h->md || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1)
		out_of_memory();
	return h;
}

void dos_sha256_update(struct dos_sha256 *h, const void *data, size_t len)
{
	EVP_DigestUpdate(h->md, data, len);
}

void dos_sha256_final(struct dos_sha256 *h, char hex[DOS_SHA256_HEX])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char raw[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_DigestFinal_ex(h->md, raw, &n);
	for (unsigned int i = 0; i < n && i < 32; i++) {
		hex[2 * i] = digits[raw[i] >> 4];
		hex[2 * i + 1] = digits[raw[i] & 15];
	}
	hex[64] = '\0';
	EVP_MD_CTX_free(h->md);
	free(h);
}

void dos_sha256_buf(const void *data, size_t len, char hex[DOS_SHA256_HEX])
{
	struct dos_sha256 *h = dos_sha256_new();

	dos_sha256_update(h, data, len);
	dos_sha256_final(h, hex);
}

int dos_sha256_file(struct dos_ctx *ctx, const char *path, char hex[DOS_SHA256_HEX])
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct dos_sha256 *h;
	char buf[1 << 16];
	ssize_t n;

	if (fd < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot open '%s'", path);
	h = dos_sha256_new();
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			dos_sha256_final(h, hex);
			return dos_error_errno(ctx, DOS_EIO, errno, "cannot read '%s'", path);
		}
		dos_sha256_update(h, buf, (size_t)n);
	}
	dos_sha256_final(h, hex);
	return 0;
}

bool dos_sha256_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!strchr("0123456789abcdefABCDEF", s[i]))
			return false;
	return i == 64;
}

/* --- atomic files --- */

/* Unnamed files (O_TMPFILE) are named through /proc/self/fd. */
int dos_tmpfile_open(const char *dir, mode_t mode)
{
	int fd;

	if (access("/proc/self/fd", X_OK) < 0)
		return -1;
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
	if (fd >= 0 && fchmod(fd, mode) < 0) {   /* whatever the umask */
		close(fd);
		return -1;
	}
	return fd;
}

/* linkat(2) cannot replace a name: the file is linked under a fresh name
 * in tmp_dir, then renamed over path. Only a kill between the two leaves
 * a temporary, and it is whole. */
int dos_tmpfile_link(int fd, const char *tmp_dir, const char *path)
{
	static atomic_uint seq;
	const char *base = strrchr(path, '/');
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	for (int tries = 0; tries < 100; tries++) {
		_cleanup_free_ char *tmp = dos_xasprintf("%s/.%s.tmp-%ld-%u", tmp_dir,
							 base ? base + 1 : path, (long)getpid(),
							 atomic_fetch_add(&seq, 1));
		if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) < 0) {
			if (errno == EEXIST)
				continue;
			return -errno;
		}
		if (rename(tmp, path) < 0) {
			int e = errno;
			unlink(tmp);
			return -e;
		}
		return 0;
	}
	return -EEXIST;
}

int dos_tmpfile_commit(int fd, const char *tmp, const char *dst, mode_t mode, int err)
{
	if (!err && fchmod(fd, mode) < 0)
		err = errno;
	if (close(fd) < 0 && !err)
		err = errno;
	if (!err && rename(tmp, dst) < 0)
		err = errno;
	if (err)
		unlink(tmp);
	return err;
}

int dos_atomic_open(struct dos_ctx *ctx, struct dos_atomic *af, const char *path, mode_t mode)
{
	_cleanup_free_ char *dir = dos_path_dirname(path);
	const char *base = strrchr(path, '/');

	af->fd = -1;
	af->path = dos_xstrdup(path);
	af->tmp_path = NULL;
	/* Unnamed until committed: a killed run leaves no temporary behind. */
	af->fd = dos_tmpfile_open(dir, mode);
	if (af->fd >= 0)
		return 0;
	af->tmp_path = dos_xasprintf("%s/.%s.tmp-XXXXXX", dir, base ? base + 1 : path);
	af->fd = mkostemp(af->tmp_path, O_CLOEXEC);
	if (af->fd < 0) {
		int e = errno;
		free(af->path);
		free(af->tmp_path);
		af->path = af->tmp_path = NULL;
		return dos_error_errno(ctx, DOS_EIO, e, "cannot create a temporary file for '%s'", path);
	}
	if (fchmod(af->fd, mode) < 0) {
		int e = errno;
		dos_atomic_abort(af);
		return dos_error_errno(ctx, DOS_EIO, e, "cannot set the mode of '%s'", path);
	}
	return 0;
}

int dos_atomic_write(struct dos_ctx *ctx, struct dos_atomic *af, const void *data, size_t len)
{
	return dos_fd_write(ctx, af->fd, data, len, af->path);
}

static void fsync_dir_of(const char *path)
{
	_cleanup_free_ char *dir = dos_path_dirname(path);
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0)
		fsync(fd);
}

int dos_atomic_commit(struct dos_ctx *ctx, struct dos_atomic *af)
{
	int r = 0;

	if (fsync(af->fd) < 0)
		r = dos_error_errno(ctx, DOS_EIO, errno, "cannot write '%s'", af->path);
	if (r == 0 && !af->tmp_path) {   /* unnamed: named while still open */
		_cleanup_free_ char *dir = dos_path_dirname(af->path);
		int e = -dos_tmpfile_link(af->fd, dir, af->path);
		if (e > 0)
			r = dos_error_errno(ctx, DOS_EIO, e, "cannot rename into '%s'", af->path);
	}
	if (close(af->fd) < 0 && r == 0)
		r = dos_error_errno(ctx, DOS_EIO, errno, "cannot write '%s'", af->path);
	af->fd = -1;
	if (r == 0 && af->tmp_path && rename(af->tmp_path, af->path) < 0)
		r = dos_error_errno(ctx, DOS_EIO, errno, "cannot rename into '%s'", af->path);
	if (r == 0) {
		fsync_dir_of(af->path);
		free(af->tmp_path);
		af->tmp_path = NULL;
	}
	dos_atomic_abort(af);
	return r;
}

void dos_atomic_abort(struct dos_atomic *af)
{
	if (af->fd >= 0)
		close(af->fd);
	af->fd = -1;
	if (af->tmp_path)
		unlink(af->tmp_path);
	free(af->tmp_path);
	free(af->path);
	af->tmp_path = af->path = NULL;
}

int dos_write_file_atomic(struct dos_ctx *ctx, const char *path, const void *data,
			  size_t len, mode_t mode)
{
	struct dos_atomic af;
	int r;

	r = dos_atomic_open(ctx, &af, path, mode);
	if (r < 0)
		return r;
	r = dos_atomic_write(ctx, &af, data, len);
	if (r < 0) {
		dos_atomic_abort(&af);
		return r;
	}
	return dos_atomic_commit(ctx, &af);
}

/* --- whole writes and copies --- */

#define COPY_BLOCK (1 << 16)

int dos_write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 0, the errno of a failed write, or that of a failed read negated: the
 * callers that name the file say which of the two failed. */
static int copy_loop(int in, int out)
{
	char buf[COPY_BLOCK];
	ssize_t n;
	int err = 0;

	while (!err && (n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			err = dos_write_full(out, buf, (size_t)n);
	}
	return err;
}

int dos_copy_full(int in, int out)
{
	int err = copy_loop(in, out);

	return err < 0 ? -err : err;
}

int dos_fd_write(struct dos_ctx *ctx, int fd, const void *buf, size_t len, const char *what)
{
	int err = dos_write_full(fd, buf, len);

	return err ? dos_error_errno(ctx, DOS_EIO, err, "cannot write '%s'", what) : 0;
}

int dos_fd_copy(struct dos_ctx *ctx, int in, int out, const char *what)
{
	int err = copy_loop(in, out);

	if (err < 0)
		return dos_error_errno(ctx, DOS_EIO, -err, "cannot read '%s'", what);
	return err ? dos_error_errno(ctx, DOS_EIO, err, "cannot write '%s'", what) : 0;
}

int dos_read_file(struct dos_ctx *ctx, const char *path, size_t max, char **data, size_t *len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t used = 0, alloc = 4096;
	char *buf;

	if (fd < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot open '%s'", path);
	buf = dos_xmalloc(alloc);
	for (;;) {
		ssize_t n;
		if (used + 1 >= alloc)
			buf = dos_xrealloc(buf, alloc *= 2);
		n = read(fd, buf + used, alloc - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return dos_error_errno(ctx, DOS_EIO, errno, "cannot read '%s'", path);
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			free(buf);
			return dos_error(ctx, DOS_EFORMAT, "'%s' is larger than %zu bytes", path, max);
		}
	}
	buf[used] = '\0';
	*data = buf;
	if (len)
		*len = used;
	return 0;
}

/* --- paths --- */

int dos_mkdir_p(struct dos_ctx *ctx, const char *path, mode_t mode)
{
	_cleanup_free_ char *p = dos_xstrdup(path);

	for (char *s = p + 1; ; s++) {
		char c = *s;
		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return dos_error_errno(ctx, DOS_EIO, errno, "cannot create folder '%s'", p);
		*s = c;
		if (c == '\0')
			break;
	}
	return 0;
}

static int rm_rf_at(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ENOTDIR || errno == ELOOP)
			return unlinkat(parent, name, 0) < 0 && errno != ENOENT ? -errno : 0;
		return -errno;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN)
			r = rm_rf_at(dirfd(d), de->d_name);
		else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
			r = -errno;
		if (r < 0)
			break;
	}
	closedir(d);
	if (r == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

int dos_rm_rf(struct dos_ctx *ctx, const char *path)
{
	int r = rm_rf_at(AT_FDCWD, path);

	if (r < 0)
		return dos_error_errno(ctx, DOS_EIO, -r, "cannot remove '%s'", path);
	return 0;
}

char *dos_path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	while (*name == '/')
		name++;
	return dos_xasprintf("%.*s/%s", (int)n, dir, name);
}

/* Removes "." and empty components and folds ".." lexically, in place.
 * The write position never passes the read position, so nothing unread is
 * overwritten. */
static void path_normalize(char *p)
{
	char *out = p, *in = p;

	for (;;) {
		while (*in == '/')
			in++;
		if (!*in)
			break;
		char *end = strchrnul(in, '/');
		size_t len = (size_t)(end - in);
		if (len == 2 && in[0] == '.' && in[1] == '.') {
			while (out > p && *--out != '/')
				;
		} else if (len != 1 || in[0] != '.') {
			*out++ = '/';
			memmove(out, in, len);
			out += len;
		}
		in = end;
	}
	if (out == p)
		*out++ = '/';
	*out = '\0';
}

char *dos_path_absolute(const char *base, const char *path)
{
	char *r;

	if (path[0] == '/') {
		r = dos_xstrdup(path);
	} else if (base && base[0] == '/') {
		r = dos_path_join(base, path);
	} else {
		char cwd[PATH_MAX];
		_cleanup_free_ char *b = NULL;
		if (!getcwd(cwd, sizeof(cwd)))
			strcpy(cwd, "/");
		b = base ? dos_path_join(cwd, base) : dos_xstrdup(cwd);
		r = dos_path_join(b, path);
	}
	path_normalize(r);
	return r;
}

char *dos_path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return dos_xstrdup(".");
	if (slash == path)
		return dos_xstrdup("/");
	return dos_xasprintf("%.*s", (int)(slash - path), path);
}

static bool path_prefix(const char *root, const char *path)
{
	size_t n = strlen(root);

	if (n == 1 && root[0] == '/')
		return true;
	return !strncmp(path, root, n) && (path[n] == '/' || path[n] == '\0');
}

bool dos_path_within(const char *root, const char *path)
{
	_cleanup_free_ char *real_root = realpath(root, NULL);
	_cleanup_free_ char *at = dos_xstrdup(path);
	char *real = NULL;
	bool in;

	if (!real_root)
		return false;
	/* Up to the nearest ancestor that exists. */
	while (!(real = realpath(at, NULL)) && errno == ENOENT && strchr(at, '/') && strcmp(at, "/")) {
		char *up = dos_path_dirname(at);
		free(at);
		at = up;
	}
	in = real && path_prefix(real_root, real);
	free(real);
	return in;
}

/* --- string vectors --- */

void dos_strv_push_owned(struct dos_strv *sv, char *s)
{
	if (sv->n + 2 > sv->alloc) {
		sv->alloc = sv->alloc ? sv->alloc * 2 : 8;
		sv->v = dos_xrealloc(sv->v, sv->alloc * sizeof(char *));
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

void dos_strv_push(struct dos_strv *sv, const char *s)
{
	dos_strv_push_owned(sv, dos_xstrdup(s));
}

void dos_strv_release(struct dos_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	memset(sv, 0, sizeof(*sv));
}

bool dos_strv_contains(const struct dos_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (!strcmp(sv->v[i], s))
			return true;
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void dos_strv_sort(struct dos_strv *sv)
{
	if (sv->n > 1)
		dos_qsort(sv->v, sv->n, sizeof(char *), cmp_str);
}

void dos_qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

int dos_python3_minor(const char *name)
{
	char *end;
	long minor;

	if (strncmp(name, "python3.", 8) != 0 || name[8] < '0' || name[8] > '9')
		return -1;
	minor = strtol(name + 8, &end, 10);
	return *end == '\0' && minor < 1000 ? (int)minor : -1;
}

void dos_log_append(const char *log, const char *fmt, ...)
{
	FILE *f = log ? fopen(log, "ae") : NULL;
	va_list ap;

	if (!f)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}
