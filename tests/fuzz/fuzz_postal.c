/*
 * fuzz_postal.c: libFuzzer harness for the customer barcode (pipeline/postal.c): a postal code
 * and an address block and building, split from the input at newlines, through postal_encode
 * and postal_extract.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kg.h"
#include "postal.h"
#include "sbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = kg_strndup((const char *)data, size);
	char *code = text, *block = strchr(code, '\n'), *building = NULL;
	if (block) {
		*block++ = '\0';
		if ((building = strchr(block, '\n')))
			*building++ = '\0';
	}
	struct postal_code out;
	if (postal_encode(NULL, code, block, building, &out) == KG_OK && !out.skip && strlen(out.bars) != POSTAL_BARS)
		abort(); /* a barcode that is not skipped has all its bars */
	struct sbuf number = SBUF_INIT;
	(void)postal_extract(block ? block : code, building, &number);
	sbuf_release(&number);
	free(text);
	return 0;
}
