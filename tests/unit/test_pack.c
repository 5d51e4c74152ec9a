/* Reproducible tarballs: the same tree gives the same bytes whatever its
 * file times, creation order or thread count; what is inside is what the
 * tree holds; failures leave nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "pack.h"
#include "run.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EPOCH 1700000000

/* A file name component longer than ustar's 100 bytes: needs a pax header. */
#define LONG_NAME "this-file-name-is-longer-than-one-hundred-bytes-so-that-ustar-" \
	"cannot-hold-it-and-a-pax-header-is-needed.txt"
/* A path over 100 bytes that ustar's prefix field can still hold. */
#define SPLIT_PATH "long/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/" \
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.txt"

static void write_file(const char *root, const char *rel, const char *text, mode_t mode)
{
	char *path = dos_path_join(root, rel);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
	free(path);
}

static void make_dir(const char *root, const char *rel)
{
	char *path = dos_path_join(root, rel);

	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(chmod(path, 0755), 0);
	free(path);
}

static void make_link(const char *root, const char *rel, const char *target)
{
	char *path = dos_path_join(root, rel);

	assert_int_equal(symlink(target, path), 0);
	free(path);
}

/* Every path of the tree gets a different time, depending on seed. */
static void touch_all(const char *root, const char *rel, long seed)
{
	char *path = *rel ? dos_path_join(root, rel) : strdup(root);
	struct timespec ts[2] = { { 1000000 + seed * 7919, 0 }, { 2000000 + seed * 104729, 123 } };
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			char *sub = *rel ? dos_path_join(rel, de->d_name) : strdup(de->d_name);
			touch_all(root, sub, seed + 1);
			free(sub);
		}
		closedir(d);
	}
	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
	free(path);
}

/* The test tree; reverse creates it in the opposite order. */
static void make_tree(const char *root, bool reverse)
{
	static const char *const dirs[] = { "a", "bin", "empty", "lib", "long" };
	size_t nd = sizeof(dirs) / sizeof(dirs[0]);

	assert_int_equal(mkdir(root, 0755), 0);
	for (size_t i = 0; i < nd; i++)
		make_dir(root, dirs[reverse ? nd - 1 - i : i]);
	make_dir(root, "long/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	if (reverse) {
		make_link(root, "lib/libx.so", "libx.so.1");
		write_file(root, "lib/libx.so.1", "\177ELF not really\n", 0644);
		write_file(root, "bin/suid", "setuid\n", 04755);
		write_file(root, "bin/tool", "#!/bin/sh\necho hi\n", 0755);
	} else {
		write_file(root, "bin/tool", "#!/bin/sh\necho hi\n", 0755);
		write_file(root, "bin/suid", "setuid\n", 04755);
		write_file(root, "lib/libx.so.1", "\177ELF not really\n", 0644);
		make_link(root, "lib/libx.so", "libx.so.1");
	}
	write_file(root, "a0", "a0\n", 0644);
	write_file(root, "a/z", "z\n", 0600);
	write_file(root, "a-b", "a-b\n", 0644);
	write_file(root, "long/" LONG_NAME, "long\n", 0644);
	write_file(root, SPLIT_PATH, "split\n", 0644);
	assert_int_equal(chmod(root, 0755), 0);
}

/* Bytewise order: "a" < "a-b" < "a/z" < "a0" ('-' < '/' < '0'). */
static const char *const expected_order[] = {
	"diracos", "diracos/a", "diracos/a-b", "diracos/a/z", "diracos/a0",
	"diracos/bin", "diracos/bin/suid", "diracos/bin/tool", "diracos/empty",
	"diracos/lib", "diracos/lib/libx.so", "diracos/lib/libx.so.1", "diracos/long",
	"diracos/long/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	"diracos/" SPLIT_PATH, "diracos/long/" LONG_NAME,
};
#define N_EXPECTED (sizeof(expected_order) / sizeof(expected_order[0]))

static int pack_tree(struct dos_ctx *ctx, const char *root, const char *out, int threads,
		     struct dos_strv *comp, struct dos_pack_result *res)
{
	struct dos_pack_opts o = {
		.root = root, .top = "diracos", .out_dir = out, .basename = "diracos-1.0-x86_64",
		.compression = comp, .mtime = EPOCH, .threads = threads,
	};

	return dos_pack(ctx, &o, res);
}

static bool files_equal(const char *a, const char *b)
{
	struct dos_ctx ctx;
	char *da = NULL, *db = NULL;
	size_t la, lb;
	bool same;

	dos_ctx_init(&ctx);
	assert_int_equal(dos_read_file(&ctx, a, 1 << 26, &da, &la), 0);
	assert_int_equal(dos_read_file(&ctx, b, 1 << 26, &db, &lb), 0);
	same = la == lb && memcmp(da, db, la) == 0;
	free(da);
	free(db);
	return same;
}

/* Each test's folder, and the tree it packs there (tree, made by the test). */
struct fixture {
	struct dos_ctx ctx;
	struct dos_strv comp;      /* the compressions asked for */
	char *dir, *tree;
};

static int setup(void **state)
{
	struct fixture *f = dos_xcalloc(1, sizeof(*f));

	dos_ctx_init(&f->ctx);
	f->dir = th_tmpdir("pack");
	f->tree = dos_path_join(f->dir, "tree");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	dos_strv_release(&f->comp);
	th_tmpdir_remove(f->dir);
	free(f->tree);
	free(f);
	return 0;
}

static void test_reproducible(void **state)
{
	struct fixture *f = *state;
	struct dos_pack_result r1, r2;
	char *out1 = dos_path_join(f->dir, "out1"), *out2 = dos_path_join(f->dir, "out2");

	dos_strv_push(&f->comp, "zstd");
	dos_strv_push(&f->comp, "gzip");
	dos_strv_push(&f->comp, "xz");
	assert_int_equal(mkdir(out1, 0755), 0);
	assert_int_equal(mkdir(out2, 0755), 0);
	make_tree(f->tree, false);
	touch_all(f->tree, "", 1);
	assert_int_equal(pack_tree(&f->ctx, f->tree, out1, 1, &f->comp, &r1), 0);

	/* Recreated in the other order, other times, other thread count. */
	assert_int_equal(dos_rm_rf(&f->ctx, f->tree), 0);
	make_tree(f->tree, true);
	touch_all(f->tree, "", 42);
	assert_int_equal(pack_tree(&f->ctx, f->tree, out2, 3, &f->comp, &r2), 0);

	assert_int_equal(r1.paths.n, 3);
	assert_int_equal(r2.paths.n, 3);
	assert_true(strstr(r1.paths.v[0], "/out1/diracos-1.0-x86_64.tar.zst"));
	assert_true(strstr(r1.paths.v[1], "/out1/diracos-1.0-x86_64.tar.gz"));
	assert_true(strstr(r1.paths.v[2], "/out1/diracos-1.0-x86_64.tar.xz"));
	for (size_t i = 0; i < 3; i++) {
		struct stat st;
		assert_int_equal(stat(r1.paths.v[i], &st), 0);
		assert_int_equal(r1.sizes[i], st.st_size);
		assert_true(files_equal(r1.paths.v[i], r2.paths.v[i]));
	}
	assert_int_equal(r1.files, N_EXPECTED);
	assert_int_equal(r1.bytes, strlen("#!/bin/sh\necho hi\n") + strlen("setuid\n") +
			 strlen("\177ELF not really\n") + 3 + 2 + 4 + 5 + 6);
	/* Nothing but the tarballs: no temporaries left. */
	assert_int_equal(th_count_dir(out1), 3);
	dos_pack_result_release(&r1);
	dos_pack_result_release(&r2);
	free(out1);
	free(out2);
}

struct seen {
	char *name;
	mode_t type, perm;
	int64_t mtime, uid, gid;
	bool has_names;
	char *link;
};

static size_t read_back(const char *path, struct seen *seen, size_t max)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	size_t n = 0;

	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	assert_int_equal(archive_read_open_filename(a, path, 65536), ARCHIVE_OK);
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK && n < max) {
		struct seen *s = &seen[n++];
		char *name = strdup(archive_entry_pathname(ae));
		size_t len = strlen(name);
		if (len > 1 && name[len - 1] == '/')
			name[len - 1] = '\0';
		s->name = name;
		s->type = archive_entry_filetype(ae);
		s->perm = archive_entry_mode(ae) & 07777;
		s->mtime = archive_entry_mtime(ae);
		s->uid = archive_entry_uid(ae);
		s->gid = archive_entry_gid(ae);
		s->has_names = (archive_entry_uname(ae) && *archive_entry_uname(ae)) ||
			       (archive_entry_gname(ae) && *archive_entry_gname(ae));
		s->link = archive_entry_symlink(ae) ? strdup(archive_entry_symlink(ae)) : NULL;
		assert_false(archive_entry_atime_is_set(ae));
		assert_false(archive_entry_ctime_is_set(ae));
	}
	archive_read_free(a);
	return n;
}

static const struct seen *find_seen(const struct seen *seen, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(seen[i].name, name))
			return &seen[i];
	fail_msg("entry '%s' missing", name);
	return NULL;
}

/* The raw tar stream inside a compressed tarball. */
static char *decompress(const char *path, size_t *len)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	size_t cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t n;

	*len = 0;
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	assert_int_equal(archive_read_open_filename(a, path, 65536), ARCHIVE_OK);
	assert_int_equal(archive_read_next_header(a, &ae), ARCHIVE_OK);
	while ((n = archive_read_data(a, buf + *len, cap - *len)) > 0) {
		*len += (size_t)n;
		if (*len == cap)
			buf = realloc(buf, cap *= 2);
	}
	assert_int_equal(n, 0);
	archive_read_free(a);
	return buf;
}

static uint64_t octal(const char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(p[i] - '0');
	return v;
}

/* Every header: fixed mtime, owner 0, no names; pax headers only for what
 * ustar cannot hold, never a time, never a pid in their name. */
static void check_raw_headers(const char *path)
{
	size_t len, pos = 0, n_pax = 0;
	char *tar = decompress(path, &len);
	char zero[512] = { 0 };

	while (pos + 512 <= len && memcmp(tar + pos, zero, 512) != 0) {
		const char *h = tar + pos;
		uint64_t size = octal(h + 124, 12);

		assert_int_equal(octal(h + 136, 12), EPOCH);
		assert_int_equal(octal(h + 108, 8), 0);
		assert_int_equal(octal(h + 116, 8), 0);
		assert_int_equal(h[265], '\0');
		assert_int_equal(h[297], '\0');
		assert_memory_equal(h + 257, "ustar", 5);
		if (h[156] == 'x') {
			char *body = strndup(h + 512, size);
			n_pax++;
			assert_null(strstr(body, "time="));
			assert_null(strstr(body, "SCHILY"));
			assert_null(strstr(body, "LIBARCHIVE"));
			assert_non_null(strstr(body, "path=diracos/long/" LONG_NAME));
			assert_non_null(strstr(h, "PaxHeader/"));
			assert_null(strstr(h, "PaxHeaders."));
			free(body);
		}
		pos += 512 + ((size + 511) / 512) * 512;
	}
	/* The only entry ustar cannot name. */
	assert_int_equal(n_pax, 1);
	free(tar);
}

static void test_contents(void **state)
{
	struct fixture *f = *state;
	struct dos_pack_result res;
	struct seen seen[64];
	char *link = dos_path_join(f->dir, "link");
	size_t n;

	dos_strv_push(&f->comp, "gzip");
	make_tree(f->tree, false);
	/* Through a symlink to the tree: the top folder is still a folder. */
	assert_int_equal(symlink("tree", link), 0);
	assert_int_equal(pack_tree(&f->ctx, link, f->dir, 2, &f->comp, &res), 0);
	n = read_back(res.paths.v[0], seen, 64);
	assert_int_equal(n, N_EXPECTED);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(seen[i].name, expected_order[i]);
		assert_int_equal(seen[i].mtime, EPOCH);
		assert_int_equal(seen[i].uid, 0);
		assert_int_equal(seen[i].gid, 0);
		assert_false(seen[i].has_names);
	}
	assert_int_equal(seen[0].type, AE_IFDIR);
	assert_int_equal(find_seen(seen, n, "diracos/empty")->type, AE_IFDIR);
	assert_int_equal(find_seen(seen, n, "diracos/bin/tool")->perm, 0755);
	assert_int_equal(find_seen(seen, n, "diracos/a/z")->perm, 0600);
	/* setuid dropped: only the 0777 bits are kept. */
	assert_int_equal(find_seen(seen, n, "diracos/bin/suid")->perm, 0755);
	assert_int_equal(find_seen(seen, n, "diracos/lib/libx.so")->type, AE_IFLNK);
	assert_string_equal(find_seen(seen, n, "diracos/lib/libx.so")->link, "libx.so.1");
	check_raw_headers(res.paths.v[0]);
	for (size_t i = 0; i < n; i++) {
		free(seen[i].name);
		free(seen[i].link);
	}
	dos_pack_result_release(&res);
	free(link);
}

static void test_system_tools_read_it(void **state)
{
	struct fixture *f = *state;
	struct dos_pack_result res;
	char *out = NULL;

	dos_strv_push(&f->comp, "gzip");
	dos_strv_push(&f->comp, "zstd");
	make_tree(f->tree, false);
	assert_int_equal(pack_tree(&f->ctx, f->tree, f->dir, 2, &f->comp, &res), 0);

	char *gz_argv[] = { "tar", "-tzf", res.paths.v[0], NULL };
	assert_int_equal(dos_run_capture(&f->ctx, gz_argv, NULL, &out, NULL), 0);
	assert_non_null(strstr(out, "diracos/long/" LONG_NAME "\n"));
	assert_non_null(strstr(out, "diracos/" SPLIT_PATH "\n"));
	free(out);

	char *zst_argv[] = { "sh", "-c", "zstd -dc \"$1\" | tar -tv", "sh", res.paths.v[1], NULL };
	assert_int_equal(dos_run_capture(&f->ctx, zst_argv, NULL, &out, NULL), 0);
	assert_non_null(strstr(out, "diracos/lib/libx.so -> libx.so.1\n"));
	assert_non_null(strstr(out, "-rwxr-xr-x 0/0"));
	free(out);
	dos_pack_result_release(&res);
}

static void test_hard_link_refused(void **state)
{
	struct fixture *f = *state;
	struct dos_pack_result res;
	char *out = dos_path_join(f->dir, "out");
	char *a = dos_path_join(f->tree, "bin/tool"), *b = dos_path_join(f->tree, "bin/tool2");

	dos_strv_push(&f->comp, "zstd");
	assert_int_equal(mkdir(out, 0755), 0);
	make_tree(f->tree, false);
	assert_int_equal(link(a, b), 0);
	assert_int_equal(pack_tree(&f->ctx, f->tree, out, 1, &f->comp, &res), DOS_EFORMAT);
	assert_non_null(strstr(f->ctx.msg, "/bin/tool"));
	assert_non_null(strstr(f->ctx.msg, "hard link"));
	assert_int_equal(th_count_dir(out), 0);
	assert_int_equal(res.paths.n, 0);

	/* A fifo is refused too. */
	assert_int_equal(unlink(b), 0);
	assert_int_equal(mkfifo(b, 0644), 0);
	assert_int_equal(pack_tree(&f->ctx, f->tree, out, 1, &f->comp, &res), DOS_EFORMAT);
	assert_non_null(strstr(f->ctx.msg, "bin/tool2': is a device, fifo or socket"));
	assert_int_equal(th_count_dir(out), 0);
	free(a);
	free(b);
	free(out);
}

static void test_bad_options(void **state)
{
	struct fixture *f = *state;
	struct dos_pack_result res;
	char *missing = dos_path_join(f->dir, "no/such/folder");

	make_tree(f->tree, false);
	assert_int_equal(pack_tree(&f->ctx, f->tree, f->dir, 1, &f->comp, &res), DOS_ECONFIG);
	dos_strv_push(&f->comp, "bzip2");
	assert_int_equal(pack_tree(&f->ctx, f->tree, f->dir, 1, &f->comp, &res), DOS_ECONFIG);
	assert_non_null(strstr(f->ctx.msg, "compression 'bzip2': unknown"));
	dos_strv_release(&f->comp);
	dos_strv_push(&f->comp, "zstd");
	dos_strv_push(&f->comp, "zstd");
	assert_int_equal(pack_tree(&f->ctx, f->tree, f->dir, 1, &f->comp, &res), DOS_ECONFIG);
	assert_non_null(strstr(f->ctx.msg, "requested twice"));
	dos_strv_release(&f->comp);

	struct dos_pack_opts o = { .root = f->tree, .top = "../x", .out_dir = f->dir,
				   .basename = "b", .compression = &f->comp, .mtime = EPOCH };
	dos_strv_push(&f->comp, "zstd");
	assert_int_equal(dos_pack(&f->ctx, &o, &res), DOS_EUSAGE);
	assert_non_null(strstr(f->ctx.msg, "top folder '../x'"));

	/* An output folder that is not there: the error names the tarball. */
	assert_int_equal(pack_tree(&f->ctx, f->tree, missing, 1, &f->comp, &res), DOS_EIO);
	assert_non_null(strstr(f->ctx.msg, "no/such/folder/diracos-1.0-x86_64.tar.zst"));
	free(missing);
}

/* Incompressible content, so the tarball cannot be small. */
static void write_random(const char *root, const char *rel, size_t size)
{
	char *path = dos_path_join(root, rel);
	FILE *f = fopen(path, "w");
	uint64_t x = 88172645463325252ull;

	assert_non_null(f);
	for (size_t i = 0; i < size; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		fwrite(&x, 8, 1, f);
	}
	assert_int_equal(fclose(f), 0);
	free(path);
}

/* A write that fails half way: nothing left under the final name, no
 * temporaries, and the error names the tarball and the cause. */
static void check_failed_write(struct dos_ctx *ctx, int r, const char *out, const char *cause)
{
	assert_int_equal(r, DOS_EIO);
	assert_non_null(strstr(ctx->msg, "diracos-1.0-x86_64.tar."));
	assert_non_null(strstr(ctx->msg, cause));
	assert_int_equal(th_count_dir(out), 0);
}

static void test_disk_full(void **state)
{
	struct fixture *f = *state;
	struct dos_pack_result res;
	char *out = dos_path_join(f->dir, "out");
	size_t left;
	int r;

	make_tree(f->tree, false);
	write_random(f->tree, "bin/big", 1 << 20);
	assert_int_equal(mkdir(out, 0755), 0);
	dos_strv_push(&f->comp, "zstd");
	dos_strv_push(&f->comp, "gzip");
	if (mount("tmpfs", out, "tmpfs", 0, "size=64k") < 0) {
		printf("# skipping the full-disk case: cannot mount a tmpfs: %s\n", strerror(errno));
	} else {
		/* Nothing that can fail an assertion while the tmpfs is mounted. */
		r = pack_tree(&f->ctx, f->tree, out, 2, &f->comp, &res);
		left = th_count_dir(out);
		assert_int_equal(umount2(out, MNT_DETACH), 0);
		printf("# %s\n", f->ctx.msg);
		assert_int_equal(left, 0);
		check_failed_write(&f->ctx, r, out, "No space left on device");
	}
	free(out);
}

/* The same failure anywhere, without mounting: a file size limit makes
 * write() fail with EFBIG. In a child, as the limit is per process. */
static void test_file_size_limit(void **state)
{
	struct fixture *f = *state;
	char *out = dos_path_join(f->dir, "out");
	int fds[2], status;
	char msg[DOS_ERRMSG_MAX] = { 0 };
	pid_t pid;

	make_tree(f->tree, false);
	write_random(f->tree, "bin/big", 1 << 20);
	assert_int_equal(mkdir(out, 0755), 0);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { 65536, 65536 };
		struct dos_strv comp = { 0 };
		struct dos_pack_result res;
		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		dos_strv_push(&comp, "xz");
		dos_strv_push(&comp, "zstd");
		int r = pack_tree(&f->ctx, f->tree, out, 2, &comp, &res);
		ssize_t w = write(fds[1], f->ctx.msg, strlen(f->ctx.msg));
		dos_strv_release(&comp);
		free(out);
		_exit(r == DOS_EIO && w > 0 ? 0 : 1);
	}
	close(fds[1]);
	assert_true(read(fds[0], msg, sizeof(msg) - 1) > 0);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	printf("# %s\n", msg);
	assert_int_equal(th_count_dir(out), 0);
	assert_non_null(strstr(msg, "File too large"));
	assert_non_null(strstr(msg, "diracos-1.0-x86_64.tar."));
	free(out);
}

/* The level changes the bytes of the compressed stream only: 0 is zstd's
 * default, 3, and any level holds the same tar. */
static void test_zstd_level(void **state)
{
	struct fixture *f = *state;
	static const int levels[] = { 0, 3, 19 };
	struct dos_pack_result r[3];
	char *tar[3];
	size_t len[3];

	dos_strv_push(&f->comp, "zstd");
	make_tree(f->tree, false);
	for (size_t i = 0; i < 3; i++) {
		char *out = dos_xasprintf("%s/out%zu", f->dir, i);
		struct dos_pack_opts o = {
			.root = f->tree, .top = "diracos", .out_dir = out,
			.basename = "diracos-1.0-x86_64", .compression = &f->comp, .mtime = EPOCH,
			.threads = 2, .zstd_level = levels[i],
		};
		assert_int_equal(mkdir(out, 0755), 0);
		assert_int_equal(dos_pack(&f->ctx, &o, &r[i]), 0);
		tar[i] = decompress(r[i].paths.v[0], &len[i]);
		free(out);
	}
	assert_true(files_equal(r[0].paths.v[0], r[1].paths.v[0]));
	for (size_t i = 1; i < 3; i++) {
		assert_int_equal(len[i], len[0]);
		assert_memory_equal(tar[i], tar[0], len[0]);
	}
	for (size_t i = 0; i < 3; i++) {
		dos_pack_result_release(&r[i]);
		free(tar[i]);
	}
}

static void test_source_date_epoch(void **state)
{
	unsetenv("SOURCE_DATE_EPOCH");
	assert_int_equal(dos_pack_source_date_epoch(7), 7);
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	assert_int_equal(dos_pack_source_date_epoch(7), 1700000000);
	setenv("SOURCE_DATE_EPOCH", "0", 1);
	assert_int_equal(dos_pack_source_date_epoch(7), 0);
	static const char *const bad[] = { "", "abc", "-5", "12x", " 12", "99999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("SOURCE_DATE_EPOCH", bad[i], 1);
		assert_int_equal(dos_pack_source_date_epoch(7), 7);
	}
	unsetenv("SOURCE_DATE_EPOCH");
	assert_string_equal(dos_pack_suffix("zstd"), "tar.zst");
	assert_null(dos_pack_suffix("lz4"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reproducible, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_system_tools_read_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hard_link_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_size_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zstd_level, setup, teardown),
		cmocka_unit_test(test_source_date_epoch),
	};
	return cmocka_run_group_tests_name("pack", tests, NULL, NULL);
}
