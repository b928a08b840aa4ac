/*
 * desk.c: the counter desk on a terminal. Everything staff read is Japanese; what scripts read
 * (JSON) has English keys. Ctrl-C aborts the current step: the PINs are wiped, the card is
 * disconnected (counter_redeem always does), the terminal is restored, and the desk ends.
 */
#include "desk.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <termios.h>
#include <unistd.h>

#include "rules.h"
#include "sbuf.h"
#include "banned.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

void desk_protect(struct counter_pins *pins)
{
	prctl(PR_SET_DUMPABLE, 0);
	mlock(pins, sizeof *pins); /* best effort: may fail without the privilege */
}

/* Reads one line (without the newline) into buf; false at end of input. */
static bool read_line_fd(int fd, char *buf, size_t size, bool *too_long)
{
	size_t n = 0;
	bool got = false;
	*too_long = false;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR && !interrupted)
			continue;
		if (r <= 0)
			break;
		got = true;
		if (c == '\n')
			break;
		if (c == '\r')
			continue;
		if (n + 1 < size)
			buf[n++] = c;
		else
			*too_long = true;
		explicit_bzero(&c, 1);
	}
	buf[n] = '\0';
	return got;
}

enum kg_err desk_read_pins_fd(int fd, bool has_sign_cert, struct counter_pins *pins)
{
	char lines[3][COUNTER_PIN_MAX + 1];
	int n = 0;
	bool too_long = false, tl;
	while (n < 3 && read_line_fd(fd, lines[n], sizeof lines[n], &tl)) {
		too_long |= tl;
		n++;
		if (n == 1 && !strcmp(lines[0], "face"))
			break;
	}
	enum kg_err err = KG_OK;
	memset(pins, 0, sizeof *pins);
	if (too_long) {
		err = kg_fail(KG_EINPUT, "a PIN line is longer than %d characters", COUNTER_PIN_MAX);
	} else if (n >= 1 && !strcmp(lines[0], "face")) {
		pins->face = true;
	} else if (n == 3) {
		for (int p = 0; p < 3; p++)
			memcpy(pins->pin[p], lines[p], sizeof lines[p]);
	} else if (n == 2 && !has_sign_cert) {
		memcpy(pins->pin[CARD_PIN_AUTH], lines[0], sizeof lines[0]);
		memcpy(pins->pin[CARD_PIN_JUKI], lines[1], sizeof lines[1]);
	} else {
		err = kg_fail(KG_EINPUT,
		              "expected the PINs one per line (署名用, 利用者証明用, 住民基本台帳用) or 'face'");
	}
	explicit_bzero(lines, sizeof lines);
	return err;
}

void desk_print_json(FILE *f, const struct counter_result *r)
{
	struct sbuf b = SBUF_INIT;
	sbuf_addf(&b, "{\"outcome\": \"%s\", \"app_id\": ", counter_outcome_name(r->outcome));
	sbuf_add_json(&b, r->found ? r->notice.app_id : "");
	sbuf_adds(&b, ", \"verdict\": ");
	sbuf_add_json(&b, counter_verdict(r->outcome));
	sbuf_adds(&b, ", \"next\": ");
	sbuf_add_json(&b, counter_next_step(r->outcome));
	sbuf_adds(&b, ", \"retries\": {");
	for (int p = 0; p < CARD_PIN_COUNT; p++) {
		if (r->retries[p] < 0)
			sbuf_addf(&b, "%s\"%s\": null", p ? ", " : "", card_pin_name(p));
		else
			sbuf_addf(&b, "%s\"%s\": %d", p ? ", " : "", card_pin_name(p), r->retries[p]);
	}
	sbuf_adds(&b, "}, \"failed_pin\": ");
	bool pin_outcome = r->outcome == COUNTER_PIN_MISMATCH || r->outcome == COUNTER_PIN_AT_RISK ||
	                   r->outcome == COUNTER_PIN_MALFORMED || r->outcome == COUNTER_VERIFY_UNKNOWN ||
	                   r->outcome == COUNTER_CARD_PROFILE;
	if (pin_outcome)
		sbuf_addf(&b, "\"%s\"", card_pin_name(r->failed_pin));
	else
		sbuf_adds(&b, "null");
	sbuf_adds(&b, ", \"applications\": [");
	for (int a = 0, first = 1; a < CARD_APP_COUNT; a++)
		if (r->apps >> a & 1u) {
			sbuf_addf(&b, "%s\"%s\"", first ? "" : ", ", card_app_name(a));
			first = 0;
		}
	sbuf_addf(&b, "], \"apdus\": %d, \"connections\": %d, \"detail\": ", r->apdus, r->connections);
	sbuf_add_json(&b, r->detail);
	sbuf_adds(&b, "}\n");
	fputs(b.buf, f);
	sbuf_release(&b);
}

const char *desk_what_label(const struct counter_view *v)
{
	if (v->kind == MAILSET_REINQUIRY)
		return "電子証明書（再照会）";
	if (v->target == MAILSET_CARD)
		return "マイナンバーカード";
	switch (v->certs & (MAILSET_SIGN | MAILSET_AUTH)) {
	case MAILSET_SIGN: return "署名用電子証明書";
	case MAILSET_AUTH: return "利用者証明用電子証明書";
	default: return "署名用電子証明書・利用者証明用電子証明書";
	}
}

static void print_notice(FILE *f, const struct counter_view *v)
{
	char era[RULES_ERA_LEN] = "";
	if (rules_era(v->valid_until, era))
		rules_format_date(v->valid_until, era);
	fprintf(f, "\n  ┌────────────────────────────────────────────\n");
	fprintf(f, "  │ 氏名　　　　　　　 %s 様\n", v->name);
	fprintf(f, "  │ 更新するもの　　　 %s\n", desk_what_label(v));
	fprintf(f, "  │ 照会書の有効期限　 %s まで\n", era);
	fprintf(f, "  │ 通知番号　　　　　 %s\n", v->app_id);
	fprintf(f, "  └────────────────────────────────────────────\n\n");
}

void desk_print_verdict(FILE *f, const struct counter_result *r)
{
	bool good = r->outcome == COUNTER_REDEEMED;
	fprintf(f, "\n  ================================================\n");
	fprintf(f, "  【判定】 %s %s\n", good ? "○" : "×", counter_verdict(r->outcome));
	fprintf(f, "  ================================================\n");
	if (r->outcome == COUNTER_PIN_MISMATCH || r->outcome == COUNTER_PIN_AT_RISK ||
	    r->outcome == COUNTER_VERIFY_UNKNOWN || r->outcome == COUNTER_PIN_MALFORMED ||
	    r->outcome == COUNTER_CARD_PROFILE)
		fprintf(f, "  対象の暗証番号: %s\n", card_pin_label(r->failed_pin));
	for (int p = 0; p < CARD_PIN_COUNT; p++)
		if (r->retries[p] >= 0)
			fprintf(f, "  %s 残り試行回数: %d / %d\n", card_pin_label(p), r->retries[p], card_max_tries(p));
	fprintf(f, "  次にすること: %s\n\n", counter_next_step(r->outcome));
}

/* Reads a PIN from the terminal with echo off, showing one * per character. */
static bool read_pin_tty(FILE *out, const char *prompt, char *buf, size_t size)
{
	struct termios old, raw;
	bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		raw = old;
		raw.c_lflag &= ~(tcflag_t)(ECHO | ICANON);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
	}
	fputs(prompt, out);
	fflush(out);
	size_t n = 0;
	bool ok = false;
	for (;;) {
		char c;
		ssize_t r = read(STDIN_FILENO, &c, 1);
		if (r <= 0 || interrupted)
			break;
		if (c == '\n' || c == '\r') {
			ok = true;
			break;
		}
		if ((c == 0x7f || c == '\b') && n) {
			buf[--n] = '\0';
			fputs("\b \b", out);
		} else if ((unsigned char)c >= 0x20 && n + 1 < size) {
			buf[n++] = c;
			fputc('*', out);
		}
		fflush(out);
		explicit_bzero(&c, 1);
	}
	buf[n] = '\0';
	if (tty)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', out);
	return ok;
}

static bool ask(FILE *out, const char *prompt, char *buf, size_t size)
{
	bool too_long;
	fputs(prompt, out);
	fflush(out);
	return read_line_fd(STDIN_FILENO, buf, size, &too_long) && !interrupted;
}

/* One form at the desk; false when staff quit or pressed Ctrl-C. */
static bool one_form(struct store *st, const struct settings *set, const struct counter_desk *desk,
                     struct counter_pins *pins, enum kg_err *err)
{
	FILE *out = stdout;
	char id[64];
	if (!ask(out, "通知番号を読み取るか入力してください（終了は q）: ", id, sizeof id) || !strcmp(id, "q"))
		return false;
	if (!*id)
		return true;
	struct counter_view v;
	enum kg_err e = counter_lookup(st, id, &v);
	if (e == KG_EINPUT || e == KG_ENOTFOUND) {
		fprintf(out, "\n  × %s\n    %s\n\n",
		        e == KG_EINPUT ? "通知番号の形式またはチェックデジットが正しくありません"
		                       : "通知番号が見つかりません",
		        "読み取り直すか、入力を確認してください。");
		return true;
	}
	if (e) {
		*err = e;
		return false;
	}
	print_notice(out, &v);
	memset(pins, 0, sizeof *pins);
	char answer[16];
	if (!ask(out, "照会書兼回答書の「いずれの暗証番号も設定しない」に印がありますか（y/n）: ", answer,
	         sizeof answer))
		return false;
	pins->face = answer[0] == 'y' || answer[0] == 'Y';
	if (!pins->face) {
		static const char *const prompts[CARD_PIN_COUNT] = {
			"署名用電子証明書の暗証番号（英数字6～16文字）: ",
			"利用者証明用電子証明書の暗証番号（数字4桁）: ",
			"住民基本台帳用の暗証番号（数字4桁）: ",
		};
		for (int p = 0; p < CARD_PIN_COUNT; p++) {
			if (p == CARD_PIN_SIGN && !v.has_sign_cert)
				continue;
			if (!read_pin_tty(out, prompts[p], pins->pin[p], sizeof pins->pin[p])) {
				counter_pins_wipe(pins);
				return !interrupted;
			}
		}
	}
	if (!ask(out, "ご本人のマイナンバーカードをカードリーダーに置いて Enter を押してください: ", answer,
	         sizeof answer)) {
		counter_pins_wipe(pins);
		return false;
	}
	fputs("  確認中です。カードを動かさないでください……\n", out);
	fflush(out);
	struct counter_result res;
	*err = counter_redeem(st, set, desk, id, pins, &res); /* wipes the PINs */
	if (*err)
		return false;
	desk_print_verdict(out, &res);
	return !interrupted;
}

enum kg_err desk_run(struct store *st, const struct settings *set, const struct counter_desk *desk)
{
	struct counter_pins pins;
	memset(&pins, 0, sizeof pins);
	desk_protect(&pins);
	struct sigaction sa = {0}, old_int, old_term;
	sa.sa_handler = on_sigint; /* no SA_RESTART: a read in progress returns at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	printf("\n  マイナンバーカード　電子証明書更新　窓口（照会書兼回答書の確認）\n");
	printf("  端末: %s　担当: %s\n", desk->terminal, desk->staff);
	if (rules_is_maintenance_day(&set->policy, desk->today)) {
		printf("\n  × %s\n    %s\n\n", counter_verdict(COUNTER_MAINTENANCE),
		       counter_next_step(COUNTER_MAINTENANCE));
	}
	enum kg_err err = KG_OK;
	while (one_form(st, set, desk, &pins, &err))
		;
	counter_pins_wipe(&pins);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	printf(interrupted ? "\n  中断しました（暗証番号は消去済み、カードは切断済み）。\n" : "\n  終了します。\n");
	return err;
}
