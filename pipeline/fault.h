/*
 * fault.h: fault injection for the crash tests (after SQLite's swappable layers).
 *
 * fault_point("name") does nothing unless the environment variable KIGEN_FAULT is "name" or
 * "name:N" (the N-th time this point is reached, 1-based). Then it kills the whole process
 * group with SIGKILL, as a power cut would: no cleanup, no atexit, workers included. Tests run
 * kigen under setsid so only kigen's own processes die.
 */
#ifndef FAULT_H
#define FAULT_H

void fault_point(const char *name);

#endif
