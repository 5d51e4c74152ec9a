#include "run.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char *const *dos_run_clean_env(void)
{
	static char *const env[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root",
		"LC_ALL=C.UTF-8",
		"TZ=UTC",
		NULL,
	};
	return env;
}

/* "cmd arg1 arg2", truncated to fit. */
static void format_command(char *buf, size_t n, char *const argv[])
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; argv[i] && used + 1 < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? " " : "", argv[i]);
}

/* The last `lines` lines of a log file, for an error message. */
static void log_tail(const char *path, int lines, char *buf, size_t n)
{
	struct dos_ctx scratch;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	const char *p;
	int seen = 0;

	buf[0] = '\0';
	dos_ctx_init(&scratch);
	if (!path || dos_read_file(&scratch, path, 64 << 20, &data, &len) < 0 || len == 0)
		return;
	p = data + len;
	if (p[-1] == '\n')
		p--;
	while (p > data && seen < lines) {
		p--;
		if (*p == '\n')
			seen++;
	}
	if (*p == '\n')
		p++;
	snprintf(buf, n, "%s", p);
	len = strlen(buf);
	while (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
}

/* The program's path, searched in the child's PATH (not ours, and without
 * touching the process environment, which other threads may read). */
static char *find_program(const char *name, char *const *envp)
{
	const char *path = "/usr/local/bin:/usr/bin:/bin";

	if (strchr(name, '/'))
		return dos_xstrdup(name);
	for (int i = 0; envp[i]; i++)
		if (!strncmp(envp[i], "PATH=", 5))
			path = envp[i] + 5;
	while (*path) {
		const char *end = strchrnul(path, ':');
		char *candidate = dos_xasprintf("%.*s/%s", (int)(end - path), path, name);
		if (access(candidate, X_OK) == 0)
			return candidate;
		free(candidate);
		path = *end ? end + 1 : end;
	}
	return NULL;
}

static int spawn_child(struct dos_ctx *ctx, char *const argv[], const struct dos_run_opts *o,
		       int stdout_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	char *const *envp = o->envp ? o->envp : dos_run_clean_env();
	_cleanup_free_ char *exe = NULL;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (o->log_path) {
		posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, o->log_path,
						 O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (stdout_fd < 0)
			posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
	}
	if (stdout_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, stdout_fd, STDOUT_FILENO);
	if (o->cwd)
		posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
	exe = find_program(argv[0], envp);
	if (!exe) {
		posix_spawn_file_actions_destroy(&fa);
		return dos_error(ctx, DOS_ECHILD, "cannot run '%s': not found in PATH", argv[0]);
	}
	r = posix_spawn(pid, exe, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return dos_error_errno(ctx, DOS_ECHILD, r, "cannot run '%s'", argv[0]);
	return 0;
}

static int wait_child(struct dos_ctx *ctx, pid_t pid, char *const argv[],
		      const struct dos_run_opts *o)
{
	char cmd[512], tail[1400], status_text[64];
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return dos_error_errno(ctx, DOS_ECHILD, errno, "cannot wait for '%s'", argv[0]);
	if (WIFEXITED(status) && (WEXITSTATUS(status) == 0 ||
				  (o->allow_status && WEXITSTATUS(status) == o->allow_status)))
		return 0;
	if (WIFEXITED(status))
		snprintf(status_text, sizeof(status_text), "exited with status %d", WEXITSTATUS(status));
	else
		snprintf(status_text, sizeof(status_text), "was killed by signal %d", WTERMSIG(status));
	format_command(cmd, sizeof(cmd), argv);
	log_tail(o->log_path, o->tail_lines ? o->tail_lines : 10, tail, sizeof(tail));
	if (tail[0])
		return dos_error(ctx, DOS_ECHILD, "command '%s' %s (log: %s)\n%s", cmd,
				 status_text, o->log_path, tail);
	return dos_error(ctx, DOS_ECHILD, "command '%s' %s", cmd, status_text);
}

int dos_run(struct dos_ctx *ctx, char *const argv[], const struct dos_run_opts *opts)
{
	static const struct dos_run_opts none;
	const struct dos_run_opts *o = opts ? opts : &none;
	pid_t pid;
	int r;

	r = spawn_child(ctx, argv, o, -1, &pid);
	if (r < 0)
		return r;
	return wait_child(ctx, pid, argv, o);
}

int dos_run_capture(struct dos_ctx *ctx, char *const argv[], const struct dos_run_opts *opts,
		    char **out, size_t *out_len)
{
	static const struct dos_run_opts none;
	const struct dos_run_opts *o = opts ? opts : &none;
	size_t used = 0, alloc = 4096;
	char *buf;
	int fds[2], r;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return dos_error_errno(ctx, DOS_ECHILD, errno, "cannot create a pipe");
	r = spawn_child(ctx, argv, o, fds[1], &pid);
	close(fds[1]);
	if (r < 0) {
		close(fds[0]);
		return r;
	}
	buf = dos_xmalloc(alloc);
	for (;;) {
		ssize_t n;
		if (used + 1 >= alloc)
			buf = dos_xrealloc(buf, alloc *= 2);
		n = read(fds[0], buf + used, alloc - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(fds[0]);
	buf[used] = '\0';
	r = wait_child(ctx, pid, argv, o);
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	if (out_len)
		*out_len = used;
	return 0;
}
