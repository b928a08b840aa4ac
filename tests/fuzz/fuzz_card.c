/*
 * fuzz_card.c: libFuzzer harness for what kigen reads from a card (pipeline/card.c): the
 * user-auth certificate EF as the card returns it, to serial and expiry (card_parse_cert).
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
	if (card_parse_cert(data, size, &cert) == KG_OK && strlen(cert.serial) >= sizeof cert.serial)
		abort();
	return 0;
}
