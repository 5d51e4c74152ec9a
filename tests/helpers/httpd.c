/* A tiny HTTP/1.1 server for tests: serves files from a folder on
 * 127.0.0.1, one thread per connection, one request per connection.
 *
 *   httpd PORTFILE ROOT [--fault MODE] [--rules FILE] [--log FILE]
 *
 * It binds an ephemeral port and writes its number to PORTFILE (atomically).
 * MODE, for every request, is one of:
 *   fail-first-N  answer 503 to the first N requests
 *   truncate      send the headers and half the body, then close
 *   stall         send the headers, then hang
 *   corrupt       flip one byte of the body
 * The rules FILE gives faults per path, one rule a line ('#' comments):
 *   GLOB ACTION [COUNT]
 * GLOB is an fnmatch(3) pattern on the request path (e.g. "*.deb"); ACTION
 * is an HTTP status (500, 404, ...), truncate, stall, corrupt, or slow (the
 * body 1 KiB every 50 ms); COUNT, when given, is how many requests the
 * rule hits before it lapses. The first rule that matches and has not
 * lapsed applies. The file is read again whenever its modification time
 * changes (counts start over), so a test can change the faults of a
 * running server.
 * Every request appends "METHOD PATH STATUS" to the log FILE before the
 * answer goes out, so tests can count requests. SIGTERM ends it. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum fault { F_NONE, F_FAIL_FIRST, F_TRUNCATE, F_STALL, F_CORRUPT, F_STATUS, F_SLOW };

static enum fault fault;
static int fail_first;
static atomic_int requests;
static const char *root;
static int log_fd = -1;

/* --- per-path rules --- */

#define MAX_RULES 64

struct rule {
	char glob[1024];
	enum fault action;
	int status;     /* for F_STATUS */
	int left;       /* requests it still hits; -1: no limit */
};

static struct rule rules[MAX_RULES];
static int n_rules;
static const char *rules_path;
static struct stat rules_st;
static pthread_mutex_t rules_lock = PTHREAD_MUTEX_INITIALIZER;

static int parse_action(const char *s, struct rule *r)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (!*end && n >= 100 && n <= 599) {
		r->action = F_STATUS;
		r->status = (int)n;
	} else if (!strcmp(s, "truncate")) {
		r->action = F_TRUNCATE;
	} else if (!strcmp(s, "stall")) {
		r->action = F_STALL;
	} else if (!strcmp(s, "corrupt")) {
		r->action = F_CORRUPT;
	} else if (!strcmp(s, "slow")) {
		r->action = F_SLOW;
	} else {
		return -1;
	}
	return 0;
}

/* Under rules_lock: reads the file again when it changed. A missing file
 * means no rules; a bad line is reported and skipped. */
static void rules_reload(void)
{
	char line[1200], glob[1024], action[32];
	struct stat st;
	FILE *f;
	int count;

	if (!rules_path)
		return;
	if (stat(rules_path, &st) < 0) {
		n_rules = 0;
		memset(&rules_st, 0, sizeof(rules_st));
		return;
	}
	if (st.st_ino == rules_st.st_ino && st.st_size == rules_st.st_size &&
	    st.st_mtim.tv_sec == rules_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == rules_st.st_mtim.tv_nsec)
		return;
	rules_st = st;
	n_rules = 0;
	f = fopen(rules_path, "re");
	while (f && n_rules < MAX_RULES && fgets(line, sizeof(line), f)) {
		struct rule *r = &rules[n_rules];
		int n = sscanf(line, "%1023s %31s %d", glob, action, &count);
		if (n <= 0 || glob[0] == '#')
			continue;
		if (n < 2 || parse_action(action, r) < 0 || (n == 3 && count <= 0)) {
			fprintf(stderr, "httpd: bad rule: %s", line);
			continue;
		}
		snprintf(r->glob, sizeof(r->glob), "%s", glob);
		r->left = n == 3 ? count : -1;
		n_rules++;
	}
	if (f)
		fclose(f);
}

/* The fault for one request on path (F_NONE: the global --fault mode),
 * counting the hit against the rule. */
static enum fault rule_fault(const char *path, int *status)
{
	enum fault f = F_NONE;

	pthread_mutex_lock(&rules_lock);
	rules_reload();
	for (int i = 0; i < n_rules; i++) {
		struct rule *r = &rules[i];
		if (r->left == 0 || fnmatch(r->glob, path, 0) != 0)
			continue;
		if (r->left > 0)
			r->left--;
		f = r->action;
		*status = r->status;
		break;
	}
	pthread_mutex_unlock(&rules_lock);
	return f;
}

static int send_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void log_request(const char *method, const char *path, int status)
{
	char line[1200];
	int n;

	if (log_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%s %s %d\n", method, path, status);
	if (n > 0 && write(log_fd, line, (size_t)n) < 0)
		perror("httpd: log");
}

static void send_status(int fd, int status, const char *reason)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			 status, reason);

	send_all(fd, head, (size_t)n);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes the path (query dropped) and refuses NUL bytes and ".."
 * components: nothing outside ROOT is ever served. */
static int path_decode(const char *in, char *out, size_t n)
{
	size_t o = 0;

	if (in[0] != '/')
		return -1;
	for (size_t i = 0; in[i] && in[i] != '?' && in[i] != '#'; i++) {
		int c = (unsigned char)in[i];
		if (c == '%') {
			int h = hexval(in[i + 1]), l = h < 0 ? -1 : hexval(in[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = h * 16 + l;
			i += 2;
		}
		if (c == 0 || o + 1 >= n)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	for (char *p = out; (p = strstr(p, "..")); p += 2)
		if (p[-1] == '/' && (p[2] == '/' || p[2] == '\0'))
			return -1;
	return 0;
}

static int read_request(int fd, char *buf, size_t n)
{
	size_t used = 0;

	while (used + 1 < n) {
		ssize_t r = recv(fd, buf + used, n - used - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		used += (size_t)r;
		buf[used] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return 0;
	}
	return -1;
}

/* Waits until the client gives up. */
static void hang(int fd)
{
	char b[256];

	while (recv(fd, b, sizeof(b), 0) > 0)
		;
}

static char *load_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *data;
	size_t used = 0;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	data = malloc((size_t)st.st_size + 1);
	while (data && used < (size_t)st.st_size) {
		ssize_t r = read(fd, data + used, (size_t)st.st_size - used);
		if (r <= 0)
			break;
		used += (size_t)r;
	}
	close(fd);
	*len = used;
	return data;
}

/* 1 KiB every 50 ms: slow enough for a test to act during a download. */
static void send_slowly(int fd, const char *body, size_t len)
{
	const struct timespec pause = { 0, 50 * 1000 * 1000 };

	for (size_t off = 0; off < len; off += 1024) {
		if (send_all(fd, body + off, len - off < 1024 ? len - off : 1024) < 0)
			return;
		nanosleep(&pause, NULL);
	}
}

static void serve_file(int fd, const char *method, const char *path, char *body, size_t len,
		       enum fault how)
{
	char head[256];
	int head_only = !strcmp(method, "HEAD");
	int n;

	log_request(method, path, 200);
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
		     "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n", len);
	if (send_all(fd, head, (size_t)n) < 0 || head_only)
		return;
	if (how == F_STALL) {
		hang(fd);
		return;
	}
	if (how == F_TRUNCATE)
		len /= 2;
	if (how == F_CORRUPT && len > 0)
		body[len / 2] ^= 0x20;
	if (how == F_SLOW)
		send_slowly(fd, body, len);
	else
		send_all(fd, body, len);
}

/* The status to answer with before looking at the file (0: none). */
static int early_status(const char *method, int nreq)
{
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return 405;
	if (fault == F_FAIL_FIRST && nreq <= fail_first)
		return 503;
	return 0;
}

static void handle(int fd)
{
	char req[8192], method[16], target[4096], path[4096];
	char *full, *body;
	size_t len = 0;
	enum fault f = F_NONE;
	int status, rule_status = 0;

	if (read_request(fd, req, sizeof(req)) < 0)
		return;
	if (sscanf(req, "%15s %4095s", method, target) != 2) {
		send_status(fd, 400, "Bad Request");
		return;
	}
	status = early_status(method, atomic_fetch_add(&requests, 1) + 1);
	if (status == 0 && path_decode(target, path, sizeof(path)) < 0)
		status = 400;
	if (status == 0) {
		f = rule_fault(path, &rule_status);
		if (f == F_STATUS)
			status = rule_status;
		else if (f == F_NONE)
			f = fault;
	}
	if (status) {
		log_request(method, target, status);
		send_status(fd, status, status == 503 ? "Service Unavailable" :
			    status == 404 ? "Not Found" : "Error");
		return;
	}
	full = malloc(strlen(root) + strlen(path) + 1);
	sprintf(full, "%s%s", root, path);
	body = load_file(full, &len);
	free(full);
	if (!body) {
		log_request(method, target, 404);
		send_status(fd, 404, "Not Found");
		return;
	}
	serve_file(fd, method, target, body, len, f);
	free(body);
}

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;

	handle(fd);
	shutdown(fd, SHUT_WR);
	close(fd);
	return NULL;
}

static int parse_fault(const char *s)
{
	if (!strncmp(s, "fail-first-", 11)) {
		fault = F_FAIL_FIRST;
		fail_first = atoi(s + 11);
	} else if (!strcmp(s, "truncate")) {
		fault = F_TRUNCATE;
	} else if (!strcmp(s, "stall")) {
		fault = F_STALL;
	} else if (!strcmp(s, "corrupt")) {
		fault = F_CORRUPT;
	} else {
		return -1;
	}
	return 0;
}

static int write_port(const char *portfile, int port)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, portfile);
}

static int listen_loopback(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

static int parse_args(int argc, char **argv)
{
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--fault") && i + 1 < argc) {
			if (parse_fault(argv[++i]) < 0)
				return -1;
		} else if (!strcmp(argv[i], "--rules") && i + 1 < argc) {
			rules_path = argv[++i];
		} else if (!strcmp(argv[i], "--log") && i + 1 < argc) {
			log_fd = open(argv[++i], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			if (log_fd < 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	pthread_attr_t attr;
	int lfd, port;

	if (argc < 3 || parse_args(argc, argv) < 0) {
		fprintf(stderr, "usage: httpd PORTFILE ROOT [--fault MODE] [--rules FILE] [--log FILE]\n");
		return 2;
	}
	root = argv[2];
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_loopback(&port);
	if (lfd < 0 || write_port(argv[1], port) < 0) {
		perror("httpd");
		return 1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		pthread_t t;
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		if (pthread_create(&t, &attr, conn_main, (void *)(intptr_t)c) != 0)
			close(c);
	}
}
