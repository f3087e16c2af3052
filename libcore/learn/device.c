/* device.c: --device NAME (device.h). */
#include <stdio.h>
#include <string.h>

#include "learn/device.h"
#include "ctx.h"
#include "core/util.h"

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

void
device_use(const char *name, int threads)
{
	char why[512];

	if (!name)
		return;
	if (strcmp(name, "cpu") && strcmp(name, "cuda") && strcmp(name, "check"))
		usage_error("--device: want cpu, cuda or check");
	if (device_open(name, threads, why, sizeof why))
		die("--device %s: %s", name, why);
}
