/* device.c: --device NAME (device.h). */
#include <stdio.h>
#include <string.h>

#include "learn/device.h"
#include "ctx.h"

int
device_open(const char *name, int threads, char *why, size_t n)
{
	static const struct { const char *name; int backend; } dev[] = {
		{ "cpu", KERN_CPU }, { "cuda", KERN_CUDA }, { "check", KERN_CHECK },
	};
	for (size_t i = 0; i < sizeof dev / sizeof *dev; i++)
		if (!strcmp(name, dev[i].name))
			return kern_select(dev[i].backend, threads, why, n);
	if (n)
		snprintf(why, n, "unknown device '%s' (cpu, cuda or check)", name);
	return -1;
}
