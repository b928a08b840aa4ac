/*
 * kigen.c: main, the global options and the subcommand table. This is the only place that
 * prints errors and chooses exit codes (0 ok, 1 the work failed, 2 bad usage or input,
 * 3 another run holds the lock); commands return an enum kg_err with a message.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "card.h"
#include "counter.h"
#include "desk.h"
#include "returns.h"
#include "kg.h"
#include "manifest.h"
#include "nightly.h"
#include "postal.h"
#include "registry.h"
#include "rules.h"
#include "sbuf.h"
#include "select.h"
#include "settings.h"
#include "store.h"
#include "web.h"
#include "webdesk.h"

#include "banned.h"

struct ctx {
	const char *db;
	struct store *store;
	const char *config;
	const char *out;
	int quiet, verbose;
	struct settings settings;
	bool settings_loaded;
};

struct command {
	const char *name;
	enum kg_err (*run)(struct ctx *c, int argc, char **argv);
	const char *usage;
	const char *help;
};

static const struct command *find_command(const char *name);
static void usage_of(const struct command *cmd, FILE *f);

static enum kg_err load_settings(struct ctx *c)
{
	if (c->settings_loaded)
		return KG_OK;
	enum kg_err err = settings_load(c->config, &c->settings);
	if (!err)
		c->settings_loaded = true;
	return err;
}

static enum kg_err usage_error(const char *cmd, const char *what)
{
	return kg_fail(KG_EUSAGE, "%s: %s (see 'kigen %s --help')", cmd, what, cmd);
}

static enum kg_err open_store(struct ctx *c)
{
	return c->store ? KG_OK : store_open(c->db, &c->store);
}

/* The civil date today in Japan (the process runs with TZ=Asia/Tokyo by default). */
static int today(void)
{
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	return rules_from_ymd(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* Parses a date argument of option opt. */
static enum kg_err date_arg(const char *opt, const char *value, int *day)
{
	enum kg_err err = rules_parse_date(value, day);
	return err ? kg_fail(KG_EINPUT, "%s: %s", opt, kg_last_message()) : KG_OK;
}

static int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	return 0;
}

/* --- rules ----------------------------------------------------------------------------- */

static void json_date(struct sbuf *b, const char *key, int day, bool comma)
{
	char d[RULES_DATE_LEN];
	if (day == RULES_NO_DATE) {
		sbuf_addf(b, "\"%s\": null%s", key, comma ? ", " : "");
		return;
	}
	rules_format_date(day, d);
	sbuf_addf(b, "\"%s\": \"%s\"%s", key, d, comma ? ", " : "");
}

static enum kg_err rules_expiry_cmd(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"birth", required_argument, NULL, 'b'},
		{"card-issued", required_argument, NULL, 'c'},
		{"cert-issued", required_argument, NULL, 'e'},
		{"received", required_argument, NULL, 'r'},
		{"stay-until", required_argument, NULL, 's'},
		{"previous-expiry", required_argument, NULL, 'p'},
		{0},
	};
	struct rules_facts f = {RULES_NO_DATE, RULES_NO_DATE, RULES_NO_DATE,
	                        RULES_NO_DATE, RULES_NO_DATE, RULES_NO_DATE};
	int *slot[128] = {['b'] = &f.birth,    ['c'] = &f.card_issued, ['e'] = &f.cert_issued,
	                  ['r'] = &f.received, ['s'] = &f.stay_until,  ['p'] = &f.previous_expiry};
	enum kg_err err;
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == '?' || !slot[o])
			return usage_error("rules expiry", "unknown option");
		if ((err = date_arg(argv[optind - 1 - (optarg == argv[optind - 1] ? 1 : 0)], optarg, slot[o])))
			return err;
	}
	if (f.birth == RULES_NO_DATE || f.card_issued == RULES_NO_DATE)
		return usage_error("rules expiry", "--birth and --card-issued are required");
	if ((err = load_settings(c)))
		return err;
	struct rules_expiry e;
	if ((err = rules_expiry(&c->settings.policy, &f, &e)))
		return err;
	struct sbuf b = SBUF_INIT;
	sbuf_adds(&b, "{");
	json_date(&b, "card", e.card, true);
	json_date(&b, "auth_cert", e.auth_cert, true);
	json_date(&b, "sign_cert", e.sign_cert, false);
	sbuf_adds(&b, "}");
	puts(b.buf);
	sbuf_release(&b);
	return KG_OK;
}

static enum kg_err rules_window_cmd(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {{"expiry", required_argument, NULL, 'e'}, {0}};
	int expiry = RULES_NO_DATE, o;
	enum kg_err err;
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'e')
			return usage_error("rules window", "unknown option");
		if ((err = date_arg("--expiry", optarg, &expiry)))
			return err;
	}
	if (expiry == RULES_NO_DATE)
		return usage_error("rules window", "--expiry is required");
	if ((err = load_settings(c)))
		return err;
	struct sbuf b = SBUF_INIT;
	sbuf_adds(&b, "{");
	json_date(&b, "opens", rules_window_opens(&c->settings.policy, expiry), true);
	json_date(&b, "closes", expiry, false);
	sbuf_adds(&b, "}");
	puts(b.buf);
	sbuf_release(&b);
	return KG_OK;
}

static enum kg_err rules_era_cmd(struct ctx *c, int argc, char **argv)
{
	int day;
	char era[RULES_ERA_LEN];
	enum kg_err err;
	if (argc != 2)
		return usage_error("rules era", "give one date, YYYY-MM-DD");
	if ((err = rules_parse_date(argv[1], &day)) || (err = rules_era(day, era)))
		return err;
	puts(era);
	return KG_OK;
}

static enum kg_err rules_cmd(struct ctx *c, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "expiry"))
		return rules_expiry_cmd(c, argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "window"))
		return rules_window_cmd(c, argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "era"))
		return rules_era_cmd(c, argc - 1, argv + 1);
	return usage_error("rules", "expected expiry, window or era");
}

/* --- check ----------------------------------------------------------------------------- */

/* Exit 0 valid, 1 invalid: an invalid number is the answer, not a failure, so no message. */
static enum kg_err check_cmd(struct ctx *c, int argc, char **argv)
{
	if (argc != 3)
		return usage_error("check", "expected: check mynumber N | check lgcode N");
	bool valid;
	if (!strcmp(argv[1], "mynumber"))
		valid = rules_mynumber_valid(argv[2]);
	else if (!strcmp(argv[1], "lgcode"))
		valid = rules_lgcode_valid(argv[2]);
	else
		return usage_error("check", "expected mynumber or lgcode");
	if (!c->quiet)
		puts(valid ? "valid" : "invalid");
	return valid ? KG_OK : kg_fail(KG_ESTATE, "%s", "");
}

/* --- init, import ------------------------------------------------------------------------ */

static enum kg_err init_cmd(struct ctx *c, int argc, char **argv)
{
	if (argc != 1)
		return usage_error("init", "takes no arguments");
	enum kg_err err = open_store(c);
	if (!err && !c->quiet)
		printf("database %s ready (schema version %d)\n", c->db, store_version(c->store));
	return err;
}

static enum kg_err import_cmd(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {{"encoding", required_argument, NULL, 'e'}, {0}};
	enum registry_encoding enc = REGISTRY_UTF8;
	enum kg_err err;
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'e')
			return usage_error("import", "unknown option");
		if ((err = registry_parse_encoding(optarg, &enc)))
			return err;
	}
	if (optind != argc - 1)
		return usage_error("import", "give one FILE");
	if ((err = load_settings(c)) || (err = open_store(c)))
		return err;
	struct registry_report rep;
	registry_report_init(&rep);
	err = registry_import(c->store, &c->settings, argv[optind], enc, &rep);
	fputs(rep.errors.buf, stderr);
	if (rep.n_errors > REGISTRY_MAX_LISTED)
		fprintf(stderr, "... and %ld more\n", rep.n_errors - REGISTRY_MAX_LISTED);
	if (!c->quiet) {
		fputs(rep.notes.buf, stdout);
		if (rep.n_notes > REGISTRY_MAX_LISTED)
			printf("... and %ld more recorded expiries that differ\n", rep.n_notes - REGISTRY_MAX_LISTED);
		if (!err)
			printf("imported %ld residents from %s (%ld recorded expiries differ from the rules)\n",
			       rep.imported, argv[optind], rep.n_notes);
	}
	registry_report_release(&rep);
	return err;
}

/* --- select, status ------------------------------------------------------------------------- */

static int workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 8 ? 8 : (int)n;
}

static void nightly_env_of(struct ctx *c, struct nightly_env *env)
{
	*env = (struct nightly_env){
		.store = c->store,
		.settings = &c->settings,
		.db_path = c->db,
		.out_dir = c->out,
		.workers = workers(),
		.io = {c->quiet ? NULL : stderr, !c->quiet && isatty(STDERR_FILENO)},
	};
}

/* Takes the run lock before anything touches the database. */
static enum kg_err locked_open(struct ctx *c, const char *what, struct nightly_lock **lock)
{
	enum kg_err err;
	if ((err = load_settings(c)) || (err = nightly_lock(c->db, what, lock)))
		return err;
	return open_store(c);
}

/* Parses [--date D] [--dry-run]; the date defaults to today. */
static enum kg_err run_options(const char *cmd, int argc, char **argv, int *date, bool *dry_run)
{
	static const struct option opts[] = {
		{"date", required_argument, NULL, 'd'}, {"dry-run", no_argument, NULL, 'n'}, {0}};
	*date = today();
	*dry_run = false;
	enum kg_err err;
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'd') {
			if ((err = date_arg("--date", optarg, date)))
				return err;
		} else if (o == 'n') {
			*dry_run = true;
		} else {
			return usage_error(cmd, "unknown option");
		}
	}
	return optind == argc ? KG_OK : usage_error(cmd, "unexpected argument");
}

static void print_selection(const struct select_result *r, int date, bool dry_run)
{
	char d[RULES_DATE_LEN];
	rules_format_date(date, d);
	if (r->stale_before != RULES_NO_DATE) {
		char last[RULES_DATE_LEN];
		rules_format_date(r->stale_before, last);
		printf("%s: a selection for %s has run; selection never goes back in time, nothing created\n", d, last);
		return;
	}
	if (dry_run)
		printf("%s: would select %ld notices (card %ld, certificate %ld, re-inquiry %ld)\n", d, r->notices,
		       r->card, r->cert, r->reinquiries);
	else if (r->batch)
		printf("%s: batch %lld: %ld notices (card %ld, certificate %ld, re-inquiry %ld, released %ld)\n", d,
		       (long long)r->batch, r->notices, r->card, r->cert, r->reinquiries, r->released);
	else
		printf("%s: 0 notices (nothing new is due); no batch created\n", d);
	for (int k = 0; k < SELECT_N_REASONS; k++)
		if (r->excluded[k])
			printf("  excluded %-16s %ld\n", select_reason_name(k), r->excluded[k]);
}

static enum kg_err select_cmd(struct ctx *c, int argc, char **argv)
{
	int date;
	bool dry_run;
	enum kg_err err;
	struct select_result res;
	struct nightly_lock *lock = NULL;
	if ((err = run_options("select", argc, argv, &date, &dry_run)) || (err = locked_open(c, "select", &lock)))
		goto out;
	struct nightly_env env;
	nightly_env_of(c, &env);
	err = nightly_select(&env, date, dry_run, &res);
	if (!err && !c->quiet)
		print_selection(&res, date, dry_run);
out:
	nightly_unlock(lock);
	return err;
}

/* --- nightly, render, export ------------------------------------------------------------- */

/* The warning every nightly run and `status` print while notices are held: exit 0, but cron's
 * summary (scripts/kigen-cron) is mailed and says so. */
static enum kg_err print_held_warning(struct ctx *c, FILE *f)
{
	long held, released;
	enum kg_err err = store_count_held(c->store, &held, &released);
	if (!err && held)
		fprintf(f,
		        "警告: 印刷せず保留中の通知 %ld 件（kigen notice list --held で確認し、release または void）\n",
		        held);
	if (!err && released && !c->quiet)
		fprintf(f, "保留を解除した通知 %ld 件: 次の夜間処理で印刷します\n", released);
	return err;
}

static enum kg_err nightly_cmd(struct ctx *c, int argc, char **argv)
{
	int date;
	bool dry_run;
	struct nightly_lock *lock = NULL;
	enum kg_err err;
	if ((err = run_options("nightly", argc, argv, &date, &dry_run)) || (err = locked_open(c, "nightly", &lock)))
		goto out;
	if (dry_run) {
		struct select_result res;
		struct nightly_env env;
		nightly_env_of(c, &env);
		if (!(err = nightly_select(&env, date, true, &res)))
			print_selection(&res, date, true);
		goto out;
	}
	struct nightly_env env;
	nightly_env_of(c, &env);
	struct sbuf summary = SBUF_INIT;
	env.summary = &summary;
	struct select_result sel;
	struct nightly_batch_report *reps = NULL;
	size_t n = 0;
	err = nightly_run(&env, date, &sel, &reps, &n);
	if (!c->quiet) {
		fputs(summary.buf, stdout);
		for (size_t i = 0; i < n; i++)
			printf("batch %lld: %s\n", (long long)reps[i].batch, reps[i].dir);
		if (!err && !sel.batch)
			print_selection(&sel, date, false);
	}
	/* Even with -q: held notices need staff, and cron mails what is printed. */
	if (!err)
		err = print_held_warning(c, stdout);
	sbuf_release(&summary);
	free(reps);
out:
	nightly_unlock(lock);
	return err;
}

/* Parses --batch N. */
static enum kg_err batch_option(const char *cmd, int argc, char **argv, int64_t *batch)
{
	static const struct option opts[] = {{"batch", required_argument, NULL, 'b'}, {0}};
	*batch = 0;
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		if (o != 'b' || (*batch = strtoll(optarg, &end, 10)) <= 0 || *end)
			return usage_error(cmd, "--batch takes a batch number");
	}
	return optind == argc ? KG_OK : usage_error(cmd, "unexpected argument");
}

static enum kg_err stage_cmd(struct ctx *c, int argc, char **argv, bool render)
{
	const char *name = render ? "render" : "export";
	int64_t batch;
	struct nightly_lock *lock = NULL;
	enum kg_err err;
	if ((err = batch_option(name, argc, argv, &batch)))
		return err;
	if (!batch)
		return usage_error(name, "--batch is required");
	if ((err = locked_open(c, name, &lock)))
		goto out;
	struct nightly_env env;
	nightly_env_of(c, &env);
	struct nightly_batch_report rep = {0};
	err = render ? nightly_render(&env, batch, &rep) : nightly_export(&env, batch, &rep);
	if (!err && !c->quiet)
		printf("batch %lld: %s %s\n", (long long)batch, name,
		       rep.stage_ran[render ? 1 : 2] ? "done" : "already done, nothing rewritten");
out:
	nightly_unlock(lock);
	return err;
}

static enum kg_err render_cmd(struct ctx *c, int argc, char **argv)
{
	return stage_cmd(c, argc, argv, true);
}

static enum kg_err export_cmd(struct ctx *c, int argc, char **argv)
{
	return stage_cmd(c, argc, argv, false);
}

static enum kg_err print_exclusion(void *ctx, const char *reason, long count)
{
	(void)ctx;
	printf("      excluded %-16s %ld\n", reason, count);
	return KG_OK;
}

/* A file of the batch as it must be: there, and a plain file (a symbolic link under a final
 * name is not a written file). Appends a line for staff and returns 1 when it is not. */
static long file_problem(const char *dir, const char *name, bool must_exist, struct sbuf *report)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (lstat(path, &st) != 0) {
		if (!must_exist && errno == ENOENT)
			return 0;
		sbuf_addf(report, "%s: ファイルがありません（データベースの記録では出力済みです）\n", name);
		return 1;
	}
	if (!S_ISREG(st.st_mode)) {
		sbuf_addf(report, "%s: 通常のファイルではありません（シンボリックリンクなど）\n", name);
		return 1;
	}
	return 0;
}

/* The folder is checked against the database, not only against its own SHA256SUMS (which
 * anyone who deletes a file can edit too): every print file the render stage recorded and
 * SHA256SUMS must be there as plain files, and nothing in the folder may be a link. */
static long own_files_check(const char *dir, const struct store_file *files, size_t n_files, char **names,
                            size_t n_names, struct sbuf *report)
{
	long bad = file_problem(dir, "SHA256SUMS", true, report);
	for (size_t k = 0; k < n_files; k++)
		bad += file_problem(dir, files[k].name, true, report);
	for (size_t i = 0; i < n_names; i++)
		bad += file_problem(dir, names[i], false, report);
	return bad;
}

/* status --batch N: the batch, its files, and a fresh check of every checksum. */
static enum kg_err status_batch(struct ctx *c, int64_t id)
{
	struct store_batch b;
	enum kg_err err;
	if ((err = open_store(c)) || (err = store_batch_get(c->store, id, &b)))
		return err;
	char d[RULES_DATE_LEN], dir[512];
	rules_format_date(b.run_date, d);
	nightly_batch_dir(c->out, b.run_date, id, dir, sizeof dir);
	printf("batch %lld  run date %s  state %s  notices %ld\n", (long long)id, d, store_batch_state_name(b.state),
	       b.notices);
	if (*b.error)
		printf("last run stopped: %s\n", b.error);
	printf("folder %s\n", dir);
	if (b.state < STORE_EXPORTED) {
		printf("not exported yet: no SHA256SUMS to verify\n");
		return KG_OK;
	}
	/* The files, with the pages and residents the render stage recorded for each PDF. */
	char **names = NULL;
	size_t n_names = 0;
	struct store_file *files = NULL;
	size_t n_files = 0;
	if ((err = manifest_list_files(dir, &names, &n_names)) ||
	    (err = store_batch_files(c->store, id, &files, &n_files)))
		goto out;
	printf("%-34s %6s %15s %12s\n", "file", "pages", "residents", "bytes");
	for (size_t i = 0; i < n_names; i++) {
		char path[4096], pages[16] = "", seqs[32] = "";
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		for (size_t k = 0; k < n_files; k++) {
			if (strcmp(files[k].name, names[i]))
				continue;
			snprintf(pages, sizeof pages, "%d", files[k].pages);
			snprintf(seqs, sizeof seqs, "%d-%d", files[k].seq_from, files[k].seq_to);
		}
		printf("%-34s %6s %15s %12lld\n", names[i], pages, seqs,
		       stat(path, &st) == 0 ? (long long)st.st_size : -1LL);
	}
	struct sbuf report = SBUF_INIT;
	bool ok = false;
	long own = own_files_check(dir, files, n_files, names, n_names, &report);
	if (!(err = manifest_verify(dir, &report, &ok)))
		fputs(report.buf, stdout);
	sbuf_release(&report);
	if (!err && (!ok || own))
		err = kg_fail(KG_ESTATE, "batch %lld: the files do not match %s", (long long)id,
		              own ? "the database's list of files" : "SHA256SUMS");
out:
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	free(files);
	return err;
}

/* --- db copy ---------------------------------------------------------------------------- */

static void print_copied(void *ctx, const char *table, long long sent, long long there, const char *digest, bool same)
{
	const struct ctx *c = ctx;
	if (!c->quiet)
		printf("%-18s %10lld rows sent %10lld there  digest %.16s  %s\n", table, sent, there, digest,
		       same ? "same" : "DIFFERENT");
}

static enum kg_err db_cmd(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {{"to", required_argument, NULL, 't'}, {0}};
	const char *to = NULL;
	int o;
	if (argc < 2 || strcmp(argv[1], "copy"))
		return usage_error("db", "expected: db copy --to postgresql://...");
	optind = 1;
	while ((o = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		if (o != 't')
			return usage_error("db", "unknown option");
		to = optarg;
	}
	if (!to || optind != argc - 1)
		return usage_error("db", "expected: db copy --to postgresql://...");
	enum kg_err err = store_copy(c->db, to, print_copied, c);
	if (!err && !c->quiet)
		printf("copied %s into %s: every table has the same rows (count and digest)\n", c->db, to);
	return err;
}

static enum kg_err status_cmd(struct ctx *c, int argc, char **argv)
{
	int64_t id;
	enum kg_err err = batch_option("status", argc, argv, &id);
	if (err)
		return err;
	if (id)
		return status_batch(c, id);
	struct store_batch *b = NULL;
	size_t n = 0;
	if ((err = open_store(c)) || (err = store_batches(c->store, &b, &n)))
		return err;
	if (!n)
		printf("no batches yet\n");
	else
		printf("batch  run date    state     notices  created\n");
	for (size_t i = 0; !err && i < n; i++) {
		char d[RULES_DATE_LEN];
		rules_format_date(b[i].run_date, d);
		printf("%5lld  %s  %-8s  %7ld  %s%s%s\n", (long long)b[i].id, d, store_batch_state_name(b[i].state),
		       b[i].notices, b[i].created_at, *b[i].error ? "  stopped: " : "", b[i].error);
		if (c->verbose)
			err = store_batch_exclusions(c->store, b[i].id, print_exclusion, NULL);
	}
	free(b);
	long waiting = 0, remailed = 0;
	if (!err && !(err = store_returned_count(c->store, &waiting, &remailed)) && waiting + remailed)
		printf("returned mail: %ld (waiting for a new address %ld, re-mailed %ld; kigen notice list "
		       "--returned)\n",
		       waiting + remailed, waiting, remailed);
	return err ? err : print_held_warning(c, stdout);
}

/* --- notice list --returned ------------------------------------------------------------------ */

static enum kg_err print_returned(void *ctx, const struct store_returned *r)
{
	long *n = ctx;
	if (!(*n)++)
		printf("application ID           returned on  reason               resident  follow-up\n");
	printf("%-24s %.10s   %-20s %-9s %s\n", r->app_id, r->at, r->reason, r->registry_id,
	       *r->remailed_app_id ? "re-mailed"
	       : r->same_address   ? "waiting for a new address"
	                           : "re-mail due");
	if (*r->remailed_app_id)
		printf("%24s re-mailed as %s\n", "", r->remailed_app_id);
	return KG_OK;
}

/* The returned-mail branch of notice list: the follow-up list of the back office. */
static enum kg_err notice_list_returned(struct ctx *c)
{
	long n = 0;
	enum kg_err err;
	if ((err = open_store(c)) || (err = store_returned_each(c->store, print_returned, &n)))
		return err;
	if (!n)
		printf("no returned mail\n");
	return KG_OK;
}

/* --- notice: holds ------------------------------------------------------------------------ */

static enum kg_err print_held(void *ctx, const struct store_held *h)
{
	int *n = ctx;
	if (!(*n)++)
		printf("%-23s  %-8s  %-12s  %-20s  %-24s  %-10s  %s\n", "通知番号", "状態", "住民ID", "氏名", "日時",
		       "担当", "理由");
	printf("%-23s  %-8s  %-12s  %-20s  %-24s  %-10s  %s\n", h->app_id, h->state == STORE_HELD ? "保留" : "解除済み",
	       h->registry_id, h->name, h->at, h->by, h->reason);
	return KG_OK;
}

static enum kg_err notice_cmd(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {{"held", no_argument, NULL, 'h'},
	                                     {"returned", no_argument, NULL, 'R'},
	                                     {"reason", required_argument, NULL, 'r'},
	                                     {"staff", required_argument, NULL, 's'},
	                                     {0}};
	static const char *const verbs[] = {"hold", "release", "void"};
	if (argc < 2)
		return usage_error("notice", "list, hold, release or void?");
	const char *verb = argv[1], *reason = NULL, *user = getenv("USER");
	const char *staff = user && *user ? user : "unknown";
	bool held = false, returned = false;
	int o;
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'h': held = true; break;
		case 'R': returned = true; break;
		case 'r': reason = optarg; break;
		case 's': staff = optarg; break;
		default: return usage_error("notice", "unknown option");
		}
	}
	enum kg_err err;
	if (!strcmp(verb, "list") && returned && !held && optind == argc)
		return notice_list_returned(c);
	if (!strcmp(verb, "list")) {
		if (!held || optind != argc)
			return usage_error("notice", "list takes --held or --returned");
		int n = 0;
		if ((err = open_store(c)) || (err = store_each_held(c->store, print_held, &n)))
			return err;
		if (!n)
			printf("保留中の通知はありません\n");
		return KG_OK;
	}
	size_t action = 0;
	while (action < KG_ARRAY_SIZE(verbs) && strcmp(verb, verbs[action]))
		action++;
	if (action == KG_ARRAY_SIZE(verbs))
		return usage_error("notice", "list, hold, release or void?");
	if (held || optind != argc - 1)
		return usage_error("notice", "one application ID, please");
	struct nightly_lock *lock = NULL;
	struct store_notice_ref before;
	if ((err = locked_open(c, "notice", &lock)))
		goto out;
	struct nightly_env env;
	nightly_env_of(c, &env);
	if ((err = nightly_notice(&env, (enum nightly_notice_action)action, argv[optind], staff, reason, &before)))
		goto out;
	if (!c->quiet) {
		static const char *const done[] = {"held", "released: the next nightly run prints it", "void"};
		printf("notice %s: %s (was %s", before.app_id, done[action], store_notice_state_name(before.state));
		if (before.state == STORE_QUEUED && before.batch)
			printf(" in batch %lld, which is renumbered and rendered again by the next run",
			       (long long)before.batch);
		printf(")\n");
	}
out:
	nightly_unlock(lock);
	return err;
}

/* --- barcode --------------------------------------------------------------------------- */

/* A piece that gets no barcode is the answer "no", like an invalid number in check: exit 1 with
 * the reason the manifest would show. */
static enum kg_err barcode_cmd(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {{"postal", required_argument, NULL, 'p'},
	                                     {"address", required_argument, NULL, 'a'},
	                                     {"building", required_argument, NULL, 'b'},
	                                     {0}};
	const char *postal = NULL, *address = NULL, *building = NULL;
	struct postal_code pc;
	enum kg_err err;
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'p')
			postal = optarg;
		else if (o == 'a')
			address = optarg;
		else if (o == 'b')
			building = optarg;
		else
			return usage_error("barcode", "unknown option");
	}
	if (!postal || !address || optind != argc)
		return usage_error("barcode", "--postal and --address are required");
	if ((err = load_settings(c)) || (err = postal_encode(&c->settings, postal, address, building, &pc)))
		return err;
	if (pc.skip)
		return kg_fail(KG_ESTATE, "no customer barcode for %s: %s", postal, pc.skip);
	struct sbuf b = SBUF_INIT;
	sbuf_adds(&b, "{\"code\": \"");
	for (size_t i = 0; i < POSTAL_CHARS; i++)
		sbuf_addf(&b, "%s%s", i ? " " : "", pc.chars[i]);
	sbuf_addf(&b, "\", \"check\": \"%s\", \"bars\": \"%s\"}", pc.check, pc.bars);
	if (!(err = sbuf_check(&b)))
		puts(b.buf);
	sbuf_release(&b);
	return err;
}

/* --- card ------------------------------------------------------------------------------ */

/*
 * kigen card status: what staff (and tests) need to know about the reader and the card, read
 * without a PIN and without ever sending a VERIFY. Exit 1 when the card is not a My Number card.
 */
static enum kg_err card_cmd(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"reader", required_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'}, {0}};
	static const char *const kind_names[] = {
		[CARD_KIND_OTHER] = "other", [CARD_KIND_OLD_TOKEN] = "old_token", [CARD_KIND_MYNUMBER] = "mynumber"};
	const char *reader = NULL;
	bool json = false;
	char **names = NULL;
	size_t n = 0;
	struct card *card = NULL;
	struct card_cert cert;
	enum card_kind kind;
	struct sbuf b = SBUF_INIT;
	char day[RULES_DATE_LEN];
	enum kg_err err;
	int o;
	if (argc < 2 || strcmp(argv[1], "status"))
		return usage_error("card", "expected: card status [--reader NAME] [--json]");
	optind = 1;
	while ((o = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		if (o == 'r')
			reader = optarg;
		else if (o == 'j')
			json = true;
		else
			return usage_error("card", "unknown option");
	}
	if ((err = load_settings(c)) || (err = card_list_readers(&names, &n)))
		goto out;
	sbuf_adds(&b, json ? "{\"readers\": [" : "");
	for (size_t i = 0; i < n; i++) {
		if (json) {
			sbuf_adds(&b, i ? ", " : "");
			sbuf_add_json(&b, names[i]);
		} else {
			sbuf_addf(&b, "カードリーダー: %s\n", names[i]);
		}
	}
	sbuf_adds(&b, json ? "]" : n ? "" : "カードリーダー: なし\n");
	if ((err = card_connect(reader, &card)) || (err = card_identify(card, &kind)))
		goto out;
	if (json) {
		sbuf_adds(&b, ", \"reader\": ");
		sbuf_add_json(&b, card_reader(card));
		sbuf_addf(&b, ", \"mynumber\": %s, \"kind\": \"%s\", \"token\": ",
		          kind == CARD_KIND_MYNUMBER ? "true" : "false", kind_names[kind]);
		sbuf_add_json(&b, card_token_label(card));
	} else {
		sbuf_addf(&b, "使用したリーダー: %s\nカード: %s%s%s%s\n", card_reader(card),
		          kind == CARD_KIND_MYNUMBER ? "マイナンバーカード" : "マイナンバーカードではありません",
		          *card_token_label(card) ? " (" : "", card_token_label(card),
		          *card_token_label(card) ? ")" : "");
	}
	if (kind != CARD_KIND_MYNUMBER) {
		err = kg_fail(KG_ESTATE, "the card is not a My Number card (%s)",
		              kind == CARD_KIND_OTHER ? "no JPKI application" : "not the JPKIAPICCTOKEN2 token");
		goto out;
	}
	if ((err = card_read_auth_cert(card, &cert)))
		goto out;
	rules_format_date(cert.not_after, day);
	if (json)
		sbuf_addf(&b, ", \"auth_cert\": {\"serial\": \"%s\", \"expires\": \"%s\"}, \"pins\": {", cert.serial,
		          day);
	else
		sbuf_addf(&b, "利用者証明用電子証明書: シリアル番号 %s、有効期限 %s\n", cert.serial, day);
	/* Every PIN in every application of the card table the card answers in; "pins" in the JSON
	 * holds each PIN's counter where the settings send its VERIFY. */
	struct {
		enum card_pin pin;
		enum card_app app;
		enum card_counter state;
		int left;
	} site[CARD_PIN_COUNT * CARD_APP_COUNT];
	size_t nsite = 0;
	for (int p = 0; p < CARD_PIN_COUNT; p++) {
		for (int a = 0; a < CARD_APP_COUNT; a++) {
			if (!card_pin_in_app(p, a))
				continue;
			site[nsite].pin = p;
			site[nsite].app = a;
			if ((err = card_retries(card, p, a, &site[nsite].state, &site[nsite].left)))
				goto out;
			if (site[nsite].state != CARD_COUNTER_ABSENT)
				nsite++;
		}
	}
	for (size_t i = 0, first = 1; json && i < nsite; i++) {
		if (site[i].app != (site[i].pin == CARD_PIN_JUKI ? c->settings.juki_app : CARD_APP_JPKI))
			continue;
		sbuf_addf(&b, "%s\"%s\": {\"left\": %d, \"max\": %d, \"verified\": %s, \"application\": \"%s\"}",
		          first ? "" : ", ", card_pin_name(site[i].pin), site[i].left, card_max_tries(site[i].pin),
		          site[i].state == CARD_COUNTER_VERIFIED ? "true" : "false", card_app_name(site[i].app));
		first = 0;
	}
	sbuf_adds(&b, json ? "}, \"counters\": [" : "");
	for (size_t i = 0; i < nsite; i++) {
		enum card_pin p = site[i].pin;
		if (json) {
			sbuf_addf(&b, "%s{\"pin\": \"%s\", \"application\": \"%s\", \"left\": %d, \"verified\": %s}",
			          i ? ", " : "", card_pin_name(p), card_app_name(site[i].app), site[i].left,
			          site[i].state == CARD_COUNTER_VERIFIED ? "true" : "false");
			continue;
		}
		char where[48] = "";
		if (p == CARD_PIN_JUKI)
			snprintf(where, sizeof where, "（%s）", card_app_name(site[i].app));
		if (site[i].state != CARD_COUNTER_TRIES)
			sbuf_addf(&b, "%sの暗証番号%s: %s\n", card_pin_label(p), where,
			          site[i].state == CARD_COUNTER_VERIFIED ? "照合済み" : "ロック中（本人の来庁が必要）");
		else
			sbuf_addf(&b, "%sの暗証番号%s: 残り %d 回（最大 %d 回）\n", card_pin_label(p), where,
			          site[i].left, card_max_tries(p));
	}
	sbuf_adds(&b, json ? "]" : "");
out:
	if (json && (!err || err == KG_ESTATE))
		sbuf_adds(&b, "}\n");
	if (!sbuf_check(&b) && (!json || !err || err == KG_ESTATE))
		fputs(b.buf, stdout);
	sbuf_release(&b);
	card_disconnect(card);
	card_free_readers(names, n);
	return err;
}

/* --- counter -------------------------------------------------------------------------------- */

static void web_ready(void *ctx, const char *url)
{
	(void)ctx;
	fprintf(stderr, "kigen counter web: the desk is at %s (Ctrl-C ends it)\n", url);
}

/*
 * kigen counter web: the desk in the browser (webdesk.h). The address is checked before
 * anything else, so a non-loopback --listen exits 2 at once. KIGEN_WEB_ALLOW_ROOT=1 lets it
 * run as root: for the tests only (CI runs as root); a counter PC runs it as its user.
 */
static enum kg_err counter_web_cmd(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},   {"reader", required_argument, NULL, 'r'},
		{"terminal", required_argument, NULL, 't'}, {"date", required_argument, NULL, 'd'},
		{"idle", required_argument, NULL, 'i'},     {0},
	};
	char host[64] = "";
	gethostname(host, sizeof host - 1);
	struct webdesk desk = {NULL, NULL, host, NULL, RULES_NO_DATE};
	struct web_config cfg = {WEB_DEFAULT_LISTEN, 0, webdesk_handle, &desk, web_ready, false};
	const char *allow = getenv("KIGEN_WEB_ALLOW_ROOT");
	cfg.allow_root = allow && !strcmp(allow, "1");
	enum kg_err err;
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'l': cfg.listen = optarg; break;
		case 'r': desk.reader = optarg; break;
		case 't': desk.terminal = optarg; break;
		case 'd':
			if ((err = date_arg("--date", optarg, &desk.date)))
				return err;
			break;
		case 'i': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 86400)
				return usage_error("counter web", "--idle takes seconds (1..86400)");
			cfg.idle_seconds = (int)v;
			break;
		}
		default: return usage_error("counter web", "unknown option");
		}
	}
	if (optind != argc)
		return usage_error("counter web", "unexpected argument");
	/* The listen address first (exit 2 at once), then the reader as every desk binds it. */
	char *reader = NULL;
	if ((err = web_check_listen(cfg.listen)) || (err = load_settings(c)) ||
	    (err = counter_bind_reader(desk.reader ? desk.reader : c->settings.counter_reader, &reader)) ||
	    (err = open_store(c))) {
		free(reader);
		return err;
	}
	desk.reader = reader;
	desk.st = c->store;
	desk.set = &c->settings;
	err = web_run(&cfg);
	free(reader);
	return err;
}

static enum kg_err counter_redeem_cmd(struct ctx *c, const struct counter_desk *desk, const char *id, int fd,
                                      bool json);

static enum kg_err counter_cmd(struct ctx *c, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "web"))
		return counter_web_cmd(c, argc - 1, argv + 1);

	static const struct option opts[] = {
		{"id", required_argument, NULL, 'i'},       {"pins-fd", required_argument, NULL, 'p'},
		{"json", no_argument, NULL, 'j'},           {"reader", required_argument, NULL, 'r'},
		{"terminal", required_argument, NULL, 't'}, {"staff", required_argument, NULL, 's'},
		{"date", required_argument, NULL, 'd'},     {0},
	};
	bool redeem = argc >= 2 && !strcmp(argv[1], "redeem");
	const char *id = NULL;
	char host[64] = "";
	gethostname(host, sizeof host - 1);
	const char *user = getenv("USER");
	struct counter_desk desk = {host, user && *user ? user : "unknown", NULL, today(), false};
	char *reader = NULL;
	int fd = -1, o;
	bool json = false;
	enum kg_err err;
	optind = redeem ? 2 : 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'i': id = optarg; break;
		case 'j': json = true; break;
		case 'r': desk.reader = optarg; break;
		case 't': desk.terminal = optarg; break;
		case 's': desk.staff = optarg; break;
		case 'p': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 0 || v > 1024)
				return usage_error("counter", "--pins-fd takes a file descriptor number");
			fd = (int)v;
			break;
		}
		case 'd':
			if ((err = date_arg("--date", optarg, &desk.today)))
				return err;
			desk.date_given = true;
			break;
		default: return usage_error("counter", "unknown option");
		}
	}
	if (optind != argc)
		return usage_error("counter", "unexpected argument (PINs never go on the command line)");
	if (redeem && !id)
		return usage_error("counter redeem", "--id is required");
	/* The reader is bound before anything else: with several readers kigen never guesses. */
	if ((err = load_settings(c)) ||
	    (err = counter_bind_reader(desk.reader ? desk.reader : c->settings.counter_reader, &reader)) ||
	    (err = open_store(c))) {
		free(reader);
		return err;
	}
	desk.reader = reader;
	err = redeem ? counter_redeem_cmd(c, &desk, id, fd, json) : desk_run(c->store, &c->settings, &desk);
	free(reader);
	return err;
}

/* kigen counter redeem: one form, the PINs from a file descriptor. */
static enum kg_err counter_redeem_cmd(struct ctx *c, const struct counter_desk *desk, const char *id, int fd, bool json)
{
	enum kg_err err;

	struct counter_pins pins;
	memset(&pins, 0, sizeof pins);
	desk_protect(&pins);
	struct counter_view v;
	bool has_sign = true;
	if (!counter_lookup(c->store, id, &v))
		has_sign = v.has_sign_cert;
	if (fd >= 0 && (err = desk_read_pins_fd(fd, has_sign, &pins))) {
		counter_pins_wipe(&pins);
		return err;
	}
	struct counter_result res;
	if ((err = counter_redeem(c->store, &c->settings, desk, id, &pins, &res)))
		return err;
	if (json)
		desk_print_json(stdout, &res);
	else
		desk_print_verdict(stdout, &res);
	/* Like check: an outcome other than redeemed is the answer "no", not a failure. */
	return res.outcome == COUNTER_REDEEMED ? KG_OK : kg_fail(KG_ESTATE, "%s", "");
}

/* --- the table ------------------------------------------------------------------------- */

static const struct command commands[] = {
	{"init", init_cmd, "init", "Creates the database, or upgrades its schema (owner-only file, WAL mode)."},
	{"import", import_cmd, "import FILE [--encoding utf-8|cp932]",
         "Loads a resident-registry extract (CSV with a header row; README lists the columns).\n"
         "All or nothing: one bad row and nothing is written; every bad row is listed as FILE:LINE: reason.\n"
         "Re-importing updates residents in place. Recorded expiries win over computed ones (listed)."},
	{"nightly", nightly_cmd, "nightly [--date YYYY-MM-DD] [--dry-run]",
         "The nightly job: select -> render -> export -> report for the date (default today).\n"
         "First finishes whatever an earlier run left (a crash, a full disk), exactly once.\n"
         "One run at a time: a second run exits 3 naming the holder. -q for cron: silent when\n"
         "all is well. --dry-run reports what would be selected and writes nothing."},
	{"select", select_cmd, "select [--date YYYY-MM-DD] [--dry-run]",
         "Nightly stage 1: the notices due on a date into a new batch.\n"
         "Every notice due on the date (default today) gets a sequence number in postal-code order\n"
         "and a new application ID. Running it again creates nothing twice; after missed nights it\n"
         "catches up. --dry-run only counts."},
	{"render", render_cmd, "render --batch N",
         "Stage 2: the batch's PDFs (sheets, sealing envelopes, mailing envelopes) and PNG proofs.\n"
         "A file already under its final name is not rewritten."},
	{"export", export_cmd, "export --batch N",
         "Stage 3: manifest.xlsx, manifest.csv, job.json and, last, SHA256SUMS for the print shop."},
	{"status", status_cmd, "status [--batch N] [-v]",
         "Lists the batches with their state and counts.\n"
         "-v adds the exclusions by reason. With --batch, the batch's folder and a check of every\n"
         "file against SHA256SUMS (exit 1 on a mismatch)."},
	{"db", db_cmd, "db copy --to postgresql://...",
         "Copies the SQLite database given by --db into an empty PostgreSQL database (moving an office\n"
         "over), in one transaction, then compares every table's rows (count and digest) on both.\n"
         "Refuses a target that holds any row."},
	{"notice", notice_cmd,
         "notice list --held | --returned\n"
         "       kigen notice hold ID --reason R [--staff S]\n"
         "       kigen notice release ID [--staff S]\n"
         "       kigen notice void ID --reason R [--staff S]",
         "Notices held back: unprintable ones (held by kigen) and those staff hold.\n"
         "ID is the 23-digit application ID. 'list --held' shows held and released notices with\n"
         "who held them, when and why. 'hold' keeps a notice not yet printed out of its batch (the\n"
         "batch is renumbered and rendered again). 'release' lets the next nightly run print it,\n"
         "once, with the name and address as the registry has them then (fix the registry first).\n"
         "'void' ends a notice for good: never printed, never redeemable. Each change is recorded\n"
         "with --staff (default $USER), the time and the reason. A held or void notice is refused\n"
         "at the counter. 'nightly' and 'status' print a warning line while notices are held.\n"
         "'list --returned' lists returned mail (返戻) for follow-up: reason, date, and whether it\n"
         "waits for a new address in the registry, is due to be re-mailed, or was re-mailed."},
	{"counter", counter_cmd,
         "counter [--reader NAME] [--terminal ID] [--staff ID]\n"
         "       kigen counter redeem --id ID [--pins-fd N] [--json] [--reader NAME] [--terminal ID] [--staff ID]\n"
         "                            [--date YYYY-MM-DD]\n"
         "       kigen counter web [--listen ADDR:PORT] [--reader NAME] [--terminal ID] [--idle SECONDS]",
         "The counter desk: checks a returned 照会書兼回答書 against the holder's card.\n"
         "It never locks the card, and records the outcome. Without 'redeem': the interactive desk\n"
         "(Japanese).\n"
         "'redeem' does one form: PINs are read from file descriptor N, one per line (署名用,\n"
         "利用者証明用, 住民基本台帳用) or the word 'face'; never from argv or the environment.\n"
         "The reader: --reader NAME or the setting counter.reader; with several readers and neither,\n"
         "kigen lists them and exits 2 (it never guesses). --date (tests, training) is recorded in\n"
         "the audit. Exit 0 when redeemed, 1 for any other outcome (the JSON says which).\n"
         "'web' serves the desk to the counter PC's browser (default 127.0.0.1:8470; loopback only,\n"
         "any other address exits 2): staff sign-in, the counter screen and returned mail (返戻).\n"
         "Sessions end after --idle seconds without a request (default 900). It refuses to run as\n"
         "root; KIGEN_WEB_ALLOW_ROOT=1 is for the tests only."},
	{"card", card_cmd, "card status [--reader NAME] [--json]",
         "Shows the card in the reader, without ever sending a PIN.\n"
         "The card readers and the card: whether it is a My Number card, the user-auth\n"
         "certificate's serial and expiry, and the tries left of each PIN. Never sends a PIN (no\n"
         "VERIFY), so it cannot use a try. Exit 1 when the card is not a My Number card."},
	{"barcode", barcode_cmd, "barcode --postal NNN-NNNN --address TEXT [--building TEXT]",
         "Prints the Japan Post customer barcode (カスタマバーコード) of an address.\n"
         "JSON: code (the 20 symbol characters, CC1..CC8 spelled out), check, bars (67 of F/A/D/T).\n"
         "TEXT is the address after the 町域 (番地・号; 方書 in --building or after a space).\n"
         "Exit 1 with the reason when the piece gets no barcode (代表郵便番号 from --config, or\n"
         "住所表示番号なし); exit 2 for a postal code that is not NNN-NNNN."},
	{"rules", rules_cmd,
         "rules expiry --birth D --card-issued D [--cert-issued D] [--received D] [--stay-until D] "
         "[--previous-expiry D]\n       kigen rules window --expiry D\n       kigen rules era D",
         "Applies the expiry rules: expiry dates, the renewal window, 和暦.\n"
         "'expiry' prints the card's and certificates' expiry dates as JSON\n"
         "(sign_cert is null when no signature certificate is issued, under 15); 'window' prints the\n"
         "renewal window; 'era' prints a date in 和暦. Policies come from --config."},
	{"check", check_cmd, "check mynumber N | check lgcode N",
         "Checks the check digit of a My Number (12 digits) or a local government code (6 digits).\n"
         "Exit 0 when valid, 1 when not. The number is never stored or logged."},
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < KG_ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void usage_of(const struct command *cmd, FILE *f)
{
	fprintf(f, "usage: kigen %s\n\n%s\n", cmd->usage, cmd->help);
}

static void usage(FILE *f)
{
	fputs("usage: kigen [--db PATH] [--config FILE] [--out DIR] [-q] [-v] COMMAND [ARGS]\n\n"
	      "kigen tells residents that their My Number Card or its certificates are about to\n"
	      "expire, prints the mail, and checks returned forms at the counter.\n\ncommands:\n",
	      f);
	for (size_t i = 0; i < KG_ARRAY_SIZE(commands); i++) {
		const char *h = commands[i].help;
		fprintf(f, "  %-9s %.*s\n", commands[i].name, (int)strcspn(h, "\n"), h);
	}
	fputs("\nglobal options (anywhere on the line):\n"
	      "  --db PATH      the database (default $KIGEN_DB, else kigen.db)\n"
	      "  --config FILE  the municipality's settings (YAML; default: built-in defaults)\n"
	      "  --out DIR      where batches are written (default out/)\n"
	      "  -q, -v         quieter, more verbose\n"
	      "\nexit codes: 0 ok, 1 the work failed, 2 bad usage or input, 3 another run holds the lock\n"
	      "(notices held back are not a failure: exit 0 and a line starting 警告:, see 'kigen notice')\n"
	      "'kigen COMMAND --help' explains one command.\n",
	      f);
}

/* Removes the global options from argv wherever they stand (before a "--"). */
static enum kg_err take_global_options(struct ctx *c, int *argc, char **argv)
{
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		const char **slot = !strcmp(a, "--db")       ? &c->db
		                    : !strcmp(a, "--config") ? &c->config
		                    : !strcmp(a, "--out")    ? &c->out
		                                             : NULL;
		if (!strcmp(a, "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (slot) {
			if (i + 1 >= *argc)
				return kg_fail(KG_EUSAGE, "%s needs a value", a);
			*slot = argv[++i];
		} else if (!strncmp(a, "--db=", 5)) {
			c->db = a + 5;
		} else if (!strncmp(a, "--config=", 9)) {
			c->config = a + 9;
		} else if (!strncmp(a, "--out=", 6)) {
			c->out = a + 6;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			c->quiet = 1;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			c->verbose = 1;
		} else {
			argv[out++] = argv[i];
		}
	}
	*argc = out;
	argv[out] = NULL;
	return KG_OK;
}

int main(int argc, char **argv)
{
	/* No core dumps, before anything is read: an import holds My Numbers, the counter PINs.
	 * Not dumpable also keeps other processes of the same user from reading our memory. */
	setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
	prctl(PR_SET_DUMPABLE, 0);
	kg_keep_heap();
	struct ctx c = {0};
	/* Dates are civil dates in Japan whatever the machine's zone; files are owner-only. */
	setenv("TZ", getenv("KIGEN_TZ") ? getenv("KIGEN_TZ") : "Asia/Tokyo", 1);
	tzset();
	umask(077);
	enum kg_err err = take_global_options(&c, &argc, argv);
	if (!c.db)
		c.db = getenv("KIGEN_DB") && *getenv("KIGEN_DB") ? getenv("KIGEN_DB") : "kigen.db";
	if (!c.out)
		c.out = "out";
	if (!err && (!*c.db || !*c.out || (c.config && !*c.config)))
		err = kg_fail(KG_EUSAGE,
		              "--db, --out and --config need a non-empty value (an empty --out would write to /)");
	if (err) {
		fprintf(stderr, "kigen: %s\n", kg_last_message());
		return kg_exit_code(err);
	}
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const struct command *cmd = find_command(argv[1]);
	if (!cmd) {
		fprintf(stderr, "kigen: unknown command '%s' (see 'kigen --help')\n", argv[1]);
		return 2;
	}
	if (wants_help(argc - 1, argv + 1)) {
		usage_of(cmd, stdout);
		return 0;
	}
	err = cmd->run(&c, argc - 1, argv + 1);
	if (err && *kg_last_message())
		fprintf(stderr, "kigen %s: %s\n", cmd->name, kg_last_message());
	if (c.settings_loaded)
		settings_release(&c.settings);
	store_close(c.store);
	return kg_exit_code(err);
}
