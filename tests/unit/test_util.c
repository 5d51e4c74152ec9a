/* Unit tests of the shared ground: sha256, atomic writes, paths, runner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "run.h"
#include "util.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_sha256_known_vectors(void **state)
{
	char hex[DOS_SHA256_HEX];

	dos_sha256_buf("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	dos_sha256_buf("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_true(dos_sha256_valid(hex));
	assert_false(dos_sha256_valid("abc"));
	assert_false(dos_sha256_valid("zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
}

static void test_atomic_write_and_abort(void **state)
{
	struct dos_ctx ctx;
	struct dos_atomic af;
	char *dir = th_tmpdir("util");
	char *path = dos_path_join(dir, "file");
	char *data = NULL;
	size_t len;
	char hex[DOS_SHA256_HEX];

	dos_ctx_init(&ctx);
	assert_int_equal(dos_write_file_atomic(&ctx, path, "hello", 5, 0640), 0);
	assert_int_equal(dos_read_file(&ctx, path, 100, &data, &len), 0);
	assert_int_equal(len, 5);
	assert_string_equal(data, "hello");
	free(data);
	assert_int_equal(dos_sha256_file(&ctx, path, hex), 0);
	assert_string_equal(hex, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");

	/* An aborted write leaves the old content and no temporary file. */
	assert_int_equal(dos_atomic_open(&ctx, &af, path, 0644), 0);
	assert_int_equal(dos_atomic_write(&ctx, &af, "partial", 7), 0);
	dos_atomic_abort(&af);
	assert_int_equal(dos_read_file(&ctx, path, 100, &data, &len), 0);
	assert_string_equal(data, "hello");
	free(data);
	assert_int_equal(dos_rm_rf(&ctx, dir), 0);
	assert_int_not_equal(access(dir, F_OK), 0);
	free(path);
	free(dir);
}

/* A process killed before the commit leaves no temporary beside the file
 * (an unnamed O_TMPFILE file); a commit gives the mode asked for, whatever
 * the umask, and replaces the file. */
static void test_atomic_killed_leaves_nothing(void **state)
{
	struct dos_ctx ctx;
	struct dos_atomic af;
	char *dir = th_tmpdir("util");
	char *path = dos_path_join(dir, "file");
	struct stat st;
	char *data = NULL;
	size_t len;
	pid_t pid;
	int status;

	dos_ctx_init(&ctx);
	assert_int_equal(dos_write_file_atomic(&ctx, path, "old", 3, 0644), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (dos_atomic_open(&ctx, &af, path, 0644) == 0 &&
		    dos_atomic_write(&ctx, &af, "half", 4) == 0)
			kill(getpid(), SIGKILL);
		_exit(1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(th_count_dir(dir), 1);

	umask(077);
	assert_int_equal(dos_write_file_atomic(&ctx, path, "new", 3, 0644), 0);
	umask(022);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(dos_read_file(&ctx, path, 100, &data, &len), 0);
	assert_string_equal(data, "new");
	assert_int_equal(th_count_dir(dir), 1);
	free(data);
	assert_int_equal(dos_rm_rf(&ctx, dir), 0);
	free(path);
	free(dir);
}

static void test_read_file_limit(void **state)
{
	struct dos_ctx ctx;
	char *data = NULL;

	dos_ctx_init(&ctx);
	assert_int_equal(dos_read_file(&ctx, "/etc/passwd", 3, &data, NULL), DOS_EFORMAT);
	assert_non_null(strstr(ctx.msg, "/etc/passwd"));
	assert_int_equal(dos_read_file(&ctx, "/nonexistent/x", 3, &data, NULL), DOS_EIO);
	assert_non_null(strstr(ctx.msg, "cannot open '/nonexistent/x'"));
}

static void test_path_absolute(void **state)
{
	char *p;

	p = dos_path_absolute("/a/b", "../c/./d//e");
	assert_string_equal(p, "/a/c/d/e");
	free(p);
	p = dos_path_absolute("/a/b", "/x/../y/");
	assert_string_equal(p, "/y");
	free(p);
	p = dos_path_absolute("/", "..");
	assert_string_equal(p, "/");
	free(p);
	p = dos_path_dirname("dir/file.json");
	assert_string_equal(p, "dir");
	free(p);
	p = dos_path_dirname("file.json");
	assert_string_equal(p, ".");
	free(p);
}

static void test_mkdir_p(void **state)
{
	struct dos_ctx ctx;
	char *dir = th_tmpdir("util");
	char *deep = dos_path_join(dir, "a/b/c");
	struct stat st;

	dos_ctx_init(&ctx);
	assert_int_equal(dos_mkdir_p(&ctx, deep, 0755), 0);
	assert_int_equal(dos_mkdir_p(&ctx, deep, 0755), 0);
	assert_int_equal(stat(deep, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(dos_rm_rf(&ctx, dir), 0);
	free(deep);
	free(dir);
}

static void test_run_capture_and_failure(void **state)
{
	struct dos_ctx ctx;
	char *out = NULL;
	char *dir = th_tmpdir("util");
	char *log = dos_path_join(dir, "log");
	char *echo_argv[] = { "sh", "-c", "echo out; echo $HOME", NULL };
	char *fail_argv[] = { "sh", "-c", "echo first line; echo last words >&2; exit 3", NULL };
	struct dos_run_opts opts = { .log_path = log };

	dos_ctx_init(&ctx);
	assert_int_equal(dos_run_capture(&ctx, echo_argv, NULL, &out, NULL), 0);
	/* The clean environment, not the caller's. */
	assert_string_equal(out, "out\n/root\n");
	free(out);
	assert_int_equal(dos_run(&ctx, fail_argv, &opts), DOS_ECHILD);
	assert_non_null(strstr(ctx.msg, "command 'sh -c"));
	assert_non_null(strstr(ctx.msg, "exited with status 3"));
	assert_non_null(strstr(ctx.msg, "last words"));
	assert_non_null(strstr(ctx.msg, log));

	char *missing[] = { "no-such-program-here", NULL };
	assert_int_equal(dos_run(&ctx, missing, NULL), DOS_ECHILD);
	assert_non_null(strstr(ctx.msg, "no-such-program-here"));
	dos_rm_rf(&ctx, dir);
	free(log);
	free(dir);
}

static void test_error_prefix_and_exit_status(void **state)
{
	struct dos_ctx ctx;

	dos_ctx_init(&ctx);
	dos_error(&ctx, DOS_ECHECKSUM, "file 'x.deb': sha256 mismatch");
	assert_int_equal(dos_error_prefix(&ctx, "package '%s'", "curl"), DOS_ECHECKSUM);
	assert_string_equal(ctx.msg, "package 'curl': file 'x.deb': sha256 mismatch");
	assert_int_equal(dos_exit_status(DOS_ECONFIG), 2);
	assert_int_equal(dos_exit_status(DOS_EUSAGE), 2);
	assert_int_equal(dos_exit_status(DOS_ECHECKSUM), 1);
	assert_int_equal(dos_exit_status(0), 0);
	assert_string_equal(dos_code_name(DOS_ECHECKSUM), "checksum");
}

static void test_strv(void **state)
{
	struct dos_strv sv = { 0 };

	dos_strv_push(&sv, "b");
	dos_strv_push(&sv, "a");
	dos_strv_push(&sv, "c");
	dos_strv_sort(&sv);
	assert_string_equal(sv.v[0], "a");
	assert_string_equal(sv.v[2], "c");
	assert_null(sv.v[3]);
	assert_true(dos_strv_contains(&sv, "b"));
	assert_false(dos_strv_contains(&sv, "d"));
	dos_strv_release(&sv);
}

static void test_python3_minor(void **state)
{
	assert_int_equal(dos_python3_minor("python3.11"), 11);
	assert_int_equal(dos_python3_minor("python3.13"), 13);
	assert_int_equal(dos_python3_minor("python3"), -1);
	assert_int_equal(dos_python3_minor("python3.11-minimal"), -1);
	assert_int_equal(dos_python3_minor("python3.x"), -1);
	assert_int_equal(dos_python3_minor("libpython3.11"), -1);
	assert_int_equal(dos_python3_minor("python3.99999"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_known_vectors),
		cmocka_unit_test(test_atomic_write_and_abort),
		cmocka_unit_test(test_atomic_killed_leaves_nothing),
		cmocka_unit_test(test_read_file_limit),
		cmocka_unit_test(test_path_absolute),
		cmocka_unit_test(test_mkdir_p),
		cmocka_unit_test(test_run_capture_and_failure),
		cmocka_unit_test(test_error_prefix_and_exit_status),
		cmocka_unit_test(test_strv),
		cmocka_unit_test(test_python3_minor),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
