/* frame.h: the id and batch stream harnesses read the fuzzer's bytes two
 * ways.  Byte 0 even: the bytes are the stream, checksums and all (the
 * framing is what is tested; a random change is caught by a checksum).
 * Byte 0 odd: the bytes describe a stream that fz_frame() writes with
 * the real writer, checksums right, so the records' contents reach the
 * kind's own checks:
 *   version:u8 kind:u8 vocab_n:u32 vocab_xxh64:u64 plen:u16 params[plen]
 *   { tag:u8 len:u16 payload[len] }*          (cut short at the end)
 * then the trailer. */
#ifndef FRAME_H
#define FRAME_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stream.h"
#include "core/util.h"

/* A stream in memory (free *out); the caller fmemopens it. */
static inline size_t
fz_frame(const uint8_t *d, size_t n, const char *magic, char **out)
{
	struct shdr h = {0};
	struct swriter w;
	size_t len;
	FILE *f = open_memstream(out, &len);
	char *params = NULL;

	memcpy(h.magic, magic, 4);
	if (n < 16) {
		h.version = 1;
		n = 0;
	} else {
		h.version = d[0];
		h.kind = d[1];
		h.vocab_n = get_u32(d + 2);
		h.vocab_xxh64 = get_u64(d + 6);
		size_t pl = get_u16(d + 14);
		d += 16, n -= 16;
		if (pl > n)
			pl = n;
		params = strndup((const char *)d, pl);
		h.params = params;
		d += pl, n -= pl;
	}
	if (!h.params)
		h.params = params = strdup("");
	sw_begin(&w, f, "frame", &h);
	while (n >= 3) {
		size_t rl = get_u16(d + 1);
		int tag = d[0];
		d += 3, n -= 3;
		if (rl > n)
			rl = n;
		sw_record(&w, tag == 'E' ? 'e' : tag, d, (uint32_t)rl);
		d += rl, n -= rl;
	}
	sw_end(&w);
	fclose(f);
	free(params);
	return len;
}

#endif
