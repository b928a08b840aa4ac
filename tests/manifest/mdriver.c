/*
 * mdriver.c: a test driver for the manifest and report modules until the render stage and the
 * nightly runner are merged. It does what those will do around manifest_write(): reads a batch's
 * sets from the store (store_batch_sets), makes up the file list a render stage would produce
 * with a given max sheets per file (split at resident boundaries; sheets-NNN, inner-envelopes-NNN
 * and outer-envelopes-NNN share each file's seq range) and writes small placeholder files under
 * those names, so the checksums have something to hash.
 *
 *   mdriver write    --db DB --batch N --dir DIR [--max-sheets N] [--config F] [--barcodes]
 *   mdriver synth    --sets N --dir DIR [--max-sheets N] [--config F]   (sets made up in memory)
 *   mdriver verify   --dir DIR
 *   mdriver forecast --db DB --date D [--weeks N] [--config F]         (one count per line)
 *   mdriver report   --db DB --batch N --dir DIR --date D [--config F]
 *
 * --wrong-pages adds a page to the first file's count, as a render stage that disagrees would.
 * --barcodes stands in for the postal helper's encoder, which fills mailset.barcode: the set with
 * seq divisible by 7 gets no barcode (no_barcode_reason "住所表示番号なし"), every other one the
 * opaque string "BC<postal digits>-<seq>". Prints "maxrss_kb N" after writing. Exit 0 ok,
 * 1 when the work fails (message on stderr), 2 bad usage.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "kg.h"
#include "manifest.h"
#include "report.h"
#include "rules.h"
#include "sbuf.h"
#include "select.h"
#include "settings.h"
#include "store.h"

#include "banned.h"

struct opts {
	const char *db, *dir, *config, *date;
	long batch, sets, max_sheets, weeks;
	bool barcodes, wrong_pages;
};

struct src_ctx {
	struct store *st;
	int64_t batch;
	bool barcodes;
	long synth; /* >0: made-up sets, no store */
};

static void fake_barcode(struct mailset *m)
{
	if (m->seq % 7 == 0) {
		m->no_barcode_reason = kg_strdup("住所表示番号なし");
		return;
	}
	char digits[16] = "";
	size_t k = 0;
	for (const char *p = m->postal_code; p && *p && k < sizeof digits - 1; p++)
		if (*p >= '0' && *p <= '9')
			digits[k++] = *p;
	digits[k] = 0;
	struct sbuf b = SBUF_INIT;
	sbuf_addf(&b, "BC%s-%d", digits, m->seq);
	m->barcode = sbuf_detach(&b);
}

static const char *const synth_towns[] = {"東京都新宿区西新宿", "京都府京都市上京区釜座通丸太町上る春帯町",
                                          "北海道札幌市中央区北一条西"};

static enum kg_err load(void *ctx, int from, int to, struct mailset **sets, size_t *n)
{
	struct src_ctx *c = ctx;
	if (!c->synth) {
		enum kg_err err = store_batch_sets(c->st, c->batch, from, to, sets, n);
		if (!err && c->barcodes)
			for (size_t i = 0; i < *n; i++)
				fake_barcode(&(*sets)[i]);
		return err;
	}
	/* Made-up sets in postal order: 100 sets per postal code, every third one a certificate. */
	size_t len = (size_t)(to - from + 1);
	struct mailset *s = kg_calloc(len, sizeof *s);
	for (size_t i = 0; i < len; i++) {
		int seq = from + (int)i;
		char buf[64];
		snprintf(buf, sizeof buf, "%03d-%04d", 100 + seq / 10000, (seq / 100) % 10000);
		s[i] = (struct mailset){
			.seq = seq,
			.batch = 1,
			.kind = seq % 50 == 0 ? MAILSET_REINQUIRY : MAILSET_NOTICE,
			.target = seq % 3 == 0 || seq % 50 == 0 ? MAILSET_CERT : MAILSET_CARD,
			.expiry = rules_from_ymd(2027, 3, 1) + seq % 90,
			.postal_code = kg_strdup(buf),
			.addr_town = kg_strdup(synth_towns[seq % 3]),
			.name = kg_strdup("試験　太郎"),
			.kana = kg_strdup("シケン　タロウ"),
			.resident_id = kg_strdup("R"),
		};
		snprintf(buf, sizeof buf, "%d番地", seq % 1000 + 1);
		s[i].addr_block = kg_strdup(buf);
		s[i].addr_building = kg_strdup("");
		snprintf(s[i].app_id, sizeof s[i].app_id, "%023d", seq);
		fake_barcode(&s[i]);
	}
	*sets = s;
	*n = len;
	return KG_OK;
}

static void release(void *ctx, struct mailset *sets, size_t n)
{
	(void)ctx;
	store_sets_free(sets, n);
}

struct files {
	struct manifest_file *v;
	size_t n, alloc;
};

static void add_file(struct files *f, const char *prefix, int no, int pages, int from, int to)
{
	KG_GROW(f->v, f->n + 1, f->alloc);
	struct manifest_file *m = &f->v[f->n++];
	snprintf(m->name, sizeof m->name, "%s-%03d.pdf", prefix, no);
	m->pages = pages;
	m->seq_from = from;
	m->seq_to = to;
}

static enum kg_err placeholder(const char *dir, const struct manifest_file *f)
{
	struct sbuf p = SBUF_INIT;
	sbuf_addf(&p, "%s/%s", dir, f->name);
	enum kg_err err = sbuf_check(&p);
	FILE *fp = err ? NULL : fopen(p.buf, "wb");
	if (!err && !fp)
		err = kg_fail(KG_EIO, "%s: cannot create", p.buf);
	if (fp) {
		fprintf(fp, "placeholder for %s: %d pages, sets %d..%d\n", f->name, f->pages, f->seq_from, f->seq_to);
		if (fclose(fp))
			err = kg_fail(KG_EIO, "%s: cannot write", p.buf);
	}
	sbuf_release(&p);
	return err;
}

/* The files a render stage would write: split at resident (set) boundaries so that no sheets
 * file passes max sheets; the envelope files share the sheets files' seq ranges. */
static enum kg_err fabricate_files(const struct manifest_source *src, const char *dir, long max, struct files *out)
{
	int no = 0, from = 1, sheets = 0, inner = 0, outer = 0;
	enum kg_err err = KG_OK;
	for (int a = 1; !err && a <= src->n_sets; a += 1000) {
		struct mailset *s;
		size_t n;
		int b = a + 999 < src->n_sets ? a + 999 : src->n_sets;
		if ((err = src->load(src->ctx, a, b, &s, &n)))
			break;
		for (size_t i = 0; i < n; i++) {
			int need = mailset_sheets(&s[i]);
			if (sheets && sheets + need > max) {
				no++;
				add_file(out, "sheets", no, sheets, from, s[i].seq - 1);
				if (inner)
					add_file(out, "inner-envelopes", no, inner, from, s[i].seq - 1);
				add_file(out, "outer-envelopes", no, outer, from, s[i].seq - 1);
				from = s[i].seq;
				sheets = inner = outer = 0;
			}
			sheets += need;
			inner += mailset_has_form(&s[i]);
			outer++;
		}
		src->release(src->ctx, s, n);
	}
	if (!err && sheets) {
		no++;
		add_file(out, "sheets", no, sheets, from, src->n_sets);
		if (inner)
			add_file(out, "inner-envelopes", no, inner, from, src->n_sets);
		add_file(out, "outer-envelopes", no, outer, from, src->n_sets);
	}
	for (size_t i = 0; !err && i < out->n; i++)
		err = placeholder(dir, &out->v[i]);
	return err;
}

struct excl {
	const char *reasons[16];
	long counts[16];
	size_t n;
};

static enum kg_err take_exclusion(void *ctx, const char *reason, long count)
{
	struct excl *e = ctx;
	if (e->n < KG_ARRAY_SIZE(e->reasons)) {
		e->reasons[e->n] = kg_strdup(reason);
		e->counts[e->n++] = count;
	}
	return KG_OK;
}

static int usage(void)
{
	fprintf(stderr, "usage: mdriver write|synth|verify|forecast|report [options] (see the source)\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"db", required_argument, NULL, 'd'},
	                                         {"batch", required_argument, NULL, 'b'},
	                                         {"dir", required_argument, NULL, 'o'},
	                                         {"max-sheets", required_argument, NULL, 'm'},
	                                         {"config", required_argument, NULL, 'c'},
	                                         {"barcodes", no_argument, NULL, 'B'},
	                                         {"sets", required_argument, NULL, 's'},
	                                         {"date", required_argument, NULL, 't'},
	                                         {"weeks", required_argument, NULL, 'w'},
	                                         {"wrong-pages", no_argument, NULL, 'W'},
	                                         {0}};
	if (argc < 2)
		return usage();
	const char *mode = argv[1];
	struct opts o = {.max_sheets = 1000, .weeks = 26};
	int c;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o.db = optarg; break;
		case 'b': o.batch = strtol(optarg, NULL, 10); break;
		case 'o': o.dir = optarg; break;
		case 'm': o.max_sheets = strtol(optarg, NULL, 10); break;
		case 'c': o.config = optarg; break;
		case 'B': o.barcodes = true; break;
		case 's': o.sets = strtol(optarg, NULL, 10); break;
		case 't': o.date = optarg; break;
		case 'w': o.weeks = strtol(optarg, NULL, 10); break;
		case 'W': o.wrong_pages = true; break;
		default: return usage();
		}
	}
	struct settings set = {0};
	struct store *st = NULL;
	struct files files = {0};
	struct excl ex = {0};
	struct sbuf text = SBUF_INIT;
	long *counts = NULL;
	enum kg_err err = settings_load(o.config, &set);
	if (err)
		goto out;
	if (!strcmp(mode, "verify")) {
		bool ok;
		if (!o.dir)
			return usage();
		if (!(err = manifest_verify(o.dir, &text, &ok)))
			fputs(text.buf, stdout);
		if (!err && !ok)
			err = kg_fail(KG_ESTATE, "verification failed");
		goto out;
	}
	if (o.db && (err = store_open(o.db, &st)))
		goto out;
	int date = 0;
	if (o.date && (err = rules_parse_date(o.date, &date)))
		goto out;
	if (!strcmp(mode, "forecast")) {
		if (!st || !o.date)
			return usage();
		counts = kg_calloc((size_t)o.weeks, sizeof *counts);
		if ((err = select_forecast(st, &set, date, (int)o.weeks, counts)))
			goto out;
		for (long w = 0; w < o.weeks; w++)
			printf("%ld\n", counts[w]);
		goto out;
	}
	if (strcmp(mode, "write") && strcmp(mode, "synth") && strcmp(mode, "report"))
		return usage();
	if (!o.dir || (strcmp(mode, "synth") && (!st || !o.batch)) || (!strcmp(mode, "synth") && o.sets <= 0))
		return usage();

	struct src_ctx sc = {.st = st, .batch = o.batch, .barcodes = o.barcodes, .synth = o.sets};
	struct manifest_source src = {.load = load, .release = release, .ctx = &sc};
	struct manifest_batch mb = {.id = 1, .run_date = rules_from_ymd(2026, 11, 21)};
	if (st) {
		struct store_batch b;
		if ((err = store_batch_get(st, o.batch, &b)) ||
		    (err = store_batch_exclusions(st, o.batch, take_exclusion, &ex)))
			goto out;
		src.n_sets = (int)b.notices;
		mb.id = b.id;
		mb.run_date = b.run_date;
	} else {
		src.n_sets = (int)o.sets;
	}
	mb.excluded_reasons = ex.reasons;
	mb.excluded_counts = ex.counts;
	mb.n_excluded = ex.n;

	if (!strcmp(mode, "report")) {
		counts = kg_calloc(26, sizeof *counts);
		if ((err = select_forecast(st, &set, date, 26, counts)))
			goto out;
		struct report_stage stages[] = {{"select", 1.25}, {"render", 12.5}, {"export", 0.75}};
		struct report_input in = {
			.batch = mb.id,
			.run_date = mb.run_date,
			.excluded_reasons = ex.reasons,
			.excluded_counts = ex.counts,
			.n_excluded = ex.n,
			.stages = stages,
			.n_stages = KG_ARRAY_SIZE(stages),
			.forecast = counts,
			.forecast_from = date,
			.forecast_weeks = 26,
		};
		/* The counts by what expires, as select_run would hand them over. */
		for (int a = 1; !err && a <= src.n_sets; a += 1000) {
			struct mailset *s;
			size_t n;
			if ((err = load(&sc, a, a + 999, &s, &n)))
				goto out;
			for (size_t i = 0; i < n; i++)
				*(s[i].kind == MAILSET_REINQUIRY ? &in.reinquiries
				  : s[i].target == MAILSET_CARD  ? &in.card
				                                 : &in.cert) += 1;
			store_sets_free(s, n);
		}
		if ((err = report_write(o.dir, &in)) || (err = report_summary(o.dir, &in, &text)))
			goto out;
		fputs(text.buf, stdout);
		goto out;
	}
	if ((err = fabricate_files(&src, o.dir, o.max_sheets, &files)))
		goto out;
	if (o.wrong_pages && files.n)
		files.v[0].pages++; /* a render stage that disagrees with the sets */
	mb.files = files.v;
	mb.n_files = files.n;
	if ((err = manifest_write(o.dir, &set, &mb, &src)))
		goto out;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("sets %d files %zu maxrss_kb %ld\n", src.n_sets, files.n, ru.ru_maxrss);
out:
	if (err)
		fprintf(stderr, "mdriver: %s: %s\n", kg_strerror(err), kg_last_message());
	for (size_t i = 0; i < ex.n; i++)
		free((char *)ex.reasons[i]);
	free(files.v);
	free(counts);
	sbuf_release(&text);
	store_close(st);
	settings_release(&set);
	return err ? 1 : 0;
}
