#!/bin/sh
# scripts/bench-mpi.sh — training throughput alone and under mpirun, as
# JSON lines: configs S and M (of ../shared/BENCHMARK.md), one process of
# 2 threads against 2 ranks of 1 thread, interleaved (REPS rounds) so that
# both see the same load on a shared machine; and the bytes each rank puts
# into the reductions per step. `make bench-mpi`; run from the repository
# root. Tokens/s is what `s2s train` reports for the epoch: target tokens
# over the STEPS optimiser steps (data loading and the dev evaluation after
# them excluded).
#   usage: scripts/bench-mpi.sh [BUILD]
#   env: CONFIGS="S M", STEPS (200 for S, 100 for M), REPS=3, ONE_THREAD=1
#   (also 1 process x 1 thread). Each line also carries the BLAS kernel
#   (openblas_get_corename(), from the log) and the 1-minute load average
#   after the run, since the machine may be shared.
set -eu
BUILD=${1:-build}
S2S=$(cd "$BUILD" && pwd)/s2s
CONFIGS=${CONFIGS:-S M}
REPS=${REPS:-3}
TMP=$(mktemp -d /tmp/s2s-bench-mpi-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# the reference corpus (configs/S.yaml reads S2S_TATOEBA when set)
if [ -z "${S2S_TATOEBA:-}" ] && [ -f ../shared/corpora/eng-fra/eng-fra.txt ]; then
    S2S_TATOEBA=$(cd ../shared/corpora/eng-fra && pwd)/eng-fra.txt
fi
[ -n "${S2S_TATOEBA:-}" ] && export S2S_TATOEBA
MPIRUN="mpirun -np 2${S2S_TATOEBA:+ -x S2S_TATOEBA}"
[ "$(id -u)" = 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"

run() { # config np threads steps
    cfg=$1; np=$2; th=$3; steps=$4
    sed -e "s|^\( *\)epochs:.*|\1epochs: 1\n\1max_steps: $steps|" \
        -e "s|^\( *\)run_dir:.*|\1run_dir: $TMP/run|" \
        -e "s|^\( *\)max_len: 20 .*|\1max_len: 1   # (bench: no time on the dev BLEU)|" \
        configs/$cfg.yaml > "$TMP/$cfg.yaml"
    rm -rf "$TMP/run"
    if [ "$np" = 1 ]; then
        "$S2S" train "$TMP/$cfg.yaml" --threads "$th" 2> "$TMP/log"
    else
        $MPIRUN "$S2S" train "$TMP/$cfg.yaml" --threads "$th" 2> "$TMP/log"
    fi
    tps=$(sed -n 's/.* done: [0-9]* steps .* tok\/s \([0-9]*\) .*/\1/p' "$TMP/log" | tail -n 1)
    mb=$(sed -n 's/^MPI: \([0-9.]*\) MB per step.*/\1/p' "$TMP/log" | tail -n 1)
    red=$(sed -n 's/^MPI: .* reductions \([0-9.]*\) ms of \([0-9.]*\) ms per step.* \([0-9.]*\) ms waiting.*/\1, "step_ms": \2, "wait_ms": \3/p' "$TMP/log" | tail -n 1)
    kernel=$(sed -n 's/^BLAS: .*kernel \([A-Za-z0-9_]*\).*/\1/p' "$TMP/log" | head -n 1)
    load=$(cut -d' ' -f1 /proc/loadavg)
    printf '{"figure": "train_mpi", "config": "%s", "ranks": %s, "threads": %s, "commit": "%s", "steps": %s, "tokens_per_s": %s, "reduced_mb_per_step_per_rank": %s, "reduce_ms": %s, "blas_kernel": "%s", "load1_after": %s}\n' \
        "$cfg" "$np" "$th" "$commit" "$steps" "${tps:-null}" "${mb:-0}" "${red:-0}" "${kernel:-unknown}" "$load"
}

for cfg in $CONFIGS; do
    steps=${STEPS:-200}
    [ "$cfg" = M ] && steps=${STEPS:-100}
    r=1
    while [ "$r" -le "$REPS" ]; do
        run "$cfg" 1 2 "$steps"
        run "$cfg" 2 1 "$steps"
        [ "${ONE_THREAD:-0}" = 1 ] && run "$cfg" 1 1 "$steps"
        r=$((r + 1))
    done
done
