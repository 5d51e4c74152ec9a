/* relocate.c: the finalize pass that makes a bundle tree relocatable.
 *
 * The tree is walked once (without following symlinks) into a sorted list
 * of entries; each later step works from that list. Paths are kept relative
 * to the root, with no leading slash ("" is the root itself). Symlinks are
 * resolved the way the kernel would if the root were "/", so nothing a link
 * says can make us read or write outside the root, except the one
 * deliberate read: copying a host file a link points to. Scripts' shebangs
 * are made relocatable by relocate_scripts.c. */
#include "relocate_internal.h"

#include "elffile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINKS_FOLLOWED_MAX 40
#define WALK_DEPTH_MAX 256

void dos_relocate_report_release(struct dos_relocate_report *rep)
{
	dos_strv_release(&rep->removed);
	dos_strv_release(&rep->broken_links);
	dos_strv_release(&rep->copied_links);
	dos_strv_release(&rep->relinked);
	dos_strv_release(&rep->hardlinks_split);
	dos_strv_release(&rep->setuid_cleared);
	dos_strv_release(&rep->scripts_fixed);
	dos_strv_release(&rep->rpath_failed);
	memset(rep, 0, sizeof(*rep));
}

/* --- paths --- */

char *relocate_full_path(const struct tree *t, const char *rel)
{
	return *rel ? dos_path_join(t->root, rel) : dos_xstrdup(t->root);
}

/* The folder part of a root-relative path ("" at the top). */
char *relocate_rel_dirname(const char *rel)
{
	const char *slash = strrchr(rel, '/');

	return slash ? dos_xasprintf("%.*s", (int)(slash - rel), rel) : dos_xstrdup("");
}

const char *relocate_base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* The length of the longest run of whole components a and b share. */
static size_t common_prefix(const char *a, const char *b)
{
	size_t last = 0;

	for (size_t i = 0;; i++) {
		bool ea = !a[i] || a[i] == '/', eb = !b[i] || b[i] == '/';
		if (ea && eb)
			last = i;
		if (a[i] != b[i] || !a[i])
			return last;
	}
}

char *dos_relocate_relpath(const char *from, const char *to)
{
	size_t common = common_prefix(from, to), ups = 0, len;
	const char *rf = from + common + strspn(from + common, "/");
	const char *rt = to + common + strspn(to + common, "/");
	char *out;

	if (*rf)
		ups = 1;
	for (const char *p = rf; *p; p++)
		ups += *p == '/';
	out = dos_xmalloc(3 * ups + strlen(rt) + 2);
	for (size_t i = 0; i < ups; i++)
		memcpy(out + 3 * i, "../", 3);
	strcpy(out + 3 * ups, rt);
	len = strlen(out);
	if (len == 0)
		strcpy(out, ".");
	else if (out[len - 1] == '/')
		out[len - 1] = '\0';
	return out;
}

/* An absolute path under build_prefix or under the root itself names a
 * bundle path: "/build/x/usr/lib/y" -> "/usr/lib/y". */
char *relocate_map_absolute(const struct tree *t, const char *path)
{
	const char *prefixes[] = { t->build_prefix, t->root };

	if (path[0] != '/')
		return dos_xstrdup(path);
	for (int i = 0; i < 2; i++) {
		size_t n = prefixes[i] ? strlen(prefixes[i]) : 0;
		while (n > 1 && prefixes[i][n - 1] == '/')
			n--;
		if (n > 1 && !strncmp(path, prefixes[i], n) && (path[n] == '/' || !path[n]))
			return dos_xasprintf("/%s", path + n + (path[n] == '/'));
	}
	return dos_xstrdup(path);
}

static char *link_read(const char *path)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf));

	if (n < 0 || (size_t)n >= sizeof(buf))
		return NULL;
	return dos_xasprintf("%.*s", (int)n, buf);
}

/* One step of resolution: cur is a real folder (relative to the root),
 * name a component in it. Returns 1 and the new cur, 2 with *link set when
 * name is a symlink, 0 when it does not exist or is not a folder but more
 * follows. */
static int resolve_step(const struct tree *t, char **cur, const char *name, bool more,
			char **link)
{
	char *cand = **cur ? dos_xasprintf("%s/%s", *cur, name) : dos_xstrdup(name);
	char *full = relocate_full_path(t, cand);
	struct stat st;
	int r = 0;

	if (lstat(full, &st) < 0) {
		r = 0;
	} else if (S_ISLNK(st.st_mode)) {
		*link = link_read(full);
		r = *link ? 2 : 0;
	} else if (!more || S_ISDIR(st.st_mode)) {
		free(*cur);
		*cur = dos_steal(&cand);
		r = 1;
	}
	free(cand);
	free(full);
	return r;
}

static void component_up(char *cur, bool *climbed)
{
	char *slash = strrchr(cur, '/');

	if (!*cur)
		*climbed = true;
	else if (slash)
		*slash = '\0';
	else
		cur[0] = '\0';
}

/* Continues resolution with the link's target in front of what is left. */
static void todo_splice(const struct tree *t, char **todo, size_t *pos, const char *link,
			char *cur)
{
	char *mapped = relocate_map_absolute(t, link);
	char *next = dos_xasprintf("%s/%s", mapped, *todo + *pos);

	if (mapped[0] == '/')
		cur[0] = '\0';
	free(*todo);
	free(mapped);
	*todo = next;
	*pos = 0;
}

/* Resolves target as seen from folder dir, following symlinks inside the
 * root (at most LINKS_FOLLOWED_MAX), ".." at the top staying at the top.
 * True, with the real path in *out, when it exists; climbed tells whether a
 * ".." tried to leave the root. */
bool relocate_bundle_resolve(const struct tree *t, const char *dir, const char *target,
			     char **out, bool *climbed)
{
	char *todo = relocate_map_absolute(t, target), *cur = dos_xstrdup(target[0] == '/' ? "" : dir);
	size_t pos = 0;
	int links = 0, r = 1;

	*climbed = false;
	for (;;) {
		char *name, *link = NULL;
		pos += strspn(todo + pos, "/");
		if (!todo[pos])
			break;
		name = dos_xasprintf("%.*s", (int)strcspn(todo + pos, "/"), todo + pos);
		pos += strlen(name);
		r = 1;
		if (!strcmp(name, ".."))
			component_up(cur, climbed);
		else if (strcmp(name, "."))
			r = resolve_step(t, &cur, name, todo[pos + strspn(todo + pos, "/")] != '\0', &link);
		free(name);
		if (r == 2 && ++links <= LINKS_FOLLOWED_MAX) {
			todo_splice(t, &todo, &pos, link, cur);
			r = 1;
		}
		free(link);
		if (r != 1)
			break;
	}
	free(todo);
	if (r != 1) {
		free(cur);
		return false;
	}
	*out = cur;
	return true;
}

/* --- file replacement --- */

static char *temp_name_beside(const char *path)
{
	_cleanup_free_ char *dir = dos_path_dirname(path);

	return dos_xasprintf("%s/.dos-relocate-XXXXXX", dir);
}

/* Closes the temporary file fd, gives it its mode and renames it to dst;
 * on an error (err on entry included) removes it. No fsync: after a crash
 * the bundle is rebuilt anyway. */
static int temp_commit(struct dos_ctx *ctx, int fd, const char *tmp, const char *dst,
		       mode_t mode, int err)
{
	err = dos_tmpfile_commit(fd, tmp, dst, mode, err);
	return err ? dos_error_errno(ctx, DOS_EIO, err, "cannot write '%s'", dst) : 0;
}

/* Replaces dst (a link or a file) by a copy of src with the given mode.
 * src may be dst itself. */
static int file_copy_over(struct dos_ctx *ctx, const char *src, const char *dst, mode_t mode)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *tmp = temp_name_beside(dst);
	int out;

	if (in < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot open '%s'", src);
	out = mkostemp(tmp, O_CLOEXEC);
	if (out < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot create a file beside '%s'", dst);
	return temp_commit(ctx, out, tmp, dst, mode, dos_copy_full(in, out));
}

/* Replaces path with head + rest. */
int relocate_file_write_replace(struct dos_ctx *ctx, const char *path, mode_t mode,
				const char *head, size_t head_len, const char *rest,
				size_t rest_len)
{
	_cleanup_free_ char *tmp = temp_name_beside(path);
	int fd = mkostemp(tmp, O_CLOEXEC), err;

	if (fd < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot create a file beside '%s'", path);
	err = dos_write_full(fd, head, head_len);
	if (!err)
		err = dos_write_full(fd, rest, rest_len);
	return temp_commit(ctx, fd, tmp, path, mode, err);
}

static int link_replace(struct dos_ctx *ctx, const char *path, const char *target)
{
	_cleanup_free_ char *dir = dos_path_dirname(path), *tmp = NULL;
	static unsigned counter;

	tmp = dos_xasprintf("%s/.dos-link-%d-%u", dir, (int)getpid(),
			    __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
	if (symlink(target, tmp) < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot create link '%s'", tmp);
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return dos_error_errno(ctx, DOS_EIO, e, "cannot replace link '%s'", path);
	}
	return 0;
}

/* --- removed folders and the walk --- */

/* A removed folder is only followed through real folders: a symlinked
 * component could point out of the bundle. */
static bool rel_is_safe(const struct tree *t, const char *rel)
{
	_cleanup_free_ char *p = dos_xstrdup(rel);
	struct stat st;

	if (!*rel || rel[0] == '/')
		return false;
	for (char *s = p; ; s++) {
		char *end = strchrnul(s, '/'), c = *end;
		*end = '\0';
		if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
			return false;
		if (!c)
			return true;
		_cleanup_free_ char *full = relocate_full_path(t, p);
		if (lstat(full, &st) < 0 || !S_ISDIR(st.st_mode))
			return false;
		*end = '/';
		s = end;
	}
}

static int folders_remove(struct dos_ctx *ctx, const struct tree *t, const struct dos_strv *list,
			  struct dos_relocate_report *rep)
{
	for (size_t i = 0; list && i < list->n; i++) {
		_cleanup_free_ char *full = relocate_full_path(t, list->v[i]);
		struct stat st;
		int r;

		/* Nothing there (not even a broken path): nothing to remove. */
		if (lstat(full, &st) < 0)
			continue;
		if (!rel_is_safe(t, list->v[i])) {
			dos_warn(ctx, "removed folder '%s': not a plain path inside the bundle, kept",
				 list->v[i]);
			continue;
		}
		r = dos_rm_rf(ctx, full);
		if (r < 0)
			return r;
		dos_strv_push(&rep->removed, list->v[i]);
	}
	return 0;
}

static bool is_bytecode(const char *name, const struct stat *st)
{
	size_t n = strlen(name);

	if (S_ISDIR(st->st_mode))
		return !strcmp(name, "__pycache__");
	return n > 4 && (!strcmp(name + n - 4, ".pyc") || !strcmp(name + n - 4, ".pyo"));
}

static void entry_push(struct tree *t, char *rel, const struct stat *st)
{
	if (t->n == t->alloc) {
		t->alloc = t->alloc ? 2 * t->alloc : 256;
		t->v = dos_xrealloc(t->v, t->alloc * sizeof(*t->v));
	}
	t->v[t->n++] = (struct entry){ rel, st->st_mode, st->st_nlink, st->st_size, false };
}

static int walk_dir(struct dos_ctx *ctx, struct tree *t, const char *rel, int depth,
		    struct dos_relocate_report *rep);

static int walk_one(struct dos_ctx *ctx, struct tree *t, const char *rel, int depth,
		    struct dos_relocate_report *rep)
{
	_cleanup_free_ char *full = relocate_full_path(t, rel);
	struct stat st;

	if (lstat(full, &st) < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot read '%s'", full);
	if (is_bytecode(relocate_base_name(rel), &st)) {
		rep->bytecode_removed++;
		return dos_rm_rf(ctx, full);
	}
	if (S_ISDIR(st.st_mode))
		return walk_dir(ctx, t, rel, depth + 1, rep);
	entry_push(t, dos_xstrdup(rel), &st);
	return 0;
}

static int walk_dir(struct dos_ctx *ctx, struct tree *t, const char *rel, int depth,
		    struct dos_relocate_report *rep)
{
	_cleanup_free_ char *full = relocate_full_path(t, rel);
	struct dos_strv names = { 0 };
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (depth > WALK_DEPTH_MAX)
		return dos_error(ctx, DOS_EFORMAT, "'%s': folders nested too deep", full);
	d = opendir(full);
	if (!d)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot open folder '%s'", full);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			dos_strv_push(&names, de->d_name);
	closedir(d);
	for (size_t i = 0; i < names.n && r == 0; i++) {
		_cleanup_free_ char *child = *rel ? dos_xasprintf("%s/%s", rel, names.v[i])
						  : dos_xstrdup(names.v[i]);
		r = walk_one(ctx, t, child, depth, rep);
	}
	dos_strv_release(&names);
	return r;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->rel, ((const struct entry *)b)->rel);
}

/* --- symlinks --- */

enum link_mode { LINK_RESOLVE, LINK_COPY, LINK_BREAK };

/* A host file a link may bring in: a regular file anyone may read, so that
 * a link to /etc/shadow or to /proc cannot leak the build host's secrets. */
static bool host_file_ok(const char *host, struct stat *st)
{
	static const char *const virtual[] = { "/proc/", "/sys/", "/dev/", "/run/" };

	for (size_t i = 0; i < 4; i++)
		if (!strncmp(host, virtual[i], strlen(virtual[i])))
			return false;
	return stat(host, st) == 0 && S_ISREG(st->st_mode) && (st->st_mode & S_IROTH);
}

/* Fixes the link when its target resolves in the bundle; with LINK_COPY
 * also when the host has the file it points out to; with LINK_BREAK removes
 * it. Returns 1 when the link is settled, 0 when it stays pending. */
static int link_fix(struct dos_ctx *ctx, struct tree *t, struct entry *en, enum link_mode mode,
		    struct dos_relocate_report *rep)
{
	_cleanup_free_ char *full = relocate_full_path(t, en->rel), *dir = relocate_rel_dirname(en->rel);
	_cleanup_free_ char *target = link_read(full), *mapped = NULL, *res = NULL, *rel = NULL;
	_cleanup_free_ char *abs_dir = NULL, *host = NULL;
	bool climbed, leaves;
	struct stat st;
	int r;

	if (!target)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot read link '%s'", full);
	mapped = relocate_map_absolute(t, target);
	if (relocate_bundle_resolve(t, dir, mapped, &res, &climbed)) {
		if (mapped[0] != '/' && !climbed)
			return 1;
		rel = dos_relocate_relpath(dir, res);
		r = link_replace(ctx, full, rel);
		if (r == 0)
			dos_strv_push(&rep->relinked, en->rel);
		return r < 0 ? r : 1;
	}
	leaves = mapped[0] == '/' || climbed;
	abs_dir = dos_xasprintf("/%s", dir);
	host = dos_path_absolute(abs_dir, mapped);
	if (mode == LINK_COPY && leaves && host_file_ok(host, &st)) {
		r = file_copy_over(ctx, host, full, st.st_mode & 0755);
		if (r < 0)
			return r;
		en->mode = S_IFREG | (st.st_mode & 0755);
		en->size = st.st_size;
		en->nlink = 1;
		dos_strv_push(&rep->copied_links, en->rel);
		return 1;
	}
	if (mode != LINK_BREAK)
		return 0;
	if (unlink(full) < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot remove broken link '%s'", full);
	en->gone = true;
	dos_strv_push(&rep->broken_links, en->rel);
	return 1;
}

/* Relinking keeps every link's meaning, so one pass settles all links that
 * resolve; copies from the host can make more resolve, hence the second
 * pass; whatever is left is broken. */
static int links_fix(struct dos_ctx *ctx, struct tree *t, struct dos_relocate_report *rep)
{
	static const enum link_mode modes[] = { LINK_RESOLVE, LINK_COPY, LINK_RESOLVE, LINK_BREAK };
	bool *done = dos_xcalloc(t->n + 1, sizeof(bool));
	int r = 0;

	for (size_t m = 0; m < 4 && r >= 0; m++) {
		for (size_t i = 0; i < t->n && r >= 0; i++) {
			if (done[i] || !S_ISLNK(t->v[i].mode))
				continue;
			r = link_fix(ctx, t, &t->v[i], modes[m], rep);
			done[i] = r > 0;
		}
	}
	free(done);
	return r < 0 ? r : 0;
}

/* --- hard links and setuid bits --- */

static int hardlinks_split(struct dos_ctx *ctx, struct tree *t, struct dos_relocate_report *rep)
{
	for (size_t i = 0; i < t->n; i++) {
		struct entry *en = &t->v[i];
		_cleanup_free_ char *full = NULL;
		struct stat st;
		int r;

		if (!S_ISREG(en->mode) || en->nlink < 2)
			continue;
		full = relocate_full_path(t, en->rel);
		if (lstat(full, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink < 2)
			continue;
		r = file_copy_over(ctx, full, full, st.st_mode & 07777);
		if (r < 0)
			return r;
		dos_strv_push(&rep->hardlinks_split, en->rel);
	}
	return 0;
}

static int setuid_clear(struct dos_ctx *ctx, struct tree *t, struct dos_relocate_report *rep)
{
	for (size_t i = 0; i < t->n; i++) {
		struct entry *en = &t->v[i];
		_cleanup_free_ char *full = NULL;
		struct stat st;

		if (!S_ISREG(en->mode) || !(en->mode & (S_ISUID | S_ISGID)))
			continue;
		full = relocate_full_path(t, en->rel);
		if (lstat(full, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		en->mode = st.st_mode & ~(mode_t)(S_ISUID | S_ISGID);
		if (chmod(full, en->mode & 07777) < 0)
			return dos_error_errno(ctx, DOS_EIO, errno, "cannot clear the setuid bit of '%s'",
					       full);
		dos_strv_push(&rep->setuid_cleared, en->rel);
	}
	return 0;
}

/* --- the library index and the rpath of each ELF file --- */

static int lib_ref_cmp(const void *a, const void *b)
{
	const struct lib_ref *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->dir, y->dir);
}

/* Every file or link whose name looks like a shared library, by name. The
 * strings point into the entries; dir strings are owned by the index. */
static void index_build(struct tree *t)
{
	t->libs = dos_xcalloc(t->n + 1, sizeof(*t->libs));
	for (size_t i = 0; i < t->n; i++) {
		const struct entry *en = &t->v[i];
		const char *name = relocate_base_name(en->rel);

		if (en->gone || !(S_ISREG(en->mode) || S_ISLNK(en->mode)) || !strstr(name, ".so"))
			continue;
		t->libs[t->nlibs++] = (struct lib_ref){ name, relocate_rel_dirname(en->rel) };
	}
	dos_qsort(t->libs, t->nlibs, sizeof(*t->libs), lib_ref_cmp);
}

static void index_release(struct tree *t)
{
	for (size_t i = 0; i < t->nlibs; i++)
		free((char *)t->libs[i].dir);
	free(t->libs);
	t->libs = NULL;
	t->nlibs = 0;
}

static const char *multiarch(uint16_t machine)
{
	switch (machine) {
	case DOS_ELF_EM_X86_64: return "x86_64-linux-gnu";
	case DOS_ELF_EM_AARCH64: return "aarch64-linux-gnu";
	case DOS_ELF_EM_386: return "i386-linux-gnu";
	case DOS_ELF_EM_ARM: return "arm-linux-gnueabihf";
	}
	return NULL;
}

/* Lower is preferred: the ELF file's own folder, the standard library
 * folders in the order ld.so would search them, their subfolders, the
 * rest. */
static int folder_rank(const char *folder, const char *own, const char *triplet)
{
	static const char *const bases[] = { "lib", "usr/lib", "lib64", "usr/lib64" };
	char buf[96];

	if (!strcmp(folder, own))
		return 0;
	for (int i = 0; triplet && i < 2; i++) {
		snprintf(buf, sizeof(buf), "%s/%s", bases[i], triplet);
		if (!strcmp(folder, buf))
			return 1 + i;
	}
	for (int i = 0; i < 4; i++)
		if (!strcmp(folder, bases[i]))
			return 3 + i;
	for (int i = 0; i < 4; i++) {
		size_t n = strlen(bases[i]);
		if (!strncmp(folder, bases[i], n) && folder[n] == '/')
			return 10;
	}
	return 20;
}

struct rpath_ctx {
	const char *own, *triplet;
};

static int folder_cmp(const void *a, const void *b, void *arg)
{
	const struct rpath_ctx *rc = arg;
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	int d = folder_rank(x, rc->own, rc->triplet) - folder_rank(y, rc->own, rc->triplet);

	return d ? d : strcmp(x, y);
}

/* The best folder of the bundle that holds a file named name, or NULL. */
static const char *index_find(const struct tree *t, const char *name, const struct rpath_ctx *rc)
{
	size_t lo = 0, hi = t->nlibs;
	const char *best = NULL;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(t->libs[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < t->nlibs && !strcmp(t->libs[lo].name, name); lo++)
		if (!best || folder_cmp(&t->libs[lo].dir, &best, (void *)rc) < 0)
			best = t->libs[lo].dir;
	return best;
}

static char *rpath_join(const struct dos_strv *folders, const char *own)
{
	char *out = dos_xstrdup("");

	for (size_t i = 0; i < folders->n; i++) {
		_cleanup_free_ char *rel = dos_relocate_relpath(own, folders->v[i]);
		bool here = !strcmp(rel, ".");
		char *next = dos_xasprintf("%s%s$ORIGIN%s%s", out, i ? ":" : "", here ? "" : "/",
					   here ? "" : rel);
		free(out);
		out = next;
	}
	return out;
}

/* "$ORIGIN/../lib:..." for the folders holding the needed libraries, or
 * NULL when none is in the bundle. */
static char *rpath_compute(const struct tree *t, const char *own, const struct dos_elf_info *info)
{
	struct rpath_ctx rc = { own, multiarch(info->machine) };
	struct dos_strv folders = { 0 };
	char *out = NULL;

	for (size_t i = 0; i < info->needed.n; i++) {
		const char *dir = strchr(info->needed.v[i], '/') ? NULL
			: index_find(t, info->needed.v[i], &rc);
		if (dir && !dos_strv_contains(&folders, dir))
			dos_strv_push(&folders, dir);
	}
	if (folders.n) {
		qsort_r(folders.v, folders.n, sizeof(char *), folder_cmp, &rc);
		out = rpath_join(&folders, own);
	}
	dos_strv_release(&folders);
	return out;
}

/* --- ELF workers --- */

struct elf_job {
	size_t entry;
	bool is_elf, set;
	char *failure;  /* "path: reason" */
};

struct elf_pool {
	struct dos_ctx *ctx;
	const struct tree *t;
	struct elf_job *jobs;
	size_t njobs, next;
};

static bool file_is_elf(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	char magic[4];

	return fd >= 0 && pread(fd, magic, 4, 0) == 4 && dos_elf_is_elf(magic, 4);
}

static void elf_job_run(struct dos_ctx *ctx, const struct tree *t, struct elf_job *job)
{
	const struct entry *en = &t->v[job->entry];
	_cleanup_free_ char *full = relocate_full_path(t, en->rel), *dir = NULL, *rpath = NULL;
	struct dos_elf_info info;
	int r;

	if (!file_is_elf(full))
		return;
	job->is_elf = true;
	r = dos_elf_read(ctx, full, &info);
	if (r == 0 && info.dynamic && info.needed.n) {
		dir = relocate_rel_dirname(en->rel);
		rpath = rpath_compute(t, dir, &info);
	}
	if (r == 0)
		dos_elf_info_release(&info);
	if (r == 0 && rpath) {
		r = dos_elf_set_rpath(ctx, full, rpath);
		job->set = r == DOS_ELF_RPATH_SET;
	}
	if (r < 0)
		job->failure = dos_xasprintf("%s: %s", en->rel, ctx->msg);
}

static void *elf_worker(void *arg)
{
	struct elf_pool *p = arg;
	struct dos_ctx ctx = *p->ctx;

	for (;;) {
		size_t i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED);
		if (i >= p->njobs)
			break;
		dos_error_clear(&ctx);
		elf_job_run(&ctx, p->t, &p->jobs[i]);
	}
	return NULL;
}

static void elf_pool_run(struct elf_pool *p, int threads)
{
	pthread_t *tids;
	int started = 0;

	if (threads > (int)p->njobs)
		threads = (int)p->njobs;
	tids = dos_xcalloc((size_t)threads + 1, sizeof(*tids));
	for (int i = 1; i < threads; i++)
		if (pthread_create(&tids[started], NULL, elf_worker, p) == 0)
			started++;
	elf_worker(p); /* this thread works too */
	for (int i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
}

static void elf_files_process(struct dos_ctx *ctx, const struct tree *t, int threads,
			      struct dos_relocate_report *rep)
{
	struct elf_pool p = { .ctx = ctx, .t = t };

	p.jobs = dos_xcalloc(t->n + 1, sizeof(*p.jobs));
	for (size_t i = 0; i < t->n; i++)
		if (!t->v[i].gone && S_ISREG(t->v[i].mode) && t->v[i].size >= 52)
			p.jobs[p.njobs++].entry = i;
	if (p.njobs)
		elf_pool_run(&p, threads > 0 ? threads : (ctx->jobs > 0 ? ctx->jobs : 1));
	for (size_t i = 0; i < p.njobs; i++) {
		rep->elf_files += p.jobs[i].is_elf;
		rep->rpaths_set += p.jobs[i].set;
		if (p.jobs[i].failure)
			dos_strv_push_owned(&rep->rpath_failed, p.jobs[i].failure);
	}
	free(p.jobs);
}

/* --- the pass --- */

static void tree_release(struct tree *t)
{
	index_release(t);
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].rel);
	free(t->v);
}

static int relocate_steps(struct dos_ctx *ctx, struct tree *t, const struct dos_relocate_opts *o,
			  struct dos_relocate_report *rep)
{
	int r = folders_remove(ctx, t, o->removed_folders, rep);

	if (r == 0)
		r = walk_dir(ctx, t, "", 0, rep);
	if (r < 0)
		return r;
	if (t->n)
		dos_qsort(t->v, t->n, sizeof(*t->v), entry_cmp);
	r = links_fix(ctx, t, rep);
	if (r == 0)
		r = hardlinks_split(ctx, t, rep);
	if (r == 0)
		r = setuid_clear(ctx, t, rep);
	if (r < 0)
		return r;
	index_build(t);
	elf_files_process(ctx, t, o->threads, rep);
	return relocate_scripts_fix(ctx, t, rep);
}

int dos_relocate_tree(struct dos_ctx *ctx, const struct dos_relocate_opts *o,
		      struct dos_relocate_report *rep)
{
	_cleanup_free_ char *root = realpath(o->root, NULL);
	struct tree t = { .build_prefix = o->build_prefix };
	struct stat st;
	int r;

	memset(rep, 0, sizeof(*rep));
	if (!root || stat(root, &st) < 0 || !S_ISDIR(st.st_mode))
		return dos_error(ctx, DOS_EIO, "bundle root '%s' is not a folder", o->root);
	t.root = root;
	r = relocate_steps(ctx, &t, o, rep);
	tree_release(&t);
	if (r < 0)
		return dos_error_prefix(ctx, "relocating '%s'", o->root);
	return 0;
}
