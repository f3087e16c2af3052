/* safetensors.c: reading .safetensors (see safetensors.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "torch/safetensors.h"
#include "core/util.h"

static const struct { const char *name; int size; } dtypes[] = {
	[ST_F32] = { "F32", 4 }, [ST_F16] = { "F16", 2 },
	[ST_BF16] = { "BF16", 2 }, [ST_F64] = { "F64", 8 },
	[ST_I64] = { "I64", 8 }, [ST_I32] = { "I32", 4 },
	[ST_I16] = { "I16", 2 }, [ST_I8] = { "I8", 1 }, [ST_U8] = { "U8", 1 },
	[ST_BOOL] = { "BOOL", 1 },
};

static char *
fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		die("out of memory");
	va_end(ap);
	return s;
}

static int
cmpname(const void *a, const void *b)
{
	return strcmp(((const struct st_tensor *)a)->name,
	              ((const struct st_tensor *)b)->name);
}

/* a JSON number that is a non-negative integer below 2^53 */
static int
get_u53(const cJSON *j, uint64_t *v)
{
	if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0) ||
	    j->valuedouble >= 9007199254740992.0 ||
	    j->valuedouble != floor(j->valuedouble))
		return -1;
	*v = (uint64_t)j->valuedouble;
	return 0;
}

static char *
parse(struct safetensors *s, const char *name)
{
	if (s->size < 8)
		return fmt("%s: %zu bytes: too short for a safetensors file "
		           "(8-byte header length)", name, s->size);
	uint64_t hl = 0;
	for (int i = 7; i >= 0; i--)
		hl = hl << 8 | s->map[i];
	if (hl > s->size - 8)
		return fmt("%s: header length %llu runs past the end of the "
		           "file (%zu bytes): truncated or not safetensors",
		           name, (unsigned long long)hl, s->size);
	if (hl > 100u << 20)
		return fmt("%s: header of %llu bytes (more than 100 MB): not "
		           "a safetensors file", name, (unsigned long long)hl);
	size_t dbase = 8 + (size_t)hl, dsize = s->size - dbase;
	cJSON *root = cJSON_ParseWithLength((const char *)s->map + 8, hl);
	if (!root || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return fmt("%s: header is not a JSON object", name);
	}
	int n = 0;
	for (cJSON *e = root->child; e; e = e->next)
		n++;
	s->t = xcalloc(n ? n : 1, sizeof *s->t);
	char *err = NULL;
	for (cJSON *e = root->child; e && !err; e = e->next) {
		if (!strcmp(e->string, "__metadata__")) {
			if (!cJSON_IsObject(e))
				err = fmt("%s: __metadata__ is not an object",
				          name);
			continue;
		}
		struct st_tensor *t = &s->t[s->n];
		cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
		cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
		cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
		if (!cJSON_IsObject(e) || !cJSON_IsString(dt) ||
		    !cJSON_IsArray(sh) || !cJSON_IsArray(of) ||
		    cJSON_GetArraySize(of) != 2) {
			err = fmt("%s: tensor %s: want {\"dtype\", \"shape\", "
			          "\"data_offsets\": [begin, end]}", name,
			          e->string);
			break;
		}
		t->name = xstrdup(e->string);
		s->n++;
		t->dtype = -1;
		for (size_t k = 0; k < sizeof dtypes / sizeof *dtypes; k++)
			if (!strcmp(dt->valuestring, dtypes[k].name))
				t->dtype = (int)k;
		if (t->dtype < 0) {
			err = fmt("%s: tensor %s: dtype %s is not supported "
			          "(F32, F16, BF16, F64, I64, I32, I16, I8, U8, "
			          "BOOL)", name, t->name, dt->valuestring);
			break;
		}
		int nd = cJSON_GetArraySize(sh);
		if (nd > ST_MAXDIM) {
			err = fmt("%s: tensor %s: %d dimensions (at most %d)",
			          name, t->name, nd, ST_MAXDIM);
			break;
		}
		t->ndim = nd;
		uint64_t numel = 1, d;
		int k = 0;
		for (cJSON *x = sh->child; x; x = x->next, k++) {
			if (get_u53(x, &d) || (d && numel > UINT64_MAX / 8 / d)) {
				err = fmt("%s: tensor %s: bad shape", name,
				          t->name);
				break;
			}
			t->shape[k] = (int64_t)d;
			numel *= d;
		}
		if (err)
			break;
		t->numel = (int64_t)numel;
		uint64_t b, en;
		if (get_u53(of->child, &b) || get_u53(of->child->next, &en) ||
		    b > en) {
			err = fmt("%s: tensor %s: data_offsets are not two "
			          "integers begin <= end", name, t->name);
			break;
		}
		if (en > dsize) {
			err = fmt("%s: tensor %s: data_offsets [%llu, %llu] "
			          "out of range (the data is %zu bytes): "
			          "truncated file?", name, t->name,
			          (unsigned long long)b, (unsigned long long)en,
			          dsize);
			break;
		}
		if (en - b != numel * dtypes[t->dtype].size) {
			err = fmt("%s: tensor %s: %llu bytes of data for shape "
			          "of %llu %s elements (%llu bytes)", name,
			          t->name, (unsigned long long)(en - b),
			          (unsigned long long)numel, dtypes[t->dtype].name,
			          (unsigned long long)numel *
			          dtypes[t->dtype].size);
			break;
		}
		t->data = s->map + dbase + b;
		t->nbytes = en - b;
	}
	cJSON_Delete(root);
	if (!err && s->n > 1) {
		struct st_tensor *c = xmalloc(s->n * sizeof *c);
		memcpy(c, s->t, s->n * sizeof *c);
		qsort(c, s->n, sizeof *c, cmpname);
		for (int i = 1; i < s->n && !err; i++)
			if (!strcmp(c[i].name, c[i - 1].name))
				err = fmt("%s: tensor %s appears twice in the "
				          "header", name, c[i].name);
		free(c);
	}
	return err;
}

static struct safetensors *
finish(struct safetensors *s, const char *name, char **err)
{
	s->path = xstrdup(name);
	if ((*err = parse(s, name))) {
		st_close(s);
		return NULL;
	}
	return s;
}

struct safetensors *
st_open_mem(const unsigned char *buf, size_t n, const char *name, char **err)
{
	struct safetensors *s = xcalloc(1, sizeof *s);
	s->map = (unsigned char *)buf;  /* the caller's: never unmapped */
	s->size = n;
	return finish(s, name, err);
}

struct safetensors *
st_open(const char *path, char **err)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		*err = fmt("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		*err = fmt("%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	struct safetensors *s = xcalloc(1, sizeof *s);
	s->size = (size_t)st.st_size;
	if (s->size) {
		s->map = mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (s->map == MAP_FAILED) {
			*err = fmt("%s: mmap: %s", path, strerror(errno));
			close(fd);
			free(s);
			return NULL;
		}
		s->mapped = 1;
	}
	close(fd);
	return finish(s, path, err);
}

void
st_close(struct safetensors *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->n; i++)
		free(s->t[i].name), free(s->t[i].f32);
	free(s->t);
	if (s->mapped)
		munmap(s->map, s->size);
	free(s->path);
	free(s);
}

struct st_tensor *
st_find(const struct safetensors *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->t[i].name, name))
			return &s->t[i];
	return NULL;
}

static float
half(uint16_t h)
{
	uint32_t sgn = (uint32_t)(h >> 15) << 31, e = h >> 10 & 31, m = h & 1023;
	float f;
	if (e == 0)
		f = ldexpf((float)m, -24);
	else if (e == 31)
		f = m ? NAN : INFINITY;
	else
		f = ldexpf((float)(m | 1024), (int)e - 25);
	return sgn ? -f : f;
}

const float *
st_float(struct st_tensor *t)
{
	const unsigned char *p = t->data;
	if (t->dtype == ST_F32 && ((uintptr_t)p & 3) == 0)
		return (const float *)p;
	if (t->f32)
		return t->f32;
	if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16 &&
	    t->dtype != ST_F64)
		return NULL;
	float *f = t->f32 = xmalloc((t->numel ? t->numel : 1) * sizeof *f);
	for (int64_t i = 0; i < t->numel; i++) {
		switch (t->dtype) {
		case ST_F32: memcpy(&f[i], p + 4 * i, 4); break;
		case ST_F16: f[i] = half((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
			break;
		case ST_BF16: {
			uint32_t u = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
			memcpy(&f[i], &u, 4);
			break;
		}
		default: {
			double d;
			memcpy(&d, p + 8 * i, 8);
			f[i] = (float)d;
		}
		}
	}
	return f;
}
