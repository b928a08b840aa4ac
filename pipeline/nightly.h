/*
 * nightly.h: the stage runner. select -> render -> export -> report, each stage's completion
 * recorded in the batch's state, so a run that died (power cut, kill -9, full disk) is finished
 * by the next run exactly once: selection is one transaction, every file is written under a
 * temporary name and renamed, a file already under its final name is not rewritten, and the
 * outputs are deterministic, so a resumed batch is byte for byte the batch an uninterrupted
 * run would have made. SHA256SUMS, written last, marks a batch folder complete.
 *
 * One run at a time: nightly_lock() takes an exclusive lock next to the database before the
 * database is touched; a second run gets KG_ELOCKED naming the holder. On a server database
 * (store_is_server) the lock is the database's run lock instead (store_run_lock), held by a
 * connection of its own, so it also keeps apart machines that share only the database; there,
 * what "render" takes it shared, so several machines may render one batch into a shared folder
 * (`kigen render --batch N` on each: every file is claimed in the database before it is made,
 * and a dead renderer's claims are taken over when their lease runs out, KIGEN_RENDER_LEASE
 * seconds, 120 by default).
 */
#ifndef NIGHTLY_H
#define NIGHTLY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kg.h"
#include "sbuf.h"
#include "select.h"
#include "settings.h"
#include "store.h"

struct nightly_lock;
enum kg_err nightly_lock(const char *db_path, const char *what, struct nightly_lock **out) KG_WUR;
void nightly_unlock(struct nightly_lock *l);

/* How a run talks: log lines with timestamps (NULL: none), a progress bar (on a terminal). */
struct nightly_io {
	FILE *log;
	bool progress;
};

/* What one batch's stages did, for the report. */
struct nightly_batch_report {
	int64_t batch;
	int run_date;
	char dir[512];
	long notices, card, cert, reinquiries;
	long card_without_jlis_id; /* card renewals without J-LIS's 申請書ID (counter or mail only) */
	double seconds[4];         /* select, render, export, report */
	bool stage_ran[4];
};

struct nightly_env {
	struct store *store;
	const struct settings *settings;
	const char *db_path; /* workers open their own connection */
	const char *out_dir;
	int workers;
	struct nightly_io io;
	struct sbuf *summary; /* the report's summary text is appended here (NULL: none) */
};

/* The batch folder: OUT/YYYY-MM-DD/batch-NNNN. */
void nightly_batch_dir(const char *out_dir, int run_date, int64_t batch, char *buf, size_t size);

/* Stage 1 with the renderer's verdict on every set (render_check: fonts, 代替文字, box sizes,
 * an address to mail to): a set that cannot be printed is made a HELD notice and never gets a
 * sequence number. The render stage checks again as the last line of defence: a set it cannot
 * draw is held there, the batch renumbered and its files made again. */
enum kg_err nightly_select(const struct nightly_env *env, int run_date, bool dry_run, struct select_result *res) KG_WUR;

/* Single stages (each does nothing if the batch is already past it). */
enum kg_err nightly_render(const struct nightly_env *env, int64_t batch, struct nightly_batch_report *rep) KG_WUR;
enum kg_err nightly_export(const struct nightly_env *env, int64_t batch, struct nightly_batch_report *rep) KG_WUR;

/* Staff's commands on one notice (kigen notice hold | release | void), by application ID:
 * HOLD a notice not yet printed (queued in a batch not yet exported, or released), RELEASE a
 * held one (the next selection prints it), VOID any that is not final (redeemed, replaced, void).
 * A notice that leaves its batch has the batch renumbered and sent back to render (store.h,
 * holds). by and reason are recorded (reason required for hold and void). *before gets the
 * notice as it was. Call with the run lock held: a batch may be renumbered. */
enum nightly_notice_action { NIGHTLY_HOLD, NIGHTLY_RELEASE, NIGHTLY_VOID };
enum kg_err nightly_notice(const struct nightly_env *env, enum nightly_notice_action action, const char *app_id,
                           const char *by, const char *reason, struct store_notice_ref *before) KG_WUR;

/* The whole job for run_date: first finishes every unfinished batch, then selects and finishes
 * a new one. *reports (caller frees) lists the batches it worked on. */
enum kg_err nightly_run(const struct nightly_env *env, int run_date, struct select_result *sel,
                        struct nightly_batch_report **reports, size_t *n_reports) KG_WUR;

#endif
