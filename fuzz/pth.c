/* pth.c: the checkpoint reader (pth_load_mem: zip and legacy formats) on
 * any bytes, then what encsave and the trainers do with a loaded file:
 * every tensor's data read whole (ASan checks the claimed sizes),
 * fastai v1's raw-key cleaning, the AWD-LSTM encoder extraction and its
 * metadata.  Byte 0 even: the bytes are the file.  Byte 0 odd: a zip
 * file's CRC-32s are set right first (fix_crc), so changes inside its
 * records reach the pickle and the tensors. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pth.h"
#include "util.h"

/* Walk the local headers; put each stored record's CRC in its local
 * header, its data descriptor and its central directory entry. */
static void
fix_crc(unsigned char *p, size_t n)
{
	size_t off = 0;
	while (off + 30 <= n && !memcmp(p + off, "PK\3\4", 4)) {
		uint16_t flags = get_u16(p + off + 6);
		uint32_t csize = get_u32(p + off + 18);
		uint16_t nl = get_u16(p + off + 26), xl = get_u16(p + off + 28);
		size_t data = off + 30 + nl + xl;
		if (csize == 0xffffffffu || data > n || csize > n - data)
			return;
		uint32_t crc = pth_crc32(0, p + data, csize);
		put_u32(p + off + 14, crc);
		size_t end = data + csize;
		if (flags & 8) {                /* data descriptor */
			if (end + 8 <= n && !memcmp(p + end, "PK\7\x08", 4))
				put_u32(p + end + 4, crc);
			else if (end + 4 <= n)
				put_u32(p + end, crc);
		}
		/* the central entry with the same name */
		for (size_t c = end; c + 46 <= n; c++)
			if (!memcmp(p + c, "PK\1\2", 4) &&
			    get_u16(p + c + 28) == nl && c + 46 + nl <= n &&
			    !memcmp(p + c + 46, p + off + 30, nl)) {
				put_u32(p + c + 16, crc);
				break;
			}
		off = end;
		while (off + 4 <= n && memcmp(p + off, "PK\3\4", 4) &&
		       memcmp(p + off, "PK\1\2", 4))
			off++;
	}
}

struct run { struct pth *p; };

static volatile double sink;    /* every element read, none optimised out */

static void
use(void *arg)
{
	struct pth *p = ((struct run *)arg)->p;
	struct awd_shape sh;
	struct pth_tensor *enc;

	pth_meta(p, "kind");
	pth_clean_raw_keys(p);
	enc = xmalloc(((size_t)p->n + 1) * sizeof *enc);
	pth_encoder(p, enc, &sh);
	free(pth_encoder_meta(p, &sh));
	free(enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *buf;
	char *err = NULL;
	struct pth *p;

	if (size < 1)
		return 0;
	buf = malloc(size - 1 ? size - 1 : 1);   /* exactly: ASan sees past */
	memcpy(buf, data + 1, size - 1);
	if (data[0] & 1)
		fix_crc(buf, size - 1);
	p = pth_load_mem(buf, size - 1, "fuzz.pth", &err);
	if (!p) {
		FZ_ASSERT(err && *err);
		free(err);
		free(buf);
		return 0;
	}
	FZ_ASSERT(!err);
	for (int i = 0; i < p->n; i++) {
		const struct pth_tensor *t = &p->t[i];
		FZ_ASSERT(t->numel >= 0 && t->ndim >= 0 && t->ndim <= PTH_MAXDIM);
		FZ_ASSERT(!!t->f + !!t->l == (t->numel > 0) || !t->numel);
		for (int64_t k = 0; k < t->numel; k++)
			if (t->f)
				sink += t->f[k];
			else if (t->l)
				sink += (double)t->l[k];
		FZ_ASSERT(t->tie >= 0 && t->tie <= i);
	}
	struct run r = { p };
	fz_catch(use, &r);
	pth_free(p);
	free(buf);
	return 0;
}
