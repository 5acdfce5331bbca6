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

/* Whether the screen can answer for the n rows of h (ldh apart): every
 * value finite, no product or logit near overflow. */
int s2s_screen_rows_usable(const s2s_screen *s, int n, const float *h, int ldh);

/* For each of n rows of h (ldh apart), which s2s_screen_rows_usable
 * accepted: the first index in [v0, v1) of the largest logit among those
 * of that slice, as core/frozen.c's kernel computes them when it sums k in
 * blocks of kb (s2s_gemm_frozen_chain), in best[], and that logit in
 * best_z[]. Returns 0 when it cannot (bad arguments, no memory, no
 * kernel): the caller computes the logits then. */
int s2s_screen_argmax_rows(s2s_screen *s, int n, const float *h, int ldh,
                           int v0, int v1, int kb, uint32_t *best, float *best_z);

/* Rows answered (a row screened in slices counts once per slice), and
 * the logits they computed exactly (their sum). */
void s2s_screen_counts(const s2s_screen *s, long *answered, long *exact);

#endif
