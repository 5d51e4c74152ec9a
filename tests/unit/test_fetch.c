/* Unit tests of downloads and the cache, against the loopback httpd helper
 * (built beside this test) with its fault modes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "fetch.h"
#include "progress.h"
#include "util.h"

#include <curl/curl.h>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fixture {
	struct dos_ctx ctx;
	char *dir;       /* the temporary folder */
	char *root;      /* what the server serves */
	struct dos_cache *cache;
	struct th_httpd srv;
	char sha_a[DOS_SHA256_HEX], sha_b[DOS_SHA256_HEX];
	size_t len_a, len_b;
};

static bool multi_init_fails;

/* libcurl's, interposed: NULL while a test wants it to fail. */
CURLM *curl_multi_init(void)
{
	CURLM *(*real)(void);

	*(void **)&real = dlsym(RTLD_NEXT, "curl_multi_init");
	return multi_init_fails || !real ? NULL : real();
}

static char *url_of(struct fixture *f, const char *name)
{
	return dos_xasprintf("http://127.0.0.1:%d/%s", f->srv.port, name);
}

static void write_file(struct fixture *f, const char *name, const char *data, size_t len)
{
	char *path = dos_path_join(f->root, name);

	assert_int_equal(dos_write_file_atomic(&f->ctx, path, data, len, 0644), 0);
	free(path);
}

static int setup(void **state)
{
	struct fixture *f = dos_xcalloc(1, sizeof(*f));
	char *cache_dir, *big;

	dos_ctx_init(&f->ctx);
	f->ctx.progress = false;
	f->ctx.jobs = 2;
	f->dir = th_tmpdir("fetch");
	f->root = dos_path_join(f->dir, "root");
	assert_int_equal(dos_mkdir_p(&f->ctx, f->root, 0755), 0);
	f->len_a = 200000;
	big = dos_xmalloc(f->len_a);
	for (size_t i = 0; i < f->len_a; i++)
		big[i] = (char)(i * 7 + i / 251);
	write_file(f, "a.bin", big, f->len_a);
	dos_sha256_buf(big, f->len_a, f->sha_a);
	free(big);
	f->len_b = 5;
	write_file(f, "b.bin", "hello", 5);
	dos_sha256_buf("hello", 5, f->sha_b);
	cache_dir = dos_path_join(f->dir, "cache");
	assert_int_equal(dos_cache_open(&f->ctx, cache_dir, &f->cache), 0);
	f->cache->retry_delay_ms = 20;
	free(cache_dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	th_httpd_stop(&f->srv);
	dos_cache_free(f->cache);
	assert_int_equal(dos_rm_rf(&f->ctx, f->dir), 0);
	free(f->root);
	free(f->dir);
	free(f);
	return 0;
}

/* The cache's temporary folder holds nothing after any download. */
static void assert_no_temporaries(struct fixture *f)
{
	char *tmp = dos_path_join(f->cache->root, "tmp");
	DIR *d = opendir(tmp);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)))
		assert_true(de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")));
	closedir(d);
	free(tmp);
}

static void test_fetch_success(void **state)
{
	struct fixture *f = *state;
	char *file_url = dos_xasprintf("file://%s/b.bin", f->root);
	char *url_a, *expect, *data = NULL;
	size_t len;

	th_httpd_start(&f->srv, f->dir, f->root, NULL);
	url_a = url_of(f, "a.bin");
	struct dos_fetch_item items[] = {
		{ .url = url_a, .sha256 = f->sha_a, .size = f->len_a, .name = "a.bin" },
		{ .url = file_url, .sha256 = f->sha_b, .size = 5 },
	};
	assert_int_equal(dos_fetch_many(&f->ctx, f->cache, items, 2, NULL), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(items[i].result, 0);
		assert_null(items[i].error);
	}
	expect = dos_cache_path(f->cache, f->sha_a);
	assert_string_equal(items[0].path, expect);
	assert_true(dos_cache_has(f->cache, f->sha_b));
	assert_int_equal(dos_read_file(&f->ctx, items[1].path, 100, &data, &len), 0);
	assert_string_equal(data, "hello");
	assert_int_equal(th_httpd_count(&f->srv, "GET /a.bin 200"), 1);
	assert_no_temporaries(f);
	dos_fetch_items_release(items, 2);
	free(data);
	free(expect);
	free(url_a);
	free(file_url);
}

/* When libcurl cannot start, the transfers fail without touching any file
 * descriptor: standard input (fd 0, what a zeroed transfer held) stays. */
static void test_no_libcurl_closes_nothing(void **state)
{
	struct fixture *f = *state;
	char *url = dos_xasprintf("file://%s/b.bin", f->root);
	char *dest = dos_path_join(f->dir, "b.out");
	int saved = dup(0), null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct dos_fetch_item item = { .url = url, .sha256 = f->sha_b, .size = 5 };

	assert_true(null > 0);
	assert_int_equal(dup2(null, 0), 0);
	multi_init_fails = true;
	assert_int_equal(dos_fetch_to_file(&f->ctx, url, dest), DOS_ENET);
	assert_non_null(strstr(f->ctx.msg, "cannot initialize libcurl"));
	assert_int_equal(dos_fetch_many(&f->ctx, f->cache, &item, 1, NULL), DOS_ENET);
	multi_init_fails = false;
	dos_fetch_items_release(&item, 1);
	assert_true(fcntl(0, F_GETFD) >= 0);
	if (saved >= 0) {
		dup2(saved, 0);
		close(saved);
	}
	close(null);
	free(dest);
	free(url);
}

static void test_fetch_cached_is_not_downloaded(void **state)
{
	struct fixture *f = *state;
	char *url;

	th_httpd_start(&f->srv, f->dir, f->root, NULL);
	url = url_of(f, "a.bin");
	struct dos_fetch_item item = { .url = url, .sha256 = f->sha_a, .size = f->len_a };
	assert_int_equal(dos_fetch_many(&f->ctx, f->cache, &item, 1, NULL), 0);
	dos_fetch_items_release(&item, 1);
	assert_int_equal(dos_fetch_many(&f->ctx, f->cache, &item, 1, NULL), 0);
	dos_fetch_items_release(&item, 1);
	assert_int_equal(th_httpd_count(&f->srv, "GET /a.bin"), 1);
	/* With the server gone, the cache still answers. */
	th_httpd_stop(&f->srv);
	assert_int_equal(dos_fetch_many(&f->ctx, f->cache, &item, 1, NULL), 0);
	assert_non_null(item.path);
	dos_fetch_items_release(&item, 1);
	free(url);
}

static void test_fetch_404(void **state)
{
	struct fixture *f = *state;
	char *url, *bad;

	th_httpd_start(&f->srv, f->dir, f->root, NULL);
	url = url_of(f, "a.bin");
	bad = url_of(f, "curl_7.88.1-10_amd64.deb");
	struct dos_fetch_item items[] = {
		{ .url = url, .sha256 = f->sha_a },
		{ .url = bad, .sha256 = f->sha_b, .name = "package file 'curl_7.88.1-10_amd64.deb'" },
	};
	assert_int_equal(dos_fetch_many(&f->ctx, f->cache, items, 2, NULL), DOS_ENET);
	assert_int_equal(items[0].result, 0);
	assert_int_equal(items[1].result, DOS_ENET);
	assert_null(items[1].path);
	assert_non_null(strstr(f->ctx.msg, "package file 'curl_7.88.1-10_amd64.deb' from http://"));
	assert_non_null(strstr(f->ctx.msg, "HTTP 404"));
	assert_string_equal(items[1].error, f->ctx.msg);
	/* A 404 is final: asked once. */
	assert_int_equal(th_httpd_count(&f->srv, "curl_7.88.1-10_amd64.deb 404"), 1);
	assert_false(dos_cache_has(f->cache, f->sha_b));
	dos_fetch_items_release(items, 2);
	free(url);
	free(bad);
}

static void test_fetch_retries_503(void **state)
{
	struct fixture *f = *state;
	char *url;

	th_httpd_start(&f->srv, f->dir, f->root, "fail-first-2");
	url = url_of(f, "b.bin");
	struct dos_fetch_item item = { .url = url, .sha256 = f->sha_b, .size = 5 };
	assert_int_equal(dos_fetch_many(&f->ctx, f->cache, &item, 1, NULL), 0);
	assert_int_equal(f->ctx.code, 0);
	assert_int_equal(th_httpd_count(&f->srv, " 503"), 2);
	assert_int_equal(th_httpd_count(&f->srv, " 200"), 1);
	assert_true(dos_cache_has(f->cache, f->sha_b));
	dos_fetch_items_release(&item, 1);
	free(url);
}

static void test_fetch_503_gives_up(void **state)
{
	struct fixture *f = *state;
	char *url;

	th_httpd_start(&f->srv, f->dir, f->root, "fail-first-10");
	url = url_of(f, "b.bin");
	struct dos_fetch_item item = { .url = url, .sha256 = f->sha_b };
	assert_int_equal(dos_fetch_many(&f->ctx, f->cache, &item, 1, NULL), DOS_ENET);
	assert_non_null(strstr(f->ctx.msg, "HTTP 503 (after 3 tries)"));
	assert_int_equal(th_httpd_count(&f->srv, " 503"), 3);
	dos_fetch_items_release(&item, 1);
	free(url);
}

static void test_fetch_truncated(void **state)
{
	struct fixture *f = *state;
	char *url;

	th_httpd_start(&f->srv, f->dir, f->root, "truncate");
	url = url_of(f, "a.bin");
	struct dos_fetch_item item = { .url = url, .sha256 = f->sha_a, .size = f->len_a };
	assert_int_equal(dos_fetch_many(&f->ctx, f->cache, &item, 1, NULL), DOS_ENET);
	assert_non_null(strstr(f->ctx.msg, "file 'a.bin' from http://"));
	assert_non_null(strstr(f->ctx.msg, "(after 3 tries)"));
	assert_int_equal(th_httpd_count(&f->srv, "GET /a.bin"), 3);
	assert_false(dos_cache_has(f->cache, f->sha_a));
	assert_no_temporaries(f);
	dos_fetch_items_release(&item, 1);
	free(url);
}

static void test_fetch_corrupt(void **state)
{
	struct fixture *f = *state;
	char *url, *expect;

	th_httpd_start(&f->srv, f->dir, f->root, "corrupt");
	url = url_of(f, "a.bin");
	struct dos_fetch_item item = { .url = url, .sha256 = f->sha_a, .size = f->len_a,
				       .name = "curl_7.88.1-10_amd64.deb" };
	assert_int_equal(dos_fetch_many(&f->ctx, f->cache, &item, 1, NULL), DOS_ECHECKSUM);
	expect = dos_xasprintf("package file 'curl_7.88.1-10_amd64.deb' from %s: sha256 mismatch "
			       "(expected %s, got ", url, f->sha_a);
	assert_non_null(strstr(f->ctx.msg, expect));
	/* Retried once, then reported. */
	assert_int_equal(th_httpd_count(&f->srv, "GET /a.bin"), 2);
	assert_false(dos_cache_has(f->cache, f->sha_a));
	assert_no_temporaries(f);
	dos_fetch_items_release(&item, 1);
	free(expect);
	free(url);
}

static void test_fetch_size_mismatch(void **state)
{
	struct fixture *f = *state;
	char *url;

	th_httpd_start(&f->srv, f->dir, f->root, NULL);
	url = url_of(f, "a.bin");
	/* The right digest but a smaller announced size: the body is cut off
	 * as soon as it grows past it. */
	struct dos_fetch_item item = { .url = url, .sha256 = f->sha_a, .size = 1000 };
	assert_int_equal(dos_fetch_many(&f->ctx, f->cache, &item, 1, NULL), DOS_ECHECKSUM);
	assert_non_null(strstr(f->ctx.msg, "size mismatch (expected 1000 bytes"));
	assert_false(dos_cache_has(f->cache, f->sha_a));
	dos_fetch_items_release(&item, 1);
	free(url);
}

static void test_fetch_stall(void **state)
{
	struct fixture *f = *state;
	int64_t start;
	char *url;

	th_httpd_start(&f->srv, f->dir, f->root, "stall");
	url = url_of(f, "a.bin");
	f->cache->stall_timeout_s = 2;
	f->cache->tries = 1;
	struct dos_fetch_item item = { .url = url, .sha256 = f->sha_a };
	start = dos_now_ms();
	assert_int_equal(dos_fetch_many(&f->ctx, f->cache, &item, 1, NULL), DOS_ENET);
	assert_true(dos_now_ms() - start < 6000);
	assert_non_null(strstr(f->ctx.msg, "file 'a.bin' from http://"));
	assert_non_null(strstr(f->ctx.msg, ": stalled: no data for 2 seconds"));
	assert_false(dos_cache_has(f->cache, f->sha_a));
	dos_fetch_items_release(&item, 1);
	free(url);
}

static void test_fetch_to_file(void **state)
{
	struct fixture *f = *state;
	char *url, *dest = dos_path_join(f->dir, "InRelease"), *data = NULL, *expect;

	th_httpd_start(&f->srv, f->dir, f->root, NULL);
	url = url_of(f, "b.bin");
	assert_int_equal(dos_fetch_to_file(&f->ctx, url, dest), 0);
	assert_int_equal(dos_read_file(&f->ctx, dest, 100, &data, NULL), 0);
	assert_string_equal(data, "hello");
	unlink(dest);
	free(url);
	url = url_of(f, "dists/x/InRelease");
	assert_int_equal(dos_fetch_to_file(&f->ctx, url, dest), DOS_ENET);
	expect = dos_xasprintf("file 'InRelease' from %s: HTTP 404", url);
	assert_string_equal(f->ctx.msg, expect);
	assert_int_not_equal(access(dest, F_OK), 0);
	free(expect);
	free(data);
	free(url);
	free(dest);
}

static void test_cache_insert_file(void **state)
{
	struct fixture *f = *state;
	char *src = dos_path_join(f->root, "b.bin");

	assert_int_equal(dos_cache_insert_file(&f->ctx, f->cache, src, f->sha_a), DOS_ECHECKSUM);
	assert_non_null(strstr(f->ctx.msg, "sha256 mismatch"));
	assert_non_null(strstr(f->ctx.msg, src));
	assert_false(dos_cache_has(f->cache, f->sha_a));
	assert_false(dos_cache_has(f->cache, f->sha_b));
	assert_int_equal(dos_cache_insert_file(&f->ctx, f->cache, src, f->sha_b), 0);
	assert_true(dos_cache_has(f->cache, f->sha_b));
	assert_null(dos_cache_path(f->cache, "../../etc/passwd"));
	assert_false(dos_cache_has(f->cache, "../../etc/passwd"));
	assert_no_temporaries(f);
	free(src);
}

static void test_cache_default_dir(void **state)
{
	char *home = getenv("HOME") ? dos_xstrdup(getenv("HOME")) : NULL;
	char *d;

	setenv("DIRACOS_CACHE", "/x/cache", 1);
	d = dos_cache_default_dir();
	assert_string_equal(d, "/x/cache");
	free(d);
	unsetenv("DIRACOS_CACHE");
	setenv("XDG_CACHE_HOME", "/x/xdg", 1);
	d = dos_cache_default_dir();
	assert_string_equal(d, "/x/xdg/diracos");
	free(d);
	unsetenv("XDG_CACHE_HOME");
	setenv("HOME", "/x/home", 1);
	d = dos_cache_default_dir();
	assert_string_equal(d, "/x/home/.cache/diracos");
	free(d);
	if (home)
		setenv("HOME", home, 1);
	free(home);
}

static void test_fetch_many_in_parallel(void **state)
{
	struct fixture *f = *state;
	struct dos_fetch_item items[40];
	char *urls[40], *data = NULL;
	char sha[40][DOS_SHA256_HEX];

	for (int i = 0; i < 40; i++) {
		char name[32], body[64];
		int n = snprintf(body, sizeof(body), "content of file %d", i);
		snprintf(name, sizeof(name), "f%d", i);
		write_file(f, name, body, (size_t)n);
		dos_sha256_buf(body, (size_t)n, sha[i]);
	}
	th_httpd_start(&f->srv, f->dir, f->root, NULL);
	for (int i = 0; i < 40; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%d", i);
		urls[i] = url_of(f, name);
		items[i] = (struct dos_fetch_item){ .url = urls[i], .sha256 = sha[i] };
	}
	assert_int_equal(dos_fetch_many(&f->ctx, f->cache, items, 40, "files"), 0);
	assert_int_equal(dos_read_file(&f->ctx, items[17].path, 100, &data, NULL), 0);
	assert_string_equal(data, "content of file 17");
	dos_fetch_items_release(items, 40);
	for (int i = 0; i < 40; i++)
		free(urls[i]);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fetch_success, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_cached_is_not_downloaded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_404, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_retries_503, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_503_gives_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_size_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_stall, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_to_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_insert_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_many_in_parallel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_libcurl_closes_nothing, setup, teardown),
		cmocka_unit_test(test_cache_default_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
