/* device.c: the devices of kern_select / device_open.  The check device
 * (KERN_CHECK) gives the CPU's results bit for bit and kills a host read
 * or write of tensor memory outside an operation (and a kernel's overrun
 * past its block); the CPU context still runs the CPU code; unknown
 * devices and, in a build without libkern_cuda.so or on a machine
 * without a device, "cuda" are refused with a reason.  GPT-2's forward
 * on a tiny random configuration runs on the check device. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tap.h"
#include "dispatch.h"
#include "learn/device.h"
#include "model/gpt2.h"
#include "core/util.h"

/* the signal that ended fn(k) in a child, 0 when it returned */
static int
child_signal(void (*fn)(struct kern *), struct kern *k)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);       /* not ASan's report (make asan) */
		fn(k);
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static volatile float sink;
static void host_read(struct kern *k)
{
	float *x = kern_alloc(k, 100 * sizeof *x);
	sink = x[3];
}
static void host_write(struct kern *k)
{
	float *x = kern_alloc(k, 100 * sizeof *x);
	x[99] = 1;
}
static void host_read_after_kernel(struct kern *k)
{
	float *x = kern_alloc(k, 100 * sizeof *x);
	kern_fill(k, x, 100, 2.0f);
	ops_scale(k, x, 3.0f, 100);
	sink = x[0];
}
static void overrun(struct kern *k)
{
	float *x = kern_alloc(k, 1024 * sizeof *x);   /* one 4 KiB page */
	kern_fill(k, x, 1025, 1.0f);
}
static void copies(struct kern *k)
{
	float h[100], g[100];
	for (int i = 0; i < 100; i++)
		h[i] = (float)i;
	float *x = kern_alloc(k, sizeof h), *y = kern_alloc(k, sizeof h);
	kern_upload(k, x, h, sizeof h);
	kern_copy(k, y, x, sizeof h);
	ops_scale(k, y, 0.5f, 100);
	kern_download(k, g, y, sizeof g);
	for (int i = 0; i < 100; i++)
		if (g[i] != h[i] * 0.5f)
			_exit(1);
	kern_free(k, x), kern_free(k, y);
}

/* GPT-2 on a tiny random configuration: the logits of 9 tokens */
static void
gpt2_logits(float *out)
{
	struct gpt2_config c = { .vocab = 97, .ctx = 40, .C = 32, .L = 2,
	                         .NH = 4, .inner = 80, .eps = 1e-5f };
	struct gpt2 m;
	gpt2_init_random(&m, &c, 7);
	uint32_t ids[9];
	for (int i = 0; i < 9; i++)
		ids[i] = (uint32_t)(i * 31 + 5) % c.vocab;
	gpt2_forward(&m, ids, 9, out);
	gpt2_forward(&m, ids, 1, out + 9 * 97);  /* through the cache */
	gpt2_free(&m);
}
static void gpt2_strict(struct kern *k)
{
	(void)k;
	float out[10 * 97];
	char why[200];
	if (device_open("check", 1, why, sizeof why) != 0)
		_exit(2);
	gpt2_logits(out);
}

int
main(void)
{
	struct kern cpu, chk;
	ok(kern_init(&cpu, KERN_CPU, 1) == 0 && !cpu.ops,
	   "the CPU context has no table: the CPU code runs");
	ok(kern_init(&chk, KERN_CHECK, 1) == 0 && chk.ops == &kern_check_ops,
	   "the check context runs through kern_check_ops");

	ok(child_signal(host_read, &chk) == SIGSEGV,
	   "check: a host read of kern_alloc'd memory dies with SIGSEGV");
	ok(child_signal(host_write, &chk) == SIGSEGV,
	   "check: a host write dies with SIGSEGV");
	ok(child_signal(host_read_after_kernel, &chk) == SIGSEGV,
	   "check: memory is protected again after a kernel");
	ok(child_signal(overrun, &chk) == SIGSEGV,
	   "check: a kernel writing past its block dies (guard page)");
	ok(child_signal(copies, &chk) == 0,
	   "check: upload, copy, a kernel, download: no fault, right values");
	ok(child_signal(host_read, &cpu) == 0 &&
	   child_signal(host_read_after_kernel, &cpu) == 0,
	   "the same host accesses pass on the CPU context (so the check "
	   "device is what catches them)");

	/* the same kernels, bit for bit */
	enum { N = 1000 };
	float h[N], a[N], b[N];
	for (int i = 0; i < N; i++)
		h[i] = (float)(i % 37) / 7.0f - 2.5f;
	struct kern *ks[2] = { &cpu, &chk };
	float *res[2] = { a, b };
	double ss[2];
	for (int j = 0; j < 2; j++) {
		float *x = kern_alloc(ks[j], sizeof h);
		float *y = kern_alloc(ks[j], sizeof h);
		kern_upload(ks[j], x, h, sizeof h);
		kern_fill(ks[j], y, N, 0.25f);
		ops_axpy(ks[j], y, 1.5f, x, N);
		seq_softmax(ks[j], x, y, 10, N / 10);
		ss[j] = ops_sumsq(ks[j], x, N);
		kern_download(ks[j], res[j], x, sizeof h);
		kern_free(ks[j], x), kern_free(ks[j], y);
	}
	ok(!memcmp(a, b, sizeof a) && ss[0] == ss[1],
	   "axpy, softmax, sumsq: check == CPU bit for bit");
	kern_fini(&chk);

	char why[300];
	ok(device_open("tpu", 1, why, sizeof why) == -1 &&
	   strstr(why, "unknown device 'tpu'"), "device_open tpu: %s", why);
	int rc = device_open("cuda", 1, why, sizeof why);
	ok(rc == 0 || (rc == -1 && *why), "device_open cuda: %s",
	   rc ? why : "a CUDA device");

	/* GPT-2: the plain run, then on the check device */
	float *g1 = xmalloc(10 * 97 * sizeof *g1), *g2 = xmalloc(10 * 97 *
	                                                       sizeof *g2);
	ok(device_open("cpu", 1, why, sizeof why) == 0, "device_open cpu");
	gpt2_logits(g1);
	int sig = child_signal(gpt2_strict, NULL);
	ok(sig == 0, "GPT-2 forward on the check device: no host access "
	   "(signal %d)", sig);
	ok(device_open("check", 1, why, sizeof why) == 0 &&
	   kern_default()->backend == KERN_CHECK,
	   "device_open check: kern_default() is a check context");
	if (!sig) {
		gpt2_logits(g2);
		ok(!memcmp(g1, g2, 10 * 97 * sizeof *g1),
		   "GPT-2 logits on the check device == the CPU's bit for bit");
	} else
		ok(0, "GPT-2 logits on the check device (not run)");
	free(g1), free(g2);
	return done_testing();
}
