/*
 * jobticket.h: job.json, the job ticket: the batch's facts for the print shop's machines, beside
 * manifest.xlsx for its staff. Batch, run date, counts, pieces per kind, the pre-printed inserts
 * per group, exclusions, discounts, the postage mark, and per print file its seq range, pages,
 * bytes, SHA-256 and stock: paper, size_mm, sides, colour, folds and the envelope it goes into.
 */
#ifndef JOBTICKET_H
#define JOBTICKET_H

#include "kg.h"
#include "manifest.h"
#include "manifest_facts.h"
#include "settings.h"

/* Writes dir/job.json through afile.h; s may be NULL (no inserts, no postage mark). */
enum kg_err jobticket_write(const char *dir, const struct settings *s, const struct manifest_batch *b,
                            const struct manifest_totals *t) KG_WUR;

#endif
