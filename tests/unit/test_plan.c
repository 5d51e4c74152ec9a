/* Unit tests of the build plan: edges, order, cycles, content keys that
 * change exactly when an input does, the dependents of a name, and the
 * parallel executor. Configurations are real files in a temp folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "plan.h"
#include "progress.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int setup(void **state)
{
	*state = th_dir_new("plan");
	return 0;
}

static struct dos_config *load(struct th_dir *f, const char *text)
{
	struct dos_config *cfg = NULL;

	if (dos_config_load_text(&f->ctx, text, strlen(text), "t.json", f->dir, &cfg) < 0)
		fail_msg("config: %s", f->ctx.msg);
	return cfg;
}

static struct dos_plan *plan_ok(struct th_dir *f, struct dos_config *cfg,
				const struct dos_strv *provides)
{
	struct dos_plan *plan = NULL;

	if (dos_plan_new(&f->ctx, cfg, provides, &plan) < 0)
		fail_msg("plan: %s", f->ctx.msg);
	return plan;
}

static const char *order_names(const struct dos_plan *plan)
{
	static char buf[256];

	buf[0] = '\0';
	for (size_t k = 0; k < plan->n; k++) {
		strcat(buf, plan->nodes[plan->order[k]].pkg->name);
		strcat(buf, k + 1 < plan->n ? " " : "");
	}
	return buf;
}

/* --- dependency names --- */

static void test_dependency_names(void **state)
{
	struct dos_strv names = { 0 };

	(void)state;
	dos_plan_dependency_names("libfoo-dev (>= 1.2) | bar:any [amd64]", &names);
	dos_plan_dependency_names("  baz", &names);
	assert_int_equal(names.n, 3);
	assert_string_equal(names.v[0], "libfoo-dev");
	assert_string_equal(names.v[1], "bar");
	assert_string_equal(names.v[2], "baz");
	dos_strv_release(&names);
}

/* --- order, edges, cycles --- */

static const char chain[] =
	"{\"name\": \"t\", \"workDir\": \"w\", \"packages\": [\n"
	" {\"name\": \"app\", \"recipe\": \"r/app.sh\", \"version\": \"1\",\n"
	"  \"buildDependencies\": [\"libmid-dev (>= 1)\", \"gcc\"]},\n"
	" {\"name\": \"mid\", \"recipe\": \"r/mid.sh\", \"version\": \"1\",\n"
	"  \"pkgList\": [\"libmid1\", \"libmid-dev\"], \"depends\": [\"base\"]},\n"
	" {\"name\": \"base\", \"recipe\": \"r/base.sh\", \"version\": \"1\"},\n"
	" {\"name\": \"alone\", \"recipe\": \"r/alone.sh\", \"version\": \"1\"}\n"
	"]}";

static void write_recipes(struct th_dir *f)
{
	th_write_at(f->dir, "r/app.sh", "make app\n", 0644);
	th_write_at(f->dir, "r/mid.sh", "make mid\n", 0644);
	th_write_at(f->dir, "r/base.sh", "make base\n", 0644);
	th_write_at(f->dir, "r/alone.sh", "make alone\n", 0644);
}

static void test_order(void **state)
{
	struct th_dir *f = *state;
	struct dos_config *cfg;
	struct dos_plan *plan;

	write_recipes(f);
	cfg = load(f, chain);
	plan = plan_ok(f, cfg, NULL);
	assert_string_equal(order_names(plan), "base mid app alone");
	assert_int_equal(plan->nodes[0].n_deps, 1);
	assert_int_equal(plan->nodes[0].deps[0], 1);
	assert_int_equal(plan->nodes[2].n_rdeps, 1);
	assert_int_equal(plan->nodes[3].n_deps + plan->nodes[3].n_rdeps, 0);
	assert_int_equal(dos_plan_find(plan, "mid"), 1);
	assert_int_equal(dos_plan_find(plan, "nope"), -1);
	dos_plan_free(plan);
	dos_config_free(cfg);
}

/* A binary package name only a record knows makes an edge too. */
static void test_edges_from_records(void **state)
{
	struct th_dir *f = *state;
	struct dos_strv provides[2] = { { 0 }, { 0 } };
	struct dos_config *cfg;
	struct dos_plan *plan;

	th_write_at(f->dir, "a.sh", "a\n", 0644);
	th_write_at(f->dir, "b.sh", "b\n", 0644);
	cfg = load(f, "{\"packages\": [{\"name\": \"a\", \"recipe\": \"a.sh\", \"version\": \"1\","
		      " \"buildDependencies\": [\"libb-dev\"]},"
		      " {\"name\": \"b\", \"recipe\": \"b.sh\", \"version\": \"1\"}]}");
	plan = plan_ok(f, cfg, NULL);
	assert_string_equal(order_names(plan), "a b");
	dos_plan_free(plan);
	dos_strv_push(&provides[1], "libb1");
	dos_strv_push(&provides[1], "libb-dev");
	plan = plan_ok(f, cfg, provides);
	assert_string_equal(order_names(plan), "b a");
	dos_plan_free(plan);
	dos_strv_release(&provides[1]);
	dos_config_free(cfg);
}

static void test_cycle(void **state)
{
	struct th_dir *f = *state;
	struct dos_config *cfg;
	struct dos_plan *plan = (void *)1;

	th_write_at(f->dir, "x.sh", "x\n", 0644);
	cfg = load(f, "{\"recipe\": \"x.sh\", \"version\": \"1\", \"packages\": ["
		      "{\"name\": \"free\"},"
		      "{\"name\": \"a\", \"buildDependencies\": [\"b\"]},"
		      "{\"name\": \"b\", \"depends\": [\"c | other\"]},"
		      "{\"name\": \"c\", \"buildDependencies\": [\"a\"]}]}");
	assert_int_equal(dos_plan_new(&f->ctx, cfg, NULL, &plan), DOS_ECONFIG);
	assert_null(plan);
	assert_string_equal(f->ctx.msg, "package cycle: a -> b -> c -> a");
	dos_config_free(cfg);
}

static void test_missing_recipe(void **state)
{
	struct th_dir *f = *state;
	struct dos_config *cfg;
	struct dos_plan *plan = NULL;

	cfg = load(f, "{\"packages\": [{\"name\": \"gone\", \"recipe\": \"gone.sh\", \"version\": \"1\"}]}");
	assert_true(dos_plan_new(&f->ctx, cfg, NULL, &plan) < 0);
	assert_null(plan);
	assert_non_null(strstr(f->ctx.msg, "package 'gone': recipe"));
	assert_non_null(strstr(f->ctx.msg, "gone.sh"));
	dos_config_free(cfg);
}

/* --- keys --- */

/* The keys of chain's four packages (app mid base alone), with text
 * replacing the configuration when not NULL. */
static void keys_of(struct th_dir *f, const char *text, char keys[4][DOS_SHA256_HEX])
{
	struct dos_config *cfg = load(f, text ? text : chain);
	struct dos_plan *plan = plan_ok(f, cfg, NULL);

	for (size_t i = 0; i < 4; i++)
		strcpy(keys[i], plan->nodes[i].key);
	dos_plan_free(plan);
	dos_config_free(cfg);
}

/* Which of the four keys differ: "app mid" style. */
static const char *changed(char a[4][DOS_SHA256_HEX], char b[4][DOS_SHA256_HEX])
{
	static const char *const names[] = { "app", "mid", "base", "alone" };
	static char buf[64];

	buf[0] = '\0';
	for (size_t i = 0; i < 4; i++)
		if (strcmp(a[i], b[i])) {
			strcat(buf, buf[0] ? " " : "");
			strcat(buf, names[i]);
		}
	return buf;
}

static char *with(const char *from, const char *to)
{
	const char *at = strstr(chain, from);

	assert_non_null(at);
	return dos_xasprintf("%.*s%s%s", (int)(at - chain), chain, to, at + strlen(from));
}

static void test_keys(void **state)
{
	struct th_dir *f = *state;
	char k0[4][DOS_SHA256_HEX], k1[4][DOS_SHA256_HEX];
	char *text;

	write_recipes(f);
	keys_of(f, NULL, k0);
	for (size_t i = 0; i < 4; i++)
		assert_true(dos_sha256_valid(k0[i]));
	keys_of(f, NULL, k1);
	assert_string_equal(changed(k0, k1), "");

	/* A recipe byte: that package and what is built on it. */
	th_write_at(f->dir, "r/base.sh", "make base \n", 0644);
	keys_of(f, NULL, k1);
	assert_string_equal(changed(k0, k1), "app mid base");
	th_write_at(f->dir, "r/base.sh", "make base\n", 0644);
	th_write_at(f->dir, "r/app.sh", "make app!\n", 0644);
	keys_of(f, NULL, k1);
	assert_string_equal(changed(k0, k1), "app");
	th_write_at(f->dir, "r/app.sh", "make app\n", 0644);

	/* An option. */
	text = with("\"name\": \"mid\",", "\"name\": \"mid\", \"myFlag\": true,");
	keys_of(f, text, k1);
	assert_string_equal(changed(k0, k1), "app mid");
	free(text);

	/* Where things are is not what they are. */
	text = with("\"workDir\": \"w\"", "\"workDir\": \"elsewhere\", \"repo\": \"r2\"");
	keys_of(f, text, k1);
	assert_string_equal(changed(k0, k1), "");
	free(text);
}

static const char sourced[] =
	"{\"packages\": [{\"name\": \"s\", \"recipe\": \"s.sh\", \"version\": \"1\", \"sources\": "
	"[{\"urls\": [\"%s\"], \"sha256\": \"%s\"}]}, "
	"{\"name\": \"t\", \"recipe\": \"s.sh\", \"version\": \"1\", \"buildDependencies\": [\"s\"]}]}";

static void source_keys(struct th_dir *f, const char *url, const char *sha, char keys[2][DOS_SHA256_HEX])
{
	char *text = dos_xasprintf(sourced, url, sha);
	struct dos_config *cfg = load(f, text);
	struct dos_plan *plan = plan_ok(f, cfg, NULL);

	strcpy(keys[0], plan->nodes[0].key);
	strcpy(keys[1], plan->nodes[1].key);
	assert_non_null(json_object_get(json_object_get(plan->nodes[1].inputs, "dependencies"), "s"));
	dos_plan_free(plan);
	dos_config_free(cfg);
	free(text);
}

static void test_keys_sources_patch_routines(void **state)
{
	struct th_dir *f = *state;
	char a[2][DOS_SHA256_HEX], b[2][DOS_SHA256_HEX];
	const char *sha1 = "1111111111111111111111111111111111111111111111111111111111111111";
	const char *sha2 = "2222222222222222222222222222222222222222222222222222222222222222";

	th_write_at(f->dir, "s.sh", "build\n", 0644);
	source_keys(f, "https://one/x.tar.gz", sha1, a);
	source_keys(f, "https://mirror/x.tar.gz", sha1, b);
	assert_string_equal(a[0], b[0]);        /* another URL, the same bytes */
	source_keys(f, "https://one/x.tar.gz", sha2, b);
	assert_string_not_equal(a[0], b[0]);
	assert_string_not_equal(a[1], b[1]);    /* the dependent too */

	th_write_at(f->dir, "patches/s.patch", "--- a\n+++ b\n", 0644);
	source_keys(f, "https://one/x.tar.gz", sha1, b);
	assert_string_not_equal(a[0], b[0]);
	assert_string_not_equal(a[1], b[1]);
}

static void test_keys_routines(void **state)
{
	struct th_dir *f = *state;
	const char *text = "{\"packages\": [{\"name\": \"r\", \"recipe\": \"r.sh\", \"version\": \"1\","
			   " \"preRoutine\": \"pre.sh\"}]}";
	struct dos_config *cfg;
	struct dos_plan *plan;
	char k0[DOS_SHA256_HEX];

	th_write_at(f->dir, "r.sh", "build\n", 0644);
	th_write_at(f->dir, "routines/pre.sh", "echo pre\n", 0644);
	cfg = load(f, text);
	plan = plan_ok(f, cfg, NULL);
	strcpy(k0, plan->nodes[0].key);
	assert_non_null(json_object_get(json_object_get(plan->nodes[0].inputs, "routines"), "preRoutine"));
	dos_plan_free(plan);
	th_write_at(f->dir, "routines/pre.sh", "echo pre2\n", 0644);
	plan = plan_ok(f, cfg, NULL);
	assert_string_not_equal(k0, plan->nodes[0].key);
	dos_plan_free(plan);
	dos_config_free(cfg);
}

/* --- dependents and dependencies --- */

static void test_marks(void **state)
{
	struct th_dir *f = *state;
	struct dos_config *cfg;
	struct dos_plan *plan;
	bool mark[4] = { false };

	write_recipes(f);
	cfg = load(f, chain);
	plan = plan_ok(f, cfg, NULL);
	dos_plan_mark_dependents(plan, 2, mark);         /* base */
	assert_true(mark[0] && mark[1] && mark[2] && !mark[3]);
	memset(mark, 0, sizeof(mark));
	dos_plan_mark_dependents(plan, 1, mark);         /* mid */
	assert_true(mark[0] && mark[1] && !mark[2] && !mark[3]);
	memset(mark, 0, sizeof(mark));
	dos_plan_mark_dependencies(plan, 0, mark);       /* app */
	assert_true(!mark[0] && mark[1] && mark[2] && !mark[3]);
	dos_plan_free(plan);
	dos_config_free(cfg);
}

/* --- the executor --- */

struct run_log {
	pthread_mutex_t mu;
	char order[64];
	int fail_index;          /* this node fails */
	int running, max_running;
};

static int run_node(void *data, size_t i)
{
	struct run_log *log = data;
	char c = (char)('0' + i);

	pthread_mutex_lock(&log->mu);
	log->running++;
	if (log->running > log->max_running)
		log->max_running = log->running;
	pthread_mutex_unlock(&log->mu);
	usleep(20000);
	pthread_mutex_lock(&log->mu);
	log->running--;
	strncat(log->order, &c, 1);
	pthread_mutex_unlock(&log->mu);
	return (int)i == log->fail_index ? DOS_ECHILD : 0;
}

static void test_execute(void **state)
{
	struct th_dir *f = *state;
	struct run_log log = { .mu = PTHREAD_MUTEX_INITIALIZER, .fail_index = -1 };
	bool todo[4] = { true, true, true, true };
	int results[4];
	struct dos_config *cfg;
	struct dos_plan *plan;

	write_recipes(f);
	cfg = load(f, chain);
	plan = plan_ok(f, cfg, NULL);
	assert_int_equal(dos_plan_execute(&f->ctx, plan, todo, 4, run_node, &log, results), 0);
	/* base (2) before mid (1) before app (0); alone (3) alongside. */
	assert_true(strchr(log.order, '2') < strchr(log.order, '1'));
	assert_true(strchr(log.order, '1') < strchr(log.order, '0'));
	assert_int_equal(strlen(log.order), 4);
	assert_int_equal(log.max_running, 2);
	for (int i = 0; i < 4; i++)
		assert_int_equal(results[i], 0);

	/* mid fails: app is skipped, alone still runs; base not asked for. */
	memset(log.order, 0, sizeof(log.order));
	log.fail_index = 1;
	log.max_running = 0;
	todo[2] = false;
	assert_int_equal(dos_plan_execute(&f->ctx, plan, todo, 1, run_node, &log, results), DOS_ECHILD);
	assert_int_equal(results[0], DOS_PLAN_SKIPPED);
	assert_int_equal(results[1], DOS_ECHILD);
	assert_int_equal(results[2], DOS_PLAN_NOT_RUN);
	assert_int_equal(results[3], 0);
	assert_string_equal(log.order, "13");
	assert_int_equal(log.max_running, 1);
	dos_plan_free(plan);
	dos_config_free(cfg);
}

/* A node that waits for a signal, as a sandbox does (a signalfd, the
 * signals blocked): DOS_EINTR when one comes within 10 s. */
static int wait_node(void *data, size_t i)
{
	sigset_t set;
	struct pollfd p = { .events = POLLIN };
	struct signalfd_siginfo si;
	int got;

	(void)data;
	(void)i;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	p.fd = signalfd(-1, &set, SFD_CLOEXEC);
	assert_true(p.fd >= 0);
	got = poll(&p, 1, 10000) > 0 && read(p.fd, &si, sizeof(si)) == sizeof(si);
	close(p.fd);
	return got ? DOS_EINTR : 0;
}

static void *ctrl_c(void *arg)
{
	(void)arg;
	usleep(300000);
	kill(getpid(), SIGINT);
	return NULL;
}

/* One Ctrl-C (one process-directed SIGINT, which one node's signalfd
 * takes) interrupts every running node, however many run. */
static void test_execute_interrupt(void **state)
{
	static const char four[] =
		"{\"name\": \"t\", \"workDir\": \"w\", \"packages\": [\n"
		" {\"name\": \"app\", \"recipe\": \"r/app.sh\", \"version\": \"1\"},\n"
		" {\"name\": \"mid\", \"recipe\": \"r/mid.sh\", \"version\": \"1\"},\n"
		" {\"name\": \"base\", \"recipe\": \"r/base.sh\", \"version\": \"1\"},\n"
		" {\"name\": \"alone\", \"recipe\": \"r/alone.sh\", \"version\": \"1\"}]}";
	struct th_dir *f = *state;
	bool todo[4] = { true, true, true, true };
	int results[4];
	struct dos_config *cfg;
	struct dos_plan *plan;
	sigset_t set, old;
	pthread_t t;
	int64_t t0;

	write_recipes(f);
	cfg = load(f, four);
	plan = plan_ok(f, cfg, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	assert_int_equal(pthread_create(&t, NULL, ctrl_c, NULL), 0);
	t0 = dos_now_ms();
	assert_int_equal(dos_plan_execute(&f->ctx, plan, todo, 4, wait_node, NULL, results),
			 DOS_EINTR);
	assert_true(dos_now_ms() - t0 < 5000);
	for (int i = 0; i < 4; i++)
		assert_int_equal(results[i], DOS_EINTR);
	pthread_join(t, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	dos_plan_free(plan);
	dos_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dependency_names),
		cmocka_unit_test_setup_teardown(test_order, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_edges_from_records, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_cycle, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_missing_recipe, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_keys, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_keys_sources_patch_routines, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_keys_routines, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_marks, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_execute, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_execute_interrupt, setup, th_dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
