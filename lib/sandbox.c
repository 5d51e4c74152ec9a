/* The sandbox: namespaces, mounts and a small init, after bubblewrap.
 *
 * Processes. The tool (the "parent") clones a child into new user, mount,
 * pid, ipc, uts, cgroup and (unless network is asked for) network
 * namespaces. The clone is a raw clone syscall used as fork(): one call
 * creates every namespace, and the child is pid 1 of the new pid namespace,
 * so it can mount a /proc that shows only the sandbox. Because the tool may
 * be threaded and a raw clone runs no atfork handlers, the child never
 * calls malloc or stdio: it works on stack buffers and the parent's (copied)
 * options. The child sets up the mounts, then forks the command (pid 2) and
 * stays as its init: it reaps orphans, forwards the signals the tool sends,
 * and exits with the command's status. When pid 1 exits the kernel kills
 * everything else in the namespace, so background processes never outlive
 * the build, and killing pid 1 (timeout, second Ctrl-C) kills the whole tree.
 * PR_SET_PDEATHSIG ties pid 1 to the tool's thread.
 *
 * User namespace. Always one: it gives the child the capabilities to mount
 * without being real root, and makes the mounts it inherits locked (the
 * command cannot unmount a bind to see what is under it). The parent writes
 * the id maps (only it may write a map of more than its own id): as root an
 * identity map of every id we have, so files keep their owners and chown
 * works; unprivileged, the caller's uid/gid map to o->uid/o->gid and
 * setgroups is denied, as the kernel requires. A socketpair orders the two:
 * the child makes itself dumpable (so /proc/<pid>/uid_map is the caller's
 * to write even after a setuid), says ready, and waits for go.
 *
 * Mounts. Propagation is made private first, so nothing we mount leaks
 * back to the host. The root folder is bind-mounted onto itself (pivot_root
 * needs a mount point). Every mount point inside it is reached with
 * openat2(RESOLVE_IN_ROOT) and mounted through /proc/self/fd/N: a symlink in
 * the root (hostile content) resolves inside the root, as the command would
 * see it, and can never make us create or mount over a host path. Missing
 * mount points are created in the root folder before it turns read-only.
 * Then: a new proc; /dev as a tmpfs holding null, zero, full, random,
 * urandom and tty bind-mounted from the host (a user namespace cannot mknod,
 * and binding keeps the host node's rights), a private devpts, a /dev/shm
 * tmpfs and the fd/stdin/stdout/stderr links; a tmpfs /tmp; the binds. A
 * bind is made read-only, nosuid and nodev by a bind remount that keeps the
 * flags the source mount already has: in a user namespace the inherited
 * nosuid, nodev, noexec and atime flags are locked, and a remount dropping
 * one fails with EPERM (bubblewrap does the same). Last, pivot_root(".",
 * ".") stacks the old root on the new one and umount2(MNT_DETACH) drops it
 * without needing a folder for it; then the root itself is remounted.
 * All of this is in sandbox_mount.c.
 *
 * The command. It gets only o->envp, a clean signal state, the ids asked
 * for, and a bounding set without CAP_SYS_ADMIN and other global powers
 * (Docker's default set remains, for root inside: chown, dac_override, ...),
 * so it cannot remount the read-only root writable or undo the mounts. For
 * a build (log_path set) it is a new session without a terminal (no
 * TIOCSTI into the user's shell), stdin is /dev/null and its output is
 * appended to the log. Interactive (log_path NULL) it keeps the terminal.
 *
 * Errors. The child cannot use ctx: each failing step sends one report
 * (kind, errno, "cannot bind '/x' on '/root/x'") through a close-on-exec
 * pipe; end of file without a report means the command was executed. */
#include "sandbox.h"
#include "sandbox_internal.h"
#include "run.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define SB_TEXT_MAX 1024

/* One report from inside; smaller than PIPE_BUF, so written atomically. */
struct sb_report {
	int32_t kind;
	int32_t err;
	char text[SB_TEXT_MAX];
};

/* --- the child: reports --- */

int sandbox_child_fail(struct sb_child *c, int kind, int err, const char *fmt, ...)
{
	struct sb_report rep = { .kind = kind, .err = err };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rep.text, sizeof(rep.text), fmt, ap);
	va_end(ap);
	while (write(c->status_fd, &rep, sizeof(rep)) < 0 && errno == EINTR)
		;
	return -1;
}

/* --- the child: namespaces other than mount --- */

/* A new network namespace has only `lo`, down: bring it up so that
 * servers a test starts on 127.0.0.1 are reachable inside. */
static int loopback_up(struct sb_child *c)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

	if (fd < 0)
		return setup_fail(c, "cannot open a socket to bring 'lo' up");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		r = setup_fail(c, "cannot read the flags of 'lo'");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (r == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		r = setup_fail(c, "cannot bring 'lo' up");
	close(fd);
	return r;
}

static int wait_for_maps(struct sb_child *c)
{
	char b = 'r';

	if (prctl(PR_SET_DUMPABLE, 1) < 0 || write(c->sync_fd, &b, 1) != 1)
		return setup_fail(c, "cannot signal the parent");
	if (read(c->sync_fd, &b, 1) != 1 || b != 'g')
		_exit(127); /* the parent failed and said why */
	close(c->sync_fd);
	return 0;
}

static int setup_namespaces(struct sb_child *c)
{
	const char *name = c->o->hostname ? c->o->hostname : "diracos";

	if (wait_for_maps(c) < 0)
		return -1;
	if (sethostname(name, strlen(name)) < 0)
		return setup_fail(c, "cannot set the host name '%s'", name);
	if (!c->o->network && loopback_up(c) < 0)
		return -1;
	return 0;
}

/* --- the child: identity and capabilities --- */

/* Docker's default set: what a build as root needs (chown, setuid for
 * fakeroot-less tools, binding low ports), nothing that reaches past the
 * namespaces (no CAP_SYS_ADMIN: no mount, remount or umount). */
static bool cap_kept(int cap)
{
	static const int keep[] = {
		CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD,
		CAP_NET_RAW, CAP_SETGID, CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP,
		CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE,
	};

	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (keep[i] == cap)
			return true;
	return false;
}

/* Before the ids change: dropping from the bounding set needs CAP_SETPCAP. */
static int drop_bounding(struct sb_child *c)
{
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap) >= 0; cap++)
		if (!cap_kept(cap) && prctl(PR_CAPBSET_DROP, cap) < 0)
			return setup_fail(c, "cannot drop capability %d", cap);
	return 0;
}

/* The kept set for root inside, none for anyone else. Inheritable stays
 * empty (CVE-2022-24769); exec computes the rest from the bounding set. */
static int drop_caps(struct sb_child *c, bool all)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };

	for (int cap = 0; !all && cap < 64; cap++)
		if (cap_kept(cap))
			data[cap / 32].permitted |= 1u << (cap % 32);
	data[0].effective = data[0].permitted;
	data[1].effective = data[1].permitted;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return setup_fail(c, "cannot drop capabilities");
	return 0;
}

static int set_ids(struct sb_child *c)
{
	uid_t uid = c->o->uid;
	gid_t gid = c->o->gid;

	/* Raw syscalls: glibc's wrappers would signal the parent's threads,
	 * which the child still believes it has. */
	if (drop_bounding(c) < 0)
		return -1;
	if (c->privileged && syscall(SYS_setgroups, 0, NULL) < 0)
		return setup_fail(c, "cannot clear the supplementary groups");
	if (syscall(SYS_setresgid, gid, gid, gid) < 0)
		return setup_fail(c, "cannot set the group id %u", (unsigned)gid);
	if (syscall(SYS_setresuid, uid, uid, uid) < 0)
		return setup_fail(c, "cannot set the user id %u", (unsigned)uid);
	if (drop_caps(c, uid != 0) < 0)
		return -1;
	/* A change of ids clears the parent-death signal: set it again. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	return 0;
}

/* --- the command (pid 2) --- */

static void exec_search(struct sb_child *c, char *const argv[])
{
	const char *path = "/usr/local/bin:/usr/bin:/bin";
	char cand[PATH_MAX];
	int err = ENOENT;

	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, c->envp);
		sandbox_child_fail(c, SB_EXEC, errno, "cannot run '%s'", argv[0]);
		return;
	}
	for (int i = 0; c->envp[i]; i++)
		if (!strncmp(c->envp[i], "PATH=", 5))
			path = c->envp[i] + 5;
	while (*path) {
		const char *end = strchrnul(path, ':');

		snprintf(cand, sizeof(cand), "%.*s/%s", (int)(end - path), path, argv[0]);
		execve(cand, argv, c->envp);
		if (errno != ENOENT && errno != ENOTDIR)
			err = errno;
		path = *end ? end + 1 : end;
	}
	sandbox_child_fail(c, SB_EXEC, err, "cannot run '%s'", argv[0]);
}

static int set_stdio(struct sb_child *c)
{
	int null_fd;

	if (c->log_fd < 0)
		return 0;
	if (setsid() < 0)
		return setup_fail(c, "cannot start a new session");
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
	    dup2(c->log_fd, STDOUT_FILENO) < 0 || dup2(c->log_fd, STDERR_FILENO) < 0)
		return setup_fail(c, "cannot redirect the output to the log");
	close(null_fd);
	return 0;
}

static __attribute__((noreturn)) void command_main(struct sb_child *c)
{
	const char *cwd = c->o->cwd ? c->o->cwd : "/";
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;

	/* A clean signal state: the tool may ignore SIGPIPE, builds must not. */
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* A known umask, not the tool's of the moment: libarchive sets the
	 * process's umask to 0 for an instant to read it, and another thread
	 * forking then gave builds, pip and compileall world-writable files. */
	umask(022);
	if (set_stdio(c) < 0)
		_exit(127);
	if (chdir(cwd) < 0) {
		sandbox_child_fail(c, SB_EXEC, errno, "cannot enter '%s'", cwd);
		_exit(127);
	}
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	exec_search(c, c->o->argv);
	_exit(127);
}

/* --- the child as init (pid 1) --- */

static pid_t raw_fork(void)
{
	return (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
}

static int exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Signals sent by a process (the tool) go on to the command's process
 * group; those from the terminal (SI_KERNEL) already reached it. */
static void forward(pid_t cmd, const siginfo_t *si)
{
	if (si->si_code > 0)
		return;
	if (kill(-cmd, si->si_signo) < 0)
		kill(cmd, si->si_signo);
}

static __attribute__((noreturn)) void init_loop(pid_t cmd, const sigset_t *set)
{
	siginfo_t si;
	pid_t pid;
	int status;

	for (;;) {
		if (sigwaitinfo(set, &si) < 0)
			continue;
		if (si.si_signo != SIGCHLD) {
			forward(cmd, &si);
			continue;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			if (pid == cmd)
				_exit(exit_code(status));
	}
}

static __attribute__((noreturn)) void child_main(struct sb_child *c)
{
	static const int fwd[] = { SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	sigset_t set;
	pid_t cmd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (setup_namespaces(c) < 0 || sandbox_setup_mounts(c) < 0 || set_ids(c) < 0)
		_exit(127);
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
		sigaddset(&set, fwd[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	cmd = raw_fork();
	if (cmd == 0)
		command_main(c);
	if (cmd < 0) {
		setup_fail(c, "cannot start the command");
		_exit(127);
	}
	/* Only the command may hold the report pipe and the log open. */
	syscall(SYS_close_range, 3, ~0U, 0);
	init_loop(cmd, &set);
}

/* --- the parent: id maps --- */

static int write_proc(struct dos_ctx *ctx, pid_t pid, const char *name, const char *text)
{
	char path[64];
	_cleanup_close_ int fd = -1;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return dos_error_errno(ctx, DOS_EFAIL, errno, "sandbox: cannot write '%s'", path);
	return 0;
}

/* "a a n" for each line "a b n" of our own map: every id we have, unchanged. */
static char *identity_map(struct dos_ctx *ctx, const char *file)
{
	_cleanup_free_ char *data = NULL;
	char *out = dos_xstrdup(""), *line, *save = NULL;
	unsigned long first, outside, count;

	if (dos_read_file(ctx, file, 1 << 16, &data, NULL) < 0) {
		free(out);
		return NULL;
	}
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *next;

		if (sscanf(line, "%lu %lu %lu", &first, &outside, &count) != 3)
			continue;
		next = dos_xasprintf("%s%lu %lu %lu\n", out, first, first, count);
		free(out);
		out = next;
	}
	return out;
}

static int write_maps(struct dos_ctx *ctx, pid_t pid, const struct dos_sandbox_opts *o,
		      bool privileged)
{
	_cleanup_free_ char *uids = NULL, *gids = NULL;

	if (privileged) {
		uids = identity_map(ctx, "/proc/self/uid_map");
		gids = identity_map(ctx, "/proc/self/gid_map");
		if (!uids || !gids)
			return dos_error_prefix(ctx, "sandbox");
	} else {
		uids = dos_xasprintf("%u %u 1\n", (unsigned)o->uid, (unsigned)geteuid());
		gids = dos_xasprintf("%u %u 1\n", (unsigned)o->gid, (unsigned)getegid());
		if (write_proc(ctx, pid, "setgroups", "deny") < 0)
			return DOS_EFAIL;
	}
	if (write_proc(ctx, pid, "uid_map", uids) < 0 || write_proc(ctx, pid, "gid_map", gids) < 0)
		return DOS_EFAIL;
	return 0;
}

/* --- the parent --- */

struct sb_parent {
	pid_t pid;
	int pidfd, sig_fd, status_fd, sync_fd;
	sigset_t old_mask;
	bool masked;             /* old_mask is to be restored */
	pid_t tty_pgrp;          /* the terminal's foreground group to restore, or -1 */
	struct sb_report rep;    /* the first report, when have_rep */
	bool have_rep, timed_out, interrupted, exited;
	int64_t deadline, kill_at; /* monotonic ms; 0: none */
	int status;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int check_opts(struct dos_ctx *ctx, const struct dos_sandbox_opts *o)
{
	if (!o->root || !o->argv || !o->argv[0])
		return dos_error(ctx, DOS_EUSAGE, "sandbox: a root and a command are needed");
	for (size_t i = 0; i < o->n_binds; i++) {
		const struct dos_sandbox_bind *b = &o->binds[i];

		if (!b->src || !b->dest || b->dest[0] != '/' || !b->dest[strspn(b->dest, "/")])
			return dos_error(ctx, DOS_EUSAGE, "sandbox: bind '%s' on '%s': the "
					 "destination must be an absolute path below /",
					 b->src ? b->src : "", b->dest ? b->dest : "");
	}
	return 0;
}

/* Blocks the signals we forward in this thread, to read them from an fd. */
static int signals_catch(struct dos_ctx *ctx, struct sb_parent *p)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, &p->old_mask);
	p->masked = true;
	p->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (p->sig_fd < 0)
		return dos_error_errno(ctx, DOS_EFAIL, errno, "sandbox: cannot open a signalfd");
	return 0;
}

static int open_log(struct dos_ctx *ctx, const struct dos_sandbox_opts *o, struct sb_child *c)
{
	c->log_fd = -1;
	if (!o->log_path)
		return 0;
	c->log_fd = open(o->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0644);
	if (c->log_fd < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "sandbox: cannot open the log '%s'",
				       o->log_path);
	return 0;
}

static int make_channels(struct dos_ctx *ctx, struct sb_parent *p, struct sb_child *c)
{
	int sv[2], pipefd[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return dos_error_errno(ctx, DOS_EFAIL, errno,
				       "sandbox: cannot create a socketpair");
	p->sync_fd = sv[0];
	c->sync_fd = sv[1];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return dos_error_errno(ctx, DOS_EFAIL, errno, "sandbox: cannot create a pipe");
	p->status_fd = pipefd[0];
	c->status_fd = pipefd[1];
	fcntl(p->status_fd, F_SETFL, O_NONBLOCK);
	return 0;
}

static int start_child(struct dos_ctx *ctx, const struct dos_sandbox_opts *o,
		       struct sb_parent *p, struct sb_child *c)
{
	unsigned long flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |
			      CLONE_NEWUTS | CLONE_NEWCGROUP | (o->network ? 0 : CLONE_NEWNET);

	p->pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
	if (p->pid < 0)
		return dos_error_errno(ctx, DOS_EFAIL, errno,
				       "sandbox: cannot create the namespaces");
	if (p->pid == 0) {
		close(p->sync_fd);
		close(p->status_fd);
		close(p->sig_fd);
		child_main(c);
	}
	/* The parent keeps only its ends: end of file then means the child is gone. */
	close(c->sync_fd);
	close(c->status_fd);
	c->sync_fd = c->status_fd = -1;
	/* Without pidfds (Linux < 5.3, valgrind) wait_child polls. */
	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	return 0;
}

/* Waits for the child's "ready", writes its id maps, says "go". */
static int sync_maps(struct dos_ctx *ctx, const struct dos_sandbox_opts *o, struct sb_parent *p,
		     bool privileged)
{
	char b;
	ssize_t n;

	while ((n = read(p->sync_fd, &b, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		return 0; /* it failed first: its report says why */
	if (write_maps(ctx, p->pid, o, privileged) < 0)
		return DOS_EFAIL;
	b = 'g';
	if (write(p->sync_fd, &b, 1) != 1)
		return dos_error_errno(ctx, DOS_EFAIL, errno, "sandbox: cannot signal the child");
	return 0;
}

static void read_report(struct sb_parent *p)
{
	struct sb_report rep;
	ssize_t n = read(p->status_fd, &rep, sizeof(rep));

	if (n == (ssize_t)sizeof(rep) && !p->have_rep) {
		p->rep = rep;
		p->rep.text[SB_TEXT_MAX - 1] = '\0';
		p->have_rep = true;
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close(p->status_fd);
		p->status_fd = -1;
	}
}

/* The first SIGINT/SIGTERM/SIGHUP goes on to the command, a second one or
 * the end of the grace period kills everything. Interactive, Ctrl-C is the
 * shell's business: the terminal sent it there already. */
static void on_signal(struct sb_parent *p, const struct dos_sandbox_opts *o)
{
	struct signalfd_siginfo si;

	while (read(p->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (!o->log_path && si.ssi_signo == SIGINT)
			continue;
		if (p->interrupted) {
			kill(p->pid, SIGKILL);
			continue;
		}
		p->interrupted = true;
		p->kill_at = now_ms() + DOS_SANDBOX_GRACE_S * 1000;
		kill(p->pid, (int)si.ssi_signo);
	}
}

static int next_timeout(struct sb_parent *p)
{
	int64_t now = now_ms(), next = INT64_MAX;

	if (p->deadline && now >= p->deadline && !p->timed_out) {
		p->timed_out = true;
		kill(p->pid, SIGKILL);
	}
	if (p->kill_at && now >= p->kill_at) {
		p->kill_at = 0;
		kill(p->pid, SIGKILL);
	}
	if (p->deadline && !p->timed_out)
		next = p->deadline;
	if (p->kill_at && p->kill_at < next)
		next = p->kill_at;
	if (next == INT64_MAX)
		return -1;
	/* A deadline 24.8 days or more away does not fit poll's int: wake
	 * up then, and look again. */
	return next - now > INT_MAX ? INT_MAX : (int)(next - now);
}

static int wait_child(struct dos_ctx *ctx, const struct dos_sandbox_opts *o, struct sb_parent *p)
{
	while (!p->exited) {
		struct pollfd fds[3] = {
			{ .fd = p->pidfd, .events = POLLIN },
			{ .fd = p->sig_fd, .events = POLLIN },
			{ .fd = p->status_fd, .events = POLLIN },
		};

		int timeout = next_timeout(p);

		if (p->pidfd < 0 && (timeout < 0 || timeout > 20))
			timeout = 20;
		if (poll(fds, 3, timeout) < 0 && errno != EINTR)
			return dos_error_errno(ctx, DOS_EFAIL, errno, "sandbox: cannot poll");
		if (fds[2].revents)
			read_report(p);
		if (fds[1].revents)
			on_signal(p, o);
		if ((fds[0].revents || p->pidfd < 0) &&
		    waitpid(p->pid, &p->status, p->pidfd < 0 ? WNOHANG : 0) == p->pid)
			p->exited = true;
	}
	/* Every process inside is gone with pid 1: what it wrote is there.
	 * Non-blocking, as another thread's fork may hold a copy of the pipe. */
	if (p->status_fd >= 0)
		read_report(p);
	return 0;
}

static int child_result(struct dos_ctx *ctx, const struct dos_sandbox_opts *o,
			struct sb_parent *p, int *exit_status)
{
	*exit_status = exit_code(p->status);
	if (p->have_rep)
		return dos_error_errno(ctx, p->rep.kind == SB_EXEC ? DOS_ECHILD : DOS_EFAIL,
				       p->rep.err, "sandbox: %s", p->rep.text);
	if (p->timed_out)
		return dos_error(ctx, DOS_ECHILD, "sandbox: command '%s' timed out after %d s",
				 o->argv[0], o->timeout_s);
	if (p->interrupted)
		return dos_error(ctx, DOS_EINTR, "sandbox: command '%s' interrupted", o->argv[0]);
	if (WIFSIGNALED(p->status))
		return dos_error(ctx, DOS_ECHILD, "sandbox: its init was killed by signal %d",
				 WTERMSIG(p->status));
	return 0;
}

/* An interactive shell may have taken the terminal for its own process
 * group: give it back to ours, or the user's shell would not get it. */
static void tty_restore(struct sb_parent *p)
{
	sigset_t ttou, old;

	if (p->tty_pgrp < 0 || tcgetpgrp(STDIN_FILENO) == p->tty_pgrp)
		return;
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	pthread_sigmask(SIG_BLOCK, &ttou, &old);
	tcsetpgrp(STDIN_FILENO, p->tty_pgrp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void parent_release(struct sb_parent *p, struct sb_child *c)
{
	if (p->pid > 0 && !p->exited) {
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	dos_closep(&p->pidfd);
	dos_closep(&p->sync_fd);
	dos_closep(&p->status_fd);
	dos_closep(&c->sync_fd);
	dos_closep(&c->status_fd);
	dos_closep(&c->log_fd);
	dos_closep(&p->sig_fd);
	if (p->masked)
		pthread_sigmask(SIG_SETMASK, &p->old_mask, NULL);
	tty_restore(p);
}

static int run_child(struct dos_ctx *ctx, const struct dos_sandbox_opts *o,
		     struct sb_parent *p, struct sb_child *c, int *exit_status)
{
	int r;

	if (o->log_path == NULL && isatty(STDIN_FILENO))
		p->tty_pgrp = tcgetpgrp(STDIN_FILENO);
	if ((r = open_log(ctx, o, c)) < 0 || (r = make_channels(ctx, p, c)) < 0 ||
	    (r = signals_catch(ctx, p)) < 0)
		return r;
	if (o->timeout_s > 0)
		p->deadline = now_ms() + (int64_t)o->timeout_s * 1000;
	if ((r = start_child(ctx, o, p, c)) < 0 || (r = sync_maps(ctx, o, p, c->privileged)) < 0 ||
	    (r = wait_child(ctx, o, p)) < 0)
		return r;
	return child_result(ctx, o, p, exit_status);
}

int dos_sandbox_run(struct dos_ctx *ctx, const struct dos_sandbox_opts *o, int *exit_status)
{
	struct sb_parent p = { .pidfd = -1, .sig_fd = -1, .status_fd = -1, .sync_fd = -1,
			       .tty_pgrp = -1 };
	struct sb_child c = { .o = o, .sync_fd = -1, .status_fd = -1, .log_fd = -1, .root_fd = -1 };
	_cleanup_free_ char *root = NULL;
	int status = 0, r;

	if ((r = check_opts(ctx, o)) < 0)
		return r;
	root = realpath(o->root, NULL);
	if (!root)
		return dos_error_errno(ctx, DOS_EIO, errno, "sandbox: cannot use the root '%s'",
				       o->root);
	c.root = root;
	c.envp = o->envp ? o->envp : dos_run_clean_env();
	c.privileged = geteuid() == 0;
	r = run_child(ctx, o, &p, &c, &status);
	parent_release(&p, &c);
	if (exit_status)
		*exit_status = status;
	return r;
}

/* --- availability --- */

static bool sysctl_is_zero(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 && strtol(buf, NULL, 10) == 0;
}

/* A forked child tries what the sandbox needs first: a user namespace in
 * which it may mount (AppArmor may allow the one and deny the other). */
static bool probe_userns(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0 ||
		    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
			_exit(1);
		_exit(0);
	}
	if (pid < 0)
		return false;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool dos_sandbox_available(const char **why)
{
	const char *reason = NULL;

	if (geteuid() != 0 && sysctl_is_zero("/proc/sys/kernel/unprivileged_userns_clone"))
		reason = "unprivileged user namespaces are disabled "
			 "(kernel.unprivileged_userns_clone=0)";
	else if (sysctl_is_zero("/proc/sys/user/max_user_namespaces"))
		reason = "user namespaces are disabled (user.max_user_namespaces=0)";
	else if (!probe_userns())
		reason = "this process cannot create a user namespace and mount in it";
	if (why)
		*why = reason;
	return reason == NULL;
}

int dos_mount_namespace_own(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		return -errno;
	/* A new namespace starts with the host's propagation: shared mounts
	 * would send ours straight back to the host. */
	if (mount("none", "/", "none", MS_REC | MS_SLAVE, NULL) < 0)
		return -errno;
	return 0;
}
