/*
 * cardcheck.c: the live card panel's reading, as cardcheck.h states.
 */
#include "cardcheck.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "banned.h"

bool cardcheck_same_cert(const struct card_cert *cert, const char *auth_serial, int auth_expires)
{
	const char *a = cert->serial, *b = auth_serial;
	while (*a == '0')
		a++;
	while (*b == '0')
		b++;
	return *a && !strcasecmp(a, b) && cert->not_after == auth_expires;
}

enum kg_err cardcheck_run(struct store *st, const char *reader, const char *app_id, struct cardcheck *out)
{
	memset(out, 0, sizeof *out);
	for (int p = 0; p < CARD_PIN_COUNT; p++)
		out->retries[p] = -1;
	struct store_notice n;
	enum kg_err err = store_notice_by_app_id(st, app_id, &n);
	if (err)
		return err;

	char **names = NULL;
	size_t count = 0;
	struct card *card = NULL;
	if (card_list_readers(&names, &count) || !count) {
		out->state = CARDCHECK_NO_READER;
		goto out;
	}
	out->readers = (int)count;
	out->state = CARDCHECK_NO_CARD;
	if (card_connect(reader, &card))
		goto out;
	snprintf(out->reader, sizeof out->reader, "%s", card_reader(card));
	enum card_kind kind;
	struct card_cert cert;
	out->state = CARDCHECK_UNREADABLE;
	if (card_identify(card, &kind))
		goto out;
	if (kind != CARD_KIND_MYNUMBER) {
		out->state = CARDCHECK_NOT_MYNUMBER;
		goto out;
	}
	if (card_read_auth_cert(card, &cert))
		goto out;
	out->state = cardcheck_same_cert(&cert, n.auth_serial, n.auth_expires) ? CARDCHECK_HOLDER
	                                                                       : CARDCHECK_OTHER_HOLDER;
	if (out->state != CARDCHECK_HOLDER)
		goto out;
	/* Every counter of a PIN the form holds, in every application that has it (as counter.c
	 * reads them): the lowest is what staff see. */
	for (int p = 0; p < CARD_PIN_COUNT; p++) {
		if (p == CARD_PIN_SIGN && !n.has_sign_cert)
			continue;
		for (int a = 0; a < CARD_APP_COUNT; a++) {
			enum card_counter state;
			int left;
			if (!card_pin_in_app((enum card_pin)p, (enum card_app)a) ||
			    card_retries(card, (enum card_pin)p, (enum card_app)a, &state, &left) ||
			    state == CARD_COUNTER_ABSENT)
				continue;
			if (state == CARD_COUNTER_VERIFIED)
				left = card_max_tries((enum card_pin)p);
			if (out->retries[p] < 0 || left < out->retries[p])
				out->retries[p] = left;
		}
		if (out->retries[p] >= 0 && out->retries[p] < card_max_tries((enum card_pin)p))
			out->at_risk = true;
	}
out:
	card_disconnect(card);
	card_free_readers(names, count);
	store_notice_release(&n);
	return KG_OK;
}
