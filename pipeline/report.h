/*
 * report.h: the run report, for the staff who look after the nightly job.
 *
 * report_summary() gives the text the nightly command prints: counts by what expires, the
 * exclusions by reason, the notices held back (ID and reason), the files of the batch folder with their sizes, and the time each stage
 * took. report_write() puts the same into the batch folder as report.html (Japanese labels)
 * with forecast.png beside it: a bar chart (cairo, labels through pango in IPAex Gothic) of the
 * notices expected per week (select_forecast), so the municipality can staff its counters for
 * the waves of renewals. Both files are written atomically (afile.h); they hold no personal data.
 *
 * report_write() adds files to the batch folder: call it before manifest_write() (or call
 * manifest_seal() again afterwards) so that SHA256SUMS lists them.
 */
#ifndef REPORT_H
#define REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "kg.h"
#include "sbuf.h"

struct report_stage {
	const char *name; /* "select", "render", ... */
	double seconds;
};

/* A notice held back from the batch: it is not printed (store.h, holds). */
struct report_hold {
	const char *app_id, *by, *reason; /* by: "kigen" (cannot be printed) or the staff id */
};

/* Everything is borrowed for the duration of the call. */
struct report_input {
	int64_t batch;
	int run_date;
	long card, cert, reinquiries;
	long card_without_jlis_id;           /* card renewals without J-LIS's 申請書ID: counter or mail only */
	const char *const *excluded_reasons; /* select_reason_name() keys */
	const long *excluded_counts;
	size_t n_excluded;
	long returned_waiting, returned_remailed; /* returned mail (返戻): waiting for a new address, re-mailed */
	const struct report_hold *holds;          /* listed by ID with the reason, and how to act on them */
	size_t n_holds;
	const struct report_stage *stages;
	size_t n_stages;
	const long *forecast; /* forecast_weeks counts, week w from forecast_from + 7w; NULL: no chart */
	int forecast_from;
	int forecast_weeks;
};

/* Appends the summary to out (Japanese, one item per line). KG_EIO if dir cannot be listed. */
enum kg_err report_summary(const char *dir, const struct report_input *in, struct sbuf *out) KG_WUR;

/* Writes dir/report.html and dir/forecast.png. KG_ERENDER when cairo or pango fail, KG_EIO for the disk. */
enum kg_err report_write(const char *dir, const struct report_input *in) KG_WUR;

#endif
