/* catch.h: run a libcore call that may die() and come back.
 *
 * libcore reports bad input with die(), which prints and calls exit(1): right
 * for a tool, fatal for a fuzzer that runs thousands of inputs in one
 * process.  The harnesses are linked with
 *
 *   -Wl,--wrap=exit,--wrap=malloc,--wrap=calloc,--wrap=realloc,...
 *
 * (FUZZ_WRAP in the Makefile), so no library file changes.  Inside
 * fz_catch(), exit() longjmps back to it, and every block, FILE, file
 * descriptor, directory and xxHash state the call took and still held when
 * it died is released: a die is a normal, leak-free outcome, and ASan's leak
 * checker still sees real leaks (what a call that returned forgot to free).
 * Outside fz_catch() the wrappers pass straight through, so an exit() where
 * none is expected is still the crash libFuzzer reports. */
#ifndef CATCH_H
#define CATCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Calls fn(arg); returns 0 when it returned, the exit status when it died. */
int fz_catch(void (*fn)(void *), void *arg);

/* An anonymous in-memory file holding data[0..n); its /proc/self/fd path
 * goes to path (room for 64).  Returns the fd (close it after), or dies. */
int fz_memfile(const uint8_t *data, size_t n, char *path);

/* A new empty directory for one run, in /dev/shm when there is one (the
 * folder and archive harnesses write a tree per input), else in /tmp;
 * path gets room for 64.  Dies on failure.  The caller rm_tree()s it. */
void fz_tmpdir(char *path, const char *what);

/* A FILE reading p[0..n) (n may be 0); dies on failure. */
FILE *fz_memopen(const void *p, size_t n);

/* Invariant broken: print and abort (a finding). */
#define FZ_ASSERT(c) ((c) ? (void)0 : fz_fail(#c, __FILE__, __LINE__))
_Noreturn void fz_fail(const char *what, const char *file, int line);

#endif
