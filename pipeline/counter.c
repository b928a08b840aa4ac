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
	[COUNTER_UNKNOWN_ID] = {"unknown_id", "申請書IDが見つかりません",
                                "申請書IDを読み取り直すか、入力を確認してください。"},
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

/* Everything with the card in the reader; returns the outcome. */
static enum counter_outcome check_card(const struct counter_desk *desk, const struct store_notice *n,
                                       struct counter_pins *pins, struct counter_result *res)
{
	struct card *card = NULL;
	enum counter_outcome o;
	if (card_connect(desk->reader, &card)) {
		o = set_outcome(res, COUNTER_READER_ERROR, "connect: %s", kg_last_message());
		goto out;
	}
	bool mynumber;
	if (card_is_mynumber(card, &mynumber)) {
		o = set_outcome(res, COUNTER_READER_ERROR, "identify: %s", kg_last_message());
		goto out;
	}
	if (!mynumber) {
		o = set_outcome(res, COUNTER_NOT_MY_NUMBER_CARD, "token label '%s'", card_token_label(card));
		goto out;
	}
	struct card_cert cert;
	if (card_read_auth_cert(card, &cert)) {
		o = set_outcome(res, COUNTER_READER_ERROR, "certificate: %s", kg_last_message());
		goto out;
	}
	if (!same_serial(cert.serial, n->auth_serial) || cert.not_after != n->auth_expires) {
		char d[RULES_DATE_LEN];
		rules_format_date(cert.not_after, d);
		o = set_outcome(res, COUNTER_CARD_MISMATCH, "card certificate serial %s, expiry %s", cert.serial, d);
		goto out;
	}
	if (pins->face) {
		o = set_outcome(res, COUNTER_REDEEMED, "face authentication chosen: card matched, no PIN verified");
		goto out;
	}

	/* Every counter at its maximum before the first VERIFY: a lock must never be ours. */
	for (int p = 0; p < CARD_PIN_COUNT; p++) {
		if (!pin_needed(n, p))
			continue;
		bool verified;
		int left;
		if (card_retries(card, p, &left, &verified)) {
			o = set_outcome(res, COUNTER_READER_ERROR, "retries of %s: %s", card_pin_name(p),
			                kg_last_message());
			goto out;
		}
		if (verified) { /* verified earlier in this power session: power-cycle and ask again */
			if (card_reconnect(card) || card_retries(card, p, &left, &verified)) {
				o = set_outcome(res, COUNTER_READER_ERROR, "retries of %s: %s", card_pin_name(p),
				                kg_last_message());
				goto out;
			}
		}
		res->retries[p] = left;
		if (left < card_max_tries(p)) {
			res->failed_pin = p;
			o = set_outcome(res, COUNTER_PIN_AT_RISK, "%s PIN has %d of %d tries left; nothing verified",
			                card_pin_name(p), left, card_max_tries(p));
			goto out;
		}
	}
	for (int p = 0; p < CARD_PIN_COUNT; p++) {
		if (!pin_needed(n, p))
			continue;
		enum card_verify v;
		int left = -1;
		enum kg_err err = card_verify_pin(card, p, pins->pin[p], &v, &left);
		if (v == CARD_VERIFY_UNKNOWN) {
			res->failed_pin = p;
			res->retries[p] = -1; /* what was read before the VERIFY is stale now */
			bool verified = false;
			int now = -1;
			if (!err && !card_reconnect(card) && !card_retries(card, p, &now, &verified))
				res->retries[p] = now;
			if (err)
				o = set_outcome(res, COUNTER_READER_ERROR, "verify %s: %s", card_pin_name(p),
				                kg_last_message());
			else
				o = set_outcome(res, COUNTER_VERIFY_UNKNOWN,
				                "connection lost during VERIFY of %s; counter re-read: %d of %d",
				                card_pin_name(p), res->retries[p], card_max_tries(p));
			goto out;
		}
		res->retries[p] = left;
		if (v != CARD_VERIFY_OK) {
			res->failed_pin = p;
			o = set_outcome(res, v == CARD_VERIFY_WRONG ? COUNTER_PIN_MISMATCH : COUNTER_PIN_AT_RISK,
			                "%s PIN %s; %d tries left; no further PIN tried", card_pin_name(p),
			                v == CARD_VERIFY_WRONG ? "did not match" : "is locked", left);
			goto out;
		}
	}
	o = set_outcome(res, COUNTER_REDEEMED, "all PINs verified");
out:
	card_disconnect(card);
	return o;
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
	if ((err = store_audit(st, n ? n->id : 0, app_id, desk->terminal, desk->staff,
	                       counter_outcome_name(res->outcome), res->detail)))
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
		set_outcome(res, COUNTER_MAINTENANCE, "maintenance Sunday");
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
	check_card(desk, &n, pins, res);
record:
	err = record(st, desk, found ? &n : NULL, app_id, res);
out:
	counter_pins_wipe(pins);
	if (found)
		store_notice_release(&n);
	return err;
}
