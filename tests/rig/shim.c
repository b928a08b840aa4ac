/*
 * shim.c: an LD_PRELOAD library that opens the window a test needs, deterministically.
 *
 * When kigen gives up its hold on the card to power-cycle it, something may happen in the reader
 * before it holds the card again: the card is swapped, or another program uses a try. The shim
 * runs the shell command in RIG_HOOK exactly once, at the first SCardReconnect (before it, the
 * card still held) or the first SCardDisconnect (after it, the card released), then lets the
 * call go on. What the hook printed goes to RIG_HOOK_OUT. The hook runs without LD_PRELOAD, so
 * programs it starts are not hooked themselves.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include <winscard.h>

static void run_hook(const char *where)
{
	static int done;
	const char *cmd = getenv("RIG_HOOK"), *out = getenv("RIG_HOOK_OUT");
	if (done || !cmd)
		return;
	done = 1;
	char buf[8192];
	snprintf(buf, sizeof buf, "echo 'hook at %s' >>'%s'; (%s) >>'%s' 2>&1", where, out ? out : "/dev/null", cmd,
	         out ? out : "/dev/null");
	unsetenv("LD_PRELOAD");
	if (system(buf) != 0)
		fprintf(stderr, "shim: the hook failed\n");
}

LONG SCardReconnect(SCARDHANDLE h, DWORD share, DWORD protocols, DWORD init, LPDWORD active)
{
	LONG (*real)(SCARDHANDLE, DWORD, DWORD, DWORD, LPDWORD) = dlsym(RTLD_NEXT, "SCardReconnect");
	run_hook("SCardReconnect");
	return real(h, share, protocols, init, active);
}

LONG SCardDisconnect(SCARDHANDLE h, DWORD disposition)
{
	LONG (*real)(SCARDHANDLE, DWORD) = dlsym(RTLD_NEXT, "SCardDisconnect");
	LONG rv = real(h, disposition);
	run_hook("SCardDisconnect");
	return rv;
}
