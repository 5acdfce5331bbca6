/* core/phase.c — per-thread phase timers (see phase.h). */
#include "core/phase.h"

#include <omp.h>
#include <string.h>
#include <time.h>

int s2s_phase_on_;

/* One cache line per thread at least: threads write only their own. */
typedef struct {
    double t0;   /* when the current phase began */
    int cur;     /* current phase, -1 = none */
    double acc[S2S_PH_COUNT];
    char pad[64];
} slot;

static slot slots[S2S_PHASE_THREADS];

static const char *const NAMES[S2S_PH_COUNT] = {
    "other", "input_proj", "recurrent", "output_proj", "softmax_loss",
    "bwd_output_proj", "bwd_recurrent", "bwd_input_proj", "wait",
    "reduce", "embed_update", "clip", "optimizer", "attention",
    "bwd_attention",
};

const char *s2s_phase_name(int phase)
{
    return phase >= 0 && phase < S2S_PH_COUNT ? NAMES[phase] : "?";
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void s2s_phase_enable(int on)
{
    memset(slots, 0, sizeof slots);
    for (int t = 0; t < S2S_PHASE_THREADS; t++) slots[t].cur = -1;
    s2s_phase_on_ = on;
}

void s2s_phase_switch_(int phase)
{
    int t = omp_get_thread_num();
    if (t < 0 || t >= S2S_PHASE_THREADS) return;
    slot *s = &slots[t];
    double x = now();
    if (s->cur >= 0) s->acc[s->cur] += x - s->t0;
    s->cur = phase;
    s->t0 = x;
}

double s2s_phase_seconds(int phase)
{
    double sum = 0;
    if (phase < 0 || phase >= S2S_PH_COUNT) return 0;
    for (int t = 0; t < S2S_PHASE_THREADS; t++) sum += slots[t].acc[phase];
    return sum;
}
