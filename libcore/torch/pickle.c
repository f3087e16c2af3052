/* pickle.c: a pickle machine that only builds data, and a protocol 2
 * writer.  See pickle.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "torch/pickle.h"
#include "core/buf.h"
#include "core/util.h"

/* ---- nodes ---------------------------------------------------------------- */

struct pv *
pv_new(struct pv_pool *pool, int kind)
{
	struct pv *v = xcalloc(1, sizeof *v);

	v->kind = kind;
	v->next_alloc = pool->all;
	pool->all = v;
	return v;
}

void
pv_pool_free(struct pv_pool *pool)
{
	struct pv *v = pool->all, *next;

	for (; v; v = next) {
		next = v->next_alloc;
		free(v->s);
		free(v->big);
		free(v->it);
		free(v);
	}
	pool->all = NULL;
}

struct pv *pv_none(struct pv_pool *pool) { return pv_new(pool, PV_NONE); }
struct pv *pv_list(struct pv_pool *pool) { return pv_new(pool, PV_LIST); }
struct pv *pv_dict(struct pv_pool *pool) { return pv_new(pool, PV_DICT); }

struct pv *
pv_odict(struct pv_pool *pool)
{
	struct pv *v = pv_new(pool, PV_DICT);

	v->i = 1;               /* ordered: written as collections.OrderedDict */
	return v;
}

struct pv *
pv_bool(struct pv_pool *pool, int b)
{
	struct pv *v = pv_new(pool, PV_BOOL);

	v->i = !!b;
	return v;
}

struct pv *
pv_int(struct pv_pool *pool, int64_t i)
{
	struct pv *v = pv_new(pool, PV_INT);

	v->i = i;
	return v;
}

struct pv *
pv_float(struct pv_pool *pool, double d)
{
	struct pv *v = pv_new(pool, PV_FLOAT);

	v->d = d;
	return v;
}

static struct pv *
pv_strn(struct pv_pool *pool, int kind, const char *s, size_t n)
{
	struct pv *v = pv_new(pool, kind);

	v->s = xmalloc(n + 1);
	memcpy(v->s, s, n);
	v->s[n] = 0;
	v->len = n;
	return v;
}

struct pv *
pv_str(struct pv_pool *pool, const char *s)
{
	return pv_strn(pool, PV_STR, s, strlen(s));
}

struct pv *
pv_tensor(struct pv_pool *pool, struct pth_tensor *t)
{
	struct pv *v = pv_new(pool, PV_TENSOR);

	v->t = t;
	return v;
}

void
pv_push(struct pv *seq, struct pv *item)
{
	if (seq->n == seq->cap) {
		seq->cap = seq->cap ? 2 * seq->cap : 8;
		seq->it = xrealloc(seq->it, seq->cap * sizeof *seq->it);
	}
	seq->it[seq->n++] = item;
}

void
pv_set(struct pv *dict, struct pv *key, struct pv *val)
{
	pv_push(dict, key);
	pv_push(dict, val);
}

void
pv_sets(struct pv_pool *pool, struct pv *dict, const char *key, struct pv *val)
{
	pv_set(dict, pv_str(pool, key), val);
}

/* The last value stored under key wins, as in Python. */
const struct pv *
pv_get(const struct pv *dict, const char *key)
{
	if (!dict || dict->kind != PV_DICT)
		return NULL;
	for (size_t k = dict->n; k >= 2; k -= 2) {
		const struct pv *kk = dict->it[k - 2];
		if (kk->kind == PV_STR && !strcmp(kk->s, key))
			return dict->it[k - 1];
	}
	return NULL;
}

struct pv *const *
pv_items(const struct pv *seq, size_t *n)
{
	if (!seq)
		return NULL;
	if (seq->kind == PV_LIST || seq->kind == PV_TUPLE) {
		*n = seq->n;
		return seq->it;
	}
	if (seq->kind == PV_OBJECT && seq->state) {   /* fastcore L */
		const struct pv *it = pv_get(seq->state, "items");
		/* one level only: a hostile file could make L hold itself */
		if (it && (it->kind == PV_LIST || it->kind == PV_TUPLE)) {
			*n = it->n;
			return it->it;
		}
	}
	return NULL;
}

int
pv_as_int(const struct pv *v, int64_t *out)
{
	if (v && (v->kind == PV_INT || v->kind == PV_BOOL) && !v->big) {
		*out = v->i;
		return 1;
	}
	return 0;
}

/* numpy.float64/float32 scalars (fastai's per-group lrs come from
 * np.array): scalar(dtype('f8'), 8 little-endian bytes). */
static int
numpy_double(const struct pv *v, double *out)
{
	const struct pv *dt, *raw;

	if (v->kind != PV_OBJECT || !strstr(v->s, "multiarray scalar") ||
	    v->n != 2)
		return 0;
	dt = v->it[0];
	raw = v->it[1];
	if (dt->kind != PV_OBJECT || !dt->n || dt->it[0]->kind != PV_STR ||
	    (raw->kind != PV_BYTES && raw->kind != PV_STR))
		return 0;
	/* a little-endian dtype: BUILD state (version, '<' or '|', ...) */
	if (dt->state && dt->state->kind == PV_TUPLE && dt->state->n > 1 &&
	    dt->state->it[1]->kind == PV_STR && !strcmp(dt->state->it[1]->s, ">"))
		return 0;
	if (!strcmp(dt->it[0]->s, "f8") && raw->len == 8) {
		uint64_t u = get_u64((const unsigned char *)raw->s);
		memcpy(out, &u, 8);
		return 1;
	}
	if (!strcmp(dt->it[0]->s, "f4") && raw->len == 4) {
		uint32_t u = get_u32((const unsigned char *)raw->s);
		float f;
		memcpy(&f, &u, 4);
		*out = f;
		return 1;
	}
	return 0;
}

int
pv_as_double(const struct pv *v, double *out)
{
	if (v && numpy_double(v, out))
		return 1;
	if (v && v->kind == PV_FLOAT) {
		*out = v->d;
		return 1;
	}
	if (v && (v->kind == PV_INT || v->kind == PV_BOOL) && !v->big) {
		*out = (double)v->i;
		return 1;
	}
	return 0;
}

/* ---- the machine ------------------------------------------------------ */

/* What each allowed global is for.  Anything else is refused. */
enum { G_ODICT = 1, G_TENSOR, G_PARAM, G_STORAGE, G_SIZE, G_INERT,
       G_ENCODE, G_BYTES };
static const struct { const char *name; int role; } allowed[] = {
	{ "collections OrderedDict", G_ODICT },
	{ "torch._utils _rebuild_tensor_v2", G_TENSOR },
	{ "torch._utils _rebuild_tensor", G_TENSOR },
	{ "torch._utils _rebuild_parameter", G_PARAM },
	{ "torch FloatStorage", G_STORAGE },
	{ "torch DoubleStorage", G_STORAGE },
	{ "torch HalfStorage", G_STORAGE },
	{ "torch BFloat16Storage", G_STORAGE },
	{ "torch LongStorage", G_STORAGE },
	{ "torch IntStorage", G_STORAGE },
	{ "torch ShortStorage", G_STORAGE },
	{ "torch CharStorage", G_STORAGE },
	{ "torch ByteStorage", G_STORAGE },
	{ "torch BoolStorage", G_STORAGE },
	{ "torch Size", G_SIZE },
	/* protocol 2 writes bytes as _codecs.encode(str, 'latin1') */
	{ "_codecs encode", G_ENCODE },
	{ "builtins bytes", G_BYTES },
	{ "__builtin__ bytes", G_BYTES },
	/* data-only classes found in fastai's optimizer state; kept as inert
	 * nodes (their constructors are never run) */
	{ "fastcore.foundation L", G_INERT },
	{ "numpy.core.multiarray scalar", G_INERT },
	{ "numpy._core.multiarray scalar", G_INERT },
	{ "numpy dtype", G_INERT },
	/* fastai v1's learn.save keeps opt_func = partial(optim.Adam, ...) */
	{ "functools partial", G_INERT },
	{ "torch.optim.adam Adam", G_INERT },
	{ "torch.optim.adamw AdamW", G_INERT },
	{ "torch.optim.sgd SGD", G_INERT },
};

static int
global_role(const char *name)
{
	for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
		if (!strcmp(allowed[i].name, name))
			return allowed[i].role;
	return 0;
}

struct vm {
	const struct pk_reader *r;
	const unsigned char *p, *end, *start;
	struct pv **stack;
	size_t sp, scap;
	size_t *marks;
	size_t nmark, mcap;
	struct pv **memo;
	size_t nmemo;
	size_t nput;            /* distinct slots set: Python's len(memo) */
	size_t memo_limit;
	char *err;
	jmp_buf fail;
};

static _Noreturn void
vm_fail(struct vm *m, const char *fmt, ...)
{
	va_list ap;
	char *msg, *full;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		die("out of memory");
	va_end(ap);
	if (asprintf(&full, "pickle byte %zu: %s",
	             (size_t)(m->p - m->start), msg) < 0)
		die("out of memory");
	free(msg);
	free(m->err);           /* formatted first: it may be an argument */
	m->err = full;
	longjmp(m->fail, 1);
}

static const unsigned char *
take(struct vm *m, size_t n)
{
	const unsigned char *q = m->p;

	if ((size_t)(m->end - m->p) < n)
		vm_fail(m, "data ends inside an opcode (truncated file?)");
	m->p += n;
	return q;
}

static void
push(struct vm *m, struct pv *v)
{
	if (m->sp == m->scap) {
		m->scap = m->scap ? 2 * m->scap : 64;
		m->stack = xrealloc(m->stack, m->scap * sizeof *m->stack);
	}
	m->stack[m->sp++] = v;
}

static size_t
floor_sp(struct vm *m)
{
	return m->nmark ? m->marks[m->nmark - 1] : 0;
}

static struct pv *
pop(struct vm *m)
{
	if (m->sp <= floor_sp(m))
		vm_fail(m, "stack underflow (not a valid pickle)");
	return m->stack[--m->sp];
}

static struct pv *
top(struct vm *m)
{
	if (m->sp <= floor_sp(m))
		vm_fail(m, "stack underflow (not a valid pickle)");
	return m->stack[m->sp - 1];
}

/* Pops to the last MARK; returns the index of the first item popped. */
static size_t
pop_mark(struct vm *m)
{
	if (!m->nmark)
		vm_fail(m, "no MARK on the stack (not a valid pickle)");
	size_t at = m->marks[--m->nmark];
	return at;
}

/* The object just below a popped MARK (the list or dict to extend). */
static struct pv *
below(struct vm *m, size_t at)
{
	if (at == 0 || at <= floor_sp(m))
		vm_fail(m, "stack underflow (not a valid pickle)");
	return m->stack[at - 1];
}

static void
memo_put(struct vm *m, size_t idx, struct pv *v)
{
	if (idx > m->memo_limit)
		vm_fail(m, "memo index %zu is absurd for a pickle this size", idx);
	if (idx >= m->nmemo) {
		size_t n = idx + 1 > 2 * m->nmemo ? idx + 1 : 2 * m->nmemo;
		m->memo = xrealloc(m->memo, n * sizeof *m->memo);
		memset(m->memo + m->nmemo, 0, (n - m->nmemo) * sizeof *m->memo);
		m->nmemo = n;
	}
	m->nput += !m->memo[idx];
	m->memo[idx] = v;
}

static struct pv *
memo_get(struct vm *m, size_t idx)
{
	if (idx >= m->nmemo || !m->memo[idx])
		vm_fail(m, "memo slot %zu is empty (not a valid pickle)", idx);
	return m->memo[idx];
}

static struct pv *
tuple_from(struct vm *m, size_t from)
{
	struct pv *t = pv_new(m->r->pool, PV_TUPLE);

	for (size_t i = from; i < m->sp; i++)
		pv_push(t, m->stack[i]);
	m->sp = from;
	return t;
}

static struct pv *
make_int(struct vm *m, const unsigned char *b, size_t n)
{
	struct pv *v = pv_new(m->r->pool, PV_INT);

	if (n <= 8) {
		uint64_t u = 0;
		for (size_t i = 0; i < n; i++)
			u |= (uint64_t)b[i] << (8 * i);
		if (n && n < 8 && (b[n - 1] & 0x80))    /* sign-extend */
			u |= ~(uint64_t)0 << (8 * n);
		v->i = (int64_t)u;
	} else {
		v->big = xmalloc(n);
		memcpy(v->big, b, n);
		v->len = n;
	}
	return v;
}

/* A text argument (GLOBAL names, INT) into s[256]. */
static void
read_line_op(struct vm *m, char *s)
{
	const unsigned char *q = m->p;
	const unsigned char *nl = memchr(q, '\n', m->end - q);

	if (!nl || nl - q > 255)
		vm_fail(m, "unterminated text argument");
	m->p = nl + 1;
	memcpy(s, q, nl - q);
	s[nl - q] = 0;
}

static struct pv *
make_global(struct vm *m, const char *module, const char *name)
{
	char *full;

	if (asprintf(&full, "%s %s", module, name) < 0)
		die("out of memory");
	int role = global_role(full);
	if (!role || ((role == G_TENSOR || role == G_PARAM || role == G_STORAGE)
	              && !m->r->tensor)) {
		free(m->err);
		m->err = full;  /* freed by vm_fail */
		vm_fail(m, "refusing global '%s': this reader loads only "
		        "tensors, dicts, lists, numbers and strings, and never "
		        "runs code from a file (is it really a PyTorch/fastai "
		        "checkpoint?)", full);
	}
	struct pv *g = pv_new(m->r->pool, PV_GLOBAL);
	g->s = full;
	g->len = strlen(full);
	g->i = role;
	return g;
}

static struct pv *
do_reduce(struct vm *m, struct pv *fn, struct pv *args)
{
	struct pv_pool *pool = m->r->pool;
	struct pv *v;
	char *err = NULL;

	if (fn->kind != PV_GLOBAL)
		vm_fail(m, "REDUCE on something that is not an allowed global");
	if (args->kind != PV_TUPLE)
		vm_fail(m, "REDUCE arguments are not a tuple");
	switch (fn->i) {
	case G_ODICT:
		v = pv_odict(pool);
		if (args->n == 1) {     /* OrderedDict([(k, v), ...]) */
			size_t n;
			struct pv *const *it = pv_items(args->it[0], &n);
			if (!it)
				vm_fail(m, "OrderedDict argument is not a list "
				        "of pairs");
			for (size_t i = 0; i < n; i++) {
				if (it[i]->kind != PV_TUPLE || it[i]->n != 2)
					vm_fail(m, "OrderedDict item is not a pair");
				pv_set(v, it[i]->it[0], it[i]->it[1]);
			}
		} else if (args->n) {
			vm_fail(m, "OrderedDict with %zu arguments", args->n);
		}
		return v;
	case G_TENSOR:
		if (!(v = m->r->tensor(m->r->ctx, pool, fn->s, args, &err))) {
			free(m->err);
			m->err = err;   /* freed by vm_fail */
			vm_fail(m, "%s", err);
		}
		return v;
	case G_PARAM:           /* Parameter(data, requires_grad, hooks) */
		if (!args->n || args->it[0]->kind != PV_TENSOR)
			vm_fail(m, "_rebuild_parameter without a tensor");
		return args->it[0];
	case G_SIZE:
		if (args->n != 1 || args->it[0]->kind != PV_TUPLE)
			vm_fail(m, "torch.Size without a tuple");
		return args->it[0];
	case G_ENCODE: {        /* _codecs.encode(text, 'latin1') */
		if (args->n != 2 || args->it[0]->kind != PV_STR ||
		    args->it[1]->kind != PV_STR ||
		    (strcmp(args->it[1]->s, "latin1") &&
		     strcmp(args->it[1]->s, "latin-1")))
			vm_fail(m, "_codecs.encode other than (str, 'latin1')");
		const unsigned char *q = (const unsigned char *)args->it[0]->s;
		size_t n = args->it[0]->len, k = 0;
		v = pv_new(pool, PV_BYTES);
		v->s = xmalloc(n + 1);
		for (size_t i = 0; i < n; k++) {        /* UTF-8 -> code points < 256 */
			if (q[i] < 0x80) {
				v->s[k] = (char)q[i++];
			} else if ((q[i] & 0xfe) == 0xc2 && i + 1 < n &&
			           (q[i + 1] & 0xc0) == 0x80) {
				v->s[k] = (char)((q[i] & 0x1f) << 6 | (q[i + 1] & 0x3f));
				i += 2;
			} else {
				vm_fail(m, "_codecs.encode of a character "
				        "outside latin1");
			}
		}
		v->s[k] = 0;
		v->len = k;
		return v;
	}
	case G_BYTES:           /* bytes() */
		if (args->n)
			vm_fail(m, "bytes() with arguments");
		v = pv_new(pool, PV_BYTES);
		v->s = xcalloc(1, 1);
		return v;
	case G_INERT:
		v = pv_new(pool, PV_OBJECT);
		v->s = xstrdup(fn->s);
		v->len = strlen(v->s);
		for (size_t i = 0; i < args->n; i++)
			pv_push(v, args->it[i]);
		return v;
	default:
		vm_fail(m, "refusing to call '%s'", fn->s);
	}
}

struct pv *
pk_load(const struct pk_reader *r, const unsigned char *buf, size_t n,
        size_t *used, char **err)
{
	struct vm m;
	struct pv *result = NULL;

	memset(&m, 0, sizeof m);
	m.r = r;
	m.p = m.start = buf;
	m.end = buf + n;
	m.memo_limit = n + 16;
	if (setjmp(m.fail)) {
		*err = m.err;
		result = NULL;
		goto out;
	}
	m.err = NULL;
	for (;;) {
		int op = *take(&m, 1);
		const unsigned char *b;
		struct pv *v, *w, *x;
		size_t len, at;

		switch (op) {
		case 0x80:      /* PROTO */
			if (*take(&m, 1) > 5)
				vm_fail(&m, "pickle protocol newer than 5");
			break;
		case 0x95:      /* FRAME: a length hint, nothing to do */
			take(&m, 8);
			break;
		case '.':       /* STOP */
			result = pop(&m);
			*used = m.p - buf;
			goto out;
		case '(':       /* MARK */
			if (m.nmark == m.mcap) {
				m.mcap = m.mcap ? 2 * m.mcap : 16;
				m.marks = xrealloc(m.marks, m.mcap * sizeof *m.marks);
			}
			m.marks[m.nmark++] = m.sp;
			break;
		case '0':       /* POP */
			pop(&m);
			break;
		case '1':       /* POP_MARK */
			m.sp = pop_mark(&m);
			break;
		case '2':       /* DUP */
			push(&m, top(&m));
			break;
		case 'c': {     /* GLOBAL module\nname\n */
			char mod[256], name[256];
			read_line_op(&m, mod);
			read_line_op(&m, name);
			push(&m, make_global(&m, mod, name));
			break;
		}
		case 0x93:      /* STACK_GLOBAL */
			w = pop(&m);
			v = pop(&m);
			if (v->kind != PV_STR || w->kind != PV_STR)
				vm_fail(&m, "STACK_GLOBAL without two strings");
			push(&m, make_global(&m, v->s, w->s));
			break;
		case 'q':       /* BINPUT */
			memo_put(&m, *take(&m, 1), top(&m));
			break;
		case 'r':       /* LONG_BINPUT */
			memo_put(&m, get_u32(take(&m, 4)), top(&m));
			break;
		case 0x94:      /* MEMOIZE */
			memo_put(&m, m.nput, top(&m));
			break;
		case 'h':       /* BINGET */
			push(&m, memo_get(&m, *take(&m, 1)));
			break;
		case 'j':       /* LONG_BINGET */
			push(&m, memo_get(&m, get_u32(take(&m, 4))));
			break;
		case 'N':
			push(&m, pv_none(r->pool));
			break;
		case 0x88:
		case 0x89:      /* NEWTRUE, NEWFALSE */
			push(&m, pv_bool(r->pool, op == 0x88));
			break;
		case 'K':       /* BININT1 */
			push(&m, pv_int(r->pool, *take(&m, 1)));
			break;
		case 'M':       /* BININT2 */
			push(&m, pv_int(r->pool, get_u16(take(&m, 2))));
			break;
		case 'J':       /* BININT: signed 32 */
			push(&m, pv_int(r->pool, (int32_t)get_u32(take(&m, 4))));
			break;
		case 0x8a:      /* LONG1 */
			len = *take(&m, 1);
			push(&m, make_int(&m, take(&m, len), len));
			break;
		case 0x8b:      /* LONG4 */
			len = get_u32(take(&m, 4));
			push(&m, make_int(&m, take(&m, len), len));
			break;
		case 'I': {     /* INT (protocol 0): "01"/"00" are bools */
			char s[256], *e;
			read_line_op(&m, s);
			long long k = strtoll(s, &e, 10);
			if (*e || !*s)
				vm_fail(&m, "bad INT '%s'", s);
			v = !strcmp(s, "01") ? pv_bool(r->pool, 1) :
			    !strcmp(s, "00") ? pv_bool(r->pool, 0) :
			    pv_int(r->pool, k);
			push(&m, v);
			break;
		}
		case 'G': {     /* BINFLOAT: big-endian double */
			uint64_t u = 0;
			double d;
			b = take(&m, 8);
			for (int i = 0; i < 8; i++)
				u = u << 8 | b[i];
			memcpy(&d, &u, 8);
			push(&m, pv_float(r->pool, d));
			break;
		}
		case 'X':       /* BINUNICODE */
		case 'T':       /* BINSTRING */
		case 'B':       /* BINBYTES */
			len = get_u32(take(&m, 4));
			b = take(&m, len);
			push(&m, pv_strn(r->pool, op == 'B' ? PV_BYTES : PV_STR,
			                 (const char *)b, len));
			break;
		case 0x8c:      /* SHORT_BINUNICODE */
		case 'U':       /* SHORT_BINSTRING */
		case 'C':       /* SHORT_BINBYTES */
			len = *take(&m, 1);
			b = take(&m, len);
			push(&m, pv_strn(r->pool, op == 'C' ? PV_BYTES : PV_STR,
			                 (const char *)b, len));
			break;
		case 0x8d:      /* BINUNICODE8 */
		case 0x8e:      /* BINBYTES8 */
			len = (size_t)get_u64(take(&m, 8));
			b = take(&m, len);
			push(&m, pv_strn(r->pool, op == 0x8e ? PV_BYTES : PV_STR,
			                 (const char *)b, len));
			break;
		case ')':
			push(&m, pv_new(r->pool, PV_TUPLE));
			break;
		case 't':
			at = pop_mark(&m);
			push(&m, tuple_from(&m, at));
			break;
		case 0x85:
		case 0x86:
		case 0x87:      /* TUPLE1..3 */
			len = op - 0x84;
			if (m.sp < floor_sp(&m) + len)
				vm_fail(&m, "stack underflow (not a valid pickle)");
			push(&m, tuple_from(&m, m.sp - len));
			break;
		case ']':
			push(&m, pv_list(r->pool));
			break;
		case 'l':       /* LIST */
		case 0x91:      /* FROZENSET, kept as a list */
			at = pop_mark(&m);
			v = tuple_from(&m, at);
			v->kind = PV_LIST;
			push(&m, v);
			break;
		case 0x8f:      /* EMPTY_SET, kept as a list */
			push(&m, pv_list(r->pool));
			break;
		case 'a':       /* APPEND */
			v = pop(&m);
			w = top(&m);
			if (w->kind != PV_LIST)
				vm_fail(&m, "APPEND to something not a list");
			pv_push(w, v);
			break;
		case 'e':       /* APPENDS */
		case 0x90:      /* ADDITEMS */
			at = pop_mark(&m);
			w = below(&m, at);
			if (w->kind != PV_LIST)
				vm_fail(&m, "APPENDS to something not a list");
			for (size_t i = at; i < m.sp; i++)
				pv_push(w, m.stack[i]);
			m.sp = at;
			break;
		case '}':
			push(&m, pv_dict(r->pool));
			break;
		case 'd':       /* DICT */
			at = pop_mark(&m);
			if ((m.sp - at) % 2)
				vm_fail(&m, "DICT with an odd number of items");
			v = pv_dict(r->pool);
			for (size_t i = at; i < m.sp; i++)
				pv_push(v, m.stack[i]);
			m.sp = at;
			push(&m, v);
			break;
		case 's':       /* SETITEM */
			x = pop(&m);
			w = pop(&m);
			v = top(&m);
			if (v->kind != PV_DICT)
				vm_fail(&m, "SETITEM on something not a dict");
			pv_set(v, w, x);
			break;
		case 'u':       /* SETITEMS */
			at = pop_mark(&m);
			v = below(&m, at);
			if (v->kind != PV_DICT)
				vm_fail(&m, "SETITEMS on something not a dict");
			if ((m.sp - at) % 2)
				vm_fail(&m, "SETITEMS with an odd number of items");
			for (size_t i = at; i < m.sp; i++)
				pv_push(v, m.stack[i]);
			m.sp = at;
			break;
		case 'R':       /* REDUCE */
			w = pop(&m);
			v = pop(&m);
			push(&m, do_reduce(&m, v, w));
			break;
		case 0x81:      /* NEWOBJ cls args */
		case 0x92:      /* NEWOBJ_EX cls args kwargs */
			if (op == 0x92)
				pop(&m);
			w = pop(&m);
			v = pop(&m);
			if (v->kind != PV_GLOBAL || v->i != G_INERT)
				vm_fail(&m, "NEWOBJ of '%s' is not allowed",
				        v->kind == PV_GLOBAL ? v->s : "?");
			push(&m, do_reduce(&m, v, w));
			break;
		case 'b':       /* BUILD */
			w = pop(&m);
			v = top(&m);
			if (v->kind != PV_DICT && v->kind != PV_OBJECT &&
			    v->kind != PV_TENSOR)
				vm_fail(&m, "BUILD on something that is not an "
				        "allowed object");
			v->state = w;   /* kept, never applied */
			break;
		case 'Q':       /* BINPERSID */
			v = pop(&m);
			if (!r->persid)
				vm_fail(&m, "persistent id in a pickle that should "
				        "have none");
			if (!(w = r->persid(r->ctx, r->pool, v, &m.err)))
				vm_fail(&m, "%s", m.err);
			push(&m, w);
			break;
		default:
			vm_fail(&m, "unsupported pickle opcode 0x%02x "
			        "(not a state dict this reader understands)", op);
		}
	}
out:
	free(m.stack);
	free(m.marks);
	free(m.memo);
	return result;
}

/* ---- writing: protocol 2, as Python's pickler ----------------------------- */

void
pk_op(struct pk_writer *w, int op)
{
	buf_addc(w->out, (char)op);
}

void
pk_put(struct pk_writer *w)
{
	unsigned char b[5];

	if (w->memo < 256) {
		b[0] = 'q';
		b[1] = (unsigned char)w->memo;
		buf_add(w->out, b, 2);
	} else {
		b[0] = 'r';
		put_u32(b + 1, w->memo);
		buf_add(w->out, b, 5);
	}
	w->memo++;
}

static void
pk_get(struct pk_writer *w, uint32_t slot)
{
	unsigned char b[5];

	if (slot < 256) {
		b[0] = 'h';
		b[1] = (unsigned char)slot;
		buf_add(w->out, b, 2);
	} else {
		b[0] = 'j';
		put_u32(b + 1, slot);
		buf_add(w->out, b, 5);
	}
}

/* Memo of objects Python would see as the same object: globals, and the
 * constant strings torch reuses ('storage', 'cpu', a storage's key). */
static int
pk_memo_hit(struct pk_writer *w, const char *name)
{
	for (size_t i = 0; i < w->ngm; i++)
		if (!strcmp(w->gm[i].name, name)) {
			pk_get(w, w->gm[i].slot);
			return 1;
		}
	return 0;
}

static void
pk_memo_add(struct pk_writer *w, const char *name)
{
	if (w->ngm == w->capgm) {
		w->capgm = w->capgm ? 2 * w->capgm : 16;
		w->gm = xrealloc(w->gm, w->capgm * sizeof *w->gm);
	}
	w->gm[w->ngm].name = xstrdup(name);
	w->gm[w->ngm].slot = w->memo;
	w->ngm++;
	pk_put(w);
}

void
pk_global(struct pk_writer *w, const char *module, const char *name)
{
	char key[256];

	snprintf(key, sizeof key, "g:%s %s", module, name);
	if (pk_memo_hit(w, key))
		return;
	pk_op(w, 'c');
	buf_adds(w->out, module);
	buf_addc(w->out, '\n');
	buf_adds(w->out, name);
	buf_addc(w->out, '\n');
	pk_memo_add(w, key);
}

static void
pk_unicode(struct pk_writer *w, const char *s, size_t n)
{
	unsigned char b[5];

	b[0] = 'X';
	put_u32(b + 1, (uint32_t)n);
	buf_add(w->out, b, 5);
	buf_add(w->out, s, n);
}

void
pk_shared_str(struct pk_writer *w, const char *s)
{
	char key[256];

	snprintf(key, sizeof key, "s:%s", s);
	if (pk_memo_hit(w, key))
		return;
	pk_unicode(w, s, strlen(s));
	pk_memo_add(w, key);
}

void
pk_int(struct pk_writer *w, int64_t i)
{
	unsigned char b[10];

	if (i >= 0 && i <= 0xff) {
		b[0] = 'K';
		b[1] = (unsigned char)i;
		buf_add(w->out, b, 2);
	} else if (i >= 0 && i <= 0xffff) {
		b[0] = 'M';
		put_u16(b + 1, (uint16_t)i);
		buf_add(w->out, b, 3);
	} else if (i >= -0x80000000LL && i <= 0x7fffffffLL) {
		b[0] = 'J';
		put_u32(b + 1, (uint32_t)i);
		buf_add(w->out, b, 5);
	} else {                /* LONG1: shortest two's complement */
		int n = 8;
		uint64_t u = (uint64_t)i;
		while (n > 1) {
			int64_t sh = i >> (8 * (n - 1) - 1);
			if (sh != 0 && sh != -1)
				break;
			n--;
		}
		b[0] = 0x8a;
		b[1] = (unsigned char)n;
		for (int k = 0; k < n; k++)
			b[2 + k] = (unsigned char)(u >> (8 * k));
		buf_add(w->out, b, 2 + n);
	}
}

static size_t
node_hash(const struct pv *v, size_t cap)
{
	return (size_t)(((uintptr_t)v >> 4) * 0x9e3779b97f4a7c15ULL) & (cap - 1);
}

/* Slot of a node already written, or -1. */
static int64_t
node_slot(const struct pk_writer *w, const struct pv *v)
{
	if (!w->capnm)
		return -1;
	for (size_t j = node_hash(v, w->capnm); w->nm[j].v;
	     j = (j + 1) & (w->capnm - 1))
		if (w->nm[j].v == v)
			return w->nm[j].slot;
	return -1;
}

/* Remember v at the next memo slot, then BINPUT it. */
static void
node_put(struct pk_writer *w, const struct pv *v)
{
	if (2 * (w->nnm + 1) > w->capnm) {
		size_t oc = w->capnm;
		__typeof__(w->nm) o = w->nm;
		w->capnm = oc ? 2 * oc : 64;
		w->nm = xcalloc(w->capnm, sizeof *w->nm);
		for (size_t i = 0; i < oc; i++)
			if (o[i].v) {
				size_t j = node_hash(o[i].v, w->capnm);
				while (w->nm[j].v)
					j = (j + 1) & (w->capnm - 1);
				w->nm[j] = o[i];
			}
		free(o);
	}
	size_t j = node_hash(v, w->capnm);
	while (w->nm[j].v)
		j = (j + 1) & (w->capnm - 1);
	w->nm[j].v = v;
	w->nm[j].slot = w->memo;
	w->nnm++;
	pk_put(w);
}

static void
pk_items(struct pk_writer *w, struct pv *const *it, size_t n, size_t per,
         int one_op, int many_op)
{
	/* Python batches 1000 items (pairs, for dicts) per MARK..op */
	size_t total = n / per;

	for (size_t k = 0; k < total; k += 1000) {
		size_t c = total - k < 1000 ? total - k : 1000;
		if (c > 1)
			pk_op(w, '(');
		for (size_t j = 0; j < c * per; j++)
			pk_value(w, it[k * per + j]);
		pk_op(w, c > 1 ? many_op : one_op);
	}
}

void
pk_value(struct pk_writer *w, const struct pv *v)
{
	unsigned char b[9];
	int64_t slot;

	if ((v->kind == PV_STR || v->kind == PV_LIST || v->kind == PV_DICT ||
	     (v->kind == PV_TUPLE && v->n)) && (slot = node_slot(w, v)) >= 0) {
		pk_get(w, (uint32_t)slot);
		return;
	}
	switch (v->kind) {
	case PV_NONE:
		pk_op(w, 'N');
		break;
	case PV_BOOL:
		pk_op(w, v->i ? 0x88 : 0x89);
		break;
	case PV_INT:
		pk_int(w, v->i);
		break;
	case PV_FLOAT: {
		uint64_t u;
		memcpy(&u, &v->d, 8);
		b[0] = 'G';
		for (int i = 0; i < 8; i++)
			b[1 + i] = (unsigned char)(u >> (56 - 8 * i));
		buf_add(w->out, b, 9);
		break;
	}
	case PV_STR:
		pk_unicode(w, v->s, v->len);
		node_put(w, v);
		break;
	case PV_TUPLE:
		if (!v->n) {
			pk_op(w, ')');
			break;
		}
		if (v->n > 3)
			pk_op(w, '(');
		for (size_t i = 0; i < v->n; i++)
			pk_value(w, v->it[i]);
		/* a tuple that met itself through a list inside it was
		 * written there already: as Python does, drop the items
		 * (POP each, or POP_MARK) and fetch that one */
		if ((slot = node_slot(w, v)) >= 0) {
			for (size_t i = 0; i < (v->n > 3 ? 1 : v->n); i++)
				pk_op(w, v->n > 3 ? '1' : '0');
			pk_get(w, (uint32_t)slot);
			break;
		}
		pk_op(w, v->n > 3 ? 't' : 0x84 + (int)v->n);
		node_put(w, v);
		break;
	case PV_LIST:
		pk_op(w, ']');
		node_put(w, v);
		pk_items(w, v->it, v->n, 1, 'a', 'e');
		break;
	case PV_DICT:
		if (v->i) {     /* OrderedDict: reduce to cls(), then items */
			pk_global(w, "collections", "OrderedDict");
			pk_op(w, ')');
			pk_op(w, 'R');
		} else {
			pk_op(w, '}');
		}
		node_put(w, v);
		pk_items(w, v->it, v->n, 2, 's', 'u');
		break;
	case PV_TENSOR:
		if (!w->tensor)
			die("pickle: a tensor where none can be written");
		w->tensor(w->ctx, w, v);
		break;
	default:
		die("pickle: cannot write a value of kind %d", v->kind);
	}
}

void
pk_write(struct pk_writer *w, const struct pv *root)
{
	pk_op(w, 0x80);
	pk_op(w, 2);
	pk_value(w, root);
	pk_op(w, '.');
}

void
pk_writer_free(struct pk_writer *w)
{
	for (size_t i = 0; i < w->ngm; i++)
		free(w->gm[i].name);
	free(w->gm);
	w->gm = NULL;
	w->ngm = w->capgm = 0;
	free(w->nm);
	w->nm = NULL;
	w->nnm = w->capnm = 0;
}

/* ---- fastai's itos.pkl ------------------------------------------------- */

char **
pk_read_strings(const char *path, size_t *n)
{
	FILE *f = open_in(path);
	struct buf b = { 0 };
	char chunk[65536];
	size_t k, used, cnt;
	struct pv_pool pool = { 0 };
	struct pk_reader r = { &pool, NULL, NULL, NULL };
	char *err = NULL;

	while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(&b, chunk, k);
	close_in(f, path);
	struct pv *v = pk_load(&r, (unsigned char *)b.p, b.n, &used, &err);
	if (!v)
		die("%s: %s; expected a pickled list of strings (fastai's "
		    "itos.pkl)", path, err);
	struct pv *const *it = pv_items(v, &cnt);
	if (!it)
		die("%s: the pickle is not a list; expected a pickled list of "
		    "strings (fastai's itos.pkl)", path);
	char **out = xmalloc((cnt + 1) * sizeof *out);
	for (size_t i = 0; i < cnt; i++) {
		if (it[i]->kind != PV_STR)
			die("%s: item %zu of the list is not a string; expected "
			    "fastai's itos.pkl", path, i);
		out[i] = xstrdup(it[i]->s);
	}
	out[cnt] = NULL;
	*n = cnt;
	pv_pool_free(&pool);
	buf_free(&b);
	return out;
}
