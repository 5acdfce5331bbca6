/* core/params.h — all parameters of a model in one flat buffer.
 *
 * Parameters, gradients and the two Adam moments are float arrays of the
 * same length; every module holds offsets into them. So the optimiser is one
 * loop, clipping one norm, and a checkpoint one write.
 *
 * Use: s2s_params_reserve() each module's size during construction (it
 * returns the module's offset), then s2s_params_alloc() once.
 */
#ifndef S2S_PARAMS_H
#define S2S_PARAMS_H

#include <stddef.h>

typedef struct s2s_params {
    float *w;  /* parameters       (n) */
    float *g;  /* gradients        (n) */
    float *m;  /* Adam first moment (n) */
    float *v;  /* Adam second moment (n) */
    size_t n;
} s2s_params;

/* Layout phase: returns the offset of a new block of `count` floats. Each
 * block starts on a 64-byte boundary (offsets are multiples of 16). */
size_t s2s_params_reserve(s2s_params *p, size_t count);
/* Allocates w, g, m, v (zeroed, 64-byte aligned) for the reserved size. */
void s2s_params_alloc(s2s_params *p);
void s2s_params_free(s2s_params *p);
void s2s_params_zero_grad(s2s_params *p);

#endif
