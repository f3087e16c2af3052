/* encsave: fastai's learn.save_encoder.  A language model (or classifier)
 * checkpoint in, the AWD-LSTM encoder's state dict out, as a .pth that
 * torch.load and fastai's load_encoder read. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "torch/pickle.h"
#include "torch/pth.h"
#include "core/util.h"

static const char usage_text[] =
"usage: encsave [-hqv] [-o out] [lm.pth]\n"
"  -o out    write the encoder to out (default: stdout)\n"
"  -v        list the tensors written on stderr\n"
"  -q        quiet (no progress; encsave has none)\n"
"Reads our checkpoints and fastai's (learn.save with or without the\n"
"optimizer, v1 and pre-1.6 files included) and writes the 14-key encoder\n"
"state dict of learn.save_encoder (encoder.weight first).\n";

static _Noreturn void
usage(int status)
{
	fputs(usage_text, status ? stderr : stdout);
	exit(status);
}

int
main(int argc, char *argv[])
{
	const char *out = "-", *in = "-";
	int c, verbose = 0;

	argv0 = "encsave";
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	while ((c = getopt_long(argc, argv, "hqvo:", longopts, NULL)) != -1)
		switch (c) {
		case 'h': usage(0);
		case 'q': break;
		case 'v': verbose = 1; break;
		case 'o': out = optarg; break;
		default:  usage(2);
		}
	argc -= optind, argv += optind;
	if (argc > 1)
		usage_error("one checkpoint at a time");
	if (argc)
		in = argv[0];
	if (!strcmp(out, "-") && isatty(STDOUT_FILENO))
		usage_error("refusing to write binary data to a terminal; "
		            "use -o FILE or a pipe");

	struct pth *p = pth_load(in);
	int dropped = pth_clean_raw_keys(p);
	struct pth_tensor *enc = xcalloc(p->n + 1, sizeof *enc);
	struct awd_shape sh;
	int n = pth_encoder(p, enc, &sh);
	char *meta = pth_encoder_meta(p, &sh);
	struct pv_pool pool = { 0 };

	if (verbose) {
		if (dropped)
			fprintf(stderr, "encsave: %s: dropped %d dropout copies "
			        "(fastai v1's module.weight_hh_l0)\n", in, dropped);
		for (int i = 0; i < n; i++) {
			fprintf(stderr, "%s (", enc[i].name);
			for (int d = 0; d < enc[i].ndim; d++)
				fprintf(stderr, "%s%lld", d ? "," : "",
				        (long long)enc[i].shape[d]);
			fprintf(stderr, ")\n");
		}
	}
	int ret = pth_save(out, pth_state_dict(&pool, enc, n), meta);
	pv_pool_free(&pool);
	free(meta);
	free(enc);
	pth_free(p);
	return ret;
}
