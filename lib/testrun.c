/* diracos test: the matrix of a bundle's tests by target platform.
 *
 * One root per platform (a minbase root from the rootfs cache, an overlay
 * instance when we are root) serves all its tests: the sandbox mounts it
 * read-only and gives every test a fresh /tmp, so a test cannot change
 * what the next one sees, and a sandbox run costs milliseconds. The bundle
 * is bound read-only at /cvmfs/diracos.test/<random>/<name>: a path no
 * build ever used, so a file that still names the build path, or a
 * library found through the host's paths, shows up as a failure. The
 * environment is hostile on purpose: diracosrc must undo it.
 *
 * A tarball is unpacked once (testrun_bundle.c) into a temporary folder
 * that also holds the root instances; it is removed at the end. */
#include "testrun_internal.h"
#include "check.h"
#include "progress.h"
#include "rootfs.h"
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define SLUG_MAX 40
#define SETTINGS_MAX (16 << 20)

/* --- tests and platforms --- */

static const char *const kind_names[] = { "import", "command", "script" };

/* "2-command-test-hello-hello-from": lowercase letters and digits, runs of
 * anything else one dash, at most SLUG_MAX characters of the spec. */
static char *slug_make(size_t n, enum dos_testrun_kind kind, const char *what)
{
	char buf[SLUG_MAX + 1];
	size_t k = 0;

	for (const char *c = what; *c && k < SLUG_MAX; c++) {
		char ch = *c >= 'A' && *c <= 'Z' ? (char)(*c + 32) : *c;
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
			buf[k++] = ch;
		else if (k && buf[k - 1] != '-')
			buf[k++] = '-';
	}
	while (k && buf[k - 1] == '-')
		k--;
	buf[k] = '\0';
	return dos_xasprintf("%zu-%s%s%s", n, kind_names[kind], k ? "-" : "", buf);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	s = s ? s + 1 : path;
	return !s[0] || !strcmp(s, ".") || !strcmp(s, "..") ? "script" : s;
}

/* One line: a command spanning lines shows as one row of the matrix. */
static char *label_make(const struct dos_testrun_test *t)
{
	/* An absolute script path (configurations store them so) is long:
	 * the file name says enough. */
	char *l = t->kind == DOS_TESTRUN_SCRIPT ?
		  dos_xasprintf("script %s", t->spec[0] == '/' ? base_name(t->spec) : t->spec) :
		  dos_xasprintf("%s%s", t->kind == DOS_TESTRUN_IMPORT ? "import " : "", t->spec);

	for (char *c = l; *c; c++)
		if (*c == '\n' || *c == '\r' || *c == '\t')
			*c = ' ';
	return l;
}

static bool label_taken(const struct dos_testrun_matrix *m, const char *label)
{
	for (size_t i = 0; i < m->n_tests; i++)
		if (!strcmp(m->tests[i].label, label))
			return true;
	return false;
}

static void test_add(struct dos_testrun_matrix *m, enum dos_testrun_kind kind, const char *spec,
		     const char *script_base)
{
	struct dos_testrun_test *t = &m->tests[m->n_tests];
	size_t n = m->n_tests + 1;

	t->kind = kind;
	t->spec = dos_xstrdup(spec);
	t->label = label_make(t);
	if (label_taken(m, t->label)) {
		char *l = dos_xasprintf("%s (#%zu)", t->label, n);
		free(t->label);
		t->label = l;
	}
	t->slug = slug_make(n, kind, kind == DOS_TESTRUN_SCRIPT ? base_name(spec) : spec);
	if (kind == DOS_TESTRUN_SCRIPT) {
		t->script = dos_path_absolute(script_base, spec);
		t->inside = dos_xasprintf(DOS_TESTRUN_SCRIPT_DIR "/%zu/%s", n, base_name(spec));
	}
	m->n_tests++;
}

void dos_testrun_matrix_init(struct dos_testrun_matrix *m, const struct dos_tests *tests,
			     const struct dos_strv *platforms, const char *script_base)
{
	size_t n = tests->imports.n + tests->commands.n + tests->scripts.n;

	memset(m, 0, sizeof(*m));
	m->tests = dos_xcalloc(n + 1, sizeof(*m->tests));
	for (size_t i = 0; i < tests->imports.n; i++)
		test_add(m, DOS_TESTRUN_IMPORT, tests->imports.v[i], script_base);
	for (size_t i = 0; i < tests->commands.n; i++)
		test_add(m, DOS_TESTRUN_COMMAND, tests->commands.v[i], script_base);
	for (size_t i = 0; i < tests->scripts.n; i++)
		test_add(m, DOS_TESTRUN_SCRIPT, tests->scripts.v[i], script_base);
	m->platforms = dos_xcalloc(platforms->n + 1, sizeof(*m->platforms));
	for (size_t i = 0; i < platforms->n; i++) {
		struct dos_testrun_platform *p = &m->platforms[m->n_platforms++];
		const char *g = dos_check_platform_glibc(platforms->v[i]);
		p->name = dos_xstrdup(platforms->v[i]);
		p->suite = dos_testrun_suite(p->name);
		p->glibc = g ? dos_xstrdup(g) : NULL;
	}
	m->results = dos_xcalloc(m->n_platforms * m->n_tests + 1, sizeof(*m->results));
}

struct dos_testrun_result *dos_testrun_result(const struct dos_testrun_matrix *m, size_t p,
					      size_t t)
{
	return &m->results[p * m->n_tests + t];
}

void dos_testrun_matrix_release(struct dos_testrun_matrix *m)
{
	for (size_t i = 0; i < m->n_tests; i++) {
		struct dos_testrun_test *t = &m->tests[i];
		free(t->spec);
		free(t->label);
		free(t->slug);
		free(t->script);
		free(t->inside);
	}
	for (size_t i = 0; i < m->n_platforms; i++) {
		free(m->platforms[i].name);
		free(m->platforms[i].suite);
		free(m->platforms[i].glibc);
		free(m->platforms[i].detail);
	}
	for (size_t i = 0; i < m->n_platforms * m->n_tests; i++) {
		free(m->results[i].detail);
		free(m->results[i].log);
	}
	free(m->tests);
	free(m->platforms);
	free(m->results);
	free(m->bundle);
	free(m->glibc_floor);
	free(m->mount);
	free(m->log_dir);
	memset(m, 0, sizeof(*m));
}

/* --- the platform decisions --- */

/* "2.34" or "2.2.5" as a comparable number; 0 when it is not one. */
static unsigned long version_number(const char *s)
{
	unsigned long v = 0, part;
	char *end;

	for (int i = 0; i < 3; i++) {
		if (*s < '0' || *s > '9')
			return 0;
		part = strtoul(s, &end, 10);
		if (part > 1023)
			return 0;
		v |= part << (20 - 10 * i);
		if (*end == '\0')
			return v;
		if (*end != '.')
			return 0;
		s = end + 1;
	}
	return 0;
}

enum dos_testrun_status dos_testrun_floor(const char *floor, const char *platform,
					  const char **glibc, char **detail)
{
	const char *g = dos_check_platform_glibc(platform);

	*glibc = g;
	*detail = NULL;
	if (!floor || !g || version_number(g) >= version_number(floor))
		return DOS_TESTRUN_OK;
	*detail = dos_xasprintf("below the glibc floor (needs %s, has %s)", floor, g);
	return DOS_TESTRUN_BELOW_FLOOR;
}

/* Normalized names (lowercase, no "-_.: ") and the suite they stand for. */
static const struct {
	const char *names;
	const char *suite;
} suite_table[] = {
	{ " buster debian10 ", "buster" },
	{ " bullseye debian11 ", "bullseye" },
	{ " bookworm debian12 ", "bookworm" },
	{ " trixie debian13 ", "trixie" },
	{ " forky debian14 ", "forky" },
	{ " sid unstable ", "sid" },
	{ " focal ubuntu2004 ", "focal" },
	{ " jammy ubuntu2204 ", "jammy" },
	{ " noble ubuntu2404 ", "noble" },
};

static const char *const rpm_prefixes[] = { "el", "centos", "rhel", "almalinux", "alma",
					    "rocky", "fedora", "fc", "sl", "opensuse", NULL };

static void name_normalize(const char *name, char *key, size_t size)
{
	size_t k = 0;

	key[k++] = ' ';
	for (; *name && k < size - 2; name++)
		if (!strchr("-_.: ", *name))
			key[k++] = (char)(*name >= 'A' && *name <= 'Z' ? *name + 32 : *name);
	key[k++] = ' ';
	key[k] = '\0';
}

/* An rpm family name followed by a version ("el9", "almalinux:9"). */
static bool name_is_rpm(const char *key)
{
	for (const char *const *p = rpm_prefixes; *p; p++) {
		size_t n = strlen(*p);
		if (!strncmp(key + 1, *p, n) && key[n + 1] >= '0' && key[n + 1] <= '9')
			return true;
	}
	return false;
}

char *dos_testrun_suite(const char *platform)
{
	const char *colon = strrchr(platform, ':');
	char key[64];

	name_normalize(platform, key, sizeof(key));
	for (size_t i = 0; i < sizeof(suite_table) / sizeof(suite_table[0]); i++)
		if (strstr(suite_table[i].names, key))
			return dos_xstrdup(suite_table[i].suite);
	if (name_is_rpm(key))
		return NULL;
	/* "debian:bookworm": the part after the colon names it. */
	if (colon && colon[1])
		return dos_testrun_suite(colon + 1);
	return dos_xstrdup(platform);
}

/* --- the shell text --- */

/* Appends s in single quotes, safe for any content. */
static void quote_put(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	fputc('\'', f);
}

static bool module_name_valid(const char *s)
{
	bool start = true;

	for (; *s; s++) {
		bool alpha = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_';
		bool digit = *s >= '0' && *s <= '9';
		if (*s == '.' && !start)
			start = true;
		else if (alpha || (digit && !start))
			start = false;
		else
			return false;
	}
	return !start;
}

/* It must import, and its file (when it has one: builtins do not) must be
 * inside the bundle, symlinks resolved. */
static const char import_code[] =
	"import importlib, os, sys; n, top = sys.argv[1], sys.argv[2]; "
	"m = importlib.import_module(n); f = getattr(m, '__file__', None); "
	"w = os.path.realpath(f) if f else None; "
	"print('module %s: %s' % (n, w or 'built in')) if w is None or w.startswith(top) "
	"else sys.exit('module %s comes from %s, outside the bundle %s' % (n, w, top))";

static void body_put(FILE *f, const struct dos_testrun_test *t, const char *mount,
		     const char *python)
{
	_cleanup_free_ char *top = dos_xasprintf("%s/", mount);

	switch (t->kind) {
	case DOS_TESTRUN_IMPORT:
		quote_put(f, python);
		fputs(" -c ", f);
		quote_put(f, import_code);
		fputc(' ', f);
		quote_put(f, t->spec);
		fputc(' ', f);
		quote_put(f, top);
		break;
	case DOS_TESTRUN_COMMAND:
		fputs(t->spec, f);
		break;
	case DOS_TESTRUN_SCRIPT:
		if (!t->direct)
			fputs("sh ", f);
		quote_put(f, t->inside);
		break;
	}
	fputc('\n', f);
}

char *dos_testrun_shell(const struct dos_testrun_test *t, const char *mount, const char *python)
{
	_cleanup_free_ char *rc = dos_xasprintf("%s/diracosrc", mount);
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (t->kind == DOS_TESTRUN_IMPORT && (!python || !module_name_valid(t->spec)))
		return NULL;
	f = open_memstream(&text, &len);
	if (!f)
		abort();
	fputs(". ", f);
	quote_put(f, rc);
	fputs(" || { echo 'diracos test: sourcing diracosrc failed' >&2; exit 125; }\n", f);
	body_put(f, t, mount, python);
	if (fclose(f) != 0)
		abort();
	return text;
}

/* --- settings: -c CONFIG, or the bundle's own diracos.json --- */

/* The keys of the effective configuration a test needs, as a configuration
 * text: its paths are absolute already. */
static char *settings_text(struct dos_ctx *ctx, const char *path, const char *text, size_t len)
{
	static const char *const keys[] = { "name", "platform", "workDir", "tests", NULL };
	json_error_t err;
	json_t *root = json_loadb(text, len, 0, &err), *b, *out;
	char *s;

	b = json_object_get(root, "bundle");
	if (!json_is_object(b)) {
		if (root)
			dos_error(ctx, DOS_ECONFIG, "%s: no \"bundle\" object", path);
		else
			dos_error(ctx, DOS_ECONFIG, "%s:%d:%d: %s", path, err.line, err.column,
				  err.text);
		json_decref(root);
		return NULL;
	}
	out = json_object();
	for (const char *const *k = keys; *k; k++)
		if (json_object_get(b, *k))
			json_object_set(out, *k, json_object_get(b, *k));
	s = json_dumps(out, JSON_PRESERVE_ORDER);
	json_decref(out);
	json_decref(root);
	return s;
}

static int settings_from_bundle(struct dos_ctx *ctx, const char *top, struct dos_config **out)
{
	_cleanup_free_ char *path = dos_path_join(top, "diracos.json");
	_cleanup_free_ char *text = NULL, *cfg_text = NULL, *cwd = getcwd(NULL, 0);
	size_t len = 0;

	if (access(path, F_OK) < 0)
		return dos_error(ctx, DOS_ECONFIG, "bundle '%s' has no diracos.json: give the "
				 "tests settings with -c CONFIG", top);
	if (dos_read_file(ctx, path, SETTINGS_MAX, &text, &len) < 0)
		return ctx->code;
	cfg_text = settings_text(ctx, path, text, len);
	if (!cfg_text)
		return DOS_ECONFIG;
	return dos_config_load_text(ctx, cfg_text, strlen(cfg_text), path, cwd ? cwd : "/", out);
}

/* <workDir>/test-logs when the workDir is ours (from -c) or exists here,
 * else ./diracos-test-logs. */
static char *log_dir_pick(const struct dos_config *cfg, bool from_config)
{
	struct stat st;

	if (cfg->work_dir && (from_config || (stat(cfg->work_dir, &st) == 0 &&
					      S_ISDIR(st.st_mode))))
		return dos_path_join(cfg->work_dir, "test-logs");
	return dos_path_absolute(NULL, "diracos-test-logs");
}

/* --- running --- */

struct run {
	struct dos_ctx *ctx;
	const struct dos_testrun_opts *o;
	const struct dos_config *cfg;
	struct dos_testrun_matrix *m;
	struct bundle b;
	char *python;         /* the bundle's python3 as seen inside, or NULL */
	int timeout_s;
};

static char *const hostile_env[] = {
	"PATH=/usr/bin:/bin", "HOME=/tmp", "LC_ALL=C.UTF-8", "TZ=UTC",
	"LD_LIBRARY_PATH=/nonexistent/junk:/usr/lib/junk", "PYTHONPATH=/junk",
	"PYTHONHOME=/junk", NULL,
};

static void progress_show(struct run *rn, const char *platform, size_t t, const char *what)
{
	struct dos_ctx *ctx = rn->ctx;

	if (!ctx->progress || ctx->json || ctx->log_level < DOS_LOG_INFO)
		return;
	if (!what) {
		fputs("\r\033[K", stderr);
	} else {
		fprintf(stderr, "\r\033[Ktest %s: %zu/%zu %.50s", platform, t + 1, rn->m->n_tests,
			what);
	}
	fflush(stderr);
}

/* The bundle's python3 (usr/bin, then bin), as seen inside. */
static char *python_find(const char *top, const char *mount)
{
	static const char *const rel[] = { "usr/bin/python3", "bin/python3" };

	for (size_t i = 0; i < 2; i++) {
		_cleanup_free_ char *p = dos_path_join(top, rel[i]);
		if (access(p, X_OK) == 0)
			return dos_xasprintf("%s/%s", mount, rel[i]);
	}
	return NULL;
}

static char *mount_make(const char *name)
{
	unsigned char r[4] = { 0 };

	if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
		int64_t t = dos_now_ms() ^ getpid();
		memcpy(r, &t, sizeof(r));
	}
	return dos_xasprintf(DOS_TESTRUN_MOUNT_BASE "/%02x%02x%02x%02x/%s", r[0], r[1], r[2],
			     r[3], name);
}

/* Writes text as a new file at dir_fd/name (never through a symlink). */
static int file_put_at(int dir_fd, const char *name, const char *text, size_t len, mode_t mode)
{
	int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	bool ok;

	if (fd < 0)
		return -1;
	ok = write(fd, text, len) == (ssize_t)len;
	ok = close(fd) == 0 && ok;
	return ok ? 0 : -1;
}

/* Copies one script into the root at t->inside; decides how it runs. */
static int script_copy(struct dos_ctx *ctx, const char *root, struct dos_testrun_test *t)
{
	_cleanup_free_ char *text = NULL, *dir = dos_path_dirname(t->inside);
	_cleanup_free_ char *host_dir = dos_path_join(root, dir + 1);
	_cleanup_close_ int fd = -1;
	struct stat st;
	size_t len = 0;

	if (stat(t->script, &st) < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "script '%s'", t->script);
	if (!S_ISREG(st.st_mode))
		return dos_error(ctx, DOS_EIO, "script '%s': not a regular file", t->script);
	if (dos_read_file(ctx, t->script, SETTINGS_MAX, &text, &len) < 0)
		return ctx->code;
	t->direct = (st.st_mode & 0100) && len > 2 && text[0] == '#' && text[1] == '!';
	if (dos_mkdir_p(ctx, host_dir, 0755) < 0)
		return ctx->code;
	fd = open(host_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || file_put_at(fd, base_name(t->spec), text, len, 0755) < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "script '%s': cannot copy it into "
				       "'%s'", t->script, host_dir);
	return 0;
}

static void result_set(struct dos_testrun_result *res, enum dos_testrun_status s, char *detail)
{
	res->status = s;
	free(res->detail);
	res->detail = detail;
}

/* The log's head: what ran, where, so that a kept log explains itself. */
static int log_start(struct dos_ctx *ctx, const char *path, const char *platform,
		     const struct dos_testrun_test *t, const char *text)
{
	_cleanup_free_ char *dir = dos_path_dirname(path);
	_cleanup_fclose_ FILE *f = NULL;

	if (dos_mkdir_p(ctx, dir, 0755) < 0)
		return ctx->code;
	f = fopen(path, "we");
	if (!f || fprintf(f, "# diracos test: platform '%s', %s '%s'\n# sh -c:\n%s# output:\n",
			  platform, kind_names[t->kind], t->spec, text ? text : "(not run)\n") < 0 ||
	    fflush(f) != 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "log '%s'", path);
	return 0;
}

static void log_note(const char *path, const char *note)
{
	FILE *f = fopen(path, "a");

	if (f) {
		fprintf(f, "# diracos test: %s\n", note);
		fclose(f);
	}
}

/* Why a test cannot run at all (NULL: it can); copies a script in. */
static char *test_precheck(struct run *rn, const char *root, struct dos_testrun_test *t)
{
	char *msg;

	if (t->kind == DOS_TESTRUN_IMPORT && !module_name_valid(t->spec))
		return dos_xasprintf("'%s' is not a module name", t->spec);
	if (t->kind == DOS_TESTRUN_IMPORT && !rn->python)
		return dos_xstrdup("the bundle has no python3");
	if (t->kind != DOS_TESTRUN_SCRIPT || script_copy(rn->ctx, root, t) == 0)
		return NULL;
	msg = dos_xstrdup(rn->ctx->msg);
	dos_error_clear(rn->ctx);
	return msg;
}

static int sandbox_test(struct run *rn, const char *root, const char *text, const char *log,
			int *status)
{
	struct dos_sandbox_bind bind = { .src = rn->b.top, .dest = rn->m->mount };
	char *argv[] = { "sh", "-c", (char *)text, NULL };
	struct dos_sandbox_opts so = {
		.root = root, .binds = &bind, .n_binds = 1, .argv = argv, .envp = hostile_env,
		.cwd = "/tmp", .log_path = log, .timeout_s = rn->timeout_s,
	};

	return dos_sandbox_run(rn->ctx, &so, status);
}

static void result_finish(struct run *rn, struct dos_testrun_result *res, char *why)
{
	if (why) {
		log_note(res->log, why);
		result_set(res, DOS_TESTRUN_FAIL, why);
		return;
	}
	result_set(res, DOS_TESTRUN_OK, NULL);
	if (!rn->o->keep_logs) {
		unlink(res->log);
		free(res->log);
		res->log = NULL;
	}
}

static int test_run(struct run *rn, const char *root, size_t p, size_t t)
{
	const struct dos_testrun_platform *pl = &rn->m->platforms[p];
	struct dos_testrun_test *test = &rn->m->tests[t];
	struct dos_testrun_result *res = dos_testrun_result(rn->m, p, t);
	_cleanup_free_ char *text = NULL;
	char *why = test_precheck(rn, root, test);
	int64_t t0 = dos_now_ms();
	int r = 0, status = 0;

	res->log = dos_xasprintf("%s/%s/%s.log", rn->m->log_dir, pl->name, test->slug);
	progress_show(rn, pl->name, t, test->label);
	text = why ? NULL : dos_testrun_shell(test, rn->m->mount, rn->python);
	if (log_start(rn->ctx, res->log, pl->name, test, text) < 0) {
		free(why);
		return rn->ctx->code;
	}
	if (!why)
		r = sandbox_test(rn, root, text, res->log, &status);
	res->seconds = (double)(dos_now_ms() - t0) / 1000;
	if (r == DOS_EINTR) {
		free(why);
		return r;
	}
	if (r < 0) {
		why = strstr(rn->ctx->msg, "timed out") ?
		      dos_xasprintf("timed out after %d s", rn->timeout_s) : dos_xstrdup(rn->ctx->msg);
		dos_error_clear(rn->ctx);
	} else if (!why && status) {
		why = dos_xasprintf("exit status %d", status);
	}
	result_finish(rn, res, why);
	return 0;
}

static void platform_mark(struct dos_testrun_matrix *m, size_t p, enum dos_testrun_status s,
			  char *detail)
{
	m->platforms[p].status = s;
	m->platforms[p].detail = detail;
	for (size_t t = 0; t < m->n_tests; t++)
		dos_testrun_result(m, p, t)->status = s;
}

static int platform_tests(struct run *rn, size_t p, const char *root)
{
	_cleanup_free_ char *pdir = dos_path_join(rn->m->log_dir, rn->m->platforms[p].name);
	int r = 0;

	/* Logs of an earlier run would mix with these. */
	if (dos_rm_rf(rn->ctx, pdir) < 0)
		return rn->ctx->code;
	for (size_t t = 0; t < rn->m->n_tests && r == 0; t++)
		r = test_run(rn, root, p, t);
	progress_show(rn, NULL, 0, NULL);
	rmdir(pdir);
	rmdir(rn->m->log_dir);
	return r;
}

static int platform_root(struct run *rn, size_t p, struct dos_rootfs_instance **inst)
{
	const char *keyring = getenv("DIRACOS_KEYRING");
	struct dos_rootfs_opts ro = {
		.cfg = rn->cfg, .variant = "minbase", .suite = rn->m->platforms[p].suite,
		.keyring = keyring && *keyring ? keyring : NULL,
	};
	_cleanup_free_ char *dest = dos_xasprintf("%s/root-%zu", rn->b.tmp, p);

	return dos_rootfs_instance(rn->ctx, &ro, dest, inst);
}

static int platform_run(struct run *rn, size_t p)
{
	struct dos_testrun_platform *pl = &rn->m->platforms[p];
	struct dos_rootfs_instance *inst = NULL;
	int64_t t0 = dos_now_ms();
	const char *glibc;
	char *detail;
	int r;

	if (dos_testrun_floor(rn->m->glibc_floor, pl->name, &glibc, &detail) != DOS_TESTRUN_OK) {
		platform_mark(rn->m, p, DOS_TESTRUN_BELOW_FLOOR, detail);
		return 0;
	}
	if (!pl->suite) {
		platform_mark(rn->m, p, DOS_TESTRUN_SKIPPED, dos_xasprintf(
			"no test root for '%s': roots are made of Debian suites", pl->name));
		return 0;
	}
	if (!glibc)
		dos_warn(rn->ctx, "platform '%s': glibc version not known, floor not checked",
			 pl->name);
	dos_info(rn->ctx, "platform '%s': root filesystem '%s/minbase'", pl->name, pl->suite);
	r = platform_root(rn, p, &inst);
	if (r == DOS_EINTR)
		return r;
	if (r < 0) {
		platform_mark(rn->m, p, DOS_TESTRUN_ERROR, dos_xstrdup(rn->ctx->msg));
		dos_error_clear(rn->ctx);
		return 0;
	}
	pl->status = DOS_TESTRUN_OK;
	r = platform_tests(rn, p, inst->root);
	dos_rootfs_instance_free(inst);
	pl->seconds = (double)(dos_now_ms() - t0) / 1000;
	return r;
}

static int floor_find(struct run *rn)
{
	struct dos_check_opts co = { .bundle = rn->b.top, .tests = &rn->cfg->tests };
	struct dos_check_report rep;
	int r;

	r = dos_check_run(rn->ctx, &co, &rep);
	if (r == 0) {
		rn->m->bundle = dos_xstrdup(rep.name);
		rn->m->glibc_floor = rep.glibc_floor ? dos_xstrdup(rep.glibc_floor) : NULL;
	}
	dos_check_report_release(&rep);
	return r;
}

/* A platform name becomes a folder of the logs: one plain component. */
static int platforms_check(struct dos_ctx *ctx, const struct dos_strv *platforms)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "0123456789.:_+-";

	for (size_t i = 0; i < platforms->n; i++) {
		const char *n = platforms->v[i];
		if (!n[0] || n[0] == '.' || n[0] == '-' || n[strspn(n, ok)])
			return dos_error(ctx, DOS_EUSAGE, "platform '%s': not a platform name", n);
	}
	return 0;
}

static int run_prepare(struct run *rn, struct dos_config **own)
{
	const struct dos_testrun_opts *o = rn->o;
	const struct dos_strv *platforms;
	int r;

	if ((r = testrun_bundle_open(rn->ctx, o->bundle, &rn->b)) < 0)
		return r;
	if (!o->cfg && (r = settings_from_bundle(rn->ctx, rn->b.top, own)) < 0)
		return r;
	rn->cfg = o->cfg ? o->cfg : *own;
	platforms = o->platforms && o->platforms->n ? o->platforms : &rn->cfg->tests.platforms;
	if ((r = platforms_check(rn->ctx, platforms)) < 0)
		return r;
	dos_testrun_matrix_init(rn->m, &rn->cfg->tests, platforms, rn->cfg->dir);
	if ((r = floor_find(rn)) < 0)
		return r;
	rn->m->mount = mount_make(rn->m->bundle);
	rn->m->log_dir = log_dir_pick(rn->cfg, o->cfg != NULL);
	rn->python = python_find(rn->b.top, rn->m->mount);
	return 0;
}

int dos_testrun_run(struct dos_ctx *ctx, const struct dos_testrun_opts *o,
		    struct dos_testrun_matrix *m)
{
	struct run rn = { .ctx = ctx, .o = o, .m = m };
	struct dos_config *own = NULL;
	int r;

	memset(m, 0, sizeof(*m));
	rn.timeout_s = o->timeout_s > 0 ? o->timeout_s : DOS_TESTRUN_TIMEOUT_S;
	r = run_prepare(&rn, &own);
	for (size_t p = 0; r == 0 && p < m->n_platforms; p++)
		r = platform_run(&rn, p);
	if (r < 0)
		dos_error_prefix(ctx, "test");
	testrun_bundle_close(ctx, &rn.b);
	free(rn.python);
	if (own)
		dos_config_free(own);
	return r;
}

/* --- output --- */

const char *dos_testrun_status_name(enum dos_testrun_status s)
{
	static const char *const names[] = { "pending", "ok", "FAIL", "below-floor", "skipped",
					     "error" };

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

static const char *status_json(enum dos_testrun_status s)
{
	return s == DOS_TESTRUN_FAIL ? "fail" : dos_testrun_status_name(s);
}

size_t dos_testrun_failures(const struct dos_testrun_matrix *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n_platforms * m->n_tests; i++)
		n += m->results[i].status == DOS_TESTRUN_FAIL;
	for (size_t p = 0; p < m->n_platforms; p++)
		n += m->platforms[p].status == DOS_TESTRUN_ERROR;
	return n;
}

static json_t *nullable(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *platforms_json(const struct dos_testrun_matrix *m)
{
	json_t *a = json_array();

	for (size_t p = 0; p < m->n_platforms; p++) {
		const struct dos_testrun_platform *pl = &m->platforms[p];
		json_array_append_new(a, json_pack("{s:s, s:o, s:o, s:s, s:o, s:f}",
			"name", pl->name, "suite", nullable(pl->suite), "glibc", nullable(pl->glibc),
			"status", status_json(pl->status), "detail", nullable(pl->detail),
			"seconds", pl->seconds));
	}
	return a;
}

static json_t *tests_json(const struct dos_testrun_matrix *m)
{
	json_t *a = json_array();

	for (size_t t = 0; t < m->n_tests; t++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "name", m->tests[t].label,
			"kind", kind_names[m->tests[t].kind], "spec", m->tests[t].spec));
	return a;
}

static json_t *results_json(const struct dos_testrun_matrix *m)
{
	json_t *all = json_object();

	for (size_t p = 0; p < m->n_platforms; p++) {
		json_t *row = json_object();
		for (size_t t = 0; t < m->n_tests; t++) {
			const struct dos_testrun_result *r = dos_testrun_result(m, p, t);
			json_object_set_new(row, m->tests[t].label, json_pack(
				"{s:s, s:o, s:f, s:o}", "status", status_json(r->status),
				"log", nullable(r->log), "seconds", r->seconds,
				"detail", nullable(r->detail)));
		}
		json_object_set_new(all, m->platforms[p].name, row);
	}
	return all;
}

json_t *dos_testrun_json(const struct dos_testrun_matrix *m)
{
	size_t failures = dos_testrun_failures(m);

	return json_pack("{s:o, s:o, s:o, s:o, s:b, s:I, s:o, s:o, s:o}",
		"bundle", nullable(m->bundle), "glibcFloor", nullable(m->glibc_floor),
		"mount", nullable(m->mount), "logDir", nullable(m->log_dir),
		"ok", failures == 0, "failures", (json_int_t)failures,
		"platforms", platforms_json(m), "tests", tests_json(m), "results", results_json(m));
}
