/*
 * render_bench: drives render_batch() with synthetic but realistic mail sets, for the benchmark
 * (scripts/bench-render.sh) and the end-to-end test of the printed documents
 * (tests/e2e/render.sh). The sets are made in the loader, inside the forked workers, as the
 * store will: so the measured memory is what a real batch costs.
 *
 *   render_bench bench SETTINGS N OUTDIR [WORKERS]
 *       renders N sets; prints "render: N sets, S s, R sets/s, B bytes/set, peak RSS M MB ..."
 *   render_bench values SETTINGS N OUT.tsv
 *       writes what the same N sets print, for the yardsticks of scripts/bench-render.sh (the
 *       naive cairo baseline and the ReportLab implementation), which draw the same pages from
 *       the same templates: a first line of the settings' placeholders, then one line per page
 *       in document order (sheets, inner, outer), each tab-separated KEY=VALUE pairs: doc,
 *       template, when (the LAYOUT_WHEN_* bits but postage, which holds when the settings'
 *       postage_class is not empty), barcode (67 bars or empty), and every field ({piece} is the
 *       page's own matching code). Values escape a backslash, tab and newline as \\, \t, \n.
 *   render_bench sample SETTINGS OUTDIR
 *       renders the fixed sample batch (cards, certificates, a holder without a signature
 *       certificate, a re-inquiry, a long name, IVS and non-JIS-X-0208 names) and prints one
 *       line per set: seq, app_id, expiry (YYYY-MM-DD), kind, target, sign, barcode (bars or -), certs, name
 *       (tab separated), so a test can check the PDFs against what went in.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "kg.h"
#include "mailset.h"
#include "render.h"
#include "rules.h"
#include "settings.h"

#include "banned.h"

/* Strings of one generated set. */
struct strings {
	char name[160], kana[160], postal[16], town[160], block[64], building[96], barcode[68], resident[16];
};

struct gen {
	bool sample;
	int batch_day;
	int n;
};

static const char *const family[] = {"山田",           "佐藤", "鈴木",         "髙橋", "𠮷田",
                                     "渡邊\U000E010A", "齋藤", "辻\U000E0100", "小林", "伊藤",
                                     "葛\U000E0100西", "中村", "長谷川",       "山﨑", "黒澤"};
static const char *const given[] = {"太郎", "花子", "一郎", "美咲", "健太", "陽菜", "翔太", "結衣", "大輔", "さくら"};
static const char *const towns[] = {"東京都新宿区西新宿二丁目",   "東京都新宿区歌舞伎町一丁目",
                                    "東京都新宿区高田馬場三丁目", "東京都新宿区神楽坂六丁目",
                                    "東京都新宿区四谷一丁目",     "東京都新宿区大久保二丁目"};
static const char *const buildings[] = {
	"", "", "", "新宿パークタワー1203号室", "グランドメゾン神楽坂201", "コーポ大久保３０５号"};

static void app_id(int batch_day, int seq, char out[24])
{
	char d[24];
	snprintf(d, sizeof d, "%06d%016d", batch_day % 1000000, seq);
	d[22] = rules_damm_digit(d, 22);
	d[23] = '\0';
	memcpy(out, d, 24);
}

static void fake_barcode(int seq, char out[68])
{
	/* Start "FA"... stop "AF" around pseudo-random bars: looks like the real thing, decodes to nothing. */
	unsigned x = (unsigned)seq * 2654435761u;
	out[0] = 'F', out[1] = 'A';
	for (int i = 2; i < 65; i++) {
		x = x * 1103515245u + 12345u;
		out[i] = "FADT"[(x >> 16) & 3];
	}
	out[65] = 'A', out[66] = 'F', out[67] = '\0';
}

/* One synthetic set; the sample batch fixes the interesting cases in its first sets. */
static void make_set(const struct gen *g, int seq, struct mailset *m, struct strings *s)
{
	int i = seq - 1;
	memset(m, 0, sizeof *m);
	m->seq = seq;
	m->batch = 1;
	m->batch_day = g->batch_day;
	app_id(g->batch_day, seq, m->app_id);
	snprintf(s->resident, sizeof s->resident, "R%08d", seq);
	snprintf(s->name, sizeof s->name, "%s　%s", family[(i * 7) % KG_ARRAY_SIZE(family)],
	         given[(i * 3) % KG_ARRAY_SIZE(given)]);
	snprintf(s->kana, sizeof s->kana, "ヤマダ　タロウ");
	snprintf(s->postal, sizeof s->postal, "160-%04d", (i * 37) % 10000);
	snprintf(s->town, sizeof s->town, "%s", towns[i % KG_ARRAY_SIZE(towns)]);
	snprintf(s->block, sizeof s->block, "%d番%d号", i % 30 + 1, i % 12 + 1);
	snprintf(s->building, sizeof s->building, "%s", buildings[i % KG_ARRAY_SIZE(buildings)]);
	fake_barcode(seq, s->barcode);
	m->kind = i % 20 == 19 ? MAILSET_REINQUIRY : MAILSET_NOTICE;
	m->target = m->kind == MAILSET_REINQUIRY || i % 2 ? MAILSET_CERT : MAILSET_CARD;
	m->certs = MAILSET_SIGN | MAILSET_AUTH;
	m->has_sign_cert = i % 10 != 5;
	m->expiry = g->batch_day + 100 + i % 60;
	m->birth = rules_from_ymd(1950 + i % 66, i % 12 + 1, i % 28 + 1);
	m->foreign = false;
	m->barcode = s->barcode;
	if (g->sample) {
		switch (seq) {
		case 1: /* a card renewal with J-LIS's 申請書ID */
			snprintf(s->name, sizeof s->name, "山田　太郎");
			m->kind = MAILSET_NOTICE, m->target = MAILSET_CARD;
			snprintf(m->jlis_app_id, sizeof m->jlis_app_id, "%s", "10203040506070809011121");
			break;
		case 2: /* a certificate renewal, IVS in the name */
			snprintf(s->name, sizeof s->name, "渡邊\U000E010A　花子");
			m->kind = MAILSET_NOTICE, m->target = MAILSET_CERT, m->has_sign_cert = true;
			break;
		case 3: /* a child: no signature certificate; a name outside JIS X 0208 */
			snprintf(s->name, sizeof s->name, "𠮷田　一郎");
			m->kind = MAILSET_NOTICE, m->target = MAILSET_CERT, m->has_sign_cert = false;
			m->certs = MAILSET_AUTH;
			m->birth = g->batch_day - 3650; /* ten: a 法定代理人 applies */
			break;
		case 4: /* a re-inquiry */
			snprintf(s->name, sizeof s->name, "髙橋　次郎");
			m->kind = MAILSET_REINQUIRY, m->target = MAILSET_CERT, m->has_sign_cert = true;
			break;
		case 5: /* a long name that must shrink to fit */
			snprintf(s->name, sizeof s->name,
			         "ウィリアムズ　アレクサンダー　ジョナサン　クリストファー　エドワード");
			m->kind = MAILSET_NOTICE, m->target = MAILSET_CARD, m->foreign = true;
			break;
		case 6: /* IVS name, no customer barcode, a signature certificate revoked after a move */
			snprintf(s->name, sizeof s->name, "辻\U000E0100　美咲");
			m->kind = MAILSET_NOTICE, m->target = MAILSET_CERT, m->has_sign_cert = false;
			m->sign_revoked = true, m->certs = MAILSET_AUTH;
			m->barcode = NULL, m->no_barcode_reason = "住所不明";
			break;
		case 7: /* a card renewal with a variant the registry writes with an IVS; no J-LIS 申請書ID */
			snprintf(s->name, sizeof s->name, "葛\U000E0100西　健太");
			m->kind = MAILSET_NOTICE, m->target = MAILSET_CARD;
			break;
		case 8: /* a certificate renewal, a long address that wraps on the envelope */
			snprintf(s->name, sizeof s->name, "齋藤　結衣");
			snprintf(s->building, sizeof s->building,
			         "新宿セントラルパークシティ　ザ・タワー　ウエストウイング3512号室");
			m->kind = MAILSET_NOTICE, m->target = MAILSET_CERT, m->has_sign_cert = true;
			break;
		default: break;
		}
	}
	if (!m->barcode)
		s->barcode[0] = '\0';
	m->resident_id = s->resident;
	m->name = s->name;
	m->kana = s->kana;
	m->postal_code = s->postal;
	m->addr_town = s->town;
	m->addr_block = s->block;
	m->addr_building = s->building;
}

/* The loader: sets and their strings in one block, freed by release. */
static enum kg_err load(void *ctx, int from, int to, struct mailset **sets, size_t *n)
{
	const struct gen *g = ctx;
	size_t count = (size_t)(to - from + 1);
	char *block = kg_malloc(count * (sizeof(struct mailset) + sizeof(struct strings)));
	struct mailset *m = (struct mailset *)block;
	struct strings *s = (struct strings *)(block + count * sizeof(struct mailset));
	for (size_t i = 0; i < count; i++)
		make_set(g, from + (int)i, &m[i], &s[i]);
	*sets = m;
	*n = count;
	return KG_OK;
}

static void release(void *ctx, struct mailset *sets, size_t n)
{
	free(sets);
}

static long dir_bytes(const char *dir)
{
	long total = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	struct stat st;
	while (d && (e = readdir(d))) {
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (e->d_name[0] != '.' && strstr(e->d_name, ".pdf") && stat(path, &st) == 0)
			total += st.st_size;
	}
	if (d)
		closedir(d);
	return total;
}

static int fail(const char *what)
{
	fprintf(stderr, "render_bench: %s: %s\n", what, kg_last_message());
	return 1;
}

/* KEY=VALUE with the value escaped: a backslash, tab or newline is written \\, \t, \n (the
 * enclosures list and the multi-line wording hold newlines). */
static void put(FILE *f, const char *sep, const char *key, const char *value)
{
	fprintf(f, "%s%s=", sep, key);
	for (const char *p = value ? value : ""; *p; p++) {
		if (*p == '\\' || *p == '\t' || *p == '\n')
			fprintf(f, "\\%c", *p == '\t' ? 't' : *p == '\n' ? 'n' : '\\');
		else
			fputc(*p, f);
	}
}

/* render_bench values: see the top of this file. */
static int values(const struct gen *g, const struct settings *s, struct render *r, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		return 1;
	}
	for (size_t i = 0; layout_setting_name(i); i++)
		put(f, i ? "\t" : "", layout_setting_name(i), layout_setting(s, layout_setting_name(i)));
	fputc('\n', f);
	static const char *const docs[] = {"sheets", "inner", "outer"};
	for (int d = 0; d < 3; d++) {
		for (int seq = 1; seq <= g->n; seq++) {
			struct mailset m;
			struct strings st;
			struct layout_values v;
			const char *tpl[RENDER_MAX_PAGES];
			make_set(g, seq, &m, &st);
			int pages = render_page_templates((enum render_doc)d, &m, tpl);
			for (int p = 0; p < pages; p++) {
				if (render_values(r, (enum render_doc)d, &m, p, &v)) {
					fclose(f);
					return fail("render_values");
				}
				char when[16];
				snprintf(when, sizeof when, "%u", v.when);
				put(f, "", "doc", docs[d]);
				put(f, "\t", "template", tpl[p]);
				put(f, "\t", "when", when);
				put(f, "\t", "barcode", v.barcode);
				for (int k = 0; k < LAYOUT_NFIELDS; k++)
					put(f, "\t", layout_field_name((enum layout_field)k), v.field[k]);
				fputc('\n', f);
			}
		}
	}
	if (fclose(f) != 0) {
		perror(path);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	bool dump = argc == 5 && !strcmp(argv[1], "values");
	if (!dump && (argc < 4 || (strcmp(argv[1], "bench") && strcmp(argv[1], "sample")) ||
	              (!strcmp(argv[1], "bench") && argc < 5))) {
		fprintf(stderr, "usage: render_bench bench SETTINGS N OUTDIR [WORKERS] | values SETTINGS N OUT.tsv | "
		                "sample SETTINGS OUTDIR\n");
		return 2;
	}
	struct gen g = {.sample = !strcmp(argv[1], "sample")};
	const char *dir = g.sample ? argv[3] : argv[4];
	g.n = g.sample ? 8 : (int)strtol(argv[3], NULL, 10);
	int workers = !g.sample && argc > 5 ? (int)strtol(argv[5], NULL, 10) : 2;
	g.batch_day = rules_from_ymd(2025, 3, 31);

	struct settings s;
	struct render *r = NULL;
	if (settings_load(argv[2], &s))
		return fail(argv[2]);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (render_new(&s, &r))
		return fail("render_new");
	if (dump) {
		int rc = values(&g, &s, r, argv[4]);
		render_free(r);
		settings_release(&s);
		return rc;
	}
	unsigned char *pieces = kg_malloc((size_t)g.n + 1);
	for (int seq = 1; seq <= g.n; seq++) {
		struct mailset m;
		struct strings st;
		make_set(&g, seq, &m, &st);
		pieces[seq - 1] = render_pieces(m.kind, m.target);
		if (g.sample) {
			char exp[RULES_DATE_LEN];
			rules_format_date(m.expiry, exp);
			printf("%d\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\t%d\t%s\n", m.seq, m.app_id, exp,
			       m.kind == MAILSET_REINQUIRY ? "reinquiry" : "notice",
			       m.target == MAILSET_CARD ? "card" : "cert", m.has_sign_cert, m.barcode ? m.barcode : "-",
			       m.certs, m.jlis_app_id[0] ? m.jlis_app_id : "-", m.sign_revoked, m.name);
		}
	}
	struct render_source src = {.n_sets = g.n, .pieces = pieces, .load = load, .release = release, .ctx = &g};
	struct render_file_info *files = NULL;
	size_t n_files = 0;
	enum kg_err err = render_batch(r, dir, &src, workers, &files, &n_files);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (err)
		return fail("render_batch");
	double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	if (!g.sample) {
		struct rusage self, kids;
		getrusage(RUSAGE_SELF, &self);
		getrusage(RUSAGE_CHILDREN, &kids);
		long bytes = dir_bytes(dir);
		printf("render: %d sets, %.3f s, %.1f sets/s, %.0f bytes/set, peak RSS %.1f MB (parent %.1f + largest "
		       "worker %.1f), %zu files, %d workers\n",
		       g.n, secs, g.n / secs, (double)bytes / g.n, (self.ru_maxrss + kids.ru_maxrss) / 1024.0,
		       self.ru_maxrss / 1024.0, kids.ru_maxrss / 1024.0, n_files, workers);
	} else {
		for (size_t i = 0; i < n_files; i++)
			fprintf(stderr, "file\t%s\t%d\t%d\t%d\n", files[i].name, files[i].pages, files[i].seq_from,
			        files[i].seq_to);
	}
	free(files);
	free(pieces);
	render_free(r);
	settings_release(&s);
	return 0;
}
