/*
 * returns.c: returned mail, as returns.h states.
 */
#include "returns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "banned.h"

static const char *const reasons[RETURNS_N_REASONS][2] = {
	[RETURNS_NO_SUCH_ADDRESSEE] = {"no_such_addressee", "宛所不明（あて所に尋ねあたりません）"},
	[RETURNS_MOVED_UNKNOWN] = {"moved_unknown", "転居先不明"},
	[RETURNS_REFUSED] = {"refused", "受取拒否"},
	[RETURNS_INCOMPLETE] = {"incomplete_address", "あて名不完全"},
	[RETURNS_UNCLAIMED] = {"unclaimed", "保管期間経過"},
	[RETURNS_OTHER] = {"other", "その他"},
};

const char *returns_reason_name(enum returns_reason r)
{
	return (size_t)r < RETURNS_N_REASONS ? reasons[r][0] : "?";
}

const char *returns_reason_label(enum returns_reason r)
{
	return (size_t)r < RETURNS_N_REASONS ? reasons[r][1] : "?";
}

int returns_reason_parse(const char *name)
{
	for (int i = 0; i < RETURNS_N_REASONS; i++)
		if (!strcmp(name, reasons[i][0]))
			return i;
	return -1;
}

const char *returns_label_of(const char *name)
{
	int r = returns_reason_parse(name);
	return r < 0 ? name : reasons[r][1];
}

/* B0001-000001 as printed on the mailing envelope (render.c's sequence code). */
static bool parse_seq_code(const char *code, int *batch, int *seq)
{
	if ((code[0] != 'B' && code[0] != 'b') || strlen(code) != 12 || code[5] != '-')
		return false;
	for (int i = 1; i < 12; i++)
		if (i != 5 && (code[i] < '0' || code[i] > '9'))
			return false;
	*batch = (int)strtol(code + 1, NULL, 10);
	*seq = (int)strtol(code + 6, NULL, 10);
	return *batch > 0 && *seq > 0;
}

enum kg_err returns_find(struct store *st, const char *code, struct store_mailed *out)
{
	int batch, seq;
	if (parse_seq_code(code, &batch, &seq))
		return store_mailed_by_seq(st, batch, seq, out);
	if (rules_appid_valid(code))
		return store_mailed_by_app_id(st, code, out);
	return kg_fail(KG_EINPUT, "'%.40s' is neither an envelope code (B0001-000001) nor an application ID", code);
}

enum kg_err returns_mark(struct store *st, const char *code, enum returns_reason reason, const char *terminal,
                         const char *staff, struct store_mailed *out, bool *added)
{
	*added = false;
	if ((size_t)reason >= RETURNS_N_REASONS)
		return kg_fail(KG_EINPUT, "no such reason for returned mail");
	enum kg_err err = store_begin(st);
	if (err)
		return err;
	if ((err = returns_find(st, code, out)))
		goto out;
	if (*out->returned_reason)
		goto out; /* recorded before: nothing changes */
	if (out->state != STORE_QUEUED && out->state != STORE_PRINTED) {
		err = kg_fail(KG_ESTATE,
		              "notice %s is not out in the mail (already used at the counter, replaced or void)",
		              out->app_id);
		goto out;
	}
	if ((err = store_returned_add(st, out->notice, returns_reason_name(reason), terminal, staff, added)) ||
	    (err = store_commit(st)))
		goto out;
	snprintf(out->returned_reason, sizeof out->returned_reason, "%s", returns_reason_name(reason));
out:
	store_rollback(st); /* a no-op after the commit */
	return err;
}
