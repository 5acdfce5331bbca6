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

#endif
