#!/bin/sh
# scripts/fuzz.sh BUILD SECONDS FUZZER... — runs each libFuzzer harness for
# SECONDS (or FUZZ_RUNS executions if set, whichever ends first) on its
# corpus (BUILD/corpus/NAME, started from fuzz/seeds/NAME, grown between
# runs) and prints one line per harness: executions, coverage (edges) and
# features. A crash, leak or sanitizer report fails;
# the input that caused it is kept in BUILD/crash/.
set -u
build=$1; secs=$2; shift 2
mkdir -p "$build/crash"
status=0
for f in "$@"; do
    name=$(basename "$f"); name=${name#fuzz_}
    corpus="$build/corpus/$name"
    mkdir -p "$corpus"
    log="$build/$name.log"
    S2S_CELL_PATH=${S2S_CELL_PATH-} "$f" -max_total_time="$secs" -runs="${FUZZ_RUNS:--1}" -timeout=20 -rss_limit_mb=2560 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$build/crash/$name-" \
        "$corpus" "fuzz/seeds/$name" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    printf 'fuzz %-16s %10s execs  cov %6s  ft %6s  %ss\n' "$name" "${runs:-?}" "${cov:-?}" "${ft:-?}" "$secs"
    if [ "$rc" != 0 ]; then
        echo "fuzz $name FAILED (exit $rc): see $log" >&2
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -n 8 >&2
        status=1
    fi
done
exit $status
