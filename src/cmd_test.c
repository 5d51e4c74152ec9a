/* diracos test: a bundle's tests on each target platform, printed as a
 * matrix (tests by platforms) or as JSON; exit 1 when any test failed. */
#include "cmd.h"
#include "opts.h"
#include "testrun.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_CONFIG = 1, OPT_PLATFORM, OPT_TIMEOUT, OPT_KEEP_LOGS };

struct test_args {
	const char *config;
	struct dos_strv platforms;
	int timeout_s;
	bool keep_logs;
};

/* "--platform bookworm,trixie" is two platforms. */
static int platforms_add(struct cmd_args *args, struct test_args *ta, const char *value)
{
	_cleanup_free_ char *copy = dos_xstrdup(value);
	char *save = NULL;

	for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
		dos_strv_push(&ta->platforms, tok);
	if (!ta->platforms.n)
		return dos_error(args->ctx, DOS_EUSAGE, "test: --platform needs a platform name");
	return 0;
}

static int timeout_parse(struct cmd_args *args, struct test_args *ta, const char *value)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(value, &end, 10);
	if (errno || *end || n < 1 || n > 86400)
		return dos_error(args->ctx, DOS_EUSAGE, "test: --timeout '%s' is not a number of "
				 "seconds (1 to 86400)", value);
	ta->timeout_s = (int)n;
	return 0;
}

static int on_option(struct cmd_args *args, int id, const char *value, void *data)
{
	struct test_args *ta = data;

	switch (id) {
	case OPT_CONFIG:
		ta->config = value;
		return 0;
	case OPT_PLATFORM:
		return platforms_add(args, ta, value);
	case OPT_TIMEOUT:
		return timeout_parse(args, ta, value);
	default:
		ta->keep_logs = true;
		return 0;
	}
}

/* --- for people: a row per test, a column per platform, then a line per
 * platform that did not run and per failure, with its log --- */

#define LABEL_MAX 44

static int column_width(const struct dos_testrun_matrix *m, size_t p)
{
	size_t w = strlen(m->platforms[p].name);

	return p + 1 == m->n_platforms ? 0 : (int)(w > 11 ? w : 11);
}

static void label_print(FILE *out, const char *label)
{
	if (strlen(label) > LABEL_MAX)
		fprintf(out, "%.*s...", LABEL_MAX - 3, label);
	else
		fprintf(out, "%-*s", LABEL_MAX, label);
}

static void matrix_print(const struct dos_testrun_matrix *m, FILE *out)
{
	label_print(out, "");
	for (size_t p = 0; p < m->n_platforms; p++)
		fprintf(out, "  %-*s", column_width(m, p), m->platforms[p].name);
	fputc('\n', out);
	for (size_t t = 0; t < m->n_tests; t++) {
		label_print(out, m->tests[t].label);
		for (size_t p = 0; p < m->n_platforms; p++)
			fprintf(out, "  %-*s", column_width(m, p),
				dos_testrun_status_name(dos_testrun_result(m, p, t)->status));
		fputc('\n', out);
	}
}

static void platform_notes_print(const struct dos_testrun_matrix *m, size_t p, FILE *out)
{
	const struct dos_testrun_platform *pl = &m->platforms[p];

	if (pl->status == DOS_TESTRUN_ERROR)
		fprintf(out, "ERROR %s: %s\n", pl->name, pl->detail);
	else if (pl->detail)
		fprintf(out, "note %s: %s: not run\n", pl->name, pl->detail);
	for (size_t t = 0; t < m->n_tests; t++) {
		const struct dos_testrun_result *r = dos_testrun_result(m, p, t);
		if (r->status != DOS_TESTRUN_FAIL)
			continue;
		fprintf(out, "FAIL %s: %s: %s", pl->name, m->tests[t].label, r->detail);
		if (r->log)
			fprintf(out, " (log: %s)", r->log);
		fputc('\n', out);
	}
}

static void matrix_report(const struct dos_testrun_matrix *m, FILE *out)
{
	size_t failures = dos_testrun_failures(m);

	fprintf(out, "bundle '%s', glibc floor %s, seen at %s\n", m->bundle,
		m->glibc_floor ? m->glibc_floor : "none", m->mount);
	if (m->n_tests == 0)
		fputs("no tests: tests.imports, tests.commands and tests.scripts are empty\n", out);
	else
		matrix_print(m, out);
	for (size_t p = 0; p < m->n_platforms; p++)
		platform_notes_print(m, p, out);
	if (failures)
		fprintf(out, "test: %zu failure%s\n", failures, failures == 1 ? "" : "s");
	else
		fprintf(out, "test: no failures\n");
}

/* --- the command --- */

static int test_matrix(struct cmd_args *args, struct test_args *ta)
{
	struct dos_testrun_opts o = {
		.bundle = args->argv[0], .platforms = &ta->platforms,
		.timeout_s = ta->timeout_s, .keep_logs = ta->keep_logs,
	};
	struct dos_testrun_matrix m;
	int r;

	if (ta->config) {
		r = cmd_load_config(args, ta->config);
		if (r < 0)
			return r;
		o.cfg = args->cfg;
	}
	r = dos_testrun_run(args->ctx, &o, &m);
	if (r == 0 && args->ctx->json) {
		json_t *j = dos_testrun_json(&m);
		/* seconds as 0.012, not 0.012000000000000001 */
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
		fputc('\n', stdout);
		json_decref(j);
	} else if (r == 0) {
		matrix_report(&m, stdout);
	}
	if (r == 0)
		r = dos_testrun_failures(&m) ? 1 : 0;
	dos_testrun_matrix_release(&m);
	return r;
}

static int run_test(struct cmd_args *args)
{
	static const struct cmd_option own[] = {
		{ "config", required_argument, 'c', OPT_CONFIG },
		{ "platform", required_argument, 'p', OPT_PLATFORM },
		{ "timeout", required_argument, 0, OPT_TIMEOUT },
		{ "keep-logs", no_argument, 0, OPT_KEEP_LOGS },
		{ 0 },
	};
	struct test_args ta = { 0 };
	int r;

	r = cmd_parse_options(args, &cmd_test, own, on_option, &ta);
	if (r == 0 && args->argc != 1)
		r = dos_error(args->ctx, DOS_EUSAGE, "test: takes one BUNDLE (a tarball or a "
			      "folder); see 'diracos test --help'");
	if (r == 0)
		r = test_matrix(args, &ta);
	dos_strv_release(&ta.platforms);
	return r == OPTS_HELP ? 0 : r;
}

const struct cmd cmd_test = {
	"test", run_test, NEEDS_NOTHING,
	"run a bundle's tests on each target platform",
	"usage: diracos test [-c CONFIG] [--platform SUITE]... BUNDLE\n"
	"\n"
	"Runs the bundle's tests (tests.imports, tests.commands, tests.scripts) in a\n"
	"minimal root filesystem of each target platform, made with mmdebstrap and\n"
	"cached. The bundle (a tarball or an unpacked bundle's top folder) is mounted\n"
	"read-only at a path it has never seen, without network, with a hostile\n"
	"LD_LIBRARY_PATH, PYTHONPATH and PYTHONHOME; each test sources diracosrc.\n"
	"Prints a matrix: a row per test, a column per platform. A platform whose\n"
	"glibc is older than the bundle needs is reported below the floor and runs\n"
	"nothing. Logs of failing tests stay in <workDir>/test-logs/<platform>/.\n"
	"\n"
	"  -c, --config CONFIG    take the tests settings, platform and workDir from\n"
	"                         CONFIG, not from the bundle's own diracos.json\n"
	"  -p, --platform SUITE   test on SUITE (repeatable, or comma-separated);\n"
	"                         replaces tests.platforms\n"
	"      --timeout SECONDS  per test (default 60)\n"
	"      --keep-logs        keep the logs of passing tests too\n"
	"      --json             the matrix as JSON on stdout\n"
	"\n"
	"exit status: 0 every test passed (platforms below the glibc floor and\n"
	"rpm platforms are reported, not failures), 1 a test failed or a platform's\n"
	"root could not be made, 2 bad usage or bad configuration.\n",
};
