/* .deb files from install trees, as dpkg-deb writes them: see build.h.
 * The members are written with libarchive (GNU tar, xz), the ar archive by
 * hand: a 60-byte header per member is all dpkg reads. */
#include "build.h"
#include "elffile.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IO_BLOCK (1 << 16)
#define DPKG_LIST_MAX (64 << 20)

/* --- small helpers --- */

bool dos_build_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > 200 || (!islower((unsigned char)s[0]) && !isdigit((unsigned char)s[0])))
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && !strchr("+-.", *s))
			return false;
	return true;
}

bool dos_build_version_valid(const char *s)
{
	const char *colon = strchr(s, ':'), *up = colon ? colon + 1 : s;

	for (const char *p = s; colon && p < colon; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	if (!isdigit((unsigned char)*up) || strlen(s) > 200 || (colon && colon == s))
		return false;
	for (const char *p = up; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(".+~-", *p))
			return false;
	return true;
}

/* --- the install tree --- */

struct entry {
	char *rel;
	mode_t mode;
	uint64_t size;
};

struct tree {
	struct entry *v;
	size_t n, alloc;
	struct dos_strv elf;     /* relative paths of the ELF files */
};

static void tree_release(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].rel);
	free(t->v);
	dos_strv_release(&t->elf);
}

static bool file_is_elf(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	unsigned char magic[4];

	return fd >= 0 && read(fd, magic, 4) == 4 && dos_elf_is_elf(magic, 4);
}

static int tree_add(struct dos_ctx *ctx, struct tree *t, const char *root, char *rel)
{
	_cleanup_free_ char *path = dos_path_join(root, rel);
	struct stat st;

	if (lstat(path, &st) < 0) {
		free(rel);
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot stat '%s'", path);
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
		free(rel);
		return dos_error(ctx, DOS_EFORMAT, "'%s' is not a file, folder or symlink; a "
				 "package holds no device, fifo or socket", path);
	}
	if (t->n == t->alloc) {
		t->alloc = t->alloc ? 2 * t->alloc : 64;
		t->v = dos_xrealloc(t->v, t->alloc * sizeof(*t->v));
	}
	t->v[t->n++] = (struct entry){ rel, st.st_mode, S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0 };
	if (S_ISREG(st.st_mode) && file_is_elf(path))
		dos_strv_push(&t->elf, rel);
	return 0;
}

static int tree_walk(struct dos_ctx *ctx, struct tree *t, const char *root, const char *rel)
{
	_cleanup_free_ char *path = rel ? dos_path_join(root, rel) : dos_xstrdup(root);
	DIR *d = opendir(path);
	struct dirent *e;
	int r = 0;

	if (!d)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot read '%s'", path);
	while (r == 0 && (e = readdir(d))) {
		size_t at = t->n;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		r = tree_add(ctx, t, root, rel ? dos_xasprintf("%s/%s", rel, e->d_name)
					      : dos_xstrdup(e->d_name));
		if (r == 0 && S_ISDIR(t->v[at].mode))
			r = tree_walk(ctx, t, root, t->v[at].rel);
	}
	closedir(d);
	return r;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->rel, ((const struct entry *)b)->rel);
}

static int tree_collect(struct dos_ctx *ctx, const char *root, struct tree *t)
{
	int r = tree_walk(ctx, t, root, NULL);

	if (r == 0)
		dos_qsort(t->v, t->n, sizeof(*t->v), entry_cmp);
	dos_strv_sort(&t->elf);
	return r;
}

/* --- Depends: from DT_NEEDED to the packages shipping the libraries --- */

/* The multiarch folder name of a Debian architecture, or NULL. */
static const char *arch_triplet(const char *arch)
{
	static const char *const map[][2] = {
		{ "amd64", "x86_64-linux-gnu" }, { "arm64", "aarch64-linux-gnu" },
		{ "i386", "i386-linux-gnu" }, { "armhf", "arm-linux-gnueabihf" },
		{ "ppc64el", "powerpc64le-linux-gnu" }, { "s390x", "s390x-linux-gnu" },
		{ "riscv64", "riscv64-linux-gnu" },
	};

	for (size_t i = 0; arch && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(arch, map[i][0]))
			return map[i][1];
	return NULL;
}

/* /lib, /usr/lib, /lib64, /usr/lib64 and the architecture's multiarch
 * folders under the first two (any "*-linux-*" one when it is unknown). */
static bool libdir_ok(const char *dir, size_t n, const char *triplet)
{
	static const char *const dirs[] = { "/lib", "/usr/lib", "/lib64", "/usr/lib64" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		size_t dn = strlen(dirs[i]);
		const char *sub = dir + dn + 1;
		size_t sn = n - dn - 1;
		if (n == dn && !strncmp(dir, dirs[i], n))
			return true;
		if (i >= 2 || n <= dn + 1 || strncmp(dir, dirs[i], dn) || dir[dn] != '/' ||
		    memchr(sub, '/', sn))
			continue;
		if (triplet ? sn == strlen(triplet) && !strncmp(sub, triplet, sn)
			    : memmem(sub, sn, "-linux-", 7) != NULL)
			return true;
	}
	return false;
}

static bool tree_ships(const struct tree *t, const char *soname)
{
	for (size_t i = 0; i < t->n; i++) {
		const char *base = strrchr(t->v[i].rel, '/');
		if (!strcmp(base ? base + 1 : t->v[i].rel, soname))
			return true;
	}
	return false;
}

/* The sonames the tree's ELF files need and it does not ship; who[k] is
 * the first file needing needed[k]. */
static void needed_collect(struct dos_ctx *ctx, const char *root, const struct tree *t,
			   struct dos_strv *needed, struct dos_strv *who)
{
	for (size_t i = 0; i < t->elf.n; i++) {
		_cleanup_free_ char *path = dos_path_join(root, t->elf.v[i]);
		struct dos_elf_info info;
		struct dos_ctx quiet = *ctx;
		if (dos_elf_read(&quiet, path, &info) < 0) {
			dos_debug(ctx, "%s", quiet.msg);
			continue;
		}
		for (size_t k = 0; k < info.needed.n; k++) {
			const char *so = info.needed.v[k];
			if (dos_strv_contains(needed, so) || tree_ships(t, so))
				continue;
			dos_strv_push(needed, so);
			dos_strv_push(who, t->elf.v[i]);
		}
		dos_elf_info_release(&info);
	}
}

/* Reads one dpkg .list file: a line naming needed[k] in a library folder
 * makes pkg its provider, unless one was found already. */
static void list_scan(const char *path, const char *pkg, const char *triplet,
		      const struct dos_strv *needed, char **providers)
{
	struct dos_ctx quiet;
	_cleanup_free_ char *text = NULL;
	char *line, *save = NULL;

	dos_ctx_init(&quiet);
	if (dos_read_file(&quiet, path, DPKG_LIST_MAX, &text, NULL) < 0)
		return;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *base = strrchr(line, '/');
		if (!base || !libdir_ok(line, (size_t)(base - line), triplet))
			continue;
		for (size_t k = 0; k < needed->n; k++)
			if (!providers[k] && !strcmp(base + 1, needed->v[k]))
				providers[k] = dos_xstrdup(pkg);
	}
}

static void providers_find(const char *dpkg_root, const char *arch, const struct dos_strv *needed,
			   char **providers)
{
	_cleanup_free_ char *info = dos_path_join(dpkg_root, "var/lib/dpkg/info");
	struct dos_strv lists = { 0 };
	DIR *d = opendir(info);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n > 5 && !strcmp(e->d_name + n - 5, ".list"))
			dos_strv_push(&lists, e->d_name);
	}
	if (d)
		closedir(d);
	dos_strv_sort(&lists);   /* the first package in name order wins */
	for (size_t i = 0; i < lists.n; i++) {
		_cleanup_free_ char *path = dos_path_join(info, lists.v[i]);
		_cleanup_free_ char *pkg = dos_xstrdup(lists.v[i]);
		pkg[strcspn(pkg, ":")] = '\0';
		if (strlen(pkg) > 5 && !strcmp(pkg + strlen(pkg) - 5, ".list"))
			pkg[strlen(pkg) - 5] = '\0';
		list_scan(path, pkg, arch_triplet(arch), needed, providers);
	}
	dos_strv_release(&lists);
}

static void depends_compute(struct dos_ctx *ctx, const struct dos_deb_opts *o,
			    const struct tree *t, struct dos_deb_result *res)
{
	struct dos_strv needed = { 0 }, who = { 0 }, found = { 0 };
	char **providers;

	needed_collect(ctx, o->tree, t, &needed, &who);
	providers = dos_xcalloc(needed.n + 1, sizeof(*providers));
	if (o->dpkg_root && needed.n)
		providers_find(o->dpkg_root, o->arch, &needed, providers);
	for (size_t k = 0; k < needed.n; k++) {
		if (!providers[k])
			dos_strv_push_owned(&res->missing, dos_xasprintf("%s: %s", who.v[k], needed.v[k]));
		else if (strcmp(providers[k], o->package) && !dos_strv_contains(&found, providers[k]))
			dos_strv_push(&found, providers[k]);
		free(providers[k]);
	}
	free(providers);
	dos_strv_sort(&found);
	for (size_t k = 0; k < found.n; k++)
		dos_strv_push(&res->depends, found.v[k]);
	for (size_t k = 0; o->depends && k < o->depends->n; k++)
		if (!dos_strv_contains(&res->depends, o->depends->v[k]))
			dos_strv_push(&res->depends, o->depends->v[k]);
	dos_strv_release(&needed);
	dos_strv_release(&who);
	dos_strv_release(&found);
}

/* --- tar and ar members --- */

static int tar_open(struct dos_ctx *ctx, const char *path, struct archive **out)
{
	struct archive *a = archive_write_new();

	*out = a;
	if (archive_write_add_filter_xz(a) != ARCHIVE_OK ||
	    archive_write_set_format_gnutar(a) != ARCHIVE_OK ||
	    archive_write_open_filename(a, path) != ARCHIVE_OK)
		return dos_error(ctx, DOS_EIO, "cannot write '%s': %s", path, archive_error_string(a));
	return 0;
}

static int tar_close(struct dos_ctx *ctx, struct archive *a, const char *path, int r)
{
	if (archive_write_close(a) != ARCHIVE_OK && r == 0)
		r = dos_error(ctx, DOS_EIO, "cannot write '%s': %s", path, archive_error_string(a));
	archive_write_free(a);
	return r;
}

/* One entry: name ("./..."), mode with its type, and either a symlink
 * target, a host file to copy, or a buffer. */
struct tar_item {
	const char *name;
	mode_t mode;
	int64_t mtime;
	const char *link;
	const char *file;
	const void *buf;
	uint64_t size;
};

static int tar_data(struct dos_ctx *ctx, struct archive *a, const struct tar_item *it)
{
	_cleanup_close_ int fd = -1;
	char buf[IO_BLOCK];
	uint64_t left = it->size;
	ssize_t n;

	if (it->buf)
		return archive_write_data(a, it->buf, it->size) == (la_ssize_t)it->size ? 0
			: dos_error(ctx, DOS_EIO, "tar: %s", archive_error_string(a));
	if ((fd = open(it->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot open '%s'", it->file);
	while (left && (n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf))) > 0) {
		if (archive_write_data(a, buf, (size_t)n) != n)
			return dos_error(ctx, DOS_EIO, "tar: %s", archive_error_string(a));
		left -= (uint64_t)n;
	}
	return left ? dos_error(ctx, DOS_EIO, "'%s' changed while it was packed", it->file) : 0;
}

static int tar_add(struct dos_ctx *ctx, struct archive *a, const struct tar_item *it)
{
	struct archive_entry *e = archive_entry_new();
	int r = 0;

	archive_entry_set_pathname(e, it->name);
	archive_entry_set_mode(e, it->mode);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_uname(e, "root");
	archive_entry_set_gname(e, "root");
	archive_entry_set_mtime(e, it->mtime, 0);
	if (S_ISLNK(it->mode))
		archive_entry_set_symlink(e, it->link);
	archive_entry_set_size(e, S_ISREG(it->mode) ? (la_int64_t)it->size : 0);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		r = dos_error(ctx, DOS_EIO, "tar entry '%s': %s", it->name, archive_error_string(a));
	else if (S_ISREG(it->mode) && it->size)
		r = tar_data(ctx, a, it);
	archive_entry_free(e);
	return r;
}

static int data_entry(struct dos_ctx *ctx, struct archive *a, const char *root,
		      const struct entry *en, int64_t mtime)
{
	_cleanup_free_ char *path = dos_path_join(root, en->rel);
	_cleanup_free_ char *name = dos_xasprintf("./%s%s", en->rel, S_ISDIR(en->mode) ? "/" : "");
	char target[4096];
	struct tar_item it = { .name = name, .mode = (en->mode & S_IFMT) | (en->mode & 0777),
			       .mtime = mtime, .file = path, .size = en->size };
	ssize_t n;

	if (S_ISLNK(en->mode)) {
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			return dos_error_errno(ctx, DOS_EIO, errno, "cannot read the link '%s'", path);
		target[n] = '\0';
		it.link = target;
	}
	return tar_add(ctx, a, &it);
}

static int data_write(struct dos_ctx *ctx, const char *root, const struct tree *t,
		      int64_t mtime, const char *path)
{
	struct tar_item top = { .name = "./", .mode = S_IFDIR | 0755, .mtime = mtime };
	struct archive *a;
	int r = tar_open(ctx, path, &a);

	if (r == 0)
		r = tar_add(ctx, a, &top);
	for (size_t i = 0; r == 0 && i < t->n; i++)
		r = data_entry(ctx, a, root, &t->v[i], mtime);
	return tar_close(ctx, a, path, r);
}

static int control_write(struct dos_ctx *ctx, const char *text, int64_t mtime, const char *path)
{
	struct tar_item top = { .name = "./", .mode = S_IFDIR | 0755, .mtime = mtime };
	struct tar_item ctl = { .name = "./control", .mode = S_IFREG | 0644, .mtime = mtime,
				.buf = text, .size = strlen(text) };
	struct archive *a;
	int r = tar_open(ctx, path, &a);

	if (r == 0)
		r = tar_add(ctx, a, &top);
	if (r == 0)
		r = tar_add(ctx, a, &ctl);
	return tar_close(ctx, a, path, r);
}

/* An ar member as dpkg-deb writes it: the name without a slash, mode
 * 100644, owner 0, padded to an even size. */
static int ar_member(struct dos_ctx *ctx, int out, const char *name, const char *file,
		     const char *buf, int64_t mtime)
{
	_cleanup_close_ int in = -1;
	struct stat st = { .st_size = buf ? (off_t)strlen(buf) : 0 };
	char hdr[61];
	int r;

	if (file && ((in = open(file, O_RDONLY | O_CLOEXEC)) < 0 || fstat(in, &st) < 0))
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot read '%s'", file);
	snprintf(hdr, sizeof(hdr), "%-16s%-12lld%-6d%-6d%-8o%-10lld`\n", name, (long long)mtime,
		 0, 0, 0100644, (long long)st.st_size);
	r = dos_fd_write(ctx, out, hdr, 60, name);
	if (r == 0)
		r = buf ? dos_fd_write(ctx, out, buf, (size_t)st.st_size, name) : dos_fd_copy(ctx, in, out, file);
	if (r == 0 && st.st_size % 2)
		r = dos_fd_write(ctx, out, "\n", 1, name);
	return r;
}

static int ar_write(struct dos_ctx *ctx, const char *out_path, const char *control,
		    const char *data, int64_t mtime)
{
	struct dos_atomic af;
	int r = dos_atomic_open(ctx, &af, out_path, 0644);

	if (r < 0)
		return r;
	r = dos_fd_write(ctx, af.fd, "!<arch>\n", 8, out_path);
	if (r == 0)
		r = ar_member(ctx, af.fd, "debian-binary", NULL, "2.0\n", mtime);
	if (r == 0)
		r = ar_member(ctx, af.fd, "control.tar.xz", control, NULL, mtime);
	if (r == 0)
		r = ar_member(ctx, af.fd, "data.tar.xz", data, NULL, mtime);
	if (r == 0)
		return dos_atomic_commit(ctx, &af);
	dos_atomic_abort(&af);
	return r;
}

/* --- the .deb --- */

static char *control_text(const struct dos_deb_opts *o, const struct dos_deb_result *res)
{
	char *deps = dos_xstrdup(""), *next;

	for (size_t i = 0; i < res->depends.n; i++) {
		next = dos_xasprintf("%s%s%s", deps, i ? ", " : "", res->depends.v[i]);
		free(deps);
		deps = next;
	}
	next = dos_xasprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: diracos\n"
			     "Installed-Size: %llu\n%s%s%sSection: misc\nPriority: optional\n"
			     "Description: %s, built by diracos from a recipe\n",
			     o->package, o->version, res->arch, (unsigned long long)res->installed_kib,
			     res->depends.n ? "Depends: " : "", deps, res->depends.n ? "\n" : "",
			     o->package);
	free(deps);
	return next;
}

static uint64_t installed_kib(const struct tree *t)
{
	uint64_t kib = 0;

	for (size_t i = 0; i < t->n; i++)
		kib += S_ISREG(t->v[i].mode) ? (t->v[i].size + 1023) / 1024 : 1;
	return kib;
}

int dos_build_deb(struct dos_ctx *ctx, const struct dos_deb_opts *o, struct dos_deb_result *res)
{
	_cleanup_free_ char *ctl_path = dos_xasprintf("%s.control.tar.xz", o->out_path);
	_cleanup_free_ char *data_path = dos_xasprintf("%s.data.tar.xz", o->out_path);
	_cleanup_free_ char *control = NULL;
	struct tree t = { 0 };
	int r;

	memset(res, 0, sizeof(*res));
	r = tree_collect(ctx, o->tree, &t);
	if (r == 0) {
		res->arch = dos_xstrdup(t.elf.n ? o->arch : "all");
		res->installed_kib = installed_kib(&t);
		res->entries = t.n;
		depends_compute(ctx, o, &t, res);
		control = control_text(o, res);
		r = control_write(ctx, control, o->mtime, ctl_path);
	}
	if (r == 0)
		r = data_write(ctx, o->tree, &t, o->mtime, data_path);
	if (r == 0)
		r = ar_write(ctx, o->out_path, ctl_path, data_path, o->mtime);
	unlink(ctl_path);
	unlink(data_path);
	tree_release(&t);
	if (r < 0)
		dos_deb_result_release(res);
	return r < 0 ? dos_error_prefix(ctx, "package '%s'", o->package) : 0;
}

void dos_deb_result_release(struct dos_deb_result *res)
{
	free(res->arch);
	dos_strv_release(&res->depends);
	dos_strv_release(&res->missing);
	memset(res, 0, sizeof(*res));
}
