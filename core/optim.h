/* core/optim.h — optimisers and gradient clipping over the flat buffers. */
#ifndef S2S_OPTIM_H
#define S2S_OPTIM_H

#include <stddef.h>

#include "core/params.h"

typedef struct s2s_adam_cfg {
    float lr, beta1, beta2, eps;
} s2s_adam_cfg;

/* One Adam step (bias-corrected, as in Kingma & Ba and PyTorch's
 * torch.optim.Adam) on p->w from p->g, updating p->m and p->v. `step` is
 * the 1-based count of steps taken including this one. */
void s2s_adam_step(s2s_params *p, const s2s_adam_cfg *cfg, long step);

/* Plain SGD: w -= lr * g. */
void s2s_sgd_step(s2s_params *p, float lr);

/* Global L2 norm of g (accumulated in double). */
double s2s_grad_norm(const float *g, size_t n);

/* Scales g so its global L2 norm is at most max_norm (as PyTorch's
 * clip_grad_norm_: factor max_norm / (norm + 1e-6) when norm > max_norm).
 * Returns the norm before clipping. A non-finite norm (NaN or inf in g)
 * leaves g untouched, so the caller can see it and skip the step. The norm
 * is the same bits for any thread count. */
double s2s_clip_grad_norm(float *g, size_t n, double max_norm);

/* ------------------------------------------------------------------------
 * The same, in pieces, for a caller that fuses them into its own parallel
 * passes (the trainer: reduction + norm in one pass, clip + update + zeroing
 * in another). Each piece gives the bits of the whole-buffer functions
 * above, whoever runs it and in whatever order the parts are done. */

/* The norm's fixed partition of [0, n): part k is [lo, hi). */
#define S2S_NORM_PARTS 64
static inline void s2s_norm_part(size_t n, int k, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)k / S2S_NORM_PARTS;
    *hi = n * (size_t)(k + 1) / S2S_NORM_PARTS;
}
/* Sum of squares of g over one part, as s2s_grad_norm sums it. */
double s2s_grad_sumsq(const float *g, size_t lo, size_t hi);
/* The same sum when g is zero outside the spans [span[2j], span[2j+1])
 * (ascending, disjoint, inside [lo, hi)): only the spans are read, and
 * the result has the same bits. */
double s2s_grad_sumsq_spans(const float *g, size_t lo, size_t hi,
                            const size_t *span, size_t nspan);
/* The same, piece by piece: s2s_grad_sumsq_acc adds g[a, b) (inside the
 * part [lo, hi), pieces in ascending order) into lane[8], which starts at
 * zero; s2s_grad_sumsq_lanes then gives the part's sum. */
void s2s_grad_sumsq_acc(double *lane, const float *g, size_t lo, size_t hi,
                        size_t a, size_t b);
double s2s_grad_sumsq_lanes(const double *lane);
/* The norm from the S2S_NORM_PARTS sums (added in index order). */
double s2s_grad_norm_of_parts(const double *part);
/* The factor s2s_clip_grad_norm scales g by, 1 when it leaves g alone. */
float s2s_clip_factor(double norm, double max_norm);

/* Adam's per-step constants (s2s_adam_step computes the same). */
typedef struct s2s_adam_k {
    float b1, b2, eps, step_size, bc2_sqrt;
} s2s_adam_k;
void s2s_adam_prepare(const s2s_adam_cfg *cfg, long step, s2s_adam_k *k);
/* Adam over [lo, hi) with the gradient scaled by gscale (exactly as if g
 * had been multiplied by it first; 1 = unscaled); zero_g also clears
 * g[zlo, hi) after use, where zlo = max(lo, zero_from). */
void s2s_adam_range(s2s_params *p, const s2s_adam_k *k, size_t lo,
                    size_t hi, float gscale, size_t zero_from, int zero_g);
/* SGD over [lo, hi), likewise. */
void s2s_sgd_range(s2s_params *p, float lr, size_t lo, size_t hi,
                   float gscale, size_t zero_from, int zero_g);

#endif
