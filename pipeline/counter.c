/*
 * counter.c: the redemption, in the order counter.h states. The card is touched only after
 * everything that can be decided without it has been; PINs are checked for format before the
 * card is touched, all retry counters are read before the first VERIFY, and each PIN is sent
 * at most once.
 */
#include "counter.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rules.h"
#include "banned.h"

static const struct {
	const char *name, *verdict, *next;
} outcomes[COUNTER_N_OUTCOMES] = {
	[COUNTER_REDEEMED] = {"redeemed", "確認できました（暗証番号はすべて一致）",
                              "電子証明書の更新手続を進めてください。この照会書兼回答書は使用済みです。"},
	[COUNTER_PIN_MISMATCH] =
		{"pin_mismatch", "暗証番号が一致しません",
                 "代理人申請はできません。文書照会により新しい照会書兼回答書をご本人あてに転送不要郵便で送付します。"},
	[COUNTER_FORM_EXPIRED] = {"form_expired", "照会書兼回答書の有効期限が過ぎています",
                                  "文書照会により新しい照会書兼回答書をご本人あてに転送不要郵便で送付します。"},
	[COUNTER_CARD_MISMATCH] =
		{"card_mismatch", "カードがご本人のものと一致しません",
                 "暗証番号は照合していません。ご本人のマイナンバーカードをお持ちいただいてください。"},
	[COUNTER_PIN_AT_RISK] = {"pin_at_risk", "暗証番号の残り試行回数が減っています",
                                 "照合すると閉塞するおそれがあるため照合していません。ご本人の来庁が必要です。"},
	[COUNTER_NOT_MY_NUMBER_CARD] = {"not_my_number_card", "マイナンバーカードではありません",
                                        "読み取ったカードを確認し、マイナンバーカードを挿し直してください。"},
	[COUNTER_ALREADY_REDEEMED] = {"already_redeemed", "この照会書兼回答書は使用済みです",
                                      "同じ照会書兼回答書は一度しか使えません。記録を確認してください。"},
	[COUNTER_UNKNOWN_ID] = {"unknown_id", "通知番号が見つかりません",
                                "通知番号を読み取り直すか、入力を確認してください。"},
	[COUNTER_READER_ERROR] = {"reader_error", "カードリーダーでエラーが発生しました",
                                  "カードとリーダーの接続を確認し、やり直してください。"},
	[COUNTER_VOID] = {"void", "この照会書兼回答書は無効です（再照会済みなど）",
                          "新しい照会書兼回答書をお持ちいただいてください。"},
	[COUNTER_PIN_MALFORMED] = {"pin_malformed", "暗証番号の形式が正しくありません（カードには送っていません）",
                                   "照会書兼回答書の記入内容を確認し、入力し直してください。"},
	[COUNTER_VERIFY_UNKNOWN] =
		{"verify_unknown", "照合中にカードとの通信が途切れました",
                 "結果は不明です。残り試行回数を再確認しました。表示を確認し、ご本人の来庁をご案内してください。"},
	[COUNTER_MAINTENANCE] = {"maintenance", "本日はシステムのメンテナンス日です",
                                 "窓口での電子証明書の手続はできません。別の日にお越しください。"},
	[COUNTER_CARD_PROFILE] =
		{"card_profile", "カードの暗証番号の場所が設定と一致しません",
                 "暗証番号は照合していません。システム管理者に連絡してください（counter.juki_application）。"},
};

const char *counter_outcome_name(enum counter_outcome o)
{
	return (size_t)o < COUNTER_N_OUTCOMES ? outcomes[o].name : "?";
}

const char *counter_verdict(enum counter_outcome o)
{
	return (size_t)o < COUNTER_N_OUTCOMES ? outcomes[o].verdict : "?";
}

const char *counter_next_step(enum counter_outcome o)
{
	return (size_t)o < COUNTER_N_OUTCOMES ? outcomes[o].next : "";
}

void counter_pins_wipe(struct counter_pins *pins)
{
	explicit_bzero(pins, sizeof *pins);
}

static void view_of(const struct store_notice *n, struct counter_view *v)
{
	memset(v, 0, sizeof *v);
	snprintf(v->app_id, sizeof v->app_id, "%s", n->app_id);
	snprintf(v->name, sizeof v->name, "%s", n->name);
	v->target = n->target;
	v->kind = n->kind;
	v->certs = n->certs;
	v->valid_until = n->valid_until;
	v->has_sign_cert = n->has_sign_cert;
}

enum kg_err counter_lookup(struct store *st, const char *app_id, struct counter_view *out)
{
	if (!rules_appid_valid(app_id))
		return kg_fail(KG_EINPUT, "'%s' is not an application ID (23 digits with a check digit)", app_id);
	struct store_notice n;
	enum kg_err err = store_notice_by_app_id(st, app_id, &n);
	if (err)
		return err;
	view_of(&n, out);
	store_notice_release(&n);
	return KG_OK;
}

/* Serials compare as numbers written in hex: case and leading zeros do not matter. */
static bool same_serial(const char *a, const char *b)
{
	while (*a == '0')
		a++;
	while (*b == '0')
		b++;
	return *a && !strcasecmp(a, b);
}

/* Which PINs the form must hold: the 署名用 box exists only for a holder with a signature cert. */
static bool pin_needed(const struct store_notice *n, enum card_pin p)
{
	return p != CARD_PIN_SIGN || n->has_sign_cert;
}

static enum counter_outcome set_outcome(struct counter_result *res, enum counter_outcome o, const char *fmt, ...)
	KG_PRINTF(3, 4);
static enum counter_outcome set_outcome(struct counter_result *res, enum counter_outcome o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->detail, sizeof res->detail, fmt, ap);
	va_end(ap);
	return res->outcome = o;
}

enum kg_err counter_bind_reader(const char *bound, char **out)
{
	char **names;
	size_t n;
	*out = NULL;
	/* No PC/SC service: nothing to choose from; what needs no card (a void or expired form) is
	 * still answered, and the card step ends as reader_error. */
	if (card_list_readers(&names, &n))
		return KG_OK;
	enum kg_err err = KG_OK;
	bool known = false;
	for (size_t i = 0; bound && i < n; i++)
		known |= !strcmp(names[i], bound);
	if ((bound && known) || (!bound && n == 1)) {
		*out = kg_strdup(bound ? bound : names[0]);
	} else if (bound || n > 1) {
		char list[1024] = "";
		size_t len = 0;
		for (size_t i = 0; i < n && len < sizeof list; i++)
			len += (size_t)snprintf(list + len, sizeof list - len, "%s'%s'", i ? ", " : "", names[i]);
		err = bound ? kg_fail(KG_EINPUT, "no card reader named '%s' (the readers: %s)", bound,
		                      n ? list : "none")
		            : kg_fail(KG_EINPUT,
		                      "%zu card readers and none chosen: give --reader NAME or set counter.reader "
		                      "(the readers: %s)",
		                      n, list);
	}
	card_free_readers(names, n);
	return err;
}

/* How many exclusive connections one redemption may make: the first, one power cycle to clear a
 * verified state, one more after a lost transaction. Beyond that the reader is not reliable. */
#define COUNTER_CONNECTIONS 3

/* A step of the check: go on, the outcome is set, or the exclusive transaction was lost. */
enum step { STEP_ON, STEP_DONE, STEP_LOST };

/* Why the card failed: a lost transaction starts over, anything else is a reader error. */
static enum step card_failed(struct card *card, struct counter_result *res, const char *what)
{
	if (card_lost(card))
		return STEP_LOST;
	set_outcome(res, COUNTER_READER_ERROR, "%s: %s", what, kg_last_message());
	return STEP_DONE;
}

/* The card is a My Number card whose user-auth certificate is the holder's. */
static enum step check_identity(struct card *card, const struct store_notice *n, struct counter_result *res)
{
	bool mynumber;
	struct card_cert cert;
	if (card_is_mynumber(card, &mynumber))
		return card_failed(card, res, "identify");
	if (!mynumber) {
		set_outcome(res, COUNTER_NOT_MY_NUMBER_CARD, "token label '%s'", card_token_label(card));
		return STEP_DONE;
	}
	if (card_read_auth_cert(card, &cert))
		return card_failed(card, res, "certificate");
	if (!same_serial(cert.serial, n->auth_serial) || cert.not_after != n->auth_expires) {
		char d[RULES_DATE_LEN];
		rules_format_date(cert.not_after, d);
		set_outcome(res, COUNTER_CARD_MISMATCH, "card certificate serial %s, expiry %s", cert.serial, d);
		return STEP_DONE;
	}
	return STEP_ON;
}

/* The application a VERIFY of p goes to: the card profile's for the 住基 PIN, JPKI otherwise. */
static enum card_app verify_app(const struct settings *set, enum card_pin p)
{
	return p == CARD_PIN_JUKI ? set->juki_app : CARD_APP_JPKI;
}

/*
 * Every counter of the PINs the form uses, in every application of the card table that may hold
 * it and that the card answers in, all before the first VERIFY. *verified: some PIN is verified
 * in this power session, so its counter is unknown: the caller power-cycles and starts over.
 */
static enum step check_counters(struct card *card, const struct settings *set, const struct store_notice *n,
                                struct counter_result *res, bool *verified)
{
	bool at_risk = false;
	*verified = false;
	for (int p = 0; p < CARD_PIN_COUNT; p++) {
		if (!pin_needed(n, p))
			continue;
		/* The application the VERIFY goes to last: it is then still selected for the VERIFY. */
		enum card_app order[CARD_APP_COUNT], va = verify_app(set, p);
		int k = 0;
		for (int a = 0; a < CARD_APP_COUNT; a++)
			if (a != (int)va && card_pin_in_app(p, a))
				order[k++] = a;
		order[k++] = va;
		for (int i = 0; i < k; i++) {
			enum card_counter state;
			int left;
			char what[64];
			snprintf(what, sizeof what, "retries of %s in %s", card_pin_name(p), card_app_name(order[i]));
			if (card_retries(card, p, order[i], &state, &left))
				return card_failed(card, res, what);
			if (state == CARD_COUNTER_ABSENT) {
				if (order[i] != va)
					continue;
				res->failed_pin = p;
				set_outcome(res, COUNTER_CARD_PROFILE,
				            "the %s PIN is not in %s, where the settings send it", card_pin_name(p),
				            card_app_name(va));
				return STEP_DONE;
			}
			res->apps |= 1u << order[i];
			if (state == CARD_COUNTER_VERIFIED) {
				*verified = true;
				continue;
			}
			if (order[i] == va || left < card_max_tries(p))
				res->retries[p] = left;
			/* The first counter below its maximum decides; the others are still read, for staff. */
			if (left < card_max_tries(p) && !at_risk) {
				at_risk = true;
				res->failed_pin = p;
				set_outcome(res, COUNTER_PIN_AT_RISK,
				            "%s PIN has %d of %d tries left in %s; nothing verified", card_pin_name(p),
				            left, card_max_tries(p), card_app_name(order[i]));
			}
		}
	}
	return at_risk ? STEP_DONE : STEP_ON;
}

/* One VERIFY per PIN, each to its application; stops at the first that fails. The order is the
 * reverse of the queries', so the first VERIFY goes to the file the last query left selected and
 * a 3-PIN redemption needs no SELECT it can do without (README: 23 APDUs). */
static enum step verify_all(struct card *card, const struct settings *set, const struct store_notice *n,
                            struct counter_pins *pins, struct counter_result *res)
{
	for (int p = CARD_PIN_COUNT - 1; p >= 0; p--) {
		if (!pin_needed(n, p))
			continue;
		enum card_verify v;
		int left = -1;
		enum kg_err err = card_verify_pin(card, p, verify_app(set, p), pins->pin[p], &v, &left);
		res->failed_pin = p;
		if (v == CARD_VERIFY_UNKNOWN) {
			if (!err) /* the transport failed with the PIN on its way: what the card did is unknown */
				return STEP_LOST;
			set_outcome(res, COUNTER_READER_ERROR, "verify %s: %s", card_pin_name(p), kg_last_message());
			return STEP_DONE;
		}
		res->retries[p] = left;
		if (v != CARD_VERIFY_OK) {
			set_outcome(res, v == CARD_VERIFY_WRONG ? COUNTER_PIN_MISMATCH : COUNTER_PIN_AT_RISK,
			            "%s PIN %s; %d tries left; no further PIN tried", card_pin_name(p),
			            v == CARD_VERIFY_WRONG ? "did not match" : "is locked", left);
			return STEP_DONE;
		}
	}
	set_outcome(res, COUNTER_REDEEMED, "all PINs verified");
	return STEP_DONE;
}

/* After a VERIFY whose outcome is unknown: whose card is it now, and what do its counters say? */
static void after_unknown(struct card *card, const struct settings *set, const struct store_notice *n,
                          struct counter_result *res)
{
	enum card_pin p = res->failed_pin;
	char lost[160];
	snprintf(lost, sizeof lost, "connection lost during VERIFY of %s", card_pin_name(p));
	for (int i = 0; i < CARD_PIN_COUNT; i++)
		res->retries[i] = -1;
	res->apps = 0;
	struct counter_result probe = *res;
	bool verified;
	enum step s = STEP_LOST;
	for (int tries = 0; s == STEP_LOST && tries < 2; tries++) {
		res->connections++;
		if (card_reconnect(card))
			break;
		if ((s = check_identity(card, n, &probe)) == STEP_ON)
			s = check_counters(card, set, n, &probe, &verified);
	}
	if (s != STEP_LOST && probe.outcome == COUNTER_CARD_MISMATCH) {
		set_outcome(res, COUNTER_VERIFY_UNKNOWN, "%s; the card now in the reader is not the holder's (%s)",
		            lost, probe.detail);
		return;
	}
	if (s != STEP_LOST && (s == STEP_ON || probe.outcome == COUNTER_PIN_AT_RISK)) {
		memcpy(res->retries, probe.retries, sizeof res->retries);
		res->apps = probe.apps;
	}
	set_outcome(res, COUNTER_VERIFY_UNKNOWN, "%s; counter re-read after reconnecting: %d of %d", lost,
	            res->retries[p], card_max_tries(p));
}

/* Everything with the card in the reader; returns the outcome. */
static enum counter_outcome check_card(const struct settings *set, const struct counter_desk *desk,
                                       const struct store_notice *n, struct counter_pins *pins,
                                       struct counter_result *res)
{
	struct card *card = NULL;
	if (card_connect(desk->reader, &card)) {
		set_outcome(res, COUNTER_READER_ERROR, "connect: %s", kg_last_message());
		goto out;
	}
	res->connections = 1;
	for (;;) {
		/* A new exclusive transaction: nothing read under an earlier one counts. */
		for (int p = 0; p < CARD_PIN_COUNT; p++)
			res->retries[p] = -1;
		res->apps = 0;
		bool verified = false;
		enum step s = check_identity(card, n, res);
		if (s == STEP_ON && pins->face) {
			set_outcome(res, COUNTER_REDEEMED, "face authentication chosen: card matched, no PIN verified");
			break;
		}
		if (s == STEP_ON)
			s = check_counters(card, set, n, res, &verified);
		if (s == STEP_ON && !verified && (s = verify_all(card, set, n, pins, res)) == STEP_LOST) {
			after_unknown(card, set, n, res);
			break;
		}
		if (s == STEP_DONE)
			break;
		/* Lost, or a PIN verified in this power session: power-cycle and start over. */
		if (res->connections >= COUNTER_CONNECTIONS) {
			set_outcome(res, COUNTER_READER_ERROR, "%s after %d connections; nothing verified",
			            verified ? "a PIN still reads as verified"
			                     : "the card kept dropping the connection",
			            res->connections);
			break;
		}
		res->connections++;
		if (card_reconnect(card)) {
			set_outcome(res, COUNTER_READER_ERROR, "reconnect: %s", kg_last_message());
			break;
		}
	}
out:
	res->apdus = card ? card_apdu_count(card) : 0;
	card_disconnect(card);
	return res->outcome;
}

/* Records the outcome, moving the notice where the outcome says. */
static enum kg_err record(struct store *st, const struct counter_desk *desk, const struct store_notice *n,
                          const char *app_id, struct counter_result *res)
{
	enum kg_err err = store_begin(st);
	if (err)
		return err;
	if (n && (res->outcome == COUNTER_REDEEMED || res->outcome == COUNTER_PIN_MISMATCH ||
	          res->outcome == COUNTER_FORM_EXPIRED)) {
		enum store_notice_state to = res->outcome == COUNTER_REDEEMED ? STORE_REDEEMED : STORE_REINQUIRE;
		bool moved = false;
		/* From the state it was read in: of two counters racing on one form, exactly one moves it. */
		if ((err = store_notice_transition(st, n->id, n->state, to, &moved)))
			goto out;
		if (!moved)
			set_outcome(res, COUNTER_ALREADY_REDEEMED, "another counter used this form first");
	}
	/* What the card profile met (which applications answered) and a date set by hand. */
	char detail[sizeof res->detail + 160];
	size_t len = (size_t)snprintf(detail, sizeof detail, "%s", res->detail);
	for (int a = 0, first = 1; a < CARD_APP_COUNT && len < sizeof detail; a++)
		if (res->apps >> a & 1u) {
			len += (size_t)snprintf(detail + len, sizeof detail - len, "%s%s",
			                        first ? "; applications answered: " : ",", card_app_name(a));
			first = 0;
		}
	if (desk->date_given && len < sizeof detail) {
		char d[RULES_DATE_LEN];
		rules_format_date(desk->today, d);
		snprintf(detail + len, sizeof detail - len, "; date given by hand (--date %s)", d);
	}
	if ((err = store_audit(st, n ? n->id : 0, app_id, desk->terminal, desk->staff,
	                       counter_outcome_name(res->outcome), detail)))
		goto out;
	err = store_commit(st);
out:
	if (err)
		store_rollback(st);
	return err;
}

enum kg_err counter_redeem(struct store *st, const struct settings *set, const struct counter_desk *desk,
                           const char *app_id, struct counter_pins *pins, struct counter_result *res)
{
	memset(res, 0, sizeof *res);
	for (int p = 0; p < CARD_PIN_COUNT; p++)
		res->retries[p] = -1;
	struct store_notice n = {0};
	bool found = false;
	enum kg_err err = KG_OK;

	if (rules_is_maintenance_day(&set->policy, desk->today)) {
		set_outcome(res, COUNTER_MAINTENANCE, "maintenance day (3rd Saturday or the Sunday after it)");
		goto record;
	}
	if (!rules_appid_valid(app_id)) {
		set_outcome(res, COUNTER_UNKNOWN_ID, "not 23 digits with a valid check digit");
		goto record;
	}
	err = store_notice_by_app_id(st, app_id, &n);
	if (err == KG_ENOTFOUND) {
		err = KG_OK;
		set_outcome(res, COUNTER_UNKNOWN_ID, "no such notice");
		goto record;
	}
	if (err)
		goto out;
	found = res->found = true;
	view_of(&n, &res->notice);

	if (n.state == STORE_REDEEMED) {
		set_outcome(res, COUNTER_ALREADY_REDEEMED, "redeemed before");
		goto record;
	}
	if (n.state != STORE_QUEUED && n.state != STORE_PRINTED) {
		set_outcome(res, COUNTER_VOID, "notice state %d", n.state);
		goto record;
	}
	if (n.kind == MAILSET_NOTICE && n.target == MAILSET_CARD) {
		set_outcome(res, COUNTER_UNKNOWN_ID, "a card-renewal notice has no 照会書兼回答書");
		goto record;
	}
	if (desk->today > n.valid_until) {
		set_outcome(res, COUNTER_FORM_EXPIRED, "form valid until day %d", n.valid_until);
		goto record;
	}
	if (!pins->face) {
		for (int p = 0; p < CARD_PIN_COUNT; p++) {
			if (pin_needed(&n, p) && !card_pin_well_formed(p, pins->pin[p])) {
				res->failed_pin = p;
				set_outcome(res, COUNTER_PIN_MALFORMED, "%s PIN is not well-formed; nothing sent",
				            card_pin_name(p));
				goto record;
			}
		}
	}
	check_card(set, desk, &n, pins, res);
record:
	err = record(st, desk, found ? &n : NULL, app_id, res);
out:
	counter_pins_wipe(pins);
	if (found)
		store_notice_release(&n);
	return err;
}
