/* cells/cell.h — the public ABI between s2s and recurrent-cell plugins.
 *
 * A cell plugin is a shared object that exports one function, named by
 * S2S_CELL_ENTRY, returning a constant descriptor. The host owns every
 * buffer: a plugin keeps no global state, allocates nothing and links
 * against nothing; matrix products and activations go through the host
 * services table it is handed, so one plugin serves every layer and thread
 * and is as fast as whatever BLAS the host uses.
 *
 * Legend (all matrices row-major):
 *   B  batch rows of one time step      N  rows of a whole sequence batch
 *   X  input size                        H  hidden size
 *   G  input-projection width per unit   (LSTM 4, GRU 3, Elman 1)
 *   S  state floats per unit             (1: h; 2: h then c)
 *   K  cache floats per row per step     (what backward needs)
 *
 * A state row is S*H floats: h first (H floats), then c etc. The host feeds
 * layer l+1 with the h part of layer l's states, so `x` arguments carry a
 * row stride `ldx` (>= X).
 *
 * Step order: `project` (all time steps in one GEMM) -> `forward` per step.
 * Backward runs in reverse: `backward` per step -> `project_backward` once.
 *
 * Growing the ABI: fields are only ever appended; the host reads no field
 * past the `size` the plugin declares. Any change to an existing field
 * bumps S2S_CELL_ABI_VERSION and the host refuses other versions.
 */
#ifndef S2S_CELL_H
#define S2S_CELL_H

#include <stddef.h>
#include <stdint.h>

#define S2S_CELL_ABI_VERSION 1u
#define S2S_CELL_ENTRY "s2s_cell_entry"

/* Services the host hands to every plugin call. */
typedef struct s2s_cell_host {
    uint32_t abi_version; /* S2S_CELL_ABI_VERSION of the host */
    uint32_t size;        /* sizeof(s2s_cell_host) as the host built it */

    /* C (m x n) = alpha * op(A) * op(B) + beta * C, row-major; op(A) is
     * m x k, op(B) is k x n; op transposes when trans_* is non-zero. */
    void (*gemm)(int trans_a, int trans_b, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb,
                 float beta, float *c, int ldc);
    /* In place over n floats; vectorised, IEEE (NaN propagates). */
    void (*sigmoid)(float *x, size_t n);
    void (*tanh)(float *x, size_t n);
    /* Uniform draw in [lo, hi) from the host RNG `rng` (opaque). */
    float (*uniform)(void *rng, float lo, float hi);
} s2s_cell_host;

typedef struct s2s_cell_desc {
    uint32_t abi_version;  /* S2S_CELL_ABI_VERSION the plugin was built with */
    uint32_t size;         /* sizeof(s2s_cell_desc) the plugin was built with */
    const char *name;      /* checked against the name the host asked for */
    int state_per_unit;    /* S */
    int proj_per_unit;     /* G */

    /* Shape queries. */
    size_t (*param_count)(int X, int H);
    size_t (*cache_per_row)(int X, int H); /* K; may be 0 */

    /* Fills params (param_count floats). */
    void (*init)(const s2s_cell_host *host, void *rng, float *params,
                 int X, int H);

    /* xp (N x G*H) = x (N x X, stride ldx) . W_ih^T + b_ih */
    void (*project)(const s2s_cell_host *host, const float *params,
                    int X, int H, int N, const float *x, int ldx, float *xp);

    /* One time step: next (B x S*H) from xp (B x G*H) and prev (B x S*H);
     * writes cache (B x K) for backward. */
    void (*forward)(const s2s_cell_host *host, const float *params,
                    int X, int H, int B, const float *xp, const float *prev,
                    float *next, float *cache);

    /* One time step in reverse. dnext (B x S*H) is the loss gradient on
     * next. Accumulates (+=) into dparams; writes (=) dxp (B x G*H) and
     * dprev (B x S*H). May overwrite cache as scratch. */
    void (*backward)(const s2s_cell_host *host, const float *params,
                     float *dparams, int X, int H, int B, const float *xp,
                     const float *prev, const float *next, float *cache,
                     const float *dnext, float *dxp, float *dprev);

    /* Reverse of project over N rows: dparams += (W_ih, b_ih grads);
     * dx (N x X, stride lddx) += dxp . W_ih. dx may be NULL (no input
     * gradient wanted). */
    void (*project_backward)(const s2s_cell_host *host, const float *params,
                             float *dparams, int X, int H, int N,
                             const float *x, int ldx, const float *dxp,
                             float *dx, int lddx);
} s2s_cell_desc;

/* The one symbol a plugin exports: S2S_CELL_ENTRY. */
typedef const s2s_cell_desc *(*s2s_cell_entry_fn)(void);

#endif
