// tokenizer/spm.cc — the C interface of tokenizer/spm.h over the
// SentencePiece C++ library. The only C++ file in s2s: every function is
// extern "C", catches whatever the library throws and turns a bad status
// into one line in s2s_err.
#include "tokenizer/spm.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

// Exported by libsentencepiece but declared only in its internal
// common.h: the "--minloglevel" option takes effect after the trainer has
// logged its command line, so it is set here first. 2 = errors only (they
// come back as a status anyway).
namespace sentencepiece {
namespace logging {
void SetMinLogLevel(int v);
}
} // namespace sentencepiece

struct s2s_spm {
    sentencepiece::SentencePieceProcessor sp;
    std::string bytes; // the serialized model, for checkpoints
};

// SentencePiece's messages can span lines; s2s's errors are one line.
static void one_line(s2s_err *err)
{
    if (!err) return;
    for (char *p = err->msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
}

extern "C" s2s_spm *s2s_spm_open(const void *data, size_t len,
                                 const char *name, s2s_err *err)
{
    try {
        s2s_spm *m = new s2s_spm;
        m->bytes.assign(static_cast<const char *>(data), len);
        auto st = m->sp.LoadFromSerializedProto(m->bytes);
        if (!st.ok() || m->sp.GetPieceSize() <= 0) {
            s2s_fail(err, "%s: not a usable SentencePiece model (%s)", name,
                     st.ok() ? "no pieces" : st.ToString().c_str());
            one_line(err);
            delete m;
            return nullptr;
        }
        return m;
    } catch (const std::bad_alloc &) {
        s2s_xmalloc(SIZE_MAX); // out of memory: fatal, as everywhere in s2s
    } catch (const std::exception &e) {
        s2s_fail(err, "%s: not a usable SentencePiece model (%s)", name, e.what());
        one_line(err);
    }
    return nullptr;
}

extern "C" void s2s_spm_free(s2s_spm *m)
{
    delete m;
}

extern "C" const void *s2s_spm_bytes(const s2s_spm *m, size_t *len)
{
    *len = m->bytes.size();
    return m->bytes.data();
}

extern "C" int s2s_spm_size(const s2s_spm *m)
{
    return m->sp.GetPieceSize();
}

extern "C" const char *s2s_spm_piece(const s2s_spm *m, int id)
{
    return m->sp.IdToPiece(id).c_str();
}

extern "C" int s2s_spm_kind(const s2s_spm *m, int id)
{
    if (m->sp.IsUnknown(id)) return S2S_SPM_UNKNOWN;
    if (m->sp.IsControl(id)) return S2S_SPM_CONTROL;
    if (m->sp.IsUnused(id)) return S2S_SPM_UNUSED;
    if (m->sp.IsByte(id)) return S2S_SPM_BYTE;
    return S2S_SPM_NORMAL;
}

extern "C" int s2s_spm_unk_id(const s2s_spm *m)
{
    return m->sp.unk_id();
}

/* Encode, or with alpha > 0 SampleEncode (nbest, alpha). */
static int encode(const s2s_spm *m, const char *text, size_t len, int nbest,
                  float alpha, int **ids, size_t *cap, size_t *n, s2s_err *err)
{
    *n = 0;
    try {
        std::vector<int> v;
        auto st = alpha > 0
                      ? m->sp.SampleEncode(std::string_view(text, len), nbest, alpha, &v)
                      : m->sp.Encode(std::string_view(text, len), &v);
        if (!st.ok()) {
            s2s_fail(err, "SentencePiece cannot encode the text: %s",
                     st.ToString().c_str());
            one_line(err);
            return -1;
        }
        if (v.size() + 1 > *cap) {
            *cap = v.size() + 16;
            *ids = static_cast<int *>(s2s_xrealloc(*ids, *cap * sizeof **ids));
        }
        if (!v.empty()) std::memcpy(*ids, v.data(), v.size() * sizeof **ids);
        *n = v.size();
        return 0;
    } catch (const std::bad_alloc &) {
        s2s_xmalloc(SIZE_MAX);
    }
    return -1;
}

extern "C" int s2s_spm_encode(const s2s_spm *m, const char *text, size_t len,
                              int **ids, size_t *cap, size_t *n, s2s_err *err)
{
    return encode(m, text, len, 0, 0.0f, ids, cap, n, err);
}

extern "C" int s2s_spm_sample(const s2s_spm *m, const char *text, size_t len,
                              int nbest, float alpha, int **ids, size_t *cap,
                              size_t *n, s2s_err *err)
{
    return encode(m, text, len, nbest, alpha, ids, cap, n, err);
}

extern "C" void s2s_spm_seed(unsigned seed)
{
    sentencepiece::SetRandomGeneratorSeed(seed);
}

extern "C" char *s2s_spm_decode(const s2s_spm *m, const int *ids, size_t n)
{
    try {
        std::vector<int> v;
        v.reserve(n);
        int size = m->sp.GetPieceSize();
        for (size_t i = 0; i < n; i++)
            if (ids[i] >= 0 && ids[i] < size) v.push_back(ids[i]);
        std::string s = m->sp.DecodeIds(v);
        return s2s_xstrdup(s.c_str());
    } catch (const std::bad_alloc &) {
        s2s_xmalloc(SIZE_MAX);
    }
    return nullptr;
}

namespace {
// Sentences from a C array, in order.
class array_iterator : public sentencepiece::SentenceIterator {
  public:
    array_iterator(const char *const *s, size_t n) : s_(s), n_(n)
    {
        if (n_) cur_ = s_[0];
    }
    bool done() const override { return i_ >= n_; }
    void Next() override
    {
        if (++i_ < n_) cur_ = s_[i_];
    }
    const std::string &value() const override { return cur_; }
    sentencepiece::util::Status status() const override { return {}; }

  private:
    const char *const *s_;
    size_t n_, i_ = 0;
    std::string cur_;
};
} // namespace

extern "C" void *s2s_spm_train(const char *const *sentences, size_t n,
                               const char *options, unsigned seed,
                               size_t *len, s2s_err *err)
{
    try {
        sentencepiece::logging::SetMinLogLevel(2);
        sentencepiece::SetRandomGeneratorSeed(seed);
        array_iterator it(sentences, n);
        std::string model;
        auto st = sentencepiece::SentencePieceTrainer::Train(options, &it, &model);
        if (!st.ok()) {
            s2s_fail(err, "SentencePiece training failed: %s",
                     st.ToString().c_str());
            one_line(err);
            return nullptr;
        }
        void *out = s2s_xmalloc(model.size() + 1);
        std::memcpy(out, model.data(), model.size());
        *len = model.size();
        return out;
    } catch (const std::bad_alloc &) {
        s2s_xmalloc(SIZE_MAX);
    } catch (const std::exception &e) {
        s2s_fail(err, "SentencePiece training failed: %s", e.what());
        one_line(err);
    }
    return nullptr;
}
