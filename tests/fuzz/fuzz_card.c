/*
 * fuzz_card.c: libFuzzer harness for what kigen reads from a card (pipeline/card.c): the
 * bytes of a certificate EF as the card returns them (card_der_length, card_cert_parse), a token
 * EF's label (card_kind_of_token) and a retry query's status word (card_counter_of_sw).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "card.h"
#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct card_cert cert;
	size_t total;
	if (card_der_length(data, size, &total) == KG_OK && total <= size &&
	    card_cert_parse(data, total, &cert) == KG_OK && strlen(cert.serial) >= sizeof cert.serial)
		abort();
	char label[64];
	(void)card_kind_of_token(data, size, label);
	if (size >= 2) {
		enum card_counter state;
		int left;
		if (card_counter_of_sw((unsigned)data[0] << 8 | data[1], &state, &left) == KG_OK && left > 15)
			abort();
	}
	return 0;
}
