/*
 * webdesk.c: the desk's pages and actions, as webdesk.h lists them. The redemption and its
 * safety order are counter_redeem()'s; this file turns requests into its calls and its results
 * into Japanese for staff.
 */
#include "webdesk.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cardcheck.h"
#include "counter.h"
#include "desk.h"
#include "returns.h"
#include "rules.h"
#include "banned.h"

/* The page, its script and its style, compiled in from templates/web/ (NUL-terminated). */
#define ASSET(sym, file)                                                                                     \
	__asm__(".section .rodata\n.global " #sym "\n.balign 16\n" #sym ":\n.incbin \"" file "\"\n.byte 0\n" \
	        ".previous\n");                                                                              \
	extern const char sym[]
ASSET(kigen_web_index_html, "templates/web/index.html");
ASSET(kigen_web_desk_js, "templates/web/desk.js");
ASSET(kigen_web_desk_css, "templates/web/desk.css");

static int today_of(const struct webdesk *d)
{
	if (d->date != RULES_NO_DATE)
		return d->date;
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	return rules_from_ymd(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* The page with its placeholders filled: the session's CSRF token, the terminal, the reasons. */
static void page(const struct webdesk *d, const struct web_request *req, struct web_reply *rep)
{
	rep->type = "text/html; charset=utf-8";
	for (const char *p = kigen_web_index_html; *p;) {
		const char *open = strstr(p, "{{");
		if (!open) {
			sbuf_adds(&rep->body, p);
			break;
		}
		sbuf_add(&rep->body, p, (size_t)(open - p));
		const char *close = strstr(open, "}}");
		if (!close)
			break;
		size_t n = (size_t)(close - open - 2);
		if (n == 4 && !strncmp(open + 2, "csrf", 4)) {
			sbuf_adds(&rep->body, web_session_csrf(req->session));
		} else if (n == 8 && !strncmp(open + 2, "terminal", 8)) {
			sbuf_add_html(&rep->body, d->terminal);
		} else if (n == 7 && !strncmp(open + 2, "reasons", 7)) {
			for (int r = 0; r < RETURNS_N_REASONS; r++) {
				sbuf_addf(&rep->body,
				          "      <label class=\"check\"><input type=\"radio\" name=\"reason\" "
				          "value=\"%s\"> %d ",
				          returns_reason_name(r), r + 1);
				sbuf_add_html(&rep->body, returns_reason_label(r));
				sbuf_adds(&rep->body, "</label>\n");
			}
		}
		p = close + 2;
	}
}

/* --- JSON ----------------------------------------------------------------------------------- */

static void json_str(struct sbuf *b, const char *key, const char *value)
{
	sbuf_addf(b, "%s\"%s\": ", b->len > 1 ? ", " : "", key);
	sbuf_add_json(b, value);
}

static void json_bool(struct sbuf *b, const char *key, bool value)
{
	sbuf_addf(b, "%s\"%s\": %s", b->len > 1 ? ", " : "", key, value ? "true" : "false");
}

/* A refusal staff can act on: {"ok": false, "message": ...}. */
static void not_ok(struct web_reply *rep, const char *message)
{
	sbuf_reset(&rep->body);
	sbuf_adds(&rep->body, "{");
	json_bool(&rep->body, "ok", false);
	json_str(&rep->body, "message", message);
	sbuf_adds(&rep->body, "}");
}

/* The database failed: 500, and the reason in the server's log (never personal data or PINs). */
static void failed(struct web_reply *rep, const char *what)
{
	fprintf(stderr, "web: %s: %s\n", what, kg_last_message());
	rep->status = 500;
	not_ok(rep, "データベースでエラーが発生しました。窓口のパソコンの管理者に連絡してください。");
}

static void era_of(int day, char out[RULES_ERA_LEN])
{
	if (rules_era(day, out))
		rules_format_date(day, out);
}

/* --- sign-in -------------------------------------------------------------------------------- */

static bool staff_id_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 32)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '-' ||
		      *s == '_' || *s == '.'))
			return false;
	return true;
}

static void signin(struct webdesk *d, const struct web_request *req, struct web_reply *rep)
{
	char staff[64];
	if (!web_form_value(req->body, "staff", staff, sizeof staff) || !staff_id_ok(staff)) {
		not_ok(rep, "職員IDは英数字（1～32文字）です。読み取り直してください。");
		return;
	}
	if (store_audit(d->st, 0, "", d->terminal, staff, "signin", "web desk")) {
		failed(rep, "signin");
		return;
	}
	web_session_set_staff(req->session, staff);
	json_bool(&rep->body, "ok", true);
	json_str(&rep->body, "staff", staff);
}

static void signout(struct webdesk *d, const struct web_request *req, struct web_reply *rep)
{
	if (store_audit(d->st, 0, "", d->terminal, web_session_staff(req->session), "signout", "web desk")) {
		failed(rep, "signout");
		return;
	}
	web_session_set_staff(req->session, "");
	json_bool(&rep->body, "ok", true);
}

/* --- the counter ---------------------------------------------------------------------------- */

static void lookup(struct webdesk *d, const struct web_request *req, struct web_reply *rep)
{
	char id[64];
	struct counter_view v;
	enum kg_err err = web_form_value(req->body, "id", id, sizeof id) ? counter_lookup(d->st, id, &v) : KG_EINPUT;
	if (err == KG_EINPUT) {
		not_ok(rep, "通知番号の形式またはチェックデジットが正しくありません。読み取り直すか、入力を確認してくだ"
		            "さい。");
		return;
	}
	if (err == KG_ENOTFOUND) {
		not_ok(rep, "通知番号が見つかりません。読み取り直すか、入力を確認してください。");
		return;
	}
	if (err) {
		failed(rep, "lookup");
		return;
	}
	char era[RULES_ERA_LEN];
	era_of(v.valid_until, era);
	json_bool(&rep->body, "ok", true);
	json_str(&rep->body, "app_id", v.app_id);
	json_str(&rep->body, "name", v.name);
	json_str(&rep->body, "what", desk_what_label(&v));
	json_str(&rep->body, "valid_until", era);
	json_bool(&rep->body, "expired", today_of(d) > v.valid_until);
	json_bool(&rep->body, "has_sign_cert", v.has_sign_cert);
}

static void retries_text(struct sbuf *b, const int retries[CARD_PIN_COUNT])
{
	for (int p = 0; p < CARD_PIN_COUNT; p++)
		if (retries[p] >= 0)
			sbuf_addf(b, "%s%s 残り %d / %d 回", b->len ? "　" : "", card_pin_label((enum card_pin)p),
			          retries[p], card_max_tries((enum card_pin)p));
}

static void card_state(struct webdesk *d, const struct web_request *req, struct web_reply *rep)
{
	static const char *const names[] = {
		[CARDCHECK_NO_READER] = "no_reader",       [CARDCHECK_NO_CARD] = "no_card",
		[CARDCHECK_NOT_MYNUMBER] = "not_mynumber", [CARDCHECK_UNREADABLE] = "unreadable",
		[CARDCHECK_OTHER_HOLDER] = "other_holder", [CARDCHECK_HOLDER] = "holder",
	};
	char id[64];
	struct cardcheck c;
	enum kg_err err = web_form_value(req->body, "id", id, sizeof id) && rules_appid_valid(id)
	                          ? cardcheck_run(d->st, d->reader, id, &c)
	                          : KG_ENOTFOUND;
	if (err == KG_ENOTFOUND) {
		not_ok(rep, "通知番号が見つかりません。");
		return;
	}
	if (err) {
		failed(rep, "card");
		return;
	}
	char text[512];
	switch (c.state) {
	case CARDCHECK_NO_READER:
		snprintf(text, sizeof text, "カードリーダーが見つかりません。リーダーの接続を確認してください。");
		break;
	case CARDCHECK_NO_CARD:
		snprintf(text, sizeof text,
		         "カードリーダーにカードがありません。ご本人のマイナンバーカードを置いてください。");
		break;
	case CARDCHECK_NOT_MYNUMBER:
		snprintf(text, sizeof text, "置かれたカードはマイナンバーカードではありません。");
		break;
	case CARDCHECK_UNREADABLE:
		snprintf(text, sizeof text, "カードを読み取れません。カードを置き直してください。");
		break;
	case CARDCHECK_OTHER_HOLDER:
		snprintf(text, sizeof text,
		         "このカードはご本人のものではありません。暗証番号は照合しません。ご本人のカードを置いてくださ"
		         "い。");
		break;
	case CARDCHECK_HOLDER:
		snprintf(text, sizeof text, "%s",
		         c.at_risk
		                 ? "ご本人のカードですが、暗証番号の残り回数が減っています。照合すると閉塞するおそれが"
		                   "あるため照合できません。ご本人の来庁が必要です。"
		                 : "ご本人のカードです。照会書兼回答書の暗証番号を入力してください。");
		break;
	}
	struct sbuf r = SBUF_INIT;
	retries_text(&r, c.retries);
	json_bool(&rep->body, "ok", true);
	json_str(&rep->body, "state", names[c.state]);
	json_bool(&rep->body, "good", c.state == CARDCHECK_HOLDER && !c.at_risk);
	json_str(&rep->body, "text", text);
	json_str(&rep->body, "reader", c.reader);
	json_str(&rep->body, "retries", r.buf);
	sbuf_release(&r);
}

/* The redemption. The PINs go from the body straight into a locked, wiped struct; the body is
 * zeroed by web.c after this returns, and counter_redeem() wipes the struct on every path. */
static void redeem(struct webdesk *d, const struct web_request *req, struct web_reply *rep)
{
	static struct counter_pins pins; /* one thread serves every request (web.h) */
	static bool protected;
	if (!protected) {
		desk_protect(&pins);
		protected = true;
	}
	static const char *const keys[CARD_PIN_COUNT] = {"sign", "auth", "juki"};
	char id[64], face[4];
	memset(&pins, 0, sizeof pins);
	if (!web_form_value(req->body, "id", id, sizeof id))
		id[0] = '\0';
	pins.face = web_form_value(req->body, "face", face, sizeof face) && !strcmp(face, "1");
	for (int p = 0; p < CARD_PIN_COUNT && !pins.face; p++)
		(void)web_form_value(req->body, keys[p], pins.pin[p],
		                     sizeof pins.pin[p]); /* too long: "" (malformed) */
	struct counter_desk desk = {.terminal = d->terminal,
	                            .staff = web_session_staff(req->session),
	                            .reader = d->reader,
	                            .today = today_of(d),
	                            .date_given = d->date != RULES_NO_DATE};
	struct counter_result res;
	enum kg_err err = counter_redeem(d->st, d->set, &desk, id, &pins, &res);
	counter_pins_wipe(&pins);
	if (err) {
		failed(rep, "redeem");
		return;
	}
	struct sbuf note = SBUF_INIT;
	if (res.outcome == COUNTER_PIN_MISMATCH || res.outcome == COUNTER_PIN_AT_RISK ||
	    res.outcome == COUNTER_VERIFY_UNKNOWN || res.outcome == COUNTER_PIN_MALFORMED)
		sbuf_addf(&note, "対象の暗証番号: %s", card_pin_label(res.failed_pin));
	struct sbuf tries = SBUF_INIT;
	retries_text(&tries, res.retries);
	if (tries.len)
		sbuf_addf(&note, "%s%s", note.len ? "　" : "", tries.buf);
	json_bool(&rep->body, "ok", true);
	json_str(&rep->body, "outcome", counter_outcome_name(res.outcome));
	json_str(&rep->body, "verdict", counter_verdict(res.outcome));
	json_str(&rep->body, "next", counter_next_step(res.outcome));
	json_str(&rep->body, "pin_note", note.buf);
	sbuf_release(&note);
	sbuf_release(&tries);
}

struct today {
	struct sbuf *b;
	int n;
};

static enum kg_err today_row(void *ctx, const struct store_audit_row *r)
{
	struct today *t = ctx;
	int o = 0;
	while (o < COUNTER_N_OUTCOMES && strcmp(counter_outcome_name(o), r->outcome))
		o++;
	if (o == COUNTER_N_OUTCOMES)
		return KG_OK; /* sign-in and sign-out rows */
	char hm[6];
	snprintf(hm, sizeof hm, "%.5s", strlen(r->at) >= 16 ? r->at + 11 : "");
	sbuf_adds(t->b, t->n++ ? ", {\"time\": " : "{\"time\": ");
	sbuf_add_json(t->b, hm);
	sbuf_adds(t->b, ", \"app_id\": ");
	sbuf_add_json(t->b, r->app_id);
	sbuf_adds(t->b, ", \"name\": ");
	sbuf_add_json(t->b, r->name);
	sbuf_adds(t->b, ", \"outcome\": ");
	sbuf_add_json(t->b, r->outcome);
	sbuf_adds(t->b, ", \"verdict\": ");
	sbuf_add_json(t->b, counter_verdict(o));
	sbuf_adds(t->b, ", \"staff\": ");
	sbuf_add_json(t->b, r->staff);
	sbuf_adds(t->b, "}");
	return KG_OK;
}

static void today(struct webdesk *d, const struct web_request *req, struct web_reply *rep)
{
	(void)req;
	time_t t = time(NULL);
	struct tm tm;
	char since[16];
	localtime_r(&t, &tm);
	strftime(since, sizeof since, "%Y-%m-%d", &tm);
	sbuf_adds(&rep->body, "\"rows\": [");
	struct today td = {&rep->body, 0};
	if (store_audit_since(d->st, d->terminal, since, today_row, &td)) {
		failed(rep, "today");
		return;
	}
	sbuf_adds(&rep->body, "]");
}

/* --- returned mail -------------------------------------------------------------------------- */

static void mailed_json(struct sbuf *b, const struct store_mailed *m)
{
	char era[RULES_ERA_LEN], addr[600], mailed[128];
	era_of(m->mailed_on, era);
	snprintf(addr, sizeof addr, "〒%s　%s", m->postal_code, m->address);
	snprintf(mailed, sizeof mailed, "%s（B%04d-%06d）", era, m->batch, m->seq);
	json_str(b, "app_id", m->app_id);
	json_str(b, "name", m->name);
	json_str(b, "address", addr);
	json_str(b, "mailed", mailed);
}

static bool find_error(struct web_reply *rep, enum kg_err err)
{
	if (err == KG_EINPUT)
		not_ok(rep, "封筒の照合番号（B0001-000001）または通知番号を読み取ってください（チェックデジットが"
		            "合いません）。");
	else if (err == KG_ENOTFOUND)
		not_ok(rep, "該当する通知が見つかりません。読み取り直してください。");
	else if (err == KG_ESTATE)
		not_ok(rep, "この通知は窓口で受付済みか、再送・再照会で置き換えられています。返戻の登録は不要です。");
	else if (err)
		failed(rep, "returned mail");
	return err != KG_OK;
}

static void return_find(struct webdesk *d, const struct web_request *req, struct web_reply *rep)
{
	char code[64];
	struct store_mailed m;
	enum kg_err err = web_form_value(req->body, "code", code, sizeof code) ? returns_find(d->st, code, &m)
	                                                                       : KG_EINPUT;
	if (find_error(rep, err))
		return;
	char note[256] = "";
	if (*m.returned_reason)
		snprintf(note, sizeof note, "この郵便は返戻として登録済みです（%s）。",
		         returns_label_of(m.returned_reason));
	else if (m.state != STORE_QUEUED && m.state != STORE_PRINTED)
		snprintf(note, sizeof note, "この通知は窓口で受付済みか、置き換えられています。");
	json_bool(&rep->body, "ok", true);
	mailed_json(&rep->body, &m);
	json_str(&rep->body, "note", note);
}

static void return_mark(struct webdesk *d, const struct web_request *req, struct web_reply *rep)
{
	char code[64], reason[40];
	int r = web_form_value(req->body, "reason", reason, sizeof reason) ? returns_reason_parse(reason) : -1;
	if (!web_form_value(req->body, "code", code, sizeof code) || r < 0) {
		rep->status = 400;
		not_ok(rep, "返戻の理由を選んでください。");
		return;
	}
	struct store_mailed m;
	bool added;
	if (find_error(rep, returns_mark(d->st, code, r, d->terminal, web_session_staff(req->session), &m, &added)))
		return;
	char message[600];
	if (added)
		snprintf(message, sizeof message, "返戻として登録しました: %s 様（%s）。同じ住所へは再送しません。",
		         m.name, returns_reason_label(r));
	else
		snprintf(message, sizeof message, "%s 様あての郵便は返戻として登録済みです（%s）。", m.name,
		         returns_label_of(m.returned_reason));
	json_bool(&rep->body, "ok", true);
	json_bool(&rep->body, "added", added);
	json_str(&rep->body, "message", message);
}

/* --- routing -------------------------------------------------------------------------------- */

static void whoami(struct webdesk *d, const struct web_request *req, struct web_reply *rep)
{
	json_str(&rep->body, "staff", web_session_staff(req->session));
	json_str(&rep->body, "terminal", d->terminal);
	char maint[512] = "";
	if (rules_is_maintenance_day(&d->set->policy, today_of(d)))
		snprintf(maint, sizeof maint, "%s　%s", counter_verdict(COUNTER_MAINTENANCE),
		         counter_next_step(COUNTER_MAINTENANCE));
	json_str(&rep->body, "maintenance", maint);
}

static const struct {
	const char *path;
	void (*run)(struct webdesk *d, const struct web_request *req, struct web_reply *rep);
	bool signed_in;
} actions[] = {
	{"/api/whoami", whoami, false},
	{"/api/signin", signin, false},
	{"/api/signout", signout, true},
	{"/api/lookup", lookup, true},
	{"/api/card", card_state, true},
	{"/api/redeem", redeem, true},
	{"/api/today", today, true},
	{"/api/return/find", return_find, true},
	{"/api/return/mark", return_mark, true},
};

void webdesk_handle(void *ctx, const struct web_request *req, struct web_reply *rep)
{
	struct webdesk *d = ctx;
	if (!req->post) {
		if (!strcmp(req->path, "/")) {
			page(d, req, rep);
		} else if (!strcmp(req->path, "/desk.js")) {
			rep->type = "text/javascript; charset=utf-8";
			sbuf_adds(&rep->body, kigen_web_desk_js);
		} else if (!strcmp(req->path, "/desk.css")) {
			rep->type = "text/css; charset=utf-8";
			sbuf_adds(&rep->body, kigen_web_desk_css);
		} else if (!strcmp(req->path, "/favicon.ico")) {
			rep->status = 204; /* none: the browser asks anyway */
		} else {
			rep->status = 404;
			rep->type = "text/plain; charset=utf-8";
			sbuf_adds(&rep->body, "見つかりません\n");
		}
		return;
	}
	for (size_t i = 0; i < KG_ARRAY_SIZE(actions); i++) {
		if (strcmp(req->path, actions[i].path))
			continue;
		if (actions[i].signed_in && !*web_session_staff(req->session)) {
			rep->status = 401;
			not_ok(rep, "サインインしてください。");
			return;
		}
		sbuf_adds(&rep->body, "{");
		actions[i].run(d, req, rep);
		if (rep->body.buf[0] == '{' && rep->body.buf[rep->body.len - 1] != '}')
			sbuf_adds(&rep->body, "}");
		return;
	}
	rep->status = 404;
	not_ok(rep, "not found");
}
