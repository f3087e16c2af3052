// sp.cc: the C API of sp.h over SentencePiece's C++ API (the only C++ in
// the tree).  No exception leaves here: each entry point catches and
// reports through err.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <unordered_map>
#include <vector>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#include <xxhash.h>

#include "text/sp.h"

struct sp_model {
	sentencepiece::SentencePieceProcessor proc;
	uint64_t xxh64;
};

struct sp_enc {
	std::vector<std::string> pieces;
};

static void
seterr(char *err, size_t errsz, const char *msg)
{
	if (errsz)
		snprintf(err, errsz, "%s", msg);
}

extern "C" struct sp_model *
sp_load_mem(const void *p, size_t n, char *err, size_t errsz)
{
	try {
		sp_model *m = new sp_model;
		auto st = m->proc.LoadFromSerializedProto(
		    absl::string_view(static_cast<const char *>(p), n));
		if (!st.ok() || m->proc.GetPieceSize() <= 0) {
			std::string why = st.ok() ? "no pieces" : st.message();
			if (why.find("ParseFromArray") != std::string::npos)
				why = "no ModelProto parses from its bytes";
			delete m;
			seterr(err, errsz, ("not a SentencePiece model (" + why +
			                    ")").c_str());
			return nullptr;
		}
		m->xxh64 = XXH64(p, n, 0);
		return m;
	} catch (const std::exception &e) {
		seterr(err, errsz, e.what());
		return nullptr;
	}
}

extern "C" struct sp_model *
sp_load(const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		seterr(err, errsz, strerror(errno));
		return nullptr;
	}
	std::string bytes;
	try {
		char b[65536];
		size_t k;
		while ((k = fread(b, 1, sizeof b, f)) > 0)
			bytes.append(b, k);
	} catch (const std::exception &e) {
		fclose(f);
		seterr(err, errsz, e.what());
		return nullptr;
	}
	if (ferror(f)) {
		seterr(err, errsz, strerror(errno));
		fclose(f);
		return nullptr;
	}
	fclose(f);
	if (bytes.empty()) {
		seterr(err, errsz, "empty file, not a SentencePiece model");
		return nullptr;
	}
	return sp_load_mem(bytes.data(), bytes.size(), err, errsz);
}

extern "C" void
sp_free(struct sp_model *m)
{
	delete m;
}

extern "C" uint64_t
sp_xxh64(const struct sp_model *m)
{
	return m->xxh64;
}

extern "C" int
sp_npieces(const struct sp_model *m)
{
	return m->proc.GetPieceSize();
}

extern "C" const char *
sp_id_to_piece(const struct sp_model *m, int i)
{
	return m->proc.IdToPiece(i).c_str();
}

extern "C" struct sp_enc *
sp_enc_new(void)
{
	try {
		return new sp_enc;
	} catch (const std::exception &) {
		return nullptr;
	}
}

extern "C" void
sp_enc_free(struct sp_enc *e)
{
	delete e;
}

extern "C" long
sp_encode(const struct sp_model *m, struct sp_enc *e, const char *text,
          size_t n, char *err, size_t errsz)
{
	try {
		e->pieces.clear();
		auto st = m->proc.Encode(absl::string_view(text, n), &e->pieces);
		if (!st.ok()) {
			seterr(err, errsz, st.message());
			return -1;
		}
		return static_cast<long>(e->pieces.size());
	} catch (const std::exception &x) {
		seterr(err, errsz, x.what());
		return -1;
	}
}

extern "C" const char *
sp_piece(const struct sp_enc *e, size_t i, size_t *len)
{
	*len = e->pieces[i].size();
	return e->pieces[i].data();
}

namespace {

// Sentences from the C callback, for the trainer.
class CallbackIterator : public sentencepiece::SentenceIterator {
public:
	CallbackIterator(sp_next_fn next, void *arg) : next_(next), arg_(arg)
	{
		Next();
	}
	bool done() const override { return done_; }
	void Next() override
	{
		const char *s;
		size_t n;
		if (next_(arg_, &s, &n))
			value_.assign(s, n);
		else
			done_ = true;
	}
	const std::string &value() const override { return value_; }
	sentencepiece::util::Status status() const override
	{
		return sentencepiece::util::Status();
	}

private:
	sp_next_fn next_;
	void *arg_;
	std::string value_;
	bool done_ = false;
};

} // namespace

extern "C" int
sp_train(const char *const *opt, int nopt, sp_next_fn next, void *arg,
         char **model, size_t *nmodel, char *err, size_t errsz)
{
	try {
		std::unordered_map<std::string, std::string> kw;
		for (int i = 0; i + 1 < 2 * nopt; i += 2)
			kw[opt[i]] = opt[i + 1];
		CallbackIterator it(next, arg);
		std::string bytes;
		auto st = sentencepiece::SentencePieceTrainer::Train(kw, &it,
		                                                     &bytes);
		if (!st.ok()) {
			seterr(err, errsz, st.message());
			return -1;
		}
		char *p = static_cast<char *>(malloc(bytes.size() ? bytes.size() : 1));
		if (!p) {
			seterr(err, errsz, strerror(ENOMEM));
			return -1;
		}
		memcpy(p, bytes.data(), bytes.size());
		*model = p;
		*nmodel = bytes.size();
		return 0;
	} catch (const std::exception &e) {
		seterr(err, errsz, e.what());
		return -1;
	}
}
