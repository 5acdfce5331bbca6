/* core/phase.h — where the time of a training step goes: per-thread wall
 * time accumulated per phase, for `s2s bench --phases`.
 *
 * A thread is in at most one phase at a time. s2s_phase(P) closes the
 * thread's current phase (adding the time since it began to that phase's
 * accumulator) and opens P; s2s_phase_stop() closes it and opens none.
 * So code marks only boundaries, one call each:
 *
 *     s2s_phase(S2S_PH_RECURRENT);  ... the recurrent steps ...
 *     s2s_phase(S2S_PH_OTHER);
 *
 * Off (the default), every call is one load and a branch. Threads are told
 * apart by omp_get_thread_num() of the innermost team (at most
 * S2S_PHASE_THREADS); accumulators are per thread, so no call contends.
 */
#ifndef S2S_PHASE_H
#define S2S_PHASE_H

enum s2s_phase_id {
    S2S_PH_OTHER,          /* marked code between the phases below */
    S2S_PH_INPUT_PROJ,     /* cells' input projections (forward) */
    S2S_PH_RECURRENT,      /* cells' recurrent steps (forward) */
    S2S_PH_OUTPUT_PROJ,    /* output projection to the vocabulary */
    S2S_PH_SOFTMAX,        /* softmax, loss and its gradient */
    S2S_PH_BWD_OUTPUT,     /* backward of the output projection */
    S2S_PH_BWD_RECURRENT,  /* backward of the recurrent steps */
    S2S_PH_BWD_INPUT_PROJ, /* backward of the input projections */
    S2S_PH_WAIT,           /* waiting for the other threads (barrier) */
    S2S_PH_REDUCE,         /* cross-thread gradient reduction */
    S2S_PH_EMBED,          /* embedding-row gradient updates */
    S2S_PH_CLIP,           /* gradient norm and clipping */
    S2S_PH_OPTIM,          /* the optimiser's update */
    S2S_PH_ATTENTION,      /* attention: scores, context, h~ (forward) */
    S2S_PH_BWD_ATTENTION,  /* backward of attention */
    S2S_PH_COUNT
};

#define S2S_PHASE_THREADS 64

/* Short names for tables and JSON keys, e.g. "recurrent". */
const char *s2s_phase_name(int phase);

extern int s2s_phase_on_;
void s2s_phase_switch_(int phase);

/* Turns accounting on or off and clears the accumulators. */
void s2s_phase_enable(int on);

static inline void s2s_phase(int phase)
{
    if (s2s_phase_on_) s2s_phase_switch_(phase);
}
static inline void s2s_phase_stop(void)
{
    if (s2s_phase_on_) s2s_phase_switch_(-1);
}

/* Seconds accumulated in `phase`, summed over all threads. */
double s2s_phase_seconds(int phase);

#endif
