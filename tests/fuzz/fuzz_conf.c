/*
 * fuzz_conf.c: libFuzzer harness for the YAML reader (pipeline/conf.c) and the settings built on
 * it (pipeline/settings.c): the input is loaded as a document, walked, and loaded as a settings
 * file (corpus: fixtures/settings.yaml and the templates).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "kg.h"
#include "settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const struct conf_node *n, int depth)
{
	if (depth > CONF_MAX_DEPTH + 1)
		abort(); /* the bound did not hold */
	size_t count = 1;
	for (size_t i = 0; i < conf_len(n); i++)
		count += walk(conf_child(n, i), depth + 1);
	if (conf_is_scalar(n) && !conf_str(n))
		abort();
	return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[] = "/dev/shm/kigen-fuzz-conf-XXXXXX";
	static int fd = -1;
	if (fd < 0 && (fd = mkstemp(path)) < 0)
		abort();
	char *text = kg_strndup((const char *)data, size);
	struct conf *c = NULL;
	if (conf_load_string(text, "fuzz.yaml", &c) == KG_OK) {
		walk(conf_root(c), 1);
		(void)conf_at(conf_root(c), "municipality.name");
		(void)conf_at(conf_root(c), "elements[3].box");
		conf_free(c);
	}
	free(text);
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	struct settings s;
	if (settings_load(path, &s) == KG_OK)
		settings_release(&s);
	return 0;
}
