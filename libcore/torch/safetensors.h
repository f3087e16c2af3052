/* safetensors.h: Hugging Face's .safetensors files, read.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON
 * ({"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...,
 * optional "__metadata__": {str: str}}), then the data, offsets relative
 * to its start.  The file is memory-mapped; every length and offset is
 * checked against the file size without overflow, a tensor's byte count
 * must equal its shape's element count times its dtype's size, and names
 * must be unique.  F32 tensors are used in place; F16, BF16 and F64 are
 * converted to float32 copies on request. */
#ifndef SAFETENSORS_H
#define SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAXDIM 8

enum st_dtype { ST_F32, ST_F16, ST_BF16, ST_F64, ST_I64, ST_I32, ST_I16,
                ST_I8, ST_U8, ST_BOOL };

struct st_tensor {
	char *name;
	int dtype;
	int ndim;
	int64_t shape[ST_MAXDIM];
	int64_t numel;
	const unsigned char *data;      /* into the mapping */
	size_t nbytes;
	float *f32;                     /* converted copy (st_float) */
};

struct safetensors {
	char *path;
	unsigned char *map;
	size_t size;
	int mapped;                     /* map is st_open's mmap, ours to unmap */
	struct st_tensor *t;
	int n;
};

/* Open path.  NULL with *err (malloc'd "path: reason") on any problem. */
struct safetensors *st_open(const char *path, char **err);
/* Same on a buffer the caller keeps alive (tests); name for messages. */
struct safetensors *st_open_mem(const unsigned char *buf, size_t n,
                                const char *name, char **err);
void st_close(struct safetensors *s);

struct st_tensor *st_find(const struct safetensors *s, const char *name);
/* The float32 data of a float tensor (F32 in place, others converted
 * once); NULL for integer dtypes. */
const float *st_float(struct st_tensor *t);

#endif
