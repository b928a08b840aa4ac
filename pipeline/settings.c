/*
 * settings.c: reads the settings YAML onto struct settings, applying the documented defaults.
 */
#include "settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

static char *str(const struct conf_node *root, const char *path, const char *def)
{
	return kg_strdup(conf_get_str(root, path, def));
}

static enum kg_err date_setting(const struct conf_node *root, const char *path, int *day)
{
	const char *s = conf_get_str(root, path, NULL);
	if (!s)
		return KG_OK;
	enum kg_err err = rules_parse_date(s, day);
	return err ? kg_fail(err, "line %d: %s: %s", conf_line(conf_at(root, path)), path, kg_last_message()) : KG_OK;
}

static enum kg_err load_policy(const struct conf_node *r, struct rules_policy *p)
{
	long lead, adult, before, nosign;
	enum kg_err err;
	if ((err = conf_get_int(r, "policy.lead_days", p->lead_days, &lead)) ||
	    (err = conf_get_int(r, "policy.adult_age", p->adult_age, &adult)) ||
	    (err = conf_get_int(r, "policy.adult_age_before_switch", p->adult_age_before, &before)) ||
	    (err = conf_get_int(r, "policy.no_signature_cert_under", p->no_sign_under, &nosign)) ||
	    (err = conf_get_bool(r, "policy.age_from_eve", p->age_from_eve, &p->age_from_eve)) ||
	    (err = conf_get_bool(r, "policy.card_renewal_from_old_expiry", p->card_renewal_from_old_expiry,
	                         &p->card_renewal_from_old_expiry)) ||
	    (err = date_setting(r, "policy.age_switch", &p->age_switch)))
		return err;
	if (lead < 0 || lead > 366)
		return kg_fail(KG_EINPUT, "policy.lead_days must be 0..366");
	p->lead_days = (int)lead;
	p->adult_age = (int)adult;
	p->adult_age_before = (int)before;
	p->no_sign_under = (int)nosign;

	const char *feb29 = conf_get_str(r, "policy.feb29_birthday", "feb28");
	if (!strcmp(feb29, "feb28"))
		p->feb29 = RULES_FEB29_FEB28;
	else if (!strcmp(feb29, "mar1"))
		p->feb29 = RULES_FEB29_MAR1;
	else
		return kg_fail(KG_EINPUT, "policy.feb29_birthday must be feb28 or mar1");

	/* Seed 001: 毎月第3土曜日とそれに続く日曜日 (both days, the default); "sunday" narrows it. */
	const char *maint = conf_get_str(r, "policy.maintenance_days", "saturday_and_sunday");
	if (!strcmp(maint, "saturday_and_sunday"))
		p->maintenance = RULES_MAINT_SATURDAY_SUNDAY;
	else if (!strcmp(maint, "sunday"))
		p->maintenance = RULES_MAINT_SUNDAY;
	else if (!strcmp(maint, "none"))
		p->maintenance = RULES_MAINT_NONE;
	else
		return kg_fail(KG_EINPUT, "policy.maintenance_days must be saturday_and_sunday, sunday or none");

	const char *window = conf_get_str(r, "policy.window", "clamp");
	if (!strcmp(window, "clamp"))
		p->window = RULES_WINDOW_CLAMP;
	else if (!strcmp(window, "civil"))
		p->window = RULES_WINDOW_CIVIL;
	else
		return kg_fail(KG_EINPUT, "policy.window must be clamp or civil");
	return KG_OK;
}

/* A relative templates folder is read from the config file's folder; without one, the folder
 * beside the kigen executable, so cron can run kigen from anywhere. */
static char *templates_dir(const char *config_path, const char *configured)
{
	char buf[4096];
	if (configured && configured[0] == '/')
		return kg_strdup(configured);
	if (configured) {
		const char *slash = config_path ? strrchr(config_path, '/') : NULL;
		if (!slash)
			return kg_strdup(configured);
		snprintf(buf, sizeof buf, "%.*s/%s", (int)(slash - config_path), config_path, configured);
		return kg_strdup(buf);
	}
	/* Beside the executable, or one folder up (a build tree such as build-asan/), or installed. */
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 32);
	if (n > 0) {
		buf[n] = '\0';
		char *slash = strrchr(buf, '/');
		for (int up = 0; slash && up < 2; up++) {
			*slash = '\0';
			size_t len = strlen(buf);
			snprintf(buf + len, sizeof buf - len, "/templates");
			if (access(buf, R_OK) == 0)
				return kg_strdup(buf);
			buf[len] = '\0';
			slash = strrchr(buf, '/');
		}
	}
	if (access("/usr/share/kigen/templates", R_OK) == 0)
		return kg_strdup("/usr/share/kigen/templates");
	return kg_strdup("templates");
}

enum kg_err settings_load(const char *path, struct settings *s)
{
	memset(s, 0, sizeof *s);
	rules_policy_default(&s->policy);
	enum kg_err err = path ? conf_load(path, &s->conf) : conf_load_string("{}", "defaults", &s->conf);
	if (err)
		return err;
	const struct conf_node *r = conf_root(s->conf);
	if ((err = load_policy(r, &s->policy)))
		goto out;

	s->lgcode = str(r, "municipality.lgcode", "000000");
	s->name = str(r, "municipality.name", "");
	s->mayor = str(r, "municipality.mayor", "");
	s->department = str(r, "municipality.department", "");
	s->postal_code = str(r, "municipality.postal_code", "");
	s->address = str(r, "municipality.address", "");
	s->phone = str(r, "municipality.phone", "");
	s->hours = str(r, "municipality.hours", "");
	if (strcmp(s->lgcode, "000000") && !rules_lgcode_valid(s->lgcode)) {
		err = kg_fail(KG_EINPUT, "municipality.lgcode %s: check digit does not match", s->lgcode);
		goto out;
	}

	const struct conf_node *rep = conf_at(r, "municipality.representative_postal_codes");
	s->n_representative = conf_len(rep);
	s->representative_postal = kg_calloc(s->n_representative + 1, sizeof(char *));
	for (size_t i = 0; i < s->n_representative; i++)
		s->representative_postal[i] = kg_strdup(conf_str(conf_child(rep, i)) ? conf_str(conf_child(rep, i))
		                                                                     : "");

	long sheets, proofs, reinquiry_days;
	if ((err = conf_get_int(r, "policy.reinquiry_valid_days", 90, &reinquiry_days)) ||
	    (err = conf_get_int(r, "output.max_sheets_per_file", 1000, &sheets)) ||
	    (err = conf_get_int(r, "output.proofs", 3, &proofs)))
		goto out;
	if (sheets < 2) {
		err = kg_fail(KG_EINPUT, "output.max_sheets_per_file must be at least 2 (one resident's sheets)");
		goto out;
	}
	s->max_sheets_per_file = (int)sheets;
	s->reinquiry_valid_days = (int)reinquiry_days;
	s->proofs = (int)proofs;
	s->templates_dir = templates_dir(path, conf_get_str(r, "output.templates", NULL));
	s->qr_url = str(r, "output.application_qr_url",
	                "https://net.kojinbango-card.go.jp/SS_SERVICE_OUT/FA01S001Action.do?id={id}");
	if ((err = conf_get_bool(r, "output.jlis_delegation", false, &s->jlis_delegation)))
		goto out;
	s->application_center = str(r, "output.application_center",
	                            "〒219-8650　日本郵便株式会社川崎東郵便局郵便私書箱第2号　"
	                            "地方公共団体情報システム機構　個人番号カード交付申請書受付センター　宛");
	static const char *const groups[MAILSET_N_GROUPS] = {"inserts.card", "inserts.cert", "inserts.reinquiry"};
	for (int g = 0; g < MAILSET_N_GROUPS; g++) {
		const struct conf_node *list = conf_at(r, groups[g]);
		if (list && !conf_is_seq(list)) {
			err = kg_fail(KG_EINPUT, "line %d: %s must be a list of insert names", conf_line(list),
			              groups[g]);
			goto out;
		}
		s->n_inserts[g] = conf_len(list);
		s->inserts[g] = kg_calloc(s->n_inserts[g] + 1, sizeof(char *));
		for (size_t i = 0; i < s->n_inserts[g]; i++) {
			const char *name = conf_str(conf_child(list, i));
			if (!name || !*name || strpbrk(name, "\n\r")) {
				err = kg_fail(KG_EINPUT, "line %d: %s: each insert is a name on one line",
				              conf_line(conf_child(list, i)), groups[g]);
				goto out;
			}
			s->inserts[g][i] = kg_strdup(name);
		}
	}
	s->unknown_glyph = str(r, "output.unknown_glyph", "substitute");
	if (strcmp(s->unknown_glyph, "substitute") && strcmp(s->unknown_glyph, "hold")) {
		err = kg_fail(KG_EINPUT, "output.unknown_glyph must be substitute or hold");
		goto out;
	}

	const char *reader = conf_get_str(r, "counter.reader", NULL);
	s->counter_reader = reader && *reader ? kg_strdup(reader) : NULL;
	/* The best public evidence (README, counter guide): libjeid and soltia48 list ...0401 / 001C. */
	if ((err = card_app_by_aid(conf_get_str(r, "counter.juki_application", "D3921000310001010401"), &s->juki_app)))
		goto out;
	if (!card_pin_in_app(CARD_PIN_JUKI, s->juki_app)) {
		err = kg_fail(KG_EINPUT, "counter.juki_application: that application holds no 住民基本台帳用 PIN");
		goto out;
	}

	const struct conf_node *subs = conf_at(r, "substitutes");
	s->n_substitutes = conf_len(subs);
	s->substitutes = kg_calloc(s->n_substitutes + 1, sizeof *s->substitutes);
	for (size_t i = 0; i < s->n_substitutes; i++) {
		const struct conf_node *n = conf_child(subs, i);
		if (!conf_key(n) || !conf_str(n)) {
			err = kg_fail(KG_EINPUT, "line %d: substitutes: write each as 'character: substitute'",
			              conf_line(n));
			goto out;
		}
		s->substitutes[i].from = kg_strdup(conf_key(n));
		s->substitutes[i].to = kg_strdup(conf_str(n));
	}
out:
	if (err) {
		if (path)
			err = kg_fail(err, "%s: %s", path, kg_last_message());
		settings_release(s);
	}
	return err;
}

void settings_release(struct settings *s)
{
	free(s->lgcode);
	free(s->name);
	free(s->mayor);
	free(s->department);
	free(s->postal_code);
	free(s->address);
	free(s->phone);
	free(s->hours);
	for (size_t i = 0; i < s->n_representative; i++)
		free(s->representative_postal[i]);
	free(s->representative_postal);
	free(s->templates_dir);
	free(s->qr_url);
	free(s->application_center);
	for (int g = 0; g < MAILSET_N_GROUPS; g++) {
		for (size_t i = 0; i < s->n_inserts[g]; i++)
			free(s->inserts[g][i]);
		free(s->inserts[g]);
	}
	free(s->unknown_glyph);
	free(s->counter_reader);
	for (size_t i = 0; i < s->n_substitutes; i++) {
		free(s->substitutes[i].from);
		free(s->substitutes[i].to);
	}
	free(s->substitutes);
	conf_free(s->conf);
	memset(s, 0, sizeof *s);
}
