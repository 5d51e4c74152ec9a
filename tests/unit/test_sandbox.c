/* Unit tests of the sandbox: a tiny root holding the host's busybox, real
 * namespaces, real mounts, a real loopback server, real signals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "run.h"
#include "sandbox.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const applets[] = {
	"sh", "cat", "ls", "echo", "id", "ps", "kill", "env", "sleep", "touch", "ip",
	"nc", "hostname", "head", "wc", "test", "mkdir", "rm", "grep", "mount",
};

static char *const test_env[] = { "PATH=/bin", "HOME=/", NULL };

/* The folder everything lives in; NULL when the tests cannot run. */
static char *base;
static char *root;
static const char *skip_reason;

static const char *find_busybox(void)
{
	static const char *const paths[] = { "/bin/busybox", "/usr/bin/busybox", "/sbin/busybox" };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

static void write_text(const char *path, const char *text)
{
	struct dos_ctx ctx;

	dos_ctx_init(&ctx);
	assert_int_equal(dos_write_file_atomic(&ctx, path, text, strlen(text), 0644), 0);
}

static int copy_file(const char *src, const char *dst, mode_t mode)
{
	struct dos_ctx ctx;
	_cleanup_free_ char *data = NULL;
	size_t len;

	dos_ctx_init(&ctx);
	if (dos_read_file(&ctx, src, 64 << 20, &data, &len) < 0)
		return -1;
	return dos_write_file_atomic(&ctx, dst, data, len, mode);
}

/* A dynamically linked busybox needs its libraries at the same paths. */
static int copy_libraries(const char *exe)
{
	struct dos_ctx ctx;
	char *const argv[] = { "ldd", (char *)exe, NULL };
	_cleanup_free_ char *log = dos_path_join(base, "ldd.log");
	struct dos_run_opts ro = { .allow_status = 1, .log_path = log };
	_cleanup_free_ char *out = NULL;
	char *tok, *save = NULL;

	dos_ctx_init(&ctx);
	if (dos_run_capture(&ctx, argv, &ro, &out, NULL) < 0)
		return 0; /* no ldd: assume static */
	for (tok = strtok_r(out, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
		_cleanup_free_ char *dst = NULL, *dir = NULL;

		if (tok[0] != '/')
			continue;
		dst = dos_xasprintf("%s%s", root, tok);
		dir = dos_path_dirname(dst);
		if (dos_mkdir_p(&ctx, dir, 0755) < 0 || copy_file(tok, dst, 0755) < 0)
			return -1;
	}
	return 0;
}

static int make_root(const char *busybox)
{
	static const char *const dirs[] = { "bin", "proc", "dev", "tmp", "etc" };
	struct dos_ctx ctx;
	_cleanup_free_ char *bb = dos_path_join(root, "bin/busybox");
	_cleanup_free_ char *marker = dos_path_join(root, "marker");

	dos_ctx_init(&ctx);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		_cleanup_free_ char *d = dos_path_join(root, dirs[i]);
		if (dos_mkdir_p(&ctx, d, 0755) < 0)
			return -1;
	}
	if (copy_file(busybox, bb, 0755) < 0 || copy_libraries(busybox) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++) {
		_cleanup_free_ char *link = dos_xasprintf("%s/bin/%s", root, applets[i]);
		if (symlink("busybox", link) < 0)
			return -1;
	}
	write_text(marker, "inside-root\n");
	return 0;
}

static int group_setup(void **state)
{
	const char *busybox = find_busybox();
	const char *why = NULL;

	if (!busybox) {
		skip_reason = "busybox is not installed (apt-get install busybox-static)";
		return 0;
	}
	if (!dos_sandbox_available(&why)) {
		skip_reason = why;
		return 0;
	}
	base = strdup("/tmp/diracos-sandbox-XXXXXX");
	if (!mkdtemp(base) || chmod(base, 0755) < 0)
		return -1;
	root = dos_path_join(base, "root");
	return make_root(busybox);
}

static int group_teardown(void **state)
{
	struct dos_ctx ctx;

	dos_ctx_init(&ctx);
	if (base)
		dos_rm_rf(&ctx, base);
	free(root);
	free(base);
	return 0;
}

#define NEED_SANDBOX()                                                   \
	do {                                                             \
		if (skip_reason) {                                       \
			print_message("# skipped: %s\n", skip_reason);   \
			skip();                                          \
		}                                                        \
	} while (0)

/* Runs `sh -c script` with opts (root, env and log filled in when unset);
 * returns dos_sandbox_run's result, the log's content in *log. */
static int sb_run(struct dos_ctx *ctx, struct dos_sandbox_opts *o, const char *script,
		  int *status, char **log)
{
	char *const argv[] = { "sh", "-c", (char *)script, NULL };
	_cleanup_free_ char *log_path = dos_path_join(base, "log");
	int r;

	dos_ctx_init(ctx);
	unlink(log_path);
	if (!o->root)
		o->root = root;
	if (!o->argv)
		o->argv = argv;
	if (!o->envp)
		o->envp = test_env;
	o->log_path = log_path;
	r = dos_sandbox_run(ctx, o, status);
	o->argv = o->argv == argv ? NULL : o->argv;
	o->log_path = NULL;
	if (log)
		*log = th_read(log_path);
	if (log && !*log)
		*log = strdup("");
	return r;
}

/* How many host processes have marker in their command line. */
static int count_procs(const char *marker)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[300], buf[4096];
		ssize_t len;
		int fd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		for (ssize_t i = 0; i < len; i++)
			buf[i] = buf[i] ? buf[i] : ' ';
		buf[len > 0 ? len : 0] = '\0';
		n += strstr(buf, marker) != NULL;
	}
	closedir(d);
	return n;
}

static void test_exit_status(void **state)
{
	struct dos_sandbox_opts o = { 0 };
	struct dos_ctx ctx;
	char *log;
	int st = -1;

	NEED_SANDBOX();
	/* stdin is /dev/null: cat ends at once. */
	assert_int_equal(sb_run(&ctx, &o, "cat; echo out; echo err >&2; exit 7", &st, &log), 0);
	assert_int_equal(st, 7);
	assert_string_equal(log, "out\nerr\n");
	free(log);
	assert_int_equal(sb_run(&ctx, &o, "kill -9 $$", &st, NULL), 0);
	assert_int_equal(st, 128 + 9);
	assert_int_equal(sb_run(&ctx, &o, "true", &st, NULL), 0);
	assert_int_equal(st, 0);
}

static void test_root_read_only(void **state)
{
	struct dos_sandbox_opts o = { 0 };
	struct dos_ctx ctx;
	_cleanup_free_ char *hostmarker = dos_path_join(root, "hostmarker");
	_cleanup_free_ char *written = dos_path_join(root, "written");
	char *log;
	int st = -1;

	NEED_SANDBOX();
	/* Without CAP_SYS_ADMIN the command cannot make it writable again. */
	assert_int_equal(sb_run(&ctx, &o, "cat /marker; ls /; mount -o remount,rw / 2>/dev/null;"
				"touch /hostmarker || echo ro; touch /tmp/t && echo tmp-ok",
				&st, &log), 0);
	assert_int_equal(st, 0);
	assert_non_null(strstr(log, "inside-root\n"));
	assert_non_null(strstr(log, "\nro\ntmp-ok\n"));
	assert_non_null(strstr(log, "Read-only file system"));
	assert_int_not_equal(access(hostmarker, F_OK), 0);
	free(log);

	o.root_writable = true;
	assert_int_equal(sb_run(&ctx, &o, "echo w > /written", &st, NULL), 0);
	assert_int_equal(st, 0);
	log = th_read(written);
	assert_string_equal(log, "w\n");
	free(log);
	unlink(written);
}

static void test_host_hidden(void **state)
{
	struct dos_sandbox_opts o = { 0 };
	struct dos_ctx ctx;
	_cleanup_free_ char *outside = dos_path_join(base, "outside");
	_cleanup_free_ char *script = NULL;
	char *log;
	int st = -1;

	NEED_SANDBOX();
	write_text(outside, "secret\n");
	script = dos_xasprintf("cat %s || echo unreadable; ls %s || echo unlisted; ls /proc/1/root/",
			       outside, base);
	assert_int_equal(sb_run(&ctx, &o, script, &st, &log), 0);
	assert_null(strstr(log, "secret"));
	assert_non_null(strstr(log, "unreadable\n"));
	assert_non_null(strstr(log, "unlisted\n"));
	assert_non_null(strstr(log, "marker"));
	free(log);
	unlink(outside);
}

static void test_binds(void **state)
{
	struct dos_ctx ctx;
	_cleanup_free_ char *src = dos_path_join(base, "src");
	_cleanup_free_ char *out = dos_path_join(base, "out");
	_cleanup_free_ char *file = dos_path_join(base, "single");
	_cleanup_free_ char *src_file = dos_path_join(src, "file");
	_cleanup_free_ char *out_file = dos_path_join(out, "made");
	_cleanup_free_ char *deep = dos_path_join(root, "mnt/deep");
	struct dos_sandbox_bind binds[] = {
		{ src, "/src", false }, { out, "/out", true }, { file, "/mnt/deep/single", false },
	};
	struct dos_sandbox_opts o = { .binds = binds, .n_binds = 3 };
	char *log;
	int st = -1;

	NEED_SANDBOX();
	dos_ctx_init(&ctx);
	assert_int_equal(dos_mkdir_p(&ctx, src, 0755), 0);
	assert_int_equal(dos_mkdir_p(&ctx, out, 0755), 0);
	write_text(src_file, "source\n");
	write_text(file, "single\n");
	assert_int_equal(sb_run(&ctx, &o, "cat /src/file /mnt/deep/single; touch /src/new || echo ro;"
				"echo made > /out/made; echo x > /mnt/deep/single || echo ro2", &st, &log),
			 0);
	assert_int_equal(st, 0);
	assert_non_null(strstr(log, "source\nsingle\n"));
	assert_non_null(strstr(log, "\nro\n"));
	assert_non_null(strstr(log, "\nro2\n"));
	free(log);
	log = th_read(out_file);
	assert_string_equal(log, "made\n");
	free(log);
	log = th_read(file);
	assert_string_equal(log, "single\n");
	free(log);
	/* The missing mount point was created in the root folder. */
	assert_int_equal(access(deep, F_OK), 0);
	assert_int_equal(dos_rm_rf(&ctx, deep), 0);
}

/* A symlink in the root pointing at a host folder: the mount point resolves
 * inside the root (or, without openat2, is refused); never on the host. */
static void test_bind_symlink_stays_inside(void **state)
{
	struct dos_ctx ctx;
	_cleanup_free_ char *link = dos_path_join(root, "escape");
	_cleanup_free_ char *target = dos_path_join(base, "victim");
	_cleanup_free_ char *planted = dos_path_join(target, "x");
	_cleanup_free_ char *src = dos_path_join(base, "src2");
	_cleanup_free_ char *dest = dos_xasprintf("/escape/x");
	struct dos_sandbox_bind binds[] = { { src, dest, false } };
	struct dos_sandbox_opts o = { .binds = binds, .n_binds = 1 };
	int st = -1, r;

	NEED_SANDBOX();
	dos_ctx_init(&ctx);
	assert_int_equal(dos_mkdir_p(&ctx, target, 0755), 0);
	assert_int_equal(dos_mkdir_p(&ctx, src, 0755), 0);
	assert_int_equal(symlink(target, link), 0);
	r = sb_run(&ctx, &o, "true", &st, NULL);
	assert_true(r == 0 || strstr(ctx.msg, "mount point") != NULL);
	assert_int_not_equal(access(planted, F_OK), 0);
	unlink(link);
}

/* A host server that answers "host-hello" to every connection. */
static pid_t host_server(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (;;) {
			int c = accept(fd, NULL, NULL);
			if (c >= 0 && write(c, "host-hello\n", 11) == 11)
				close(c);
		}
	}
	close(fd);
	return pid;
}

static void test_network(void **state)
{
	struct dos_sandbox_opts o = { 0 };
	struct dos_ctx ctx;
	_cleanup_free_ char *script = NULL;
	char *log;
	int st = -1, port;
	pid_t server;

	NEED_SANDBOX();
	server = host_server(&port);
	script = dos_xasprintf("nc 127.0.0.1 %d </dev/null || echo unreachable; ip link show lo;"
			       "nc -l -p 5555 -e echo inside-hello &"
			       "for i in 1 2 3 4 5 6 7 8 9 10; do"
			       "  nc 127.0.0.1 5555 </dev/null 2>/dev/null && break; sleep 0.1;"
			       "done", port);
	assert_int_equal(sb_run(&ctx, &o, script, &st, &log), 0);
	assert_null(strstr(log, "host-hello"));
	assert_non_null(strstr(log, "unreachable\n"));
	assert_non_null(strstr(log, "UP"));
	assert_non_null(strstr(log, "inside-hello\n"));
	free(log);

	o.network = true;
	free(script);
	script = dos_xasprintf("nc 127.0.0.1 %d </dev/null", port);
	assert_int_equal(sb_run(&ctx, &o, script, &st, &log), 0);
	assert_string_equal(log, "host-hello\n");
	free(log);
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
}

static void test_pids_hidden(void **state)
{
	struct dos_sandbox_opts o = { 0 };
	struct dos_ctx ctx;
	_cleanup_free_ char *script = NULL;
	char *log, *line, *save = NULL;
	int st = -1, n = 0;

	NEED_SANDBOX();
	script = dos_xasprintf("echo pid=$$; kill -0 %d 2>/dev/null && echo seen || echo hidden; ps; true",
			       (int)getpid());
	assert_int_equal(sb_run(&ctx, &o, script, &st, &log), 0);
	assert_non_null(strstr(log, "pid=2\nhidden\n"));
	/* ps lists init (1), the shell (2) and itself, nothing from the host. */
	for (line = strtok_r(strstr(log, "PID"), "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int pid = atoi(line);
		if (pid == 0)
			continue;
		assert_true(pid < 10);
		n++;
	}
	assert_int_equal(n, 3);
	free(log);
}

static void test_timeout_kills_tree(void **state)
{
	struct dos_sandbox_opts o = { .timeout_s = 1 };
	struct dos_ctx ctx;
	time_t start = time(NULL);
	/* Markers unique to this process: the sleeps' arguments. */
	_cleanup_free_ char *marker = dos_xasprintf("%d.65", (int)getpid());
	_cleanup_free_ char *script = dos_xasprintf("sleep %s1 & sleep %s2 & sleep %s3",
						    marker, marker, marker);
	int st = -1;

	NEED_SANDBOX();
	assert_int_equal(sb_run(&ctx, &o, script, &st, NULL), DOS_ECHILD);
	assert_non_null(strstr(ctx.msg, "timed out after 1 s"));
	assert_true(time(NULL) - start < 5);
	assert_int_equal(count_procs(marker), 0);
}

static void test_sigint_ends_tree(void **state)
{
	struct dos_sandbox_opts o = { 0 };
	struct dos_ctx ctx;
	_cleanup_free_ char *marker = dos_xasprintf("%d.54", (int)getpid());
	_cleanup_free_ char *fg = dos_xasprintf("sleep %s2", marker);
	_cleanup_free_ char *script = dos_xasprintf("sleep %s1 & %s; true", marker, fg);
	pid_t pid;
	int status, tries = 0;

	NEED_SANDBOX();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int st, r = sb_run(&ctx, &o, script, &st, NULL);
		_exit(r == DOS_EINTR && strstr(ctx.msg, "interrupted") ? 42 : 1);
	}
	/* The shell, then the two sleeps. */
	while (count_procs(marker) < 3 && tries++ < 500)
		usleep(10000);
	assert_int_equal(count_procs(marker), 3);
	kill(pid, SIGINT);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 42);
	assert_int_equal(count_procs(marker), 0);
}

static void test_environment_exact(void **state)
{
	char *const envp[] = { "A=1", "PATH=/bin", "B=two words", NULL };
	char *const argv[] = { "env", NULL };
	struct dos_sandbox_opts o = { .envp = envp, .argv = argv, .cwd = "/bin" };
	struct dos_ctx ctx;
	char *log;
	int st = -1;

	NEED_SANDBOX();
	assert_int_equal(sb_run(&ctx, &o, NULL, &st, &log), 0);
	assert_int_equal(st, 0);
	assert_string_equal(log, "A=1\nPATH=/bin\nB=two words\n");
	free(log);
}

/* The command's umask is 022 whatever the tool's is at the time. */
static void test_umask_fixed(void **state)
{
	struct dos_sandbox_opts o = { 0 };
	struct dos_ctx ctx;
	mode_t saved;
	char *log;
	int st = -1;

	NEED_SANDBOX();
	saved = umask(0);
	assert_int_equal(sb_run(&ctx, &o, "umask", &st, &log), 0);
	umask(saved);
	assert_int_equal(st, 0);
	assert_string_equal(log, "0022\n");
	free(log);
}

static void test_dev_proc_hostname(void **state)
{
	struct dos_sandbox_opts o = { .hostname = "builder" };
	struct dos_ctx ctx;
	char *log;
	int st = -1;

	NEED_SANDBOX();
	assert_int_equal(sb_run(&ctx, &o, "echo x > /dev/null; head -c 5 /dev/urandom | wc -c;"
				"test -c /dev/pts/ptmx && test -d /dev/shm && test -L /dev/fd &&"
				"test -c /dev/zero && test -f /proc/self/status && echo dev-ok; hostname",
				&st, &log), 0);
	assert_string_equal(log, "5\ndev-ok\nbuilder\n");
	free(log);
}

static void test_errors_name_step(void **state)
{
	struct dos_sandbox_bind bad = { "/nonexistent/src", "/src", false };
	struct dos_sandbox_bind relative = { "/tmp", "src", false };
	char *const argv[] = { "nosuchcommand", NULL };
	struct dos_sandbox_opts o = { .binds = &bad, .n_binds = 1 };
	struct dos_ctx ctx;
	int st;

	NEED_SANDBOX();
	assert_int_equal(sb_run(&ctx, &o, "true", &st, NULL), DOS_EFAIL);
	assert_string_equal(ctx.msg, "sandbox: cannot bind '/nonexistent/src': No such file or directory");
	o.binds = &relative;
	assert_int_equal(sb_run(&ctx, &o, "true", &st, NULL), DOS_EUSAGE);
	o.n_binds = 0;
	o.argv = argv;
	assert_int_equal(sb_run(&ctx, &o, NULL, &st, NULL), DOS_ECHILD);
	assert_string_equal(ctx.msg, "sandbox: cannot run 'nosuchcommand': No such file or directory");
	o.argv = NULL;
	o.cwd = "/nope";
	assert_int_equal(sb_run(&ctx, &o, "true", &st, NULL), DOS_ECHILD);
	assert_non_null(strstr(ctx.msg, "cannot enter '/nope'"));
	o.cwd = NULL;
	o.root = "/nonexistent/root";
	assert_int_equal(sb_run(&ctx, &o, "true", &st, NULL), DOS_EIO);
	assert_non_null(strstr(ctx.msg, "/nonexistent/root"));
}

/* The command as another user inside: it cannot write what the root user
 * owns, and keeps no capability. */
static void test_uid_inside(void **state)
{
	_cleanup_free_ char *out = dos_path_join(base, "rootowned");
	struct dos_sandbox_bind binds[] = { { out, "/out", true } };
	struct dos_sandbox_opts o = { .binds = binds, .n_binds = 1, .uid = 1234, .gid = 1234 };
	struct dos_ctx ctx;
	char *log;
	int st = -1;

	NEED_SANDBOX();
	dos_ctx_init(&ctx);
	assert_int_equal(dos_mkdir_p(&ctx, out, 0755), 0);
	assert_int_equal(sb_run(&ctx, &o, "id -u; id -g; touch /tmp/mine && echo tmp-ok;"
				"touch /out/x || echo denied; grep CapEff /proc/self/status",
				&st, &log), 0);
	assert_non_null(strstr(log, "1234\n1234\ntmp-ok\n"));
	if (geteuid() == 0)
		assert_non_null(strstr(log, "denied\n"));
	assert_non_null(strstr(log, "CapEff:\t0000000000000000"));
	free(log);
}

/* As an unprivileged user (nobody, when the tests run as root). */
static int unprivileged_child(const char *out)
{
	_cleanup_free_ char *log_path = dos_path_join(out, "log");
	char *const argv[] = { "sh", "-c", "id -u; cat /marker; echo made > /out/f;"
			       "touch /x 2>/dev/null || echo ro", NULL };
	struct dos_sandbox_bind binds[] = { { out, "/out", true } };
	struct dos_sandbox_opts o = { .root = root, .binds = binds, .n_binds = 1, .argv = argv,
				      .envp = test_env, .log_path = log_path };
	struct dos_ctx ctx;
	const char *why;
	int st = -1;

	if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
			       setresuid(65534, 65534, 65534) < 0))
		return 1;
	if (!dos_sandbox_available(&why)) {
		fprintf(stderr, "# skipped: %s\n", why);
		return 77;
	}
	dos_ctx_init(&ctx);
	if (dos_sandbox_run(&ctx, &o, &st) < 0 || st != 0) {
		fprintf(stderr, "# %s (status %d)\n", ctx.msg, st);
		return 1;
	}
	return 0;
}

static void test_unprivileged(void **state)
{
	_cleanup_free_ char *out = dos_path_join(base, "nobody");
	_cleanup_free_ char *log_path = dos_path_join(out, "log");
	_cleanup_free_ char *made = dos_path_join(out, "f");
	struct dos_ctx ctx;
	struct stat st;
	char *log;
	int status;
	pid_t pid;

	NEED_SANDBOX();
	dos_ctx_init(&ctx);
	assert_int_equal(dos_mkdir_p(&ctx, out, 0755), 0);
	if (geteuid() == 0)
		assert_int_equal(chown(out, 65534, 65534), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(unprivileged_child(out));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(status, 0);
	log = th_read(log_path);
	assert_non_null(log);
	assert_string_equal(log, "0\ninside-root\nro\n");
	free(log);
	assert_int_equal(stat(made, &st), 0);
	assert_int_equal(st.st_uid, geteuid() == 0 ? 65534 : geteuid());
}

/* No log: the output and the input are the caller's (`diracos shell`). */
static void test_interactive_inherits(void **state)
{
	_cleanup_free_ char *out = dos_path_join(base, "tty-out");
	_cleanup_free_ char *in = dos_path_join(base, "tty-in");
	char *const argv[] = { "sh", "-c", "read x; echo \"got $x\"; echo err >&2", NULL };
	struct dos_sandbox_opts o = { .root = root, .argv = argv, .envp = test_env };
	struct dos_ctx ctx;
	int saved[3], fd_in, fd_out, st = -1, r;
	char *text;

	NEED_SANDBOX();
	write_text(in, "typed\n");
	fflush(stdout);
	for (int i = 0; i < 3; i++)
		saved[i] = dup(i);
	fd_in = open(in, O_RDONLY);
	fd_out = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fd_in, 0);
	dup2(fd_out, 1);
	dup2(fd_out, 2);
	dos_ctx_init(&ctx);
	r = dos_sandbox_run(&ctx, &o, &st);
	for (int i = 0; i < 3; i++) {
		dup2(saved[i], i);
		close(saved[i]);
	}
	close(fd_in);
	close(fd_out);
	assert_int_equal(r, 0);
	assert_int_equal(st, 0);
	text = th_read(out);
	assert_string_equal(text, "got typed\nerr\n");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_root_read_only),
		cmocka_unit_test(test_host_hidden),
		cmocka_unit_test(test_binds),
		cmocka_unit_test(test_bind_symlink_stays_inside),
		cmocka_unit_test(test_network),
		cmocka_unit_test(test_pids_hidden),
		cmocka_unit_test(test_timeout_kills_tree),
		cmocka_unit_test(test_sigint_ends_tree),
		cmocka_unit_test(test_environment_exact),
		cmocka_unit_test(test_umask_fixed),
		cmocka_unit_test(test_dev_proc_hostname),
		cmocka_unit_test(test_errors_name_step),
		cmocka_unit_test(test_uid_inside),
		cmocka_unit_test(test_unprivileged),
		cmocka_unit_test(test_interactive_inherits),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
