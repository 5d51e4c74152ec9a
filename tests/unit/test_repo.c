/* Unit tests of the local package repository: real packages from
 * dpkg-deb, hostile ones written member by member with libarchive, and
 * the resolver reading the indices the repository writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "repo.h"
#include "resolve.h"
#include "run.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct fixture {
	struct dos_ctx ctx;
	char *dir;             /* scratch: staging trees, .deb files */
	char *path;            /* the repository */
	struct dos_repo *repo;
};

static int setup(void **state)
{
	struct fixture *f = dos_xcalloc(1, sizeof(*f));

	th_ctx_quiet(&f->ctx);
	f->dir = th_tmpdir("repo");
	f->path = dos_path_join(f->dir, "repo");
	assert_int_equal(dos_repo_open(&f->ctx, f->path, 0, &f->repo), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	dos_repo_free(f->repo);
	th_tmpdir_remove(f->dir);
	free(f->path);
	free(f);
	return 0;
}

/* --- helpers --- */

static char *repo_text(struct fixture *f, const char *rel)
{
	char *path = dos_path_join(f->path, rel);
	char *text = th_read(path);

	free(path);
	return text;
}

/* A real package built by dpkg-deb: dir/<file>.deb, control fields given
 * after the usual ones (extra may be NULL), one file of content. */
static char *deb_build(struct fixture *f, const char *file, const char *pkg, const char *version,
		       const char *arch, const char *extra, const char *content)
{
	char *staging = dos_xasprintf("%s/staging-%s", f->dir, file);
	char *out = dos_xasprintf("%s/%s.deb", f->dir, file);
	char *control = dos_xasprintf("Package: %s\nVersion: %s\nArchitecture: %s\n"
				      "Maintainer: Test <test@example.org>\n%s"
				      "Description: the %s test package\n more text\n",
				      pkg, version, arch, extra ? extra : "", pkg);
	char *cpath = dos_path_join(staging, "DEBIAN/control");
	char *dpath = dos_xasprintf("%s/usr/share/%s/data.txt", staging, pkg);
	char *log = dos_xasprintf("%s/dpkg-deb.log", f->dir);

	th_write(cpath, control, 0644);
	th_write(dpath, content, 0644);
	th_dpkg_deb(staging, out, "xz", log);
	assert_int_equal(dos_rm_rf(&f->ctx, staging), 0);
	free(staging);
	free(control);
	free(cpath);
	free(dpath);
	free(log);
	return out;
}

/* A hand-made package with the given control text (len bytes). */
static char *deb_raw(struct fixture *f, const char *file, const char *control, size_t len)
{
	char *out = dos_xasprintf("%s/%s.deb", f->dir, file);
	const struct th_tent data[] = { { "./usr/share/x", AE_IFREG, 0644, "x\n", 0 } };
	const struct th_deb deb = { .control = control, .control_len = len, .ents = data, .n = 1,
				    .filter = "gzip" };

	th_deb_write(out, &deb);
	return out;
}

static char *sha256sum(struct fixture *f, const char *path)
{
	char *argv[] = { "sha256sum", (char *)path, NULL };
	char *out = NULL;
	size_t len;

	assert_int_equal(dos_run_capture(&f->ctx, argv, NULL, &out, &len), 0);
	assert_true(len > 64);
	out[64] = '\0';
	return out;
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

/* The Filename: of the stanza of pkg in the index text, or NULL. */
static char *index_filename(const char *index, const char *pkg)
{
	_cleanup_free_ char *head = dos_xasprintf("Package: %s\n", pkg);
	const char *s = strstr(index, head), *fn, *end;

	if (s && s != index && s[-1] != '\n')
		return NULL;
	if (!s || !(fn = strstr(s, "\nFilename: ")))
		return NULL;
	fn += strlen("\nFilename: ");
	end = strchr(fn, '\n');
	return strndup(fn, (size_t)(end - fn));
}

/* Every file under the repository's pools, one per line, sorted. */
static void pool_list_dir(const char *dir, const char *rel, struct dos_strv *out)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char *p, *r;
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		p = dos_path_join(dir, e->d_name);
		r = dos_xasprintf("%s/%s", rel, e->d_name);
		assert_int_equal(lstat(p, &st), 0);
		if (S_ISDIR(st.st_mode))
			pool_list_dir(p, r, out);
		else
			dos_strv_push(out, r);
		free(p);
		free(r);
	}
	if (d)
		closedir(d);
}

static char *pool_list(struct fixture *f)
{
	struct dos_strv v = { 0 };
	char *p0 = dos_path_join(f->path, "pool"), *p1 = dos_path_join(f->path, "buildonly/pool");
	size_t len = 1;
	char *out;

	pool_list_dir(p0, "pool", &v);
	pool_list_dir(p1, "buildonly/pool", &v);
	dos_strv_sort(&v);
	for (size_t i = 0; i < v.n; i++)
		len += strlen(v.v[i]) + 1;
	out = dos_xcalloc(1, len);
	for (size_t i = 0; i < v.n; i++) {
		strcat(out, v.v[i]);
		strcat(out, "\n");
	}
	dos_strv_release(&v);
	free(p0);
	free(p1);
	return out;
}

static size_t lines(const char *text)
{
	size_t n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

static int commit(struct fixture *f, const char *name, const char *key, bool build_only,
		  const char *log, const char *const *debs, size_t n)
{
	struct dos_repo_record rec = {
		.name = name, .key = key, .log_path = log, .build_only = build_only,
	};
	json_t *inputs = json_pack("{s:s}", "recipe", key);
	int r;

	rec.inputs = inputs;
	r = dos_repo_commit(&f->ctx, f->repo, &rec, debs, n);
	json_decref(inputs);
	return r;
}

/* --- tests --- */

/* The index holds the control fields and where, how big and what each file is. */
static void test_commit_index(void **state)
{
	struct fixture *f = *state;
	char *a = deb_build(f, "a", "hello", "1:2.0-1", "amd64", "Depends: libhello1 (>= 2.0)\n", "a\n");
	char *b = deb_build(f, "b", "libhello1", "2.0-1", "amd64", "Multi-Arch: same\n", "b\n");
	char *log = dos_path_join(f->dir, "build.log");
	const char *debs[] = { a, b };
	char *index, *fn, *path, *sum, *want, *text;
	uint64_t size;

	th_write(log, "compiling hello\n", 0644);
	assert_int_equal(commit(f, "hello", "k1", false, log, debs, 2), 0);
	index = th_read(dos_repo_index(f->repo, false));
	assert_non_null(index);
	/* Sorted by name: hello before libhello1. */
	assert_true(strstr(index, "Package: hello\n") < strstr(index, "Package: libhello1\n"));
	assert_non_null(strstr(index, "Version: 1:2.0-1\nArchitecture: amd64\n"));
	assert_non_null(strstr(index, "Depends: libhello1 (>= 2.0)\n"));
	assert_non_null(strstr(index, "Description: the hello test package\n more text\n"));
	fn = index_filename(index, "hello");
	assert_non_null(fn);
	assert_int_equal(strncmp(fn, "pool/", 5), 0);
	assert_string_equal(strrchr(fn, '/'), "/hello_2.0-1_amd64.deb");
	path = dos_path_join(f->path, fn);
	sum = sha256sum(f, path);
	size = file_size(path);
	assert_int_equal(size, file_size(a));
	assert_int_equal(strncmp(fn + 5, sum, 16), 0);
	want = dos_xasprintf("Filename: %s\nSize: %llu\nSHA256: %s\n\n", fn, (unsigned long long)size, sum);
	assert_non_null(strstr(index, want));
	/* The build-only index is there, and empty. */
	text = th_read(dos_repo_index(f->repo, true));
	assert_string_equal(text, "");
	free(text);
	text = repo_text(f, "records/hello.log");
	assert_string_equal(text, "compiling hello\n");
	free(text);
	free(want);
	free(sum);
	free(path);
	free(fn);
	free(index);
	free(log);
	free(a);
	free(b);
}

static void test_record(void **state)
{
	struct fixture *f = *state;
	char *a = deb_build(f, "a", "tool", "1.0", "all", NULL, "t\n");
	const char *debs[] = { a };
	json_t *j, *out;
	char *key;

	assert_null(dos_repo_record_get(f->repo, "tool"));
	assert_null(dos_repo_key(f->repo, "tool"));
	assert_null(dos_repo_key(f->repo, "../etc/passwd"));
	assert_int_equal(commit(f, "tool-cfg", "abc123", true, NULL, debs, 1), 0);
	key = dos_repo_key(f->repo, "tool-cfg");
	assert_string_equal(key, "abc123");
	j = dos_repo_record_get(f->repo, "tool-cfg");
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "name")), "tool-cfg");
	assert_true(json_is_true(json_object_get(j, "buildOnly")));
	assert_true(json_is_null(json_object_get(j, "log")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "inputs"), "recipe")),
			    "abc123");
	out = json_array_get(json_object_get(j, "outputs"), 0);
	assert_string_equal(json_string_value(json_object_get(out, "package")), "tool");
	assert_string_equal(json_string_value(json_object_get(out, "version")), "1.0");
	assert_int_equal(json_integer_value(json_object_get(out, "size")), file_size(a));
	assert_int_equal(strncmp(json_string_value(json_object_get(out, "filename")),
				 "buildonly/pool/", 15), 0);
	json_decref(j);
	free(key);
	free(a);
}

/* Build-only packages go to their own index, Filename from the repository root. */
static void test_build_only(void **state)
{
	struct fixture *f = *state;
	char *a = deb_build(f, "a", "main-pkg", "1.0", "all", NULL, "m\n");
	char *b = deb_build(f, "b", "build-tool", "3.1", "amd64", NULL, "b\n");
	const char *da[] = { a }, *db[] = { b };
	char *main_before, *main_after, *bo, *fn, *path;
	struct dos_strv names = { 0 };

	assert_int_equal(commit(f, "main", "k", false, NULL, da, 1), 0);
	main_before = th_read(dos_repo_index(f->repo, false));
	assert_int_equal(commit(f, "tool", "k", true, NULL, db, 1), 0);
	main_after = th_read(dos_repo_index(f->repo, false));
	assert_string_equal(main_before, main_after);
	bo = repo_text(f, "buildonly/Packages");
	fn = index_filename(bo, "build-tool");
	assert_non_null(fn);
	assert_int_equal(strncmp(fn, "buildonly/pool/", 15), 0);
	path = dos_path_join(f->path, fn);
	assert_int_equal(file_size(path), file_size(b));
	assert_null(strstr(bo, "main-pkg"));
	assert_int_equal(dos_repo_names(&f->ctx, f->repo, &names), 0);
	assert_int_equal(names.n, 2);
	assert_string_equal(names.v[0], "main");
	assert_string_equal(names.v[1], "tool");
	dos_strv_release(&names);
	free(path);
	free(fn);
	free(bo);
	free(main_before);
	free(main_after);
	free(a);
	free(b);
}

/* The resolver reads both indices with the one base URL. */
static void test_resolver_reads(void **state)
{
	struct fixture *f = *state;
	char *a = deb_build(f, "a", "hello", "2.0-1", "amd64", "Depends: libhello1 (>= 2.0)\n", "a\n");
	char *b = deb_build(f, "b", "libhello1", "2.0-1", "amd64", NULL, "b\n");
	char *c = deb_build(f, "c", "hello-dev", "2.0-1", "all", NULL, "c\n");
	const char *dab[] = { a, b }, *dc[] = { c };
	struct dos_resolver *r;
	struct dos_strv wanted = { 0 };
	struct dos_closure cl = { 0 };
	struct dos_closure_request req = { .wanted = &wanted };
	const struct dos_resolved_pkg *p;
	char *sum, *url, *index, *fn;

	assert_int_equal(commit(f, "hello", "k", false, NULL, dab, 2), 0);
	assert_int_equal(commit(f, "hello-dev", "k", true, NULL, dc, 1), 0);
	assert_int_equal(dos_resolver_new(&f->ctx, "deb", "amd64", &r), 0);
	assert_int_equal(dos_resolver_add_deb_index(r, "local", dos_repo_index(f->repo, false),
						    dos_repo_url(f->repo), 100), 0);
	assert_int_equal(dos_resolver_add_deb_index(r, "local-build", dos_repo_index(f->repo, true),
						    dos_repo_url(f->repo), 100), 0);
	assert_int_equal(dos_resolver_count(r), 3);
	dos_strv_push(&wanted, "hello");
	dos_strv_push(&wanted, "hello-dev");
	assert_int_equal(dos_resolver_closure(r, &req, &cl), 0);
	assert_int_equal(cl.n, 3);
	p = dos_closure_find(&cl, "libhello1");
	assert_non_null(p);
	index = th_read(dos_repo_index(f->repo, false));
	fn = index_filename(index, "libhello1");
	url = dos_xasprintf("file://%s/%s", f->path, fn);
	assert_string_equal(p->url, url);
	assert_int_equal(strncmp(p->url, "file:///", 8), 0);
	sum = sha256sum(f, b);
	assert_string_equal(p->sha256, sum);
	assert_int_equal(p->size, file_size(b));
	p = dos_closure_find(&cl, "hello-dev");
	assert_non_null(p);
	assert_non_null(strstr(p->url, "/buildonly/pool/"));
	dos_closure_release(&cl);
	dos_resolver_free(r);
	dos_strv_release(&wanted);
	free(sum);
	free(url);
	free(fn);
	free(index);
	free(a);
	free(b);
	free(c);
}

/* A new build replaces the package's outputs; the old files leave the pool. */
static void test_replace(void **state)
{
	struct fixture *f = *state;
	char *a1 = deb_build(f, "a1", "hello", "1.0", "amd64", NULL, "one\n");
	char *b1 = deb_build(f, "b1", "hello-data", "1.0", "all", NULL, "one\n");
	char *a2 = deb_build(f, "a2", "hello", "1.0", "amd64", NULL, "two\n");
	char *o = deb_build(f, "o", "other", "5", "all", NULL, "o\n");
	const char *d1[] = { a1, b1 }, *d2[] = { a2 }, *dother[] = { o };
	char *index, *fn1, *fn2, *pool, *path1, *path2, *key;

	assert_int_equal(commit(f, "other", "k", false, NULL, dother, 1), 0);
	assert_int_equal(commit(f, "hello", "k1", false, NULL, d1, 2), 0);
	index = th_read(dos_repo_index(f->repo, false));
	fn1 = index_filename(index, "hello");
	free(index);
	/* Same version, other content: a new file, never the old one overwritten. */
	assert_int_equal(commit(f, "hello", "k2", false, NULL, d2, 1), 0);
	index = th_read(dos_repo_index(f->repo, false));
	fn2 = index_filename(index, "hello");
	assert_string_not_equal(fn1, fn2);
	assert_null(strstr(index, "hello-data"));
	assert_non_null(strstr(index, "Package: other\n"));
	path1 = dos_path_join(f->path, fn1);
	path2 = dos_path_join(f->path, fn2);
	assert_int_equal(access(path1, F_OK), -1);
	assert_int_equal(access(path2, F_OK), 0);
	pool = pool_list(f);
	/* Two files: other's and the new hello; the old folders are gone. */
	assert_non_null(strstr(pool, fn2));
	assert_int_equal(lines(pool), 2);
	key = dos_repo_key(f->repo, "hello");
	assert_string_equal(key, "k2");
	/* The same files committed again change nothing. */
	assert_int_equal(commit(f, "hello", "k2", false, NULL, d2, 1), 0);
	free(pool);
	pool = pool_list(f);
	assert_non_null(strstr(pool, fn2));
	free(key);
	free(pool);
	free(path1);
	free(path2);
	free(fn1);
	free(fn2);
	free(index);
	free(a1);
	free(b1);
	free(a2);
	free(o);
}

/* Snapshot of everything a failed commit must leave as it was. */
struct snapshot {
	char *index, *bo, *pool, *record;
};

static void snapshot_take(struct fixture *f, struct snapshot *s)
{
	s->index = th_read(dos_repo_index(f->repo, false));
	s->bo = th_read(dos_repo_index(f->repo, true));
	s->pool = pool_list(f);
	s->record = repo_text(f, "records/hello.json");
}

static void snapshot_check(struct fixture *f, struct snapshot *s)
{
	struct snapshot now;

	snapshot_take(f, &now);
	assert_string_equal(now.index, s->index);
	assert_string_equal(now.bo, s->bo);
	assert_string_equal(now.pool, s->pool);
	assert_string_equal(now.record, s->record);
	free(now.index);
	free(now.bo);
	free(now.pool);
	free(now.record);
}

static void snapshot_release(struct snapshot *s)
{
	free(s->index);
	free(s->bo);
	free(s->pool);
	free(s->record);
}

static void truncate_copy(const char *from, const char *to)
{
	char *data = th_read(from);
	size_t len = (size_t)file_size(from);
	FILE *out = fopen(to, "w");

	assert_non_null(out);
	assert_int_equal(fwrite(data, 1, len - len / 3, out), len - len / 3);
	assert_int_equal(fclose(out), 0);
	free(data);
}

/* A commit with one bad .deb leaves index, pool and record as they were. */
static void test_failed_commit(void **state)
{
	struct fixture *f = *state;
	char *a1 = deb_build(f, "a1", "hello", "1.0", "amd64", NULL, "one\n");
	char *a2 = deb_build(f, "a2", "hello", "2.0", "amd64", NULL, "two\n");
	char *big = dos_xmalloc((1 << 20) + 2);
	char *text = dos_path_join(f->dir, "not-a-deb.deb");
	char *cut = dos_path_join(f->dir, "cut.deb");
	const char *d1[] = { a1 }, *bad_text[] = { a2, text }, *bad_cut[] = { a2, cut };
	struct snapshot s;

	/* One byte over the limit. */
	for (size_t i = 0; i < (1 << 20) + 1; i++)
		big[i] = (char)('a' + i % 26);
	memcpy(big, "Package: x\nVersion: 1\nArchitecture: all\nDescription: ", 52);
	big[(1 << 20) + 1] = '\0';
	assert_int_equal(commit(f, "hello", "k1", false, NULL, d1, 1), 0);
	snapshot_take(f, &s);
	th_write(text, "this is not a package\n", 0644);
	assert_int_equal(commit(f, "hello", "k2", false, NULL, bad_text, 2), DOS_EFORMAT);
	assert_non_null(strstr(f->ctx.msg, "package 'hello': "));
	assert_non_null(strstr(f->ctx.msg, "not-a-deb.deb"));
	snapshot_check(f, &s);
	assert_int_equal(commit(f, "hello", "k2", false, "/nonexistent/build.log", d1, 1), DOS_EIO);
	assert_non_null(strstr(f->ctx.msg, "build log '/nonexistent/build.log'"));
	snapshot_check(f, &s);
	truncate_copy(a2, cut);
	assert_int_equal(commit(f, "hello", "k2", false, NULL, bad_cut, 2), DOS_EFORMAT);
	assert_non_null(strstr(f->ctx.msg, "cut.deb"));
	snapshot_check(f, &s);
	/* Hostile control files: a second stanza, index fields, too big. */
	{
		static const char *const controls[] = {
			"Package: y\nVersion: 1\nArchitecture: all\n\nPackage: evil\nFilename: ../../etc/passwd\n",
			"Package: y\nVersion: 1\nArchitecture: all\nFilename: pool/x.deb\n",
			"Package: ../y\nVersion: 1\nArchitecture: all\n",
			"Package: y\nVersion: 1/2\nArchitecture: all\n",
			"Package: y\nVersion: 1\n",
			"Package: y\nVersion: 1\nArchitecture: all\nPackage: z\n",
			" continued\nPackage: y\nVersion: 1\nArchitecture: all\n",
		};
		for (size_t i = 0; i < sizeof(controls) / sizeof(controls[0]); i++) {
			char *name = dos_xasprintf("hostile%zu", i);
			char *h = deb_raw(f, name, controls[i], strlen(controls[i]));
			const char *dh[] = { h };
			assert_int_equal(commit(f, "hello", "k3", false, NULL, dh, 1), DOS_EFORMAT);
			assert_non_null(strstr(f->ctx.msg, "control file: "));
			snapshot_check(f, &s);
			free(h);
			free(name);
		}
		char *h = deb_raw(f, "huge", big, (1 << 20) + 1);
		const char *dh[] = { h };
		assert_int_equal(commit(f, "hello", "k3", false, NULL, dh, 1), DOS_EFORMAT);
		assert_non_null(strstr(f->ctx.msg, "larger than"));
		snapshot_check(f, &s);
		free(h);
	}
	snapshot_release(&s);
	free(big);
	free(text);
	free(cut);
	free(a1);
	free(a2);
}

/* A binary package belongs to one configured package. */
static void test_conflict(void **state)
{
	struct fixture *f = *state;
	char *a = deb_build(f, "a", "libfoo1", "1.0", "amd64", NULL, "a\n");
	char *b = deb_build(f, "b", "libfoo1", "1.1", "amd64", NULL, "b\n");
	const char *da[] = { a }, *db[] = { b }, *twice[] = { a, b };

	assert_int_equal(commit(f, "foo", "k", false, NULL, da, 1), 0);
	assert_int_equal(commit(f, "bar", "k", true, NULL, db, 1), DOS_EFAIL);
	assert_non_null(strstr(f->ctx.msg, "already built by package 'foo'"));
	assert_int_equal(commit(f, "foo", "k", false, NULL, twice, 2), DOS_EFAIL);
	assert_non_null(strstr(f->ctx.msg, "given twice"));
	assert_int_equal(commit(f, "../x", "k", false, NULL, da, 1), DOS_EFAIL);
	free(a);
	free(b);
}

static void test_remove(void **state)
{
	struct fixture *f = *state;
	char *a = deb_build(f, "a", "gone", "1.0", "all", NULL, "a\n");
	const char *da[] = { a };
	char *index, *pool;

	assert_int_equal(commit(f, "gone", "k", true, NULL, da, 1), 0);
	assert_int_equal(dos_repo_remove(&f->ctx, f->repo, "gone"), 0);
	index = th_read(dos_repo_index(f->repo, true));
	assert_string_equal(index, "");
	pool = pool_list(f);
	assert_string_equal(pool, "");
	assert_null(dos_repo_record_get(f->repo, "gone"));
	assert_int_equal(dos_repo_remove(&f->ctx, f->repo, "never-built"), 0);
	free(index);
	free(pool);
	free(a);
}

static void test_verify(void **state)
{
	struct fixture *f = *state;
	char *a = deb_build(f, "a", "alpha", "1.0", "all", NULL, "a\n");
	char *b = deb_build(f, "b", "beta", "1.0", "all", NULL, "b\n");
	const char *da[] = { a }, *db[] = { b };
	struct dos_strv problems = { 0 };
	char *index, *fa, *fb, *pa, *pb, *stray;
	FILE *out;

	assert_int_equal(commit(f, "alpha", "k", false, NULL, da, 1), 0);
	assert_int_equal(commit(f, "beta", "k", true, NULL, db, 1), 0);
	assert_int_equal(dos_repo_verify(&f->ctx, f->repo, &problems), 0);
	assert_int_equal(problems.n, 0);
	index = th_read(dos_repo_index(f->repo, false));
	fa = index_filename(index, "alpha");
	free(index);
	index = th_read(dos_repo_index(f->repo, true));
	fb = index_filename(index, "beta");
	pa = dos_path_join(f->path, fa);
	pb = dos_path_join(f->path, fb);
	assert_int_equal(unlink(pa), 0);
	/* Tampered: one byte changed, same size. */
	out = fopen(pb, "r+");
	assert_non_null(out);
	assert_int_equal(fseek(out, 100, SEEK_SET), 0);
	fputc('Z', out);
	assert_int_equal(fclose(out), 0);
	stray = dos_path_join(f->path, "pool/stray.deb");
	th_write(stray, "x", 0644);
	assert_int_equal(dos_repo_verify(&f->ctx, f->repo, &problems), DOS_ECHECKSUM);
	assert_non_null(strstr(f->ctx.msg, "problems"));
	assert_int_equal(problems.n, 3);
	assert_non_null(strstr(problems.v[0], "missing"));
	assert_non_null(strstr(problems.v[0], fa));
	assert_non_null(strstr(problems.v[1], "pool/stray.deb"));
	assert_non_null(strstr(problems.v[2], "sha256"));
	assert_non_null(strstr(problems.v[2], fb));
	dos_strv_release(&problems);
	free(stray);
	free(pa);
	free(pb);
	free(fa);
	free(fb);
	free(index);
	free(a);
	free(b);
}

/* A second opener fails at once, naming the holder; readers share. */
static void test_lock(void **state)
{
	struct fixture *f = *state;
	struct dos_repo *second = NULL, *r1 = NULL, *r2 = NULL;
	char *pid = dos_xasprintf("(pid %ld)", (long)getpid());

	assert_int_equal(dos_repo_open(&f->ctx, f->path, 0, &second), DOS_EFAIL);
	assert_null(second);
	assert_non_null(strstr(f->ctx.msg, "in use by another diracos process"));
	assert_non_null(strstr(f->ctx.msg, pid));
	assert_int_equal(dos_repo_open(&f->ctx, f->path, DOS_REPO_READ, &r1), DOS_EFAIL);
	dos_repo_free(f->repo);
	f->repo = NULL;
	assert_int_equal(dos_repo_open(&f->ctx, f->path, DOS_REPO_READ, &r1), 0);
	assert_int_equal(dos_repo_open(&f->ctx, f->path, DOS_REPO_READ, &r2), 0);
	assert_int_equal(dos_repo_open(&f->ctx, f->path, 0, &second), DOS_EFAIL);
	assert_int_equal(dos_repo_remove(&f->ctx, r1, "x"), DOS_EFAIL);
	assert_non_null(strstr(f->ctx.msg, "reading only"));
	dos_repo_free(r1);
	dos_repo_free(r2);
	assert_int_equal(dos_repo_open(&f->ctx, f->path, 0, &f->repo), 0);
	free(pid);
}

/* A second opener that fails leaves the holder's pid in the lock file:
 * a third one still names it. */
static void test_lock_keeps_holder_pid(void **state)
{
	struct fixture *f = *state;
	struct dos_repo *second = NULL;
	char *pid = dos_xasprintf("(pid %ld)", (long)getpid());
	char *want = dos_xasprintf("%ld\n", (long)getpid());
	char *lock = dos_path_join(f->path, ".lock");
	char *text;

	assert_int_equal(dos_repo_open(&f->ctx, f->path, 0, &second), DOS_EFAIL);
	assert_non_null(strstr(f->ctx.msg, pid));
	text = th_read(lock);
	assert_string_equal(text, want);
	free(text);
	assert_int_equal(dos_repo_open(&f->ctx, f->path, 0, &second), DOS_EFAIL);
	assert_null(second);
	assert_non_null(strstr(f->ctx.msg, pid));
	free(lock);
	free(want);
	free(pid);
}

static void test_read_missing(void **state)
{
	struct fixture *f = *state;
	char *missing = dos_path_join(f->dir, "nothing");
	struct dos_repo *r = NULL;

	assert_int_equal(dos_repo_open(&f->ctx, missing, DOS_REPO_READ, &r), DOS_EIO);
	assert_non_null(strstr(f->ctx.msg, missing));
	assert_int_equal(access(missing, F_OK), -1);
	free(missing);
}

static void test_control(void **state)
{
	struct fixture *f = *state;
	char *a = deb_build(f, "a", "hello", "1.0", "amd64", "Pre-Depends: libc6\n", "a\n");
	char *text = dos_path_join(f->dir, "text.deb");
	char *control = NULL, *v;
	char *sources = dos_repo_sources_list("/diracos-repo");

	assert_int_equal(dos_repo_deb_control(&f->ctx, a, &control), 0);
	v = dos_repo_control_field(control, "pre-depends");
	assert_string_equal(v, "libc6");
	free(v);
	v = dos_repo_control_field(control, "Description");
	assert_string_equal(v, "the hello test package");
	free(v);
	assert_null(dos_repo_control_field(control, "Depends"));
	th_write(text, "!<arch>\n", 0644);
	assert_int_equal(dos_repo_deb_control(&f->ctx, text, &v), DOS_EFORMAT);
	assert_non_null(strstr(f->ctx.msg, "text.deb"));
	assert_string_equal(sources, "deb [trusted=yes] file:/diracos-repo ./\n"
				     "deb [trusted=yes] file:/diracos-repo buildonly/\n");
	assert_string_equal(dos_repo_url(f->repo) + 7, f->path);
	free(sources);
	free(control);
	free(text);
	free(a);
}

/* What a crash leaves behind (a stanza no record owns, stray and
 * half-copied pool files) goes at the next commit. */
static void test_self_heal(void **state)
{
	struct fixture *f = *state;
	char *a = deb_build(f, "a", "alpha", "1.0", "all", NULL, "a\n");
	const char *da[] = { a };
	char *index = dos_xstrdup(dos_repo_index(f->repo, false));
	char *orphan = dos_path_join(f->path, "pool/0123456789abcdef/orphan_1_all.deb");
	char *incoming = dos_path_join(f->path, "pool/.incoming-abcdef");
	char *text, *pool;
	struct dos_strv problems = { 0 };

	th_write(orphan, "x", 0644);
	th_write(incoming, "half", 0644);
	th_write(index, "Package: orphan\nVersion: 1\nArchitecture: all\n"
			  "Filename: pool/0123456789abcdef/orphan_1_all.deb\nSize: 1\n"
			  "SHA256: 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881\n\n", 0644);
	assert_int_equal(dos_repo_verify(&f->ctx, f->repo, &problems), DOS_ECHECKSUM);
	assert_int_equal(problems.n, 2);
	assert_non_null(strstr(problems.v[0], ".incoming-abcdef"));
	assert_non_null(strstr(problems.v[1], "orphan_1_all.deb': indexed, but no record names it"));
	dos_strv_release(&problems);
	assert_int_equal(commit(f, "alpha", "k", false, NULL, da, 1), 0);
	text = th_read(index);
	assert_null(strstr(text, "orphan"));
	assert_non_null(strstr(text, "Package: alpha\n"));
	pool = pool_list(f);
	assert_int_equal(lines(pool), 1);
	assert_non_null(strstr(pool, "alpha_1.0_all.deb"));
	assert_int_equal(dos_repo_verify(&f->ctx, f->repo, &problems), 0);
	free(pool);
	free(text);
	free(incoming);
	free(orphan);
	free(index);
	free(a);
}

/* With DOS_REPO_WAIT a second opener waits for the holder to finish. */
static void test_lock_wait(void **state)
{
	struct fixture *f = *state;
	struct dos_repo *second = NULL;
	int ready[2];
	char c;
	pid_t pid;

	dos_repo_free(f->repo);
	f->repo = NULL;
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct dos_repo *holder;
		struct dos_ctx ctx;
		dos_ctx_init(&ctx);
		if (dos_repo_open(&ctx, f->path, 0, &holder) < 0)
			_exit(1);
		(void)!write(ready[1], "x", 1);
		usleep(300 * 1000);
		dos_repo_free(holder);
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	assert_int_equal(dos_repo_open(&f->ctx, f->path, 0, &second), DOS_EFAIL);
	assert_int_equal(dos_repo_open(&f->ctx, f->path, DOS_REPO_WAIT, &f->repo), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_build_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolver_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_keeps_holder_pid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_heal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
