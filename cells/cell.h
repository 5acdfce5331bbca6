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
 * Growing the ABI: fields are only ever appended to s2s_cell_desc and
 * s2s_cell_host. The host accepts any descriptor of at least
 * S2S_CELL_DESC_V1_SIZE bytes (the fields below, frozen) and reads no field
 * past the `size` the plugin declares, so plugins built against an older
 * cell.h keep loading; a plugin reads no host field past host->size. Any
 * change to an existing field bumps S2S_CELL_ABI_VERSION and the host
 * refuses other versions.
 *
 * Trust: a plugin is code the host runs, like an SQLite extension or a
 * Python module: loading it runs its constructors, and its calls can do
 * anything the process can. Load only plugins you would run. s2s loads a
 * plugin from a path only when the user names it (model.cell in their own
 * run file); a checkpoint names its cells by name and the SHA-256 of the
 * file trained with, and the host loads a cell from a checkpoint only from
 * the trusted search path (--cell-path, $S2S_CELL_PATH, the install and
 * build directories) and only when the digest matches.
 *
 * What the host checks before it uses a plugin: the ABI version, the
 * descriptor size, the name, S in 1..S2S_CELL_MAX_STATE, G in
 * 1..S2S_CELL_MAX_PROJ, every function pointer set, and for each (X, H)
 * it uses: param_count between G*H*(X+1) (W_ih and b_ih, which `project`
 * reads) and S2S_CELL_MAX_PARAMS, cache_per_row at most S2S_CELL_MAX_CACHE;
 * every size derived from these is computed in checked size_t arithmetic.
 * What it cannot check: that the calls stay within the buffers their
 * shape answers promise, compute what they claim, or return. A plugin
 * that writes past its parameters or cache corrupts the process.
 *
 * Writing a cell in C++: this header has extern "C" guards; define the
 * entry point with S2S_CELL_EXPORT so it has C linkage and default
 * visibility:  S2S_CELL_EXPORT const s2s_cell_desc *s2s_cell_entry(void)
 */
#ifndef S2S_CELL_H
#define S2S_CELL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define S2S_CELL_ABI_VERSION 1u
#define S2S_CELL_ENTRY "s2s_cell_entry"

/* Marks the entry point: C linkage, exported from the shared object. */
#ifdef __cplusplus
#define S2S_CELL_EXPORT extern "C" __attribute__((visibility("default")))
#else
#define S2S_CELL_EXPORT __attribute__((visibility("default")))
#endif

/* Host limits on shape answers (see "What the host checks" above). */
#define S2S_CELL_MAX_STATE 4          /* S */
#define S2S_CELL_MAX_PROJ 64          /* G */
#define S2S_CELL_MAX_SIZE 65536       /* X and H */
#define S2S_CELL_MAX_PARAMS (1ull << 36) /* floats per layer */
#define S2S_CELL_MAX_CACHE (1 << 24)  /* K, floats per row */

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

    /* Appended: non-zero when the host itself adds the recurrent weights'
     * gradient of every step, once per sequence (see the descriptor's
     * recurrent_weight_offset): backward then leaves that product out.
     * Read it through s2s_cell_host_sums_steps. */
    int sums_recurrent_grad;
} s2s_cell_host;

/* Whether backward should leave dW_rec to the host (a host built before
 * the field existed never does). */
static inline int s2s_cell_host_sums_steps(const s2s_cell_host *h)
{
    return h->size >= offsetof(s2s_cell_host, sums_recurrent_grad) + sizeof(int) &&
           h->sums_recurrent_grad;
}

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

    /* Appended, optional (NULL, or absent in an older plugin: backward
     * does it all). A cell whose recurrent weights W_rec (G*H x H) get the
     * gradient dW_rec += dxp_t^T . h_{t-1} at every step, with dxp_t what
     * backward writes and h_{t-1} the first H floats of each row of prev
     * (LSTM, Elman), returns where W_rec starts in its parameters; when
     * s2s_cell_host_sums_steps(host), backward leaves that product out and
     * the host adds it once over all the steps of a sequence: one GEMM
     * with every step's rows as k, as PyTorch does, instead of one per
     * step that reads and writes all of dW_rec. The host checks that
     * W_rec lies inside param_count. */
    size_t (*recurrent_weight_offset)(int X, int H);
} s2s_cell_desc;

/* The size of a version-1 descriptor: every field up to and including
 * project_backward. Fields appended later lie past it. */
#define S2S_CELL_DESC_V1_SIZE \
    (offsetof(s2s_cell_desc, project_backward) + \
     sizeof(((s2s_cell_desc *)0)->project_backward))

/* The one symbol a plugin exports: S2S_CELL_ENTRY. */
typedef const s2s_cell_desc *(*s2s_cell_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif
