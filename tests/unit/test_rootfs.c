/* Unit tests of build roots: the content key, the tarball cache (a real
 * signed archive on a file:// mirror, a stand-in mmdebstrap that writes a
 * real tarball of busybox), instances (overlays as root, copies), the apt
 * configuration inside, hostile tarballs, and installs failing with the
 * log's tail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "config.h"
#include "rootfs.h"
#include "run.h"
#include "sandbox.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct fixture {
	struct dos_ctx ctx;
	char *dir;            /* everything lives here */
	char *cache;          /* DIRACOS_CACHE */
	char *gnupg;
	char *keyring;
	char *mirror_dir;     /* the archive: dists/test/InRelease */
	char *mirror;         /* file://<mirror_dir> */
	char *tarball;        /* bin/busybox and a few files */
	char *fake;           /* the stand-in mmdebstrap */
	char *args;           /* where it writes its arguments */
	struct dos_config *cfg;
};

static struct fixture *F;
static const char *skip_reason;

/* What syncfs() was called on, newest last: interposed, then libc's. */
static char synced[8][4096];
static size_t n_synced;

int syncfs(int fd)
{
	char link[64];
	int (*real)(int);
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if (n_synced < 8 && (n = readlink(link, synced[n_synced], sizeof(synced[0]) - 1)) > 0)
		synced[n_synced++][n] = '\0';
	*(void **)&real = dlsym(RTLD_NEXT, "syncfs");
	return real ? real(fd) : 0;
}

#define NEED(cond, why)                                                  \
	do {                                                             \
		if (!(cond)) {                                           \
			print_message("# skipped: %s\n", (why));         \
			skip();                                          \
		}                                                        \
	} while (0)

/* --- helpers --- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	_cleanup_free_ char *log = dos_path_join(F->dir, "sh.log");
	_cleanup_free_ char *home = dos_xasprintf("GNUPGHOME=%s", F->gnupg);
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", home, "LC_ALL=C.UTF-8", NULL };
	struct th_sh o = { .log = log, .envp = envp };

	return TH_VSH(&o, fmt);
}

static void write_text(const char *path, const char *text)
{
	struct dos_ctx ctx;
	_cleanup_free_ char *dir = dos_path_dirname(path);

	dos_ctx_init(&ctx);
	if (dos_mkdir_p(&ctx, dir, 0755) < 0 ||
	    dos_write_file_atomic(&ctx, path, text, strlen(text), 0755) < 0)
		fail_msg("%s", ctx.msg);
}

static char *read_text(const char *path)
{
	struct dos_ctx ctx;
	char *data = NULL;

	dos_ctx_init(&ctx);
	return dos_read_file(&ctx, path, 1 << 20, &data, NULL) < 0 ? NULL : data;
}

static void assert_file_text(const char *path, const char *expect)
{
	char *text = read_text(path);

	if (!text)
		fail_msg("cannot read '%s'", path);
	assert_string_equal(text, expect);
	free(text);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static void strv_of(struct dos_strv *sv, const char *const *names)
{
	*sv = (struct dos_strv){ 0 };
	for (; *names; names++)
		dos_strv_push(sv, *names);
}

/* --- the fixture: a signed archive, a busybox tarball, a fake mmdebstrap --- */

static void make_archive(void)
{
	_cleanup_free_ char *dists = dos_path_join(F->mirror_dir, "dists/test");
	_cleanup_free_ char *release = dos_path_join(dists, "Release");

	_cleanup_free_ char *packages = dos_path_join(dists, "main/binary-amd64/Packages");

	/* One (empty) index: an InRelease must list something. */
	write_text(packages, "");
	write_text(release, "Origin: diracos-test\nSuite: test\nCodename: test\n"
		   "Architectures: amd64\nComponents: main\nSHA256:\n"
		   " e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 "
		   "main/binary-amd64/Packages\n");
	assert_int_equal(sh("gpg --batch --passphrase '' --quick-gen-key "
			    "'diracos test <rootfs@invalid>' ed25519 sign never"), 0);
	assert_int_equal(sh("gpg --batch --export > '%s'", F->keyring), 0);
	assert_int_equal(sh("cd '%s' && gpg --batch --yes --clearsign -o InRelease Release",
			    dists), 0);
}

/* A tiny root: busybox and its shell, a file, a hard link, a folder. */
static void make_tarball(void)
{
	_cleanup_free_ char *tree = dos_path_join(F->dir, "tree");

	assert_int_equal(sh("mkdir -p '%1$s/bin' '%1$s/etc' '%1$s/root' '%1$s/usr/share/empty' && "
			    "cp /bin/busybox '%1$s/bin/busybox' && ln -s busybox '%1$s/bin/sh' && "
			    "ln -s busybox '%1$s/bin/cat' && ln -s busybox '%1$s/bin/echo' && "
			    "echo hello > '%1$s/etc/hello' && ln '%1$s/etc/hello' '%1$s/etc/hello2' && "
			    "tar -C '%1$s' -cf '%2$s' .", tree, F->tarball), 0);
}

/* Records its arguments, then writes the tarball where it was asked to
 * (the last but one argument), or fails when FAKE_FAIL exists. */
static void make_fake_mmdebstrap(void)
{
	_cleanup_free_ char *script = dos_xasprintf(
		"#!/bin/sh\n"
		"printf '%%s\\n' \"$@\" > '%s'\n"
		"if [ -e '%s/FAKE_FAIL' ]; then echo 'E: the mirror said no'; exit 1; fi\n"
		"while [ $# -gt 2 ]; do shift; done\n"
		"cp '%s' \"$1\"\n",
		F->args, F->dir, F->tarball);

	write_text(F->fake, script);
}

static void make_config(void)
{
	_cleanup_free_ char *text = dos_xasprintf(
		"{\"name\": \"t\", \"platform\": {\"suite\": \"test\", \"mirror\": \"%s\"},"
		" \"workDir\": \"%s/work\"}", F->mirror, F->dir);

	assert_int_equal(dos_config_load_text(&F->ctx, text, strlen(text), "test.json", F->dir,
					      &F->cfg), 0);
}

/* Overlays a failed test left mounted (they would keep rm -rf out). */
static void unmount_under(const char *dir)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	char line[4096], at[4096];
	size_t n = strlen(dir);

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %4095s", at) == 1 && !strncmp(at, dir, n) && at[n] == '/')
			umount2(at, MNT_DETACH);
	if (f)
		fclose(f);
}

static const char *missing_tool(void)
{
	if (access("/bin/busybox", X_OK) < 0)
		return "busybox is not installed (apt-get install busybox-static)";
	if (sh("command -v gpg && command -v tar") < 0)
		return "gpg or tar is missing";
	return NULL;
}

static int group_setup(void **state)
{
	F = dos_xcalloc(1, sizeof(*F));
	dos_ctx_init(&F->ctx);
	F->ctx.log_level = DOS_LOG_ERROR;
	F->dir = dos_xstrdup("/tmp/diracos-rootfs-XXXXXX");
	if (!mkdtemp(F->dir) || chmod(F->dir, 0755) < 0)
		return -1;
	F->cache = dos_path_join(F->dir, "cache");
	F->gnupg = dos_path_join(F->dir, "gnupg");
	F->keyring = dos_path_join(F->dir, "keyring.gpg");
	F->mirror_dir = dos_path_join(F->dir, "mirror");
	F->mirror = dos_xasprintf("file://%s", F->mirror_dir);
	F->tarball = dos_path_join(F->dir, "root.tar");
	F->fake = dos_path_join(F->dir, "fake-mmdebstrap");
	F->args = dos_path_join(F->dir, "mmdebstrap.args");
	mkdir(F->gnupg, 0700);
	setenv("DIRACOS_CACHE", F->cache, 1);
	setenv("DIRACOS_MMDEBSTRAP", F->fake, 1);
	unsetenv("DIRACOS_MIRROR");
	unsetenv("DIRACOS_KEYRING");
	unsetenv("DIRACOS_CHECK_VALID_UNTIL");
	unsetenv("DIRACOS_ROOTFS_OVERLAY");
	skip_reason = missing_tool();
	if (!skip_reason) {
		make_archive();
		make_tarball();
		make_fake_mmdebstrap();
	}
	make_config();
	return 0;
}

static int group_teardown(void **state)
{
	if (!skip_reason)
		sh("gpgconf --kill gpg-agent");
	unmount_under(F->dir);
	dos_config_free(F->cfg);
	assert_int_equal(dos_rm_rf(&F->ctx, F->dir), 0);
	free(F->dir);
	free(F->cache);
	free(F->gnupg);
	free(F->keyring);
	free(F->mirror_dir);
	free(F->mirror);
	free(F->tarball);
	free(F->fake);
	free(F->args);
	free(F);
	return 0;
}

/* Each test starts from an empty cache and the stand-in mmdebstrap. */
static int test_setup(void **state)
{
	_cleanup_free_ char *fail = dos_path_join(F->dir, "FAKE_FAIL");
	_cleanup_free_ char *work = dos_path_join(F->dir, "work");

	unmount_under(F->dir);
	dos_rm_rf(&F->ctx, F->cache);
	dos_rm_rf(&F->ctx, work);
	unlink(F->args);
	unlink(fail);
	setenv("DIRACOS_MMDEBSTRAP", F->fake, 1);
	unsetenv("DIRACOS_ROOTFS_OVERLAY");
	return 0;
}

/* The key ensure() must use for these packages. */
static void expected_key(const struct dos_strv *pkgs, char key[DOS_SHA256_HEX])
{
	_cleanup_free_ char *inrelease = dos_path_join(F->mirror_dir, "dists/test/InRelease");
	char hex[DOS_SHA256_HEX];

	assert_int_equal(dos_sha256_file(&F->ctx, inrelease, hex), 0);
	dos_rootfs_key("test", "amd64", "buildd", &F->cfg->platform.components, hex, pkgs, key);
}

static struct dos_rootfs_opts opts_for(const struct dos_strv *pkgs)
{
	return (struct dos_rootfs_opts){ .cfg = F->cfg, .variant = "buildd",
					 .extra_packages = pkgs, .keyring = F->keyring };
}

/* --- the key --- */

static void test_key_pure(void **state)
{
	static const char *const a[] = { "make", "gpgv", NULL }, *const b[] = { "gpgv", "make", "make", NULL };
	static const char *const c[] = { "gpgv", NULL }, *const main_only[] = { "main", NULL };
	static const char *const two[] = { "main", "contrib", NULL };
	const char *ir = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	struct dos_strv pa, pb, pc, cm, c2;
	char k1[DOS_SHA256_HEX], k2[DOS_SHA256_HEX];

	strv_of(&pa, a), strv_of(&pb, b), strv_of(&pc, c), strv_of(&cm, main_only), strv_of(&c2, two);
	dos_rootfs_key("bookworm", "amd64", "buildd", &cm, ir, &pa, k1);
	assert_true(dos_sha256_valid(k1));
	dos_rootfs_key("bookworm", "amd64", "buildd", &cm, ir, &pb, k2);
	assert_string_equal(k1, k2);            /* order and duplicates do not matter */
	dos_rootfs_key("bookworm", "amd64", "buildd", &cm, ir, &pc, k2);
	assert_string_not_equal(k1, k2);        /* the package list does */
	dos_rootfs_key("trixie", "amd64", "buildd", &cm, ir, &pa, k2);
	assert_string_not_equal(k1, k2);        /* the suite */
	dos_rootfs_key("bookworm", "arm64", "buildd", &cm, ir, &pa, k2);
	assert_string_not_equal(k1, k2);        /* the architecture */
	dos_rootfs_key("bookworm", "amd64", "minbase", &cm, ir, &pa, k2);
	assert_string_not_equal(k1, k2);        /* the variant */
	dos_rootfs_key("bookworm", "amd64", "buildd", &c2, ir, &pa, k2);
	assert_string_not_equal(k1, k2);        /* the components */
	dos_rootfs_key("bookworm", "amd64", "buildd", &cm, "ff", &pa, k2);
	assert_string_not_equal(k1, k2);        /* the archive's state */
	dos_rootfs_key("bookworm", "amd64", "buildd", &cm, ir, NULL, k2);
	assert_string_not_equal(k1, k2);
	dos_rootfs_key("bookworm", "amd64", "buildd", &cm, ir, &pa, k2);
	assert_string_equal(k1, k2);            /* and stable */
	dos_strv_release(&pa), dos_strv_release(&pb), dos_strv_release(&pc);
	dos_strv_release(&cm), dos_strv_release(&c2);
}

/* --- the cache --- */

static void test_ensure_makes_then_reuses(void **state)
{
	static const char *const names[] = { "make", "gpgv", NULL };
	struct dos_strv pkgs;
	struct dos_rootfs_opts o;
	char key[DOS_SHA256_HEX], *path = NULL, *args;
	_cleanup_free_ char *want = NULL, *expect_args = NULL;

	NEED(!skip_reason, skip_reason);
	strv_of(&pkgs, names);
	o = opts_for(&pkgs);
	expected_key(&pkgs, key);
	want = dos_xasprintf("%s/rootfs/%s.tar", F->cache, key);
	assert_int_equal(dos_rootfs_ensure(&F->ctx, &o, &path), 0);
	assert_string_equal(path, want);
	assert_true(exists(want));
	args = read_text(F->args);
	assert_non_null(args);
	expect_args = dos_xasprintf("%s\n--variant=buildd\n--architectures=amd64\n"
				    "--components=main\n--include=gpgv,make\n"
				    "--keyring=%s\n--skip=output/dev\n"
				    "--skip=cleanup/apt/lists\n--aptopt=Acquire::Languages \"none\"\n"
				    "--format=tar\ntest\n%s.tmp-%ld\n%s\n",
				    geteuid() == 0 ? "--mode=root" : "--mode=unshare", F->keyring, want,
				    (long)getpid(), F->mirror);
	assert_string_equal(args, expect_args);
	free(args);
	free(path);
	/* The same key again: the cached tarball, no mmdebstrap. */
	unlink(F->args);
	path = NULL;
	assert_int_equal(dos_rootfs_ensure(&F->ctx, &o, &path), 0);
	assert_string_equal(path, want);
	assert_false(exists(F->args));
	free(path);
	dos_strv_release(&pkgs);
}

static void test_ensure_without_mmdebstrap(void **state)
{
	static const char *const names[] = { "gpgv", NULL }, *const other[] = { "make", NULL };
	struct dos_strv pkgs, pkgs2;
	struct dos_rootfs_opts o;
	char key[DOS_SHA256_HEX], *path = NULL;
	_cleanup_free_ char *cached = NULL, *dir = dos_path_join(F->cache, "rootfs");

	NEED(!skip_reason, skip_reason);
	setenv("DIRACOS_MMDEBSTRAP", "/nonexistent/mmdebstrap", 1);
	strv_of(&pkgs, names);
	strv_of(&pkgs2, other);
	expected_key(&pkgs, key);
	cached = dos_xasprintf("%s/%s.tar", dir, key);
	assert_int_equal(dos_mkdir_p(&F->ctx, dir, 0755), 0);
	assert_int_equal(sh("cp '%s' '%s'", F->tarball, cached), 0);
	o = opts_for(&pkgs);
	assert_int_equal(dos_rootfs_ensure(&F->ctx, &o, &path), 0);
	assert_string_equal(path, cached);
	free(path);
	/* Another package list is another root: it needs the missing program. */
	o = opts_for(&pkgs2);
	assert_int_equal(dos_rootfs_ensure(&F->ctx, &o, &path), DOS_ECHILD);
	assert_non_null(strstr(F->ctx.msg, "root filesystem 'test/buildd'"));
	assert_non_null(strstr(F->ctx.msg, "/nonexistent/mmdebstrap"));
	dos_strv_release(&pkgs);
	dos_strv_release(&pkgs2);
}

static void test_ensure_failure_leaves_nothing(void **state)
{
	_cleanup_free_ char *fail = dos_path_join(F->dir, "FAKE_FAIL");
	_cleanup_free_ char *dir = dos_path_join(F->cache, "rootfs");
	struct dos_rootfs_opts o = opts_for(NULL);
	char key[DOS_SHA256_HEX], *path = NULL;
	_cleanup_free_ char *tar = NULL, *tmp = NULL, *stale = NULL, *old_tmp = NULL;

	NEED(!skip_reason, skip_reason);
	write_text(fail, "");
	expected_key(NULL, key);
	tar = dos_xasprintf("%s/%s.tar", dir, key);
	tmp = dos_xasprintf("%s.tmp-%ld", tar, (long)getpid());
	/* What a killed run left: a dead process's output, an older name. */
	assert_int_equal(dos_mkdir_p(&F->ctx, dir, 0755), 0);
	stale = dos_xasprintf("%s.tmp-%d", tar, INT_MAX - 1);
	old_tmp = dos_xasprintf("%s.tmp", tar);
	write_text(stale, "half");
	write_text(old_tmp, "half");
	assert_int_equal(dos_rootfs_ensure(&F->ctx, &o, &path), DOS_ECHILD);
	assert_false(exists(stale));
	assert_false(exists(old_tmp));
	assert_null(path);
	assert_non_null(strstr(F->ctx.msg, "root filesystem 'test/buildd'"));
	assert_non_null(strstr(F->ctx.msg, "the mirror said no"));
	assert_false(exists(tar));
	assert_false(exists(tmp));
}

static void test_bad_requests(void **state)
{
	static const char *const bad[] = { "--purge", NULL };
	struct dos_strv pkgs;
	struct dos_rootfs_opts o;
	char *path = NULL;

	strv_of(&pkgs, bad);
	o = opts_for(&pkgs);
	assert_int_equal(dos_rootfs_ensure(&F->ctx, &o, &path), DOS_ECONFIG);
	assert_non_null(strstr(F->ctx.msg, "'--purge' is not a package name"));
	o = opts_for(NULL);
	o.variant = "buildd --foo";
	assert_int_equal(dos_rootfs_ensure(&F->ctx, &o, &path), DOS_EUSAGE);
	assert_non_null(strstr(F->ctx.msg, "bad variant"));
	dos_strv_release(&pkgs);
}

/* --- instances --- */

static struct dos_rootfs_instance *instance_at(const char *name)
{
	_cleanup_free_ char *dest = dos_xasprintf("%s/work/%s", F->dir, name);
	struct dos_rootfs_opts o = opts_for(NULL);
	struct dos_rootfs_instance *inst = NULL;
	int r = dos_rootfs_instance(&F->ctx, &o, dest, &inst);

	if (r < 0)
		fail_msg("instance: %s", F->ctx.msg);
	return inst;
}

static char *in_root(const struct dos_rootfs_instance *inst, const char *rel)
{
	return dos_path_join(inst->root, rel);
}

static void check_fresh(const struct dos_rootfs_instance *inst)
{
	_cleanup_free_ char *bb = in_root(inst, "bin/busybox"), *hello = in_root(inst, "etc/hello");
	_cleanup_free_ char *hello2 = in_root(inst, "etc/hello2");
	_cleanup_free_ char *list = in_root(inst, "etc/apt/sources.list.d/diracos-debian.list");
	_cleanup_free_ char *expect = dos_xasprintf("deb %s test main\n", F->mirror);
	_cleanup_free_ char *keys = in_root(inst, "etc/apt/trusted.gpg.d/diracos-mirror.gpg");
	_cleanup_free_ char *kin = NULL, *kout = NULL;
	size_t nin = 0, nout = 0;
	struct stat st;

	assert_int_equal(access(bb, X_OK), 0);
	assert_file_text(hello, "hello\n");
	assert_int_equal(stat(hello2, &st), 0);
	assert_int_equal(st.st_nlink, 2);       /* the hard link stays one */
	assert_file_text(list, expect);
	assert_int_equal(inst->n_binds, 0);     /* no local repository yet */
	/* apt inside trusts the mirror's keys */
	assert_int_equal(dos_read_file(&F->ctx, F->keyring, 1 << 20, &kin, &nin), 0);
	assert_int_equal(dos_read_file(&F->ctx, keys, 1 << 20, &kout, &nout), 0);
	assert_int_equal(nin, nout);
	assert_memory_equal(kin, kout, nin);
}

/* Two instances: each fresh and writable, neither sees the other's writes. */
static void two_instances(bool overlay)
{
	struct dos_rootfs_instance *a, *b;
	_cleanup_free_ char *dir_a = NULL, *new_a = NULL, *new_b = NULL, *hello_a = NULL;
	_cleanup_free_ char *hello_b = NULL, *hello_c = NULL;

	a = instance_at("a");
	b = instance_at("b");
	assert_int_equal(a->overlay, overlay);
	check_fresh(a);
	check_fresh(b);
	new_a = in_root(a, "root/new"), new_b = in_root(b, "root/new");
	hello_a = in_root(a, "etc/hello"), hello_b = in_root(b, "etc/hello");
	write_text(new_a, "a\n");
	write_text(hello_a, "changed\n");
	assert_false(exists(new_b));
	assert_file_text(hello_b, "hello\n");
	dir_a = dos_xstrdup(a->dir);
	dos_rootfs_instance_free(a);
	assert_false(exists(dir_a));
	assert_file_text(hello_b, "hello\n");
	dos_rootfs_instance_free(b);
	/* A third one after them starts from the cache again. */
	a = instance_at("c");
	hello_c = in_root(a, "etc/hello");
	assert_file_text(hello_c, "hello\n");
	dos_rootfs_instance_free(a);
}

/* A folder that already holds a root is refused and left as it was. */
static void test_instance_dest_taken(void **state)
{
	_cleanup_free_ char *dest = dos_xasprintf("%s/work/a", F->dir);
	struct dos_rootfs_opts o = opts_for(NULL);
	struct dos_rootfs_instance *a, *b = NULL;
	_cleanup_free_ char *hello = NULL;

	NEED(!skip_reason, skip_reason);
	a = instance_at("a");
	hello = in_root(a, "etc/hello");
	assert_int_equal(dos_rootfs_instance(&F->ctx, &o, dest, &b), DOS_EIO);
	assert_null(b);
	assert_non_null(strstr(F->ctx.msg, "cannot create"));
	assert_file_text(hello, "hello\n");
	dos_rootfs_instance_free(a);
}

static void test_instances_overlay(void **state)
{
	_cleanup_free_ char *tree_tmp = NULL;
	char key[DOS_SHA256_HEX];
	bool tree_synced = false;

	NEED(!skip_reason, skip_reason);
	NEED(geteuid() == 0, "overlays need root");
	n_synced = 0;
	two_instances(true);
	/* The unpacked tree was on disk before it took its content-keyed name. */
	expected_key(NULL, key);
	tree_tmp = dos_xasprintf("%s/rootfs/%s.tmp", F->cache, key);
	for (size_t i = 0; i < n_synced; i++)
		tree_synced |= !strcmp(synced[i], tree_tmp);
	assert_true(tree_synced);
}

static void test_instances_copy(void **state)
{
	NEED(!skip_reason, skip_reason);
	setenv("DIRACOS_ROOTFS_OVERLAY", "0", 1);
	two_instances(false);
}

/* The sandbox runs in an instance; the local repository is there,
 * read-only, as it was when the instance was made: a commit that replaces
 * a package afterwards takes its old file out of the pool, not out of the
 * instance's view. */
static void test_instance_sandbox_repo(void **state)
{
	_cleanup_free_ char *packages = dos_xasprintf("%s/work/repo/Packages", F->dir);
	_cleanup_free_ char *log = dos_path_join(F->dir, "sandbox.log");
	_cleanup_free_ char *deb = dos_xasprintf("%s/work/repo/pool/0123456789abcdef/p_1_all.deb",
						 F->dir);
	char *argv[] = { "sh", "-c", "cat /diracos-repo/Packages /etc/apt/preferences.d/diracos-repo "
			 "/diracos-repo/pool/0123456789abcdef/p_1_all.deb; "
			 "echo x > /diracos-repo/y || echo read-only; echo w > /written", NULL };
	char *env[] = { "PATH=/bin", NULL };
	struct dos_rootfs_instance *inst;
	struct dos_sandbox_opts so = { .argv = argv, .envp = env, .log_path = log,
				       .root_writable = true };
	_cleanup_free_ char *list = NULL, *written = NULL, *text = NULL, *pool = NULL;
	int status = -1;
	const char *why;

	NEED(!skip_reason, skip_reason);
	NEED(dos_sandbox_available(&why), why);
	write_text(packages, "Package: p\nFilename: pool/0123456789abcdef/p_1_all.deb\n");
	pool = dos_path_dirname(deb);
	assert_int_equal(dos_mkdir_p(&F->ctx, pool, 0755), 0);
	write_text(deb, "the old deb\n");
	inst = instance_at("s");
	/* The commit that replaces p. */
	assert_int_equal(unlink(deb), 0);
	write_text(packages, "Package: p\nFilename: pool/fedcba9876543210/p_2_all.deb\n");
	assert_int_equal(inst->n_binds, 1);
	assert_string_equal(inst->binds[0].dest, DOS_ROOTFS_REPO_PATH);
	list = in_root(inst, "etc/apt/sources.list.d/diracos-repo.list");
	assert_file_text(list, "deb [trusted=yes] file:/diracos-repo ./\n");
	so.root = inst->root, so.binds = inst->binds, so.n_binds = inst->n_binds;
	assert_int_equal(dos_sandbox_run(&F->ctx, &so, &status), 0);
	assert_int_equal(status, 0);
	text = read_text(log);
	assert_non_null(strstr(text, "Package: p\nFilename: pool/0123456789abcdef/p_1_all.deb\n"));
	assert_non_null(strstr(text, "the old deb\n"));
	assert_non_null(strstr(text, "Pin: origin \"\"\nPin-Priority: 1001\n"));
	assert_non_null(strstr(text, "read-only"));
	written = in_root(inst, "written");
	assert_file_text(written, "w\n");
	dos_rootfs_instance_free(inst);
}

/* --- hostile tarballs --- */

static void add_entry(struct archive *a, const char *path, mode_t type, const char *data,
		      const char *link)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_size(e, data ? (la_int64_t)strlen(data) : 0);
	if (link)
		archive_entry_set_symlink(e, link);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (data)
		assert_int_equal(archive_write_data(a, data, strlen(data)), (la_ssize_t)strlen(data));
	archive_entry_free(e);
}

/* A cached tarball (for the default key) whose last entry is hostile. */
static void cache_hostile(const char *path, mode_t type, const char *link, const char *under)
{
	char key[DOS_SHA256_HEX];
	_cleanup_free_ char *dir = dos_path_join(F->cache, "rootfs");
	_cleanup_free_ char *tar = NULL;
	struct archive *a = archive_write_new();

	expected_key(NULL, key);
	tar = dos_xasprintf("%s/%s.tar", dir, key);
	assert_int_equal(dos_mkdir_p(&F->ctx, dir, 0755), 0);
	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, tar), ARCHIVE_OK);
	add_entry(a, "./etc", AE_IFDIR, NULL, NULL);
	add_entry(a, path, type, type == AE_IFREG ? "evil\n" : NULL, link);
	if (under)
		add_entry(a, under, AE_IFREG, "evil\n", NULL);
	archive_write_close(a);
	archive_write_free(a);
}

static void hostile(const char *path, mode_t type, const char *link, const char *under,
		    const char *victim)
{
	_cleanup_free_ char *dest = dos_xasprintf("%s/work/h", F->dir);
	struct dos_rootfs_opts o = opts_for(NULL);
	struct dos_rootfs_instance *inst = NULL;
	_cleanup_free_ char *tree = NULL;
	char key[DOS_SHA256_HEX];

	test_setup(NULL);
	cache_hostile(path, type, link, under);
	assert_int_equal(dos_rootfs_instance(&F->ctx, &o, dest, &inst), DOS_EFORMAT);
	assert_null(inst);
	assert_non_null(strstr(F->ctx.msg, under ? under : path));
	assert_false(exists(victim));
	assert_false(exists(dest));
	expected_key(NULL, key);
	tree = dos_xasprintf("%s/rootfs/%s", F->cache, key);
	assert_false(exists(tree));             /* no half-made cached tree either */
}

static void test_hostile_tarball(void **state)
{
	_cleanup_free_ char *victim = dos_path_join(F->dir, "victim");
	_cleanup_free_ char *outside = dos_path_join(F->dir, "outside");
	_cleanup_free_ char *victim2 = dos_path_join(outside, "x");

	NEED(!skip_reason, skip_reason);
	/* work/h/root/../../../victim is <dir>/victim */
	hostile("../../../victim", AE_IFREG, NULL, NULL, victim);
	hostile(victim, AE_IFREG, NULL, NULL, victim);
	/* A symlink to a host folder, then a file through it. */
	assert_int_equal(mkdir(outside, 0755), 0);
	hostile("./etc/out", AE_IFLNK, outside, "./etc/out/x", victim2);
	setenv("DIRACOS_ROOTFS_OVERLAY", "0", 1);
	hostile("./etc/out", AE_IFLNK, outside, "./etc/out/x", victim2);
}

/* --- installing --- */

static void test_install_errors(void **state)
{
	static const char *const names[] = { "make", "gcc", NULL }, *const bad[] = { "-y", NULL };
	struct dos_strv pkgs, badv;
	struct dos_rootfs_instance *inst;
	const char *why;

	NEED(!skip_reason, skip_reason);
	NEED(dos_sandbox_available(&why), why);
	strv_of(&pkgs, names);
	strv_of(&badv, bad);
	inst = instance_at("i");
	assert_int_equal(dos_rootfs_install(&F->ctx, inst, &badv), DOS_ECONFIG);
	assert_non_null(strstr(F->ctx.msg, "'-y' is not a package name"));
	assert_int_equal(dos_rootfs_install(&F->ctx, inst, NULL), 0);
	/* busybox has no apt-get: the error says so, with the log's end. */
	assert_int_equal(dos_rootfs_install(&F->ctx, inst, &pkgs), DOS_ECHILD);
	assert_non_null(strstr(F->ctx.msg, "installing 'make,gcc': apt-get exited with status 127"));
	assert_non_null(strstr(F->ctx.msg, "apt-get: not found"));
	dos_rootfs_instance_free(inst);
	dos_strv_release(&pkgs);
	dos_strv_release(&badv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_pure),
		cmocka_unit_test_setup(test_ensure_makes_then_reuses, test_setup),
		cmocka_unit_test_setup(test_ensure_without_mmdebstrap, test_setup),
		cmocka_unit_test_setup(test_ensure_failure_leaves_nothing, test_setup),
		cmocka_unit_test_setup(test_bad_requests, test_setup),
		cmocka_unit_test_setup(test_instances_overlay, test_setup),
		cmocka_unit_test_setup(test_instances_copy, test_setup),
		cmocka_unit_test_setup(test_instance_dest_taken, test_setup),
		cmocka_unit_test_setup(test_instance_sandbox_repo, test_setup),
		cmocka_unit_test_setup(test_hostile_tarball, test_setup),
		cmocka_unit_test_setup(test_install_errors, test_setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
