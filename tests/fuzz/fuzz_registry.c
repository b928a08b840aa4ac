/*
 * fuzz_registry.c: libFuzzer harness for the registry import (pipeline/registry.c): the line
 * reader, libcsv, the field checks and the validation of every column, through the real store
 * (SQLite, one database for the whole run). The first byte chooses UTF-8 or CP932.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "registry.h"
#include "settings.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store *st;
static struct settings set;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!st) {
		char path[] = "/dev/shm/kigen-fuzz-registry-XXXXXX";
		int fd = mkstemp(path);
		if (fd < 0 || settings_load(NULL, &set) || (close(fd), unlink(path), store_open(path, &st)))
			abort();
	}
	if (size < 1)
		return 0;
	enum registry_encoding enc = data[0] & 1 ? REGISTRY_CP932 : REGISTRY_UTF8;
	FILE *f = fmemopen((void *)(data + 1), size - 1 ? size - 1 : 1, "rb");
	if (!f)
		return 0;
	if (size == 1)
		fgetc(f); /* fmemopen needs a size of 1 at least: an empty file */
	struct registry_report rep;
	registry_report_init(&rep);
	enum kg_err err = registry_import_stream(st, &set, f, "fuzz.csv", enc, &rep);
	/* The contract: any bad row means nothing imported, and no failure is silent. */
	if (err == KG_OK && rep.n_errors)
		abort();
	if (err == KG_EINPUT && !rep.n_errors)
		abort();
	registry_report_release(&rep);
	fclose(f);
	return 0;
}
