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
#include "torch/pth.h"
#include "core/util.h"

/* For every central directory entry, put the CRC-32 of its record's data
 * (sizes and offset from the entry, zip64 extra included: torch's local
 * headers say 0 and leave them to the data descriptor) in the entry, in
 * the local header and in the data descriptor. */
static void
fix_crc(unsigned char *p, size_t n)
{
	for (size_t c = 0; c + 46 <= n; c++) {
		if (memcmp(p + c, "PK\1\2", 4))
			continue;
		uint64_t usize = get_u32(p + c + 24), csize = get_u32(p + c + 20);
		uint64_t loff = get_u32(p + c + 42);
		size_t nl = get_u16(p + c + 28), xl = get_u16(p + c + 30);
		if (c + 46 + nl + xl > n)
			continue;
		/* zip64 extra: the fields that are 0xffffffff, in this order */
		for (size_t x = c + 46 + nl; x + 4 <= c + 46 + nl + xl;) {
			size_t id = get_u16(p + x), len = get_u16(p + x + 2);
			size_t q = x + 4, e = x + 4 + len;
			if (e > c + 46 + nl + xl)
				break;
			if (id == 1) {
				if (usize == 0xffffffffu && q + 8 <= e)
					usize = get_u64(p + q), q += 8;
				if (csize == 0xffffffffu && q + 8 <= e)
					csize = get_u64(p + q), q += 8;
				if (loff == 0xffffffffu && q + 8 <= e)
					loff = get_u64(p + q);
			}
			x = e;
		}
		if (loff > n || n - loff < 30 || memcmp(p + loff, "PK\3\4", 4))
			continue;
		uint64_t data = loff + 30 + get_u16(p + loff + 26) +
		                get_u16(p + loff + 28);
		if (data > n || csize > n - data)
			continue;
		uint32_t crc = pth_crc32(0, p + data, (size_t)csize);
		put_u32(p + c + 16, crc);
		if (get_u32(p + loff + 14))     /* torch leaves it 0 */
			put_u32(p + loff + 14, crc);
		size_t d = (size_t)(data + csize);
		if (get_u16(p + loff + 6) & 8) {        /* data descriptor */
			if (d + 8 <= n && !memcmp(p + d, "PK\7\x08", 4))
				put_u32(p + d + 4, crc);
			else if (d + 4 <= n)
				put_u32(p + d, crc);
		}
		(void)usize;
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
