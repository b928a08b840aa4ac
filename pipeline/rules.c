/*
 * rules.c: dates, birthdays, expiry, the renewal window, 和暦 and check digits.
 * Pure functions of their arguments: no clock, no files, no globals.
 */
#include "rules.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

void rules_policy_default(struct rules_policy *p)
{
	*p = (struct rules_policy){
		.lead_days = 14,
		.feb29 = RULES_FEB29_FEB28,
		.window = RULES_WINDOW_CLAMP,
		.age_from_eve = false,
		.card_renewal_from_old_expiry = true,
		.maintenance = RULES_MAINT_SATURDAY_SUNDAY,
		.adult_age = 18,
		.adult_age_before = 20,
		.age_switch = rules_from_ymd(2022, 4, 1),
		.no_sign_under = 15,
	};
}

/* Days from civil and back: the proleptic Gregorian algorithms of H. Hinnant. */
int rules_from_ymd(int y, int m, int d)
{
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	int yoe = y - era * 400;
	int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void rules_to_ymd(int day, int *y, int *m, int *d)
{
	int z = day + 719468;
	int era = (z >= 0 ? z : z - 146096) / 146097;
	int doe = z - era * 146097;
	int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp + (mp < 10 ? 3 : -9);
	*y = yoe + era * 400 + (*m <= 2);
}

int rules_weekday(int day)
{
	return ((day % 7) + 11) % 7; /* 1970-01-01 was a Thursday */
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && leap(y) ? 29 : days[m - 1];
}

bool rules_valid_ymd(int y, int m, int d)
{
	return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= month_days(y, m);
}

enum kg_err rules_parse_date(const char *s, int *day)
{
	int v[3] = {0, 0, 0};
	static const int width[3] = {4, 2, 2};
	const char *c = s;
	for (int part = 0; part < 3; part++) {
		for (int i = 0; i < width[part]; i++, c++) {
			if (*c < '0' || *c > '9')
				return kg_fail(KG_EINPUT, "'%s' is not a date (YYYY-MM-DD)", s);
			v[part] = v[part] * 10 + (*c - '0');
		}
		if (part < 2 && *c++ != '-')
			return kg_fail(KG_EINPUT, "'%s' is not a date (YYYY-MM-DD)", s);
	}
	if (*c)
		return kg_fail(KG_EINPUT, "'%s' is not a date (YYYY-MM-DD)", s);
	if (!rules_valid_ymd(v[0], v[1], v[2]))
		return kg_fail(KG_EINPUT, "'%s' is an impossible date", s);
	*day = rules_from_ymd(v[0], v[1], v[2]);
	return KG_OK;
}

void rules_format_date(int day, char out[RULES_DATE_LEN])
{
	int y, m, d;
	rules_to_ymd(day, &y, &m, &d);
	/* y is 1..9999 for any date we accept; the masks only tell the compiler so. */
	snprintf(out, RULES_DATE_LEN, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u, (unsigned)d % 100u);
}

int rules_add_months(int day, int n)
{
	int y, m, d;
	rules_to_ymd(day, &y, &m, &d);
	int months = y * 12 + (m - 1) + n;
	y = months / 12;
	m = months % 12 + 1;
	if (d > month_days(y, m))
		d = month_days(y, m);
	return rules_from_ymd(y, m, d);
}

int rules_birthday_in(const struct rules_policy *p, int birth, int year)
{
	int y, m, d;
	rules_to_ymd(birth, &y, &m, &d);
	if (m == 2 && d == 29 && !leap(year))
		return p->feb29 == RULES_FEB29_MAR1 ? rules_from_ymd(year, 3, 1) : rules_from_ymd(year, 2, 28);
	return rules_from_ymd(year, m, d);
}

int rules_nth_birthday_after(const struct rules_policy *p, int birth, int day, int n)
{
	int y, m, d;
	rules_to_ymd(day, &y, &m, &d);
	if (rules_birthday_in(p, birth, y) <= day)
		y++;
	return rules_birthday_in(p, birth, y + n - 1);
}

int rules_age_on(const struct rules_policy *p, int birth, int day)
{
	int by, bm, bd, y, m, d;
	rules_to_ymd(birth, &by, &bm, &bd);
	rules_to_ymd(day, &y, &m, &d);
	int starts = rules_birthday_in(p, birth, y) - (p->age_from_eve ? 1 : 0);
	return y - by - (day < starts ? 1 : 0);
}

static int min_date(int a, int b)
{
	if (a == RULES_NO_DATE)
		return b;
	if (b == RULES_NO_DATE)
		return a;
	return a < b ? a : b;
}

/* The day a validity period counts from: the old expiry when the issue fell inside the old
 * one's renewal window (a renewal), else the issue day itself (a new issuance). */
static int period_base(const struct rules_policy *p, int issued, int previous_expiry)
{
	if (previous_expiry != RULES_NO_DATE && issued <= previous_expiry &&
	    issued >= rules_window_opens(p, previous_expiry))
		return previous_expiry;
	return issued;
}

enum kg_err rules_expiry(const struct rules_policy *p, const struct rules_facts *f, struct rules_expiry *out)
{
	int cert_issued = f->cert_issued == RULES_NO_DATE ? f->card_issued : f->cert_issued;
	int received = f->received == RULES_NO_DATE ? f->card_issued : f->received;

	if (f->card_issued < f->birth)
		return kg_fail(KG_EINPUT, "the card was issued before the birth date");
	if (cert_issued < f->birth)
		return kg_fail(KG_EINPUT, "the certificate was issued before the birth date");
	if (received > f->card_issued)
		return kg_fail(KG_EINPUT, "the application was received after the card was issued");

	int adult = received < p->age_switch ? p->adult_age_before : p->adult_age;
	int years = rules_age_on(p, f->birth, f->card_issued) >= adult ? 10 : 5;
	int card_base = p->card_renewal_from_old_expiry ? period_base(p, f->card_issued, f->previous_expiry)
	                                                : f->card_issued;
	out->card = min_date(rules_nth_birthday_after(p, f->birth, card_base, years), f->stay_until);

	int cert_base = period_base(p, cert_issued, f->previous_expiry);
	out->auth_cert = min_date(rules_nth_birthday_after(p, f->birth, cert_base, 5), out->card);
	out->sign_cert = rules_age_on(p, f->birth, cert_issued) < p->no_sign_under ? RULES_NO_DATE : out->auth_cert;
	return KG_OK;
}

int rules_window_opens(const struct rules_policy *p, int expiry)
{
	if (p->window == RULES_WINDOW_CLAMP)
		return rules_add_months(expiry, -3) + 1;
	/* Civil reading: the first day from which less than three months remain. */
	int day = rules_add_months(expiry, -3) - 1;
	while (rules_add_months(day, 3) <= expiry)
		day++;
	return day;
}

int rules_notice_from(const struct rules_policy *p, int expiry)
{
	return rules_window_opens(p, expiry) - p->lead_days;
}

bool rules_is_due(const struct rules_policy *p, int run, int expiry)
{
	return run < expiry && run >= rules_notice_from(p, expiry);
}

enum kg_err rules_era(int day, char out[RULES_ERA_LEN])
{
	static const struct {
		const char *name;
		int y, m, d;
	} eras[] = {
		{"令和", 2019, 5, 1},  {"平成", 1989, 1, 8},  {"昭和", 1926, 12, 25},
		{"大正", 1912, 7, 30}, {"明治", 1868, 1, 25},
	};
	int y, m, d;
	rules_to_ymd(day, &y, &m, &d);
	if (day < rules_from_ymd(1873, 1, 1))
		return kg_fail(KG_EINPUT,
		               "dates before 1873-01-01 (the Gregorian calendar in Japan) have no 和暦 here");
	for (size_t i = 0; i < KG_ARRAY_SIZE(eras); i++) {
		if (day < rules_from_ymd(eras[i].y, eras[i].m, eras[i].d))
			continue;
		int n = y - eras[i].y + 1;
		if (n == 1)
			snprintf(out, RULES_ERA_LEN, "%s元年%d月%d日", eras[i].name, m, d);
		else
			snprintf(out, RULES_ERA_LEN, "%s%d年%d月%d日", eras[i].name, n, m, d);
		return KG_OK;
	}
	return kg_fail(KG_EINPUT, "no era for this date"); /* unreachable after the 1873 check */
}

bool rules_is_maintenance_day(const struct rules_policy *p, int day)
{
	int wd = rules_weekday(day);
	if (p->maintenance == RULES_MAINT_NONE || (wd != 6 && wd != 0) ||
	    (wd == 6 && p->maintenance != RULES_MAINT_SATURDAY_SUNDAY))
		return false;
	int saturday = wd == 6 ? day : day - 1, y, m, d;
	rules_to_ymd(saturday, &y, &m, &d);
	return d >= 15 && d <= 21; /* the third Saturday is the one on the 15th to the 21st */
}

static bool all_digits(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

bool rules_mynumber_valid(const char *s)
{
	static const int w[11] = {6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
	if (!all_digits(s, 12))
		return false;
	int sum = 0;
	for (int i = 0; i < 11; i++)
		sum += (s[i] - '0') * w[i];
	int r = sum % 11;
	return s[11] - '0' == (r <= 1 ? 0 : 11 - r);
}

bool rules_lgcode_valid(const char *s)
{
	static const int w[5] = {6, 5, 4, 3, 2};
	if (!all_digits(s, 6))
		return false;
	int sum = 0;
	for (int i = 0; i < 5; i++)
		sum += (s[i] - '0') * w[i];
	return s[5] - '0' == (11 - sum % 11) % 10;
}

char rules_damm_digit(const char *digits, int n)
{
	static const unsigned char table[10][10] = {
		{0, 3, 1, 7, 5, 9, 8, 6, 4, 2}, {7, 0, 9, 2, 1, 5, 4, 8, 6, 3}, {4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
		{1, 7, 5, 0, 9, 8, 3, 4, 2, 6}, {6, 1, 2, 3, 0, 4, 5, 9, 7, 8}, {3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
		{5, 8, 6, 9, 7, 2, 0, 1, 3, 4}, {8, 9, 4, 5, 3, 6, 2, 0, 1, 7}, {9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
		{2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
	};
	int interim = 0;
	for (int i = 0; i < n; i++)
		interim = table[interim][digits[i] - '0'];
	return (char)('0' + interim);
}

bool rules_appid_valid(const char *s)
{
	return all_digits(s, RULES_APPID_DIGITS) &&
	       rules_damm_digit(s, RULES_APPID_DIGITS - 1) == s[RULES_APPID_DIGITS - 1];
}
