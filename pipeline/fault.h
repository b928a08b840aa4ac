/*
 * fault.h: fault injection for the crash tests (after SQLite's swappable layers).
 *
 * fault_point(name, what) does nothing unless the environment variable KIGEN_FAULT is "name"
 * (the first time), "name:N" (the N-th time in this process, 1-based) or "name=WHAT" (when
 * reached for that file or thing; works across the render's worker processes). Then it kills
 * the whole process group with SIGKILL, as a power cut would: no cleanup, no atexit, workers
 * included. Tests run kigen under setsid so only kigen's own processes die.
 */
#ifndef FAULT_H
#define FAULT_H

void fault_point(const char *name, const char *what);

#endif
