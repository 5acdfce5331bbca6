/* core/kernels.h — the numeric kernels: GEMM through CBLAS, and element-wise
 * activations written as plain loops the compiler vectorises (no
 * -ffast-math: results are IEEE, NaN and Inf propagate).
 *
 * All matrices are row-major.
 */
#ifndef S2S_KERNELS_H
#define S2S_KERNELS_H

#include <stddef.h>

/* C (m x n) = alpha * op(A) * op(B) + beta * C; op transposes when trans_*
 * is non-zero. Same signature as s2s_cell_host.gemm. */
void s2s_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta,
              float *c, int ldc);

/* Weights frozen for decoding (core/frozen.c). After s2s_gemm_freeze(p, n)
 * the n floats at p must not change until s2s_gemm_thaw(p): a product
 * C = A . op(B) (no transposed A, alpha 1, beta 0 or 1) of 2 or more rows
 * whose B lies inside them then keeps a copy of op(B)^T in panels and runs
 * a kernel that does not repack B at every call. Each copy is checked once
 * to give the BLAS's own bits for that matrix, else the BLAS keeps doing
 * it. The copies take as much memory as the matrices used. freeze returns
 * -1 when 8 ranges are frozen already. s2s_gemm_frozen is s2s_gemm's hook:
 * 1 when it did the product; s2s_gemm_frozen_copies counts the matrices
 * the kernel serves (those whose check passed). With S2S_FROZEN=0 in the
 * environment nothing is frozen (freeze returns -1): the BLAS does all. */
int s2s_gemm_freeze(const float *p, size_t n);
void s2s_gemm_thaw(const float *p);
int s2s_gemm_frozen(int m, int n, int k, const float *a, int lda,
                    const float *b, int ldb, int trans_b, float beta, float *c,
                    int ldc);
int s2s_gemm_frozen_copies(void);
/* When s2s_gemm would do the product of m rows by B^T (b: n x k, ldb
 * apart; beta 0 or 1) with the frozen kernel, the block of k it sums in
 * (kb >= 1): element (i, j) is then what s2s_gemm_chains gives for c_ij
 * (beta C's), row i of A and row j of B. 0 when the BLAS would do it. */
int s2s_gemm_frozen_chain(int m, int n, int k, const float *b, int ldb, int trans_b);
/* out[i] = the frozen kernel's element from c[i] and the k values at a[i]
 * and b[i], summed in blocks of kb, for i < n. */
void s2s_gemm_chains(int n, const float *c, const float *const *a,
                     const float *const *b, int k, int kb, float *out);
/* Products the kernel has done since the program started. */
long s2s_gemm_frozen_served(void);
/* Weights that change between training steps: a range frozen so serves
 * products of up to max_rows rows. s2s_gemm_frozen_changed(p) after every
 * write to the weights makes every copy stale (the BLAS serves it);
 * s2s_gemm_frozen_refresh(p, part, parts), called by each of `parts`
 * threads with its own part and nothing else running against the range,
 * repacks that part of the stale copies used since the last refresh, and
 * s2s_gemm_frozen_refreshed(p), once all parts are done, makes them
 * current. Thawed with s2s_gemm_thaw. */
int s2s_gemm_freeze_training(const float *p, size_t n, int max_rows);
void s2s_gemm_frozen_changed(const float *p);
void s2s_gemm_frozen_refresh(const float *p, int part, int parts);
void s2s_gemm_frozen_refreshed(const float *p);
/* Threads the frozen kernel splits a product over when called outside a
 * parallel region (1, the default: the calling thread alone); whether p
 * lies in a frozen range. */
void s2s_gemm_frozen_threads(int n);
int s2s_gemm_is_frozen(const float *p);
/* Non-zero when the n floats at p lie in a range frozen for decoding (read
 * only until thawed): an id no other freeze has had, so a copy derived
 * from them knows whether it is still theirs. */
long s2s_gemm_frozen_id(const float *p, size_t n);

/* Threads the BLAS itself may use (1 inside our own OpenMP regions). */
void s2s_blas_set_threads(int n);
int s2s_blas_get_threads(void);

/* In place, over n floats. Over [-20, 20] both are within 3e-7 absolute
 * of the double-precision functions (tanh keeps its relative accuracy near
 * 0); +-inf give the exact limits, NaN gives NaN. Large n runs in parallel
 * unless already inside a parallel region. */
void s2s_sigmoid(float *x, size_t n);
void s2s_tanh(float *x, size_t n);
/* exp over n floats, out may equal in. About 1 ulp (0.95 measured) where
 * the result is a normal float; overflow gives +inf, underflow reaches 0
 * through the subnormals. */
void s2s_exp(const float *in, float *out, size_t n);

/* Derivatives from the activation's output y: dy/dx. */
static inline float s2s_dsigmoid_y(float y) { return y * (1.0f - y); }
static inline float s2s_dtanh_y(float y) { return 1.0f - y * y; }

/* Row-wise over a (rows x cols) matrix with row stride ld, in place.
 * Max-subtracted; -inf entries get probability 0; a row that is all -inf
 * (or holds +inf or NaN) becomes NaN, as in PyTorch. */
void s2s_softmax_rows(float *x, int rows, int cols, int ld);
void s2s_log_softmax_rows(float *x, int rows, int cols, int ld);

/* Cross-entropy of one row of n logits z against class `gold`: returns
 * -log softmax(z)[gold]. With scale != 0, replaces z by scale times the
 * gradient of that loss, scale * (softmax(z) - onehot(gold)). */
double s2s_xent_row(float *z, int n, unsigned gold, float scale);

/* log softmax(z) of a row of n logits, without changing z: *max and
 * *log_sum such that log softmax(z)[v] = (double)(z[v] - *max) - *log_sum,
 * exactly -s2s_xent_row(z, n, v, 0). scratch holds n floats. */
void s2s_logsumexp_row(const float *z, int n, float *scratch, float *max,
                       double *log_sum);

/* y += x over n floats. */
void s2s_add(float *y, const float *x, size_t n);

#endif
