/* device.h: --device NAME for the tools. */
#ifndef LEARN_DEVICE_H
#define LEARN_DEVICE_H

#include <stddef.h>

/* Make kern_default() (and so every model made afterwards) run on device
 * name: "cpu", "cuda" (libkern_cuda.so, loaded now) or "check" (the CPU
 * kernels with tensor memory PROT_NONE outside operations: a host access
 * dies with SIGSEGV), with threads workers (<= 0: every online CPU).
 * Returns 0, or -1 with the reason in why[0..n) ("unknown device",
 * "this build has no CUDA backend ...", "no CUDA device", the driver's
 * message), which the caller prints. */
int device_open(const char *name, int threads, char *why, size_t n);
/* The tools' --device NAME: device_open, refusing an unknown name as a
 * usage error (exit 2) and a device that cannot run with the reason
 * (exit 1).  NULL: nothing (kern_default() reads ULMFIT_DEVICE). */
void device_use(const char *name, int threads);

#endif
