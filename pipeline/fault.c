/*
 * fault.c: the crash points of fault.h.
 */
#include "fault.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

void fault_point(const char *name, const char *what)
{
	static int hits;
	const char *want = getenv("KIGEN_FAULT");
	if (!want)
		return;
	size_t n = strlen(name);
	if (strncmp(want, name, n) || (want[n] && want[n] != ':' && want[n] != '='))
		return;
	hits++;
	if (want[n] == ':' && strtol(want + n + 1, NULL, 10) != hits)
		return;
	if (want[n] == '=' && (!what || strcmp(want + n + 1, what)))
		return;
	kill(0, SIGKILL);
	raise(SIGKILL);
}
