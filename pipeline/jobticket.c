/*
 * jobticket.c: job.json, written as text with sbuf_add_json() quoting every string that comes
 * from the settings or the batch, in a fixed key order: the same batch gives the same bytes.
 */
#include "jobticket.h"

#include <string.h>

#include "afile.h"
#include "rules.h"
#include "sbuf.h"
#include "banned.h"

static const char *const piece_key[N_PIECES] = {"notice", "application", "form", "inner_envelope", "outer_envelope"};
static const char *const group_key[MAILSET_N_GROUPS] = {"card", "cert", "reinquiry"};
static const char *const kind_key[N_KINDS] = {"sheets", "inner_envelopes", "outer_envelopes"};

/* What the print shop needs to know of each file's stock, one entry per file kind. The sizes are
 * the templates' page sizes (tests/e2e/nightly.sh checks them against the PDFs). The form's
 * fold fits the 長形4号 sealing envelope (90 x 205 mm): an A4 folded in three is 99 mm wide, so it
 * is folded in half across, then in three along, to 70 x 148.5 mm; its fold marks are printed. */
static const struct {
	const char *paper;
	int width_mm, height_mm;
	const char *folds; /* JSON array */
	const char *envelope;
} stock[N_KINDS] = {
	[KIND_SHEETS] =
		{"A4 plain paper", 210, 297,
                 "[{\"piece\": \"notice\", \"fold\": \"in three across at y 99 and 198 mm\", \"folded_mm\": "
                 "[210, 99], \"fits\": \"長形3号\"},\n"
                 "      {\"piece\": \"application\", \"fold\": \"in three across at y 99 and 198 mm\", "
                 "\"folded_mm\": [210, 99], \"fits\": \"長形3号\"},\n"
                 "      {\"piece\": \"form\", \"fold\": \"in half across at y 148.5 mm, then in three along at x "
                 "70 and 140 mm (fold marks printed)\", \"folded_mm\": [70, 148.5], \"fits\": \"長形4号\"}]",
                 "長形3号"},
	[KIND_INNER] = {"長形4号 envelope (90 x 205 mm), face printed", 90, 205, "[]", "長形3号"},
	[KIND_OUTER] = {"長形3号 envelope (120 x 235 mm), face printed", 120, 235, "[]", NULL},
};

static void ticket_text(struct sbuf *j, const struct settings *s, const struct manifest_batch *b,
                        const struct manifest_totals *t)
{
	char date[RULES_DATE_LEN];
	rules_format_date(b->run_date, date);
	sbuf_addf(j, "{\n  \"batch\": %lld,\n  \"run_date\": \"%s\",\n  \"sets\": %d,\n", (long long)b->id, date,
	          t->sets);
	sbuf_addf(j,
	          "  \"counts\": {\"card\": %ld, \"cert\": %ld, \"reinquiry\": %ld, \"card_without_jlis_id\": %ld},\n",
	          t->card, t->cert, t->reinquiries, t->no_jlis);
	sbuf_adds(j, "  \"pieces\": {");
	for (int p = 0; p < N_PIECES; p++)
		sbuf_addf(j, "%s\"%s\": %ld", p ? ", " : "", piece_key[p], t->pieces[p]);
	/* The pre-printed inserts each kind of set gets, and how many of each the print shop needs. */
	sbuf_adds(j, "},\n  \"inserts\": {");
	for (int g = 0; g < MAILSET_N_GROUPS; g++) {
		sbuf_addf(j, "%s\"%s\": {\"sets\": %ld, \"names\": [", g ? ", " : "", group_key[g], t->inserts[g]);
		for (size_t i = 0; s && i < s->n_inserts[g]; i++) {
			sbuf_adds(j, i ? ", " : "");
			sbuf_add_json(j, s->inserts[g][i]);
		}
		sbuf_adds(j, "]}");
	}
	sbuf_adds(j, "},\n  \"excluded\": {");
	for (size_t i = 0; i < b->n_excluded; i++) {
		sbuf_adds(j, i ? ", " : "");
		sbuf_add_json(j, b->excluded_reasons[i]);
		sbuf_addf(j, ": %ld", b->excluded_counts[i]);
	}
	sbuf_addf(j, "},\n  \"barcoded\": %ld,\n", t->barcoded);
	sbuf_addf(j, "  \"discounts\": {\"sorted\": %s, \"sorted_min\": %ld, \"barcode\": %s, \"barcode_min\": %ld},\n",
	          t->sorted ? "true" : "false", t->sorted_min, t->barcode ? "true" : "false", t->barcode_min);
	sbuf_adds(j, "  \"postage\": {\"mark\": ");
	sbuf_add_json(j, s && s->postage ? s->postage : "none");
	sbuf_adds(j, ", \"printed\": ");
	sbuf_add_json(j, t->postage);
	sbuf_adds(j, "},\n");
	sbuf_adds(j, "  \"files\": [");
	for (size_t i = 0; i < b->n_files; i++) {
		const struct manifest_file *f = &b->files[i];
		enum manifest_kind k = t->sums[i].kind;
		sbuf_adds(j, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
		sbuf_add_json(j, f->name);
		sbuf_addf(j,
		          ", \"kind\": \"%s\", \"seq_from\": %d, \"seq_to\": %d, \"pages\": %d, \"bytes\": %lld, "
		          "\"sha256\": \"%s\",\n     \"paper\": \"%s\", \"size_mm\": [%d, %d], \"sides\": \"simplex\", "
		          "\"colour\": \"K only (DeviceGray)\",\n     \"folds\": %s,\n     \"envelope\": ",
		          kind_key[k], f->seq_from, f->seq_to, f->pages, t->sums[i].bytes, t->sums[i].hex,
		          stock[k].paper, stock[k].width_mm, stock[k].height_mm, stock[k].folds);
		if (stock[k].envelope)
			sbuf_add_json(j, stock[k].envelope);
		else
			sbuf_adds(j, "null");
		sbuf_adds(j, "}");
	}
	sbuf_adds(j, b->n_files ? "\n  ],\n" : "],\n");
	sbuf_adds(j, "  \"manifests\": [\"manifest.xlsx\", \"manifest.csv\"]\n}\n");
}

enum kg_err jobticket_write(const char *dir, const struct settings *s, const struct manifest_batch *b,
                            const struct manifest_totals *t)
{
	struct sbuf j = SBUF_INIT;
	ticket_text(&j, s, b, t);
	enum kg_err err = afile_write_sbuf(dir, "job.json", &j);
	sbuf_release(&j);
	return err;
}
