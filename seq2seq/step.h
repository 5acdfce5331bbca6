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
/* For a trainer that adds the rows of other processes: the rows w's last
 * training pass touched on the source (side 0) or target (side 1) side,
 * one per token, repeats included, and their gradients (*demb, E floats
 * each, in the same order); returns how many. s2s_step_embed_span_ids
 * adds such rows (demb != NULL) into [lo, hi) of grad, or clears them
 * there (demb NULL), with the operations of s2s_step_embed_grad_span. */
int s2s_step_embed_ids(const s2s_work *w, int side, const uint32_t **ids,
                       const float **demb);
void s2s_step_embed_span_ids(const s2s_model *m, int side, const uint32_t *ids,
                             int n, const float *demb, float *grad, size_t lo,
                             size_t hi);

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

/* Forced decoding (teacher forcing, no dropout): row_nll[b] receives the
 * summed NLL of row b's target tokens (<eos> included), in row order. */
void s2s_step_score(const s2s_model *m, s2s_work *w, const s2s_seqs *s,
                    double *row_nll);

/* Greedy decoding of B sources (any order of lengths). Writes up to
 * max_out[b] ids per row to out[b*ld_out ...] (without <eos>) and their
 * count to out_len[b]. Finished rows stop costing work. With attention and
 * align not NULL, the weights of output token i of row b over its source
 * positions go to align[(b*ld_out + i)*ld_align ...]. */
void s2s_step_greedy(const s2s_model *m, s2s_work *w, int B,
                     const uint32_t *src, int ld_src, const int *src_len,
                     const int *max_out, uint32_t *out, int ld_out,
                     int *out_len, float *align, int ld_align);
/* A step of one row finds its arg-max through a screen of the output layer
 * while the weights are frozen for decoding (core/screen.c: same index,
 * without every logit). How many arg-maxes it answered, and how many
 * logits it computed exactly for them. */
void s2s_step_screen_counts(const s2s_work *w, long *answered, long *exact);

/* The decoder step, for decoding loops (greedy, beam):
 *   n = s2s_step_encode(...)   runs the encoder over the B sources that are
 *                              not empty; encoded row k is source
 *                              s2s_step_encoded_rows(w)[k] (longest first);
 *                              the step states hold one row per encoded
 *                              row, in that order; n_dec is the most
 *                              decoder rows a step will have;
 *   s2s_step_decode(n, ids, mem_of)  one step for n decoder rows: row j
 *                              read token ids[j] and memory (encoded row)
 *                              mem_of[j]; logits and attention weights of
 *                              row j are then s2s_step_logits(w) + j*V and
 *                              s2s_step_attention(w, j) (NULL without
 *                              attention; s2s_step_memory_len(w, k)
 *                              positions);
 *   s2s_step_keep(n, from)     the states before the next step: row k
 *                              continues decoded row from[k] (rows may
 *                              repeat, as beam search needs). */
int s2s_step_encode(const s2s_model *m, s2s_work *w, int B,
                    const uint32_t *src, int ld_src, const int *src_len,
                    int n_dec);
const int *s2s_step_encoded_rows(const s2s_work *w);
int s2s_step_memory_len(const s2s_work *w, int k);
void s2s_step_decode(const s2s_model *m, s2s_work *w, int n,
                     const uint32_t *ids, const int *mem_of);
const float *s2s_step_logits(const s2s_work *w);
const float *s2s_step_attention(const s2s_work *w, int j);
void s2s_step_keep(const s2s_model *m, s2s_work *w, int n, const int *from);

/* Batched decoding on several threads, each with its own rows and work,
 * the output layer shared (each thread projects every thread's rows onto
 * its slice of the vocabulary; logits bit-identical to projecting each
 * thread's own):
 *   c = s2s_step_coop(m, work[0], threads, rows)  before the parallel
 *        region: rows = the most decoder rows of all threads in a step
 *        (owned by work[0], reused by later calls);
 *   s2s_step_join(work[t], c, t) in thread t, before its decoding loop
 *        (s2s_step_greedy or s2s_beam_search) — every step is then a
 *        round all threads of the team take part in (OpenMP barriers);
 *   s2s_step_coop_drain(m, work[t]) after it: takes part in the rounds of
 *        the others until every thread is done;
 *   s2s_step_join(work[t], NULL, 0) to leave. */
typedef struct s2s_coop s2s_coop;
s2s_coop *s2s_step_coop(const s2s_model *m, s2s_work *w0, int threads,
                        int rows);
void s2s_step_join(s2s_work *w, s2s_coop *c, int t);
void s2s_step_coop_drain(const s2s_model *m, s2s_work *w);
/* Seconds the threads spent at its barriers since s2s_step_coop, summed. */
double s2s_step_coop_wait(const s2s_coop *c);
/* Whether to share in this call (0 for a while after s2s_step_coop_note
 * saw the barriers take more than 40 % of the threads' wall time: a
 * machine too busy for lock-step threads); note: after a shared call, its
 * wall time. */
int s2s_step_coop_use(s2s_coop *c);
void s2s_step_coop_note(s2s_coop *c, double wall);
/* Fixes the choice for every later call on c (and on the coop of the same
 * work grown later): 1 always share, 0 never, -1 measure (the default). */
void s2s_step_coop_mode(s2s_coop *c, int mode);

#endif
