/*
 * rules.h: the domain rules as pure functions, no I/O.
 *
 * What expires: a card issued to a holder 18 or older on the issue date (20 when J-LIS received
 * the application before 2022-04-01) runs to the 10th birthday strictly after the issue date,
 * else to the 5th; the user-auth certificate to the 5th birthday strictly after its issue date,
 * capped by the card; the signature certificate the same, also capped by the user-auth one, and
 * none is issued under 15. A period of stay that ends earlier caps all of them. A card or
 * certificate renewed inside its window runs from the old expiry (policy). Feb 29 birthdays fall
 * on Feb 28 in common years (policy; or Mar 1). The window opens the day after the date three
 * months before the expiry, month ends clamped (policy; or the civil reading), and closes on the
 * expiry. A notice is due from lead_days before the window opens until the expiry.
 * Check digits: My Number, weights 6,5,4,3,2,7,6,5,4,3,2 over the first 11 digits, r = sum mod
 * 11, check 0 when r <= 1 else 11 - r; local government code, weights 6,5,4,3,2 over 5 digits,
 * check (11 - r) mod 10; the application ID, Damm over its first 22 digits (README).
 *
 * Dates are civil days counted from 1970-01-01 (an int; day 0 is 1970-01-01), so comparing
 * and subtracting dates is plain arithmetic. RULES_NO_DATE marks "absent" (no signature
 * certificate, no period of stay). Every choice marked policy above is a field of struct
 * rules_policy; rules_policy_default() gives the defaults README's Settings table lists.
 */
#ifndef RULES_H
#define RULES_H

#include <stdbool.h>

#include "kg.h"

#define RULES_NO_DATE (-1000000)
#define RULES_DATE_LEN 11 /* "YYYY-MM-DD" + NUL */

enum rules_feb29 { RULES_FEB29_FEB28, RULES_FEB29_MAR1 };
enum rules_window { RULES_WINDOW_CLAMP, RULES_WINDOW_CIVIL };
/* The national system's maintenance days (seed 001): the 3rd Saturday and the Sunday after it. */
enum rules_maint {
	RULES_MAINT_SATURDAY_SUNDAY, /* both days (the default) */
	RULES_MAINT_SUNDAY,          /* the Sunday only */
	RULES_MAINT_NONE,
};

struct rules_policy {
	int lead_days;                     /* notice this many days before the window opens (14) */
	enum rules_feb29 feb29;            /* birthday of a Feb 29 child in a common year (Feb 28) */
	enum rules_window window;          /* month arithmetic of the window (clamp to month end) */
	bool age_from_eve;                 /* the new age starts the day before the birthday (false) */
	bool card_renewal_from_old_expiry; /* a card renewed in its window counts from the old expiry (true) */
	enum rules_maint maintenance;      /* no counter work on these days (3rd Saturday and Sunday) */
	int adult_age;                     /* age from which a card runs 10 years (18) */
	int adult_age_before;              /* the same for applications received before the switch (20) */
	int age_switch;                    /* the day the adult age changed (2022-04-01) */
	int no_sign_under;                 /* no signature certificate below this age (15) */
};

void rules_policy_default(struct rules_policy *p);

/* Dates. */
int rules_from_ymd(int y, int m, int d);
void rules_to_ymd(int day, int *y, int *m, int *d);
int rules_weekday(int day); /* 0 = Sunday */
bool rules_valid_ymd(int y, int m, int d);
/* Parses "YYYY-MM-DD" strictly (impossible dates fail) into *day. */
enum kg_err rules_parse_date(const char *s, int *day) KG_WUR;
/* Writes "YYYY-MM-DD" into out (RULES_DATE_LEN bytes). */
void rules_format_date(int day, char out[RULES_DATE_LEN]);
/* The same calendar day n months later (n may be negative), clamped to the month's end. */
int rules_add_months(int day, int n);

/* The birthday of someone born on birth in year y (Feb 29 follows the policy). */
int rules_birthday_in(const struct rules_policy *p, int birth, int year);
/* The n-th birthday strictly after day (n >= 1). */
int rules_nth_birthday_after(const struct rules_policy *p, int birth, int day, int n);
/* Age in whole years on day. */
int rules_age_on(const struct rules_policy *p, int birth, int day);

/* What a card and its certificates were issued with. Absent dates are RULES_NO_DATE. */
struct rules_facts {
	int birth;
	int card_issued;
	int cert_issued;     /* default: card_issued */
	int received;        /* J-LIS application receipt; default: card_issued */
	int stay_until;      /* end of a foreign resident's period of stay */
	int previous_expiry; /* expiry of what this issue renewed, if renewed inside its window */
};

struct rules_expiry {
	int card;
	int auth_cert;
	int sign_cert; /* RULES_NO_DATE when no signature certificate is issued (under 15) */
};

/* Fails with KG_EINPUT (and a message) when the facts contradict each other. */
enum kg_err rules_expiry(const struct rules_policy *p, const struct rules_facts *f, struct rules_expiry *out) KG_WUR;

/* The renewal window of an expiry: opens .. closes (both inclusive). */
int rules_window_opens(const struct rules_policy *p, int expiry);
/* The first night a notice for expiry is due: window opens - lead days. */
int rules_notice_from(const struct rules_policy *p, int expiry);
/* Is a notice for expiry due on run date run? (not yet expired, window near enough) */
bool rules_is_due(const struct rules_policy *p, int run, int expiry);

/* 和暦: "令和7年3月31日" into out; KG_EINPUT for dates before 1873-01-01. */
#define RULES_ERA_LEN 40
enum kg_err rules_era(int day, char out[RULES_ERA_LEN]) KG_WUR;

/* A maintenance day of the national system: the month's third Saturday (the 15th to the 21st)
 * or the Sunday after it, as p->maintenance says. */
bool rules_is_maintenance_day(const struct rules_policy *p, int day);

/* Check digits: strings of exactly 12 / 6 ASCII digits. */
bool rules_mynumber_valid(const char *s);
bool rules_lgcode_valid(const char *s);

/* Application IDs: 23 digits, the last a Damm check digit over the first 22 (catches every
 * single wrong digit and every swap of two neighbours). */
#define RULES_APPID_DIGITS 23
char rules_damm_digit(const char *digits, int n);
bool rules_appid_valid(const char *s);

#endif
