/* core/screen.h — the arg-max of one row's logits without computing them
 * all (core/screen.c). */
#ifndef S2S_SCREEN_H
#define S2S_SCREEN_H

#include <stdint.h>

typedef struct s2s_screen s2s_screen;

/* A screen of the output layer z = W h + b (W: V x H row-major, b: V),
 * which must not change while the screen is used. NULL when this build
 * has no kernel for it, the sizes are too small, or W or b holds a value
 * that is not finite. */
s2s_screen *s2s_screen_new(const float *w, const float *bias, int V, int H);
void s2s_screen_free(s2s_screen *s);

/* The index argmax over the logits s2s_gemm(0, 1, 1, V, H, 1, h, ., W, H,
 * 1, z = b, V) computes would give (the first index of the largest), found
 * by computing only the logits that can be the largest; the BLAS threads
 * must be what they will be when the answer is used. Returns 1 with it in
 * *best, 0 when it cannot tell (h not finite, or the BLAS's way of
 * computing single rows could not be reproduced): the caller computes
 * every logit then. */
int s2s_screen_argmax(s2s_screen *s, const float *h, uint32_t *best);

/* Calls answered, and the logits they computed exactly (their sum). */
void s2s_screen_counts(const s2s_screen *s, long *answered, long *exact);

#endif
