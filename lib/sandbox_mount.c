/* The sandbox's mounts (see the top of sandbox.c): paths inside the root
 * reached with openat2(RESOLVE_IN_ROOT), binds made read-only by a bind
 * remount that keeps the locked flags, /proc, /dev and /tmp, then
 * pivot_root. All of it runs in the cloned child: no malloc, no stdio
 * streams, only stack buffers and the parent's (copied) options. */
#include "sandbox_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

/* "/proc/self/fd/N": mount(2) follows it to exactly the file fd holds. */
static const char *fd_path(char buf[32], int fd)
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
	return buf;
}

/* --- the child: paths inside the root --- */

/* Without openat2 (Linux < 5.6, valgrind): a walk that refuses symlinks
 * and "..", rather than resolving them inside the root. */
static int resolve_walk(struct sb_child *c, const char *rel)
{
	char buf[PATH_MAX], *save = NULL, *tok;
	int cur = fcntl(c->root_fd, F_DUPFD_CLOEXEC, 3), fd;
	struct stat st;

	snprintf(buf, sizeof(buf), "%s", rel);
	for (tok = strtok_r(buf, "/", &save); cur >= 0 && tok; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		fd = strcmp(tok, "..") ? openat(cur, tok, O_PATH | O_NOFOLLOW | O_CLOEXEC) : -1;
		if (fd < 0 && !strcmp(tok, ".."))
			errno = EXDEV;
		close(cur);
		cur = fd;
		if (cur >= 0 && fstat(cur, &st) == 0 && S_ISLNK(st.st_mode)) {
			close(cur);
			cur = -1;
			errno = ELOOP;
		}
	}
	return cur;
}

static int resolve_in_root(struct sb_child *c, const char *rel)
{
	int fd;
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	if (!*rel)
		return fcntl(c->root_fd, F_DUPFD_CLOEXEC, 3);
	fd = (int)syscall(SYS_openat2, c->root_fd, rel, &how, sizeof(how));
	return fd < 0 && errno == ENOSYS ? resolve_walk(c, rel) : fd;
}

/* Creates name in parent: a folder, or an empty file to bind a file on. */
static int create_entry(int parent, const char *name, bool dir)
{
	int fd;

	if (dir)
		return mkdirat(parent, name, 0755) < 0 && errno != EEXIST ? -1 : 0;
	fd = openat(parent, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno == EEXIST ? 0 : -1;
	close(fd);
	return 0;
}

/* An O_PATH fd of path inside the root, creating what is missing (the
 * last component a folder or a file). Symlinks resolve inside the root. */
static int root_open(struct sb_child *c, const char *path, bool dir)
{
	char rel[PATH_MAX];
	int parent, fd = -1;
	char *p;

	while (*path == '/')
		path++;
	if (snprintf(rel, sizeof(rel), "%s", path) >= (int)sizeof(rel)) {
		errno = ENAMETOOLONG;
		return setup_fail(c, "cannot reach '%s%s'", c->root, path);
	}
	parent = resolve_in_root(c, "");
	for (p = rel; parent >= 0 && *p; p++) {
		char *end = strchrnul(p, '/'), save = *end;

		*end = '\0';
		fd = resolve_in_root(c, rel);
		if (fd < 0 && errno == ENOENT && create_entry(parent, p, save || dir) == 0)
			fd = resolve_in_root(c, rel);
		if (fd < 0)
			setup_fail(c, "cannot create mount point '%s/%s'", c->root, rel);
		close(parent);
		parent = fd;
		*end = save;
		p = end;
		if (!*p)
			break;
	}
	return parent;
}

/* --- the child: mounts --- */

/* The flags a mount has now; a bind remount must keep the locked ones. */
static unsigned long mount_flags(int fd)
{
	static const struct { unsigned long st, ms; } map[] = {
		{ ST_RDONLY, MS_RDONLY }, { ST_NOSUID, MS_NOSUID }, { ST_NODEV, MS_NODEV },
		{ ST_NOEXEC, MS_NOEXEC }, { ST_NOATIME, MS_NOATIME },
		{ ST_NODIRATIME, MS_NODIRATIME }, { ST_RELATIME, MS_RELATIME },
	};
	unsigned long flags = 0;
	struct statvfs sv;

	if (fstatvfs(fd, &sv) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (sv.f_flag & map[i].st)
			flags |= map[i].ms;
	return flags;
}

static int remount(struct sb_child *c, int fd, unsigned long add, const char *what)
{
	char buf[32];
	unsigned long flags = mount_flags(fd) | add;

	if (mount("none", fd_path(buf, fd), "none", MS_BIND | MS_REMOUNT | flags, NULL) < 0)
		return setup_fail(c, "cannot remount '%s'%s", what,
				  (flags & MS_RDONLY) ? " read-only" : "");
	return 0;
}

static int mount_fs(struct sb_child *c, const char *dest, const char *type,
		    unsigned long flags, const char *data)
{
	char buf[32];
	int fd = root_open(c, dest, true), r = 0;

	if (fd < 0)
		return -1;
	if (mount(type, fd_path(buf, fd), type, flags, data) < 0)
		r = setup_fail(c, "cannot mount %s on '%s%s'", type, c->root, dest);
	close(fd);
	return r;
}

static int bind_one(struct sb_child *c, const struct dos_sandbox_bind *b)
{
	char buf[32];
	struct stat st;
	int fd, r = 0;

	if (stat(b->src, &st) < 0)
		return setup_fail(c, "cannot bind '%s'", b->src);
	fd = root_open(c, b->dest, S_ISDIR(st.st_mode));
	if (fd < 0)
		return -1;
	if (mount(b->src, fd_path(buf, fd), "none", MS_BIND, NULL) < 0)
		r = setup_fail(c, "cannot bind '%s' on '%s%s'", b->src, c->root, b->dest);
	close(fd);
	if (r < 0)
		return r;
	/* Opened again: the fd now holds the bind mount, not what is under. */
	fd = root_open(c, b->dest, S_ISDIR(st.st_mode));
	if (fd < 0)
		return -1;
	r = remount(c, fd, MS_NOSUID | MS_NODEV | (b->writable ? 0 : MS_RDONLY), b->dest);
	close(fd);
	return r;
}

static int dev_node(struct sb_child *c, int dev_fd, const char *name)
{
	char host[64], buf[32];
	int fd, r = 0;

	snprintf(host, sizeof(host), "/dev/%s", name);
	if (access(host, F_OK) < 0)
		return 0;
	if (create_entry(dev_fd, name, false) < 0)
		return setup_fail(c, "cannot create '%s/dev/%s'", c->root, name);
	fd = openat(dev_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || mount(host, fd_path(buf, fd), "none", MS_BIND, NULL) < 0)
		r = setup_fail(c, "cannot bind '%s' on '%s/dev/%s'", host, c->root, name);
	if (fd >= 0)
		close(fd);
	return r;
}

static int dev_links(struct sb_child *c, int dev_fd)
{
	static const char *const links[][2] = {
		{ "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
		{ "ptmx", "pts/ptmx" },
	};

	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (symlinkat(links[i][1], dev_fd, links[i][0]) < 0)
			return setup_fail(c, "cannot create '%s/dev/%s'", c->root, links[i][0]);
	return 0;
}

static int setup_dev(struct sb_child *c)
{
	static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
	int fd, r = 0;

	if (mount_fs(c, "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") < 0)
		return -1;
	fd = root_open(c, "/dev", true);
	if (fd < 0)
		return -1;
	for (size_t i = 0; r == 0 && i < sizeof(nodes) / sizeof(nodes[0]); i++)
		r = dev_node(c, fd, nodes[i]);
	if (r == 0)
		r = dev_links(c, fd);
	close(fd);
	if (r == 0)
		r = mount_fs(c, "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
			     "newinstance,ptmxmode=0666,mode=620");
	if (r == 0)
		r = mount_fs(c, "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	return r;
}

static int bind_root(struct sb_child *c)
{
	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
		return setup_fail(c, "cannot make the mounts private");
	if (mount(c->root, c->root, "none", MS_BIND, NULL) < 0)
		return setup_fail(c, "cannot bind the root '%s' on itself", c->root);
	c->root_fd = open(c->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->root_fd < 0)
		return setup_fail(c, "cannot open the root '%s'", c->root);
	return 0;
}

static int enter_root(struct sb_child *c)
{
	int fd, r;

	if (fchdir(c->root_fd) < 0)
		return setup_fail(c, "cannot enter the root '%s'", c->root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return setup_fail(c, "cannot pivot_root into '%s'", c->root);
	if (umount2(".", MNT_DETACH) < 0)
		return setup_fail(c, "cannot detach the host's root");
	if (chdir("/") < 0)
		return setup_fail(c, "cannot enter '/'");
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return setup_fail(c, "cannot open '/'");
	r = remount(c, fd, MS_NOSUID | MS_NODEV | (c->o->root_writable ? 0 : MS_RDONLY), c->root);
	close(fd);
	return r;
}

int sandbox_setup_mounts(struct sb_child *c)
{
	if (bind_root(c) < 0)
		return -1;
	if (mount_fs(c, "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -1;
	if (setup_dev(c) < 0)
		return -1;
	if (mount_fs(c, "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		return -1;
	for (size_t i = 0; i < c->o->n_binds; i++)
		if (bind_one(c, &c->o->binds[i]) < 0)
			return -1;
	return enter_root(c);
}
