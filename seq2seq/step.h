/* seq2seq/step.h — one forward (and backward) pass of the model over a
 * set of sequence pairs: the work one thread does on its share of a batch.
 *
 * Each thread owns an s2s_work (activations and scratch, grown on demand
 * and then reused, so the training loop does not allocate) and writes
 * gradients into a buffer of its own; the trainer sums those buffers in a
 * fixed order, so results depend only on seed, data and thread count.
 */
#ifndef S2S_STEP_H
#define S2S_STEP_H

#include <stdint.h>

#include "core/rng.h"
#include "seq2seq/model.h"

/* B pairs, source rows sorted by length, longest first. Row b's source is
 * src[b*ld_src + t] for t < src_len[b]; its decoder input and gold output
 * are tgt_in / tgt_out[b*ld_tgt + u] for u < tgt_len[b] (tgt_in starts
 * with <sos>, tgt_out ends with <eos>). */
typedef struct s2s_seqs {
    int B;
    const uint32_t *src;
    int ld_src;
    const int *src_len;
    const uint32_t *tgt_in, *tgt_out;
    int ld_tgt;
    const int *tgt_len;
} s2s_seqs;

typedef struct s2s_work s2s_work;

s2s_work *s2s_work_new(const s2s_model *m);
void s2s_work_free(s2s_work *w);

/* Forward and backward over `s`. Gradients of (scale * summed token NLL)
 * are accumulated (+=) into grad (m->params.n floats). With tf_ratio < 1
 * each decoder input is, with probability 1 - tf_ratio, the model's own
 * previous arg-max instead of the gold token (draws from rng). Returns the
 * summed NLL over the target tokens of `s`. */
double s2s_step_train(const s2s_model *m, s2s_work *w, const s2s_seqs *s,
                      float *grad, float scale, float tf_ratio,
                      s2s_rng *rng);

/* The same in two halves, for threads sharing one gradient: the dense
 * part (every parameter from m->off_dense on) is accumulated into
 * grad_dense, while the embedding-row gradients stay in w until
 * s2s_step_embed_grad adds those whose ids fall in the given ranges to the
 * full gradient `grad` (so threads can split the rows between them and
 * still add in a fixed order). s2s_step_embed_clear zeroes the rows w
 * touched. */
double s2s_step_train_dense(const s2s_model *m, s2s_work *w,
                            const s2s_seqs *s, float *grad_dense,
                            float scale, float tf_ratio, s2s_rng *rng);
void s2s_step_embed_grad(const s2s_model *m, const s2s_work *w, float *grad,
                         uint32_t src_lo, uint32_t src_hi, uint32_t tgt_lo,
                         uint32_t tgt_hi);
void s2s_step_embed_clear(const s2s_model *m, const s2s_work *w, float *grad);
/* The same two over a span [lo, hi) of the flat buffer instead of id
 * ranges: only the elements of w's rows inside the span are added (in the
 * same order) or cleared, so a caller can cut the buffer where it likes. */
void s2s_step_embed_grad_span(const s2s_model *m, const s2s_work *w,
                              float *grad, size_t lo, size_t hi);
void s2s_step_embed_clear_span(const s2s_model *m, const s2s_work *w,
                               float *grad, size_t lo, size_t hi);
/* The flat offsets of the embedding rows (m->E floats each) w touched,
 * repeats included, that meet [lo, hi), into starts (room for
 * s2s_step_embed_count(w)); returns how many. */
size_t s2s_step_embed_count(const s2s_work *w);
size_t s2s_step_embed_rows(const s2s_model *m, const s2s_work *w, size_t lo,
                           size_t hi, size_t *starts);

/* Forward only (teacher forcing): summed NLL over the target tokens. */
double s2s_step_loss(const s2s_model *m, s2s_work *w, const s2s_seqs *s);

/* Greedy decoding of B sources (any order of lengths). Writes up to
 * max_out[b] ids per row to out[b*ld_out ...] (without <eos>) and their
 * count to out_len[b]. Finished rows stop costing work. */
void s2s_step_greedy(const s2s_model *m, s2s_work *w, int B,
                     const uint32_t *src, int ld_src, const int *src_len,
                     const int *max_out, uint32_t *out, int ld_out,
                     int *out_len);

#endif
