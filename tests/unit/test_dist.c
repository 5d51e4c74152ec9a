/* Unit tests of the archive client against a real signed repository: the
 * test makes throwaway GnuPG keys, writes Packages and Sources, compresses
 * them with xz and gzip, writes a Release, clearsigns it into InRelease,
 * and serves it all over the loopback httpd helper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "dist.h"
#include "run.h"
#include "util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct fixture {
	struct dos_ctx ctx;
	char *dir;          /* everything lives under here */
	char *root;         /* served by httpd */
	char *dists;        /* root/dists/test */
	char *keyring;      /* the good key, exported for gpgv */
	char *home_good, *home_evil;
	struct th_httpd srv;
	char *mirror;
	struct dos_cache *cache;
	time_t release_time;    /* the next Release's Date; 0: now */
};

static const char packages[] =
	"Package: hello\n"
	"Version: 2.10-3\n"
	"Architecture: amd64\n"
	"Filename: pool/main/h/hello/hello_2.10-3_amd64.deb\n"
	"Size: 1234\n"
	"Description: example package\n"
	" It says hello.\n"
	"\n"
	"Package: world\n"
	"Version: 1.0-1\n"
	"Architecture: amd64\n"
	"Depends: hello (>= 2.10)\n";

static const char sources[] =
	"Package: hello\n"
	"Version: 2.10-3\n"
	"Directory: pool/main/h/hello\n";

static int group_setup(void **state)
{
	struct fixture *f = dos_xcalloc(1, sizeof(*f));

	dos_ctx_init(&f->ctx);
	f->ctx.progress = false;
	f->ctx.log_level = DOS_LOG_ERROR;
	f->dir = th_tmpdir("archive");
	f->root = dos_path_join(f->dir, "root");
	f->dists = dos_path_join(f->root, "dists/test");
	f->keyring = dos_path_join(f->dir, "keyring.gpg");
	f->home_good = dos_path_join(f->dir, "g1");
	f->home_evil = dos_path_join(f->dir, "g2");
	mkdir(f->home_good, 0700);
	mkdir(f->home_evil, 0700);
	th_sh_gpg(f->dir, f->home_good, "gpg --batch --passphrase '' --quick-gen-key "
	   "'diracos test <good@invalid>' ed25519 sign never");
	th_sh_gpg(f->dir, f->home_evil, "gpg --batch --passphrase '' --quick-gen-key "
	   "'diracos test <evil@invalid>' ed25519 sign never");
	th_sh_gpg(f->dir, f->home_good, "gpg --export > '%s'", f->keyring);
	th_httpd_start(&f->srv, f->dir, f->root, NULL);
	f->mirror = dos_xasprintf("http://127.0.0.1:%d/", f->srv.port);
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	struct fixture *f = *state;

	th_httpd_stop(&f->srv);
	th_sh_gpg(f->dir, f->home_good, "gpgconf --kill gpg-agent");
	th_sh_gpg(f->dir, f->home_evil, "gpgconf --kill gpg-agent");
	assert_int_equal(dos_rm_rf(&f->ctx, f->dir), 0);
	free(f->dir);
	free(f->root);
	free(f->dists);
	free(f->keyring);
	free(f->home_good);
	free(f->home_evil);
	free(f->mirror);
	free(f);
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = *state;
	char *cache = dos_path_join(f->dir, "cache");

	assert_int_equal(dos_rm_rf(&f->ctx, f->root), 0);
	assert_int_equal(dos_rm_rf(&f->ctx, cache), 0);
	truncate(f->srv.log, 0); /* the server keeps it open */
	assert_int_equal(dos_cache_open(&f->ctx, cache, &f->cache), 0);
	f->cache->retry_delay_ms = 10;
	free(cache);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	dos_cache_free(f->cache);
	f->cache = NULL;
	return 0;
}

/* --- building the repository --- */

static void repo_file(struct fixture *f, const char *rel, const char *text, size_t len)
{
	char *path = dos_path_join(f->dists, rel);
	char *dir = dos_path_dirname(path);

	assert_int_equal(dos_mkdir_p(&f->ctx, dir, 0755), 0);
	assert_int_equal(dos_write_file_atomic(&f->ctx, path, text, len, 0644), 0);
	free(dir);
	free(path);
}

static void repo_compress(struct fixture *f, const char *rel, const char *tool)
{
	th_sh_gpg(f->dir, f->home_good, "cd '%s' && %s -k -f '%s'", f->dists, tool, rel);
}

static char *rfc2822(time_t t)
{
	char buf[64];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S UTC", &tm);
	return dos_xstrdup(buf);
}

/* A Release listing the given files (they must exist), plus extra fields. */
static void repo_release(struct fixture *f, const char *const *rels, const char *extra)
{
	char *date = rfc2822(f->release_time ? f->release_time : time(NULL)), *text, *next;

	text = dos_xasprintf("Origin: diracos-test\nSuite: test\nCodename: test\nDate: %s\n"
			     "Architectures: amd64\nComponents: main\n%sSHA256:\n", date,
			     extra ? extra : "");
	for (int i = 0; rels[i]; i++) {
		char *path = dos_path_join(f->dists, rels[i]);
		char hex[DOS_SHA256_HEX];
		struct stat st;
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(dos_sha256_file(&f->ctx, path, hex), 0);
		next = dos_xasprintf("%s %s %lld %s\n", text, hex, (long long)st.st_size, rels[i]);
		free(text);
		text = next;
		free(path);
	}
	repo_file(f, "Release", text, strlen(text));
	free(text);
	free(date);
}

static void repo_sign(struct fixture *f, const char *home)
{
	th_sh_gpg(f->dir, home, "cd '%s' && gpg --batch --yes --clearsign -o InRelease Release", f->dists);
}

static const char *const all_files[] = {
	"main/binary-amd64/Packages", "main/binary-amd64/Packages.xz",
	"main/source/Sources", "main/source/Sources.xz", NULL,
};

static void repo_default(struct fixture *f)
{
	repo_file(f, "main/binary-amd64/Packages", packages, strlen(packages));
	repo_file(f, "main/source/Sources", sources, strlen(sources));
	repo_compress(f, "main/binary-amd64/Packages", "xz");
	repo_compress(f, "main/source/Sources", "xz");
	repo_release(f, all_files, NULL);
	repo_sign(f, f->home_good);
}

static void assert_file_text(struct fixture *f, const char *path, const char *expect)
{
	char *data = NULL;

	assert_int_equal(dos_read_file(&f->ctx, path, 1 << 20, &data, NULL), 0);
	assert_string_equal(data, expect);
	free(data);
}

static int open_archive(struct fixture *f, struct dos_archive **a)
{
	return dos_archive_open(&f->ctx, f->cache, f->mirror, "test", f->keyring, a);
}

/* --- tests --- */

static void test_good_repo(void **state)
{
	struct fixture *f = *state;
	struct dos_archive *a = NULL;
	char *path = NULL, *expect;
	char hex[DOS_SHA256_HEX];

	repo_default(f);
	assert_int_equal(open_archive(f, &a), 0);
	assert_string_equal(a->codename, "test");
	assert_int_equal(a->n_files, 4);
	assert_true(a->date > time(NULL) - 600);
	assert_false(a->unchanged);
	assert_non_null(dos_archive_find(a, "main/source/Sources.xz"));
	assert_int_equal(dos_archive_packages_index(&f->ctx, a, "main", "amd64", &path), 0);
	assert_file_text(f, path, packages);
	dos_sha256_buf(packages, strlen(packages), hex);
	expect = dos_cache_path(f->cache, hex);
	assert_string_equal(path, expect);
	free(path);
	free(expect);
	assert_int_equal(dos_archive_sources_index(&f->ctx, a, "main", &path), 0);
	assert_file_text(f, path, sources);
	free(path);
	/* The uncompressed index was never asked for: the .xz was enough. */
	assert_int_equal(th_httpd_count(&f->srv, "binary-amd64/Packages.xz 200"), 1);
	assert_int_equal(th_httpd_count(&f->srv, "binary-amd64/Packages 200"), 0);
	dos_archive_free(a);
}

static void test_indices_reused(void **state)
{
	struct fixture *f = *state;
	struct dos_archive *a = NULL;
	char *path = NULL;

	repo_default(f);
	assert_int_equal(open_archive(f, &a), 0);
	assert_int_equal(dos_archive_packages_index(&f->ctx, a, "main", "amd64", &path), 0);
	free(path);
	dos_archive_free(a);
	/* Again: InRelease is fetched and found unchanged, the index is not. */
	assert_int_equal(open_archive(f, &a), 0);
	assert_true(a->unchanged);
	assert_int_equal(dos_archive_packages_index(&f->ctx, a, "main", "amd64", &path), 0);
	assert_file_text(f, path, packages);
	free(path);
	dos_archive_free(a);
	assert_int_equal(th_httpd_count(&f->srv, "InRelease 200"), 2);
	assert_int_equal(th_httpd_count(&f->srv, "Packages.xz"), 1);
}

static void test_tampered_index(void **state)
{
	struct fixture *f = *state;
	struct dos_archive *a = NULL;
	char *path = NULL, *expect;
	char hex[DOS_SHA256_HEX];

	repo_default(f);
	/* Swapped after signing: a valid xz file, but not the listed one. */
	repo_file(f, "main/binary-amd64/Packages", "Package: evil\n", 14);
	repo_compress(f, "main/binary-amd64/Packages", "xz");
	assert_int_equal(open_archive(f, &a), 0);
	assert_int_equal(dos_archive_packages_index(&f->ctx, a, "main", "amd64", &path),
			 DOS_ECHECKSUM);
	assert_null(path);
	expect = dos_xasprintf("index 'main/binary-amd64/Packages.xz' from %sdists/test/"
			       "main/binary-amd64/Packages.xz: sha256 mismatch (expected %s, got ",
			       f->mirror, dos_archive_find(a, "main/binary-amd64/Packages.xz")->sha256);
	assert_non_null(strstr(f->ctx.msg, expect));
	dos_sha256_buf(packages, strlen(packages), hex);
	assert_false(dos_cache_has(f->cache, hex));
	free(expect);
	dos_archive_free(a);
}

static void test_uncompressed_digest_checked(void **state)
{
	struct fixture *f = *state;
	struct dos_archive *a = NULL;
	char *path = NULL;
	static const char *const files[] = { "main/binary-amd64/Packages",
					     "main/binary-amd64/Packages.xz", NULL };

	repo_default(f);
	/* The listed Packages.xz decompresses to something else than the
	 * listed Packages. */
	repo_file(f, "main/binary-amd64/Packages", "Package: evil\n", 14);
	repo_compress(f, "main/binary-amd64/Packages", "xz");
	repo_file(f, "main/binary-amd64/Packages", packages, strlen(packages));
	repo_release(f, files, NULL);
	repo_sign(f, f->home_good);
	assert_int_equal(open_archive(f, &a), 0);
	assert_int_equal(dos_archive_packages_index(&f->ctx, a, "main", "amd64", &path),
			 DOS_ECHECKSUM);
	assert_non_null(strstr(f->ctx.msg, "index 'main/binary-amd64/Packages' (decompressed from "
				"'main/binary-amd64/Packages.xz') of http://127.0.0.1:"));
	assert_non_null(strstr(f->ctx.msg, "sha256 mismatch"));
	dos_archive_free(a);
}

static void test_wrong_key(void **state)
{
	struct fixture *f = *state;
	struct dos_archive *a = NULL;
	char *expect;

	repo_default(f);
	repo_sign(f, f->home_evil);
	assert_int_equal(open_archive(f, &a), DOS_ESIGNATURE);
	assert_null(a);
	expect = dos_xasprintf("InRelease from %sdists/test/InRelease: bad signature: ", f->mirror);
	assert_non_null(strstr(f->ctx.msg, expect));
	assert_non_null(strstr(f->ctx.msg, "No public key"));
	free(expect);
}

static void test_unsigned_text_rejected(void **state)
{
	struct fixture *f = *state;
	struct dos_archive *a = NULL;
	char *inrelease = NULL, *tampered;
	size_t len;
	char *path;

	repo_default(f);
	path = dos_path_join(f->dists, "InRelease");
	assert_int_equal(dos_read_file(&f->ctx, path, 1 << 20, &inrelease, &len), 0);
	/* gpgv itself accepts all three files; we must not. */
	tampered = dos_xasprintf("%s\nSHA256:\n %064d 1 main/binary-amd64/Packages\n", inrelease, 0);
	repo_file(f, "InRelease", tampered, strlen(tampered));
	assert_int_equal(open_archive(f, &a), DOS_ESIGNATURE);
	assert_non_null(strstr(f->ctx.msg, "unsigned text after the signature"));
	assert_non_null(strstr(f->ctx.msg, "dists/test/InRelease"));
	free(tampered);
	tampered = dos_xasprintf("Suite: evil\n\n%s", inrelease);
	repo_file(f, "InRelease", tampered, strlen(tampered));
	assert_int_equal(open_archive(f, &a), DOS_ESIGNATURE);
	assert_non_null(strstr(f->ctx.msg, "text before the signed block"));
	free(tampered);
	tampered = dos_xasprintf("%s%s", inrelease, inrelease);
	repo_file(f, "InRelease", tampered, strlen(tampered));
	assert_int_equal(open_archive(f, &a), DOS_ESIGNATURE);
	assert_non_null(strstr(f->ctx.msg, "more than one signed block"));
	assert_null(a);
	free(tampered);
	free(inrelease);
	free(path);
}

static void test_gz_fallback(void **state)
{
	struct fixture *f = *state;
	struct dos_archive *a = NULL;
	char *path = NULL, *xz;
	static const char *const files[] = { "main/binary-amd64/Packages",
					     "main/binary-amd64/Packages.xz",
					     "main/binary-amd64/Packages.gz", NULL };

	repo_file(f, "main/binary-amd64/Packages", packages, strlen(packages));
	repo_compress(f, "main/binary-amd64/Packages", "xz");
	repo_compress(f, "main/binary-amd64/Packages", "gzip -n");
	repo_release(f, files, NULL);
	repo_sign(f, f->home_good);
	/* Listed but missing on the mirror: the .gz serves. */
	xz = dos_path_join(f->dists, "main/binary-amd64/Packages.xz");
	unlink(xz);
	free(xz);
	assert_int_equal(open_archive(f, &a), 0);
	assert_int_equal(dos_archive_packages_index(&f->ctx, a, "main", "amd64", &path), 0);
	assert_file_text(f, path, packages);
	assert_int_equal(th_httpd_count(&f->srv, "Packages.xz 404"), 1);
	assert_int_equal(th_httpd_count(&f->srv, "Packages.gz 200"), 1);
	free(path);
	/* Not listed at all. */
	assert_int_equal(dos_archive_packages_index(&f->ctx, a, "main", "arm64", &path), DOS_EFAIL);
	assert_non_null(strstr(f->ctx.msg, "index 'main/binary-arm64/Packages' is not listed"));
	dos_archive_free(a);
}

/* A signer's own home and keyring: makes a key (with extra options
 * for gpg), then signs the fixture's Release with more options. */
static char *signer(struct fixture *f, const char *name, const char *genkey, const char *sign)
{
	char *home = dos_path_join(f->dir, name);
	char *ring = dos_xasprintf("%s.gpg", home);

	mkdir(home, 0700);
	th_sh_gpg(f->dir, home, "gpg --batch --passphrase '' %s", genkey);
	th_sh_gpg(f->dir, home, "cd '%s' && gpg --batch --yes %s --clearsign -o InRelease Release",
		  f->dists, sign);
	th_sh_gpg(f->dir, home, "gpg --export > '%s'", ring);
	th_sh_gpg(f->dir, home, "gpgconf --kill gpg-agent");
	free(home);
	return ring;
}

static void assert_refused(struct fixture *f, const char *ring, const char *why)
{
	struct dos_archive *a = NULL;

	assert_int_equal(dos_archive_open(&f->ctx, f->cache, f->mirror, "test", ring, &a),
			 DOS_ESIGNATURE);
	assert_null(a);
	if (!strstr(f->ctx.msg, why))
		fail_msg("'%s' not in: %s", why, f->ctx.msg);
}

/* A mirror that serves an older InRelease than one taken before (rolled
 * back, or replaying an old signed one) is refused. */
static void test_older_release(void **state)
{
	struct fixture *f = *state;
	struct dos_archive *a = NULL;

	repo_default(f);
	f->release_time = time(NULL) + 3600;
	repo_release(f, all_files, "");
	repo_sign(f, f->home_good);
	assert_int_equal(open_archive(f, &a), 0);
	dos_archive_free(a);
	a = NULL;
	f->release_time = time(NULL) - 86400;
	repo_release(f, all_files, "");
	repo_sign(f, f->home_good);
	assert_int_equal(open_archive(f, &a), DOS_ESIGNATURE);
	assert_non_null(strstr(f->ctx.msg, "older than the"));
	assert_non_null(strstr(f->ctx.msg, "seen before"));
	/* Refused, it did not replace the newer one's date. */
	assert_int_equal(open_archive(f, &a), DOS_ESIGNATURE);
	setenv("DIRACOS_CHECK_VALID_UNTIL", "0", 1);
	assert_int_equal(open_archive(f, &a), 0);
	unsetenv("DIRACOS_CHECK_VALID_UNTIL");
	dos_archive_free(a);
	a = NULL;
	/* A pinned source's fetch takes it too (with a warning). */
	assert_int_equal(dos_archive_open_flags(&f->ctx, f->cache, f->mirror, "test", f->keyring,
						DOS_ARCHIVE_PINNED, &a), 0);
	dos_archive_free(a);
	f->release_time = 0;
}

/* gpgv exits 0 for these three; apt refuses them, and so do we. */
static void test_signature_rules(void **state)
{
	struct fixture *f = *state;
	char *ring;

	repo_default(f);
	repo_release(f, all_files, "");
	ring = signer(f, "sha1", "--quick-gen-key 'sha1 <s@invalid>' ed25519 sign never",
		      "--digest-algo SHA1");
	assert_refused(f, ring, "1 with a weak digest");
	free(ring);
	ring = signer(f, "expired", "--faked-system-time 20200101T000000 "
		      "--quick-gen-key 'old <o@invalid>' ed25519 sign 1d",
		      "--faked-system-time 20200101T010000");
	assert_refused(f, ring, "1 by an expired key");
	free(ring);
	ring = signer(f, "revoked", "--quick-gen-key 'revoked <r@invalid>' ed25519 sign never", "");
	/* gpg keeps a revocation certificate for each key it makes. */
	th_sh_gpg(f->dir, NULL, "H='%s/revoked'; sed 's/^:-----BEGIN/-----BEGIN/' \"$H\"/openpgp-revocs.d/*.rev"
		  " | GNUPGHOME=\"$H\" gpg --batch --import && GNUPGHOME=\"$H\" gpg --export > \"$H.gpg\"",
		  f->dir);
	assert_refused(f, ring, "1 by a revoked key");
	free(ring);
}

static void test_expired(void **state)
{
	struct fixture *f = *state;
	struct dos_archive *a = NULL;
	char *extra, *until = rfc2822(time(NULL) - 3600);

	repo_default(f);
	extra = dos_xasprintf("Valid-Until: %s\n", until);
	repo_release(f, all_files, extra);
	repo_sign(f, f->home_good);
	assert_int_equal(open_archive(f, &a), DOS_ESIGNATURE);
	assert_non_null(strstr(f->ctx.msg, "expired on"));
	setenv("DIRACOS_CHECK_VALID_UNTIL", "0", 1);
	assert_int_equal(open_archive(f, &a), 0);
	unsetenv("DIRACOS_CHECK_VALID_UNTIL");
	assert_true(a->valid_until > 0 && a->valid_until < a->date);
	dos_archive_free(a);
	/* A caller that pins its files by sha256 takes it, with a warning. */
	a = NULL;
	assert_int_equal(dos_archive_open_flags(&f->ctx, f->cache, f->mirror, "test", f->keyring,
						DOS_ARCHIVE_PINNED, &a), 0);
	assert_non_null(a);
	dos_archive_free(a);
	/* A bad signature is refused all the same. */
	repo_sign(f, f->home_evil);
	assert_int_equal(dos_archive_open_flags(&f->ctx, f->cache, f->mirror, "test", f->keyring,
						DOS_ARCHIVE_PINNED, &a), DOS_ESIGNATURE);
	assert_null(strstr(f->ctx.msg, "expired on"));
	free(extra);
	free(until);
}

static void test_missing_inrelease(void **state)
{
	struct fixture *f = *state;
	struct dos_archive *a = NULL;
	char *expect;

	assert_int_equal(open_archive(f, &a), DOS_ENET);
	expect = dos_xasprintf("%sdists/test/InRelease: HTTP 404", f->mirror);
	assert_non_null(strstr(f->ctx.msg, expect));
	free(expect);
	assert_int_equal(dos_archive_open(&f->ctx, f->cache, f->mirror, "../x", NULL, &a),
			 DOS_ECONFIG);
}

/* --- the control-file parser --- */

static int parse_all(struct dos_ctx *ctx, const char *data, size_t len, struct dos_control *c,
		     int *stanzas)
{
	struct dos_control_parser p;
	int r;

	*stanzas = 0;
	dos_control_parser_init(&p, data, len, "file 'x'");
	while ((r = dos_control_parse_next(ctx, &p, c)) > 0)
		(*stanzas)++;
	return r;
}

static void test_control_parse(void **state)
{
	struct dos_ctx ctx;
	struct dos_control c = { 0 };
	struct dos_control_parser p;
	static const char text[] =
		"\n# comment\nPackage: a\r\nDescription:  short \n more\n .\n\tlast\n"
		"Empty:\n \n\t\n\nSHA256:\n abc 1 x\n def 2 y\n";

	dos_ctx_init(&ctx);
	dos_control_parser_init(&p, text, strlen(text), "file 'x'");
	assert_int_equal(dos_control_parse_next(&ctx, &p, &c), 1);
	assert_int_equal(c.line, 3);
	assert_string_equal(dos_control_get(&c, "package"), "a");
	assert_string_equal(dos_control_get(&c, "Description"), "short\nmore\n.\nlast");
	assert_string_equal(dos_control_get(&c, "Empty"), "");
	assert_null(dos_control_get(&c, "Missing"));
	assert_int_equal(dos_control_parse_next(&ctx, &p, &c), 1);
	assert_string_equal(dos_control_get(&c, "SHA256"), "abc 1 x\ndef 2 y");
	assert_int_equal(dos_control_parse_next(&ctx, &p, &c), 0);
	assert_int_equal(c.n, 0);
	dos_control_release(&c);
}

static void test_control_hostile(void **state)
{
	struct dos_ctx ctx;
	struct dos_control c = { 0 };
	size_t big = (size_t)66 << 20;
	char *huge;
	int n;

	dos_ctx_init(&ctx);
	assert_int_equal(parse_all(&ctx, "A: 1\nno colon here\n", 19, &c, &n), DOS_EFORMAT);
	assert_string_equal(ctx.msg, "file 'x', line 2: expected 'Field: value'");
	assert_int_equal(parse_all(&ctx, " starts with a blank\n", 21, &c, &n), DOS_EFORMAT);
	assert_non_null(strstr(ctx.msg, "line 1: continuation line without a field"));
	assert_int_equal(parse_all(&ctx, "A: 1\0\nB: 2\n", 11, &c, &n), DOS_EFORMAT);
	assert_non_null(strstr(ctx.msg, "line 1: NUL byte"));
	assert_int_equal(parse_all(&ctx, ": x\n", 4, &c, &n), DOS_EFORMAT);
	assert_int_equal(parse_all(&ctx, "A B: x\n", 7, &c, &n), DOS_EFORMAT);
	assert_int_equal(parse_all(&ctx, "A: 1\n\nB: 2", 10, &c, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(parse_all(&ctx, "", 0, &c, &n), 0);
	assert_int_equal(n, 0);
	/* A field longer than the limit, on one line and by continuations. */
	huge = dos_xmalloc(big);
	memset(huge, 'a', big);
	memcpy(huge, "A: ", 3);
	assert_int_equal(parse_all(&ctx, huge, big, &c, &n), DOS_EFORMAT);
	assert_non_null(strstr(ctx.msg, "longer than"));
	for (size_t i = 4096; i < big; i += 4096)
		huge[i] = '\n', huge[i + 1] = ' ';
	assert_int_equal(parse_all(&ctx, huge, big, &c, &n), DOS_EFORMAT);
	assert_non_null(strstr(ctx.msg, "field 'A' is longer than"));
	free(huge);
	dos_control_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_repo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indices_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uncompressed_digest_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsigned_text_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gz_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signature_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_older_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_inrelease, setup, teardown),
		cmocka_unit_test(test_control_parse),
		cmocka_unit_test(test_control_hostile),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
