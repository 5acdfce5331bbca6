#!/bin/sh
# scripts/run-tests.sh — runs every Criterion test binary given and prints
# one closing line over all of them: "tests: P passed, F failed".
set -u
passed=0; failed=0; bad=""
for t in "$@"; do
    echo "== $t"
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -v '^\[----\]' | tail -n 40
    line=$(printf '%s\n' "$out" | grep 'Synthesis: Tested:' | tail -n 1)
    p=$(printf '%s' "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
    f=$(printf '%s' "$line" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
    c=$(printf '%s' "$line" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    # a sanitizer's report from a test's own process (a leak found as a
    # Criterion worker exits) does not fail the test in Criterion: here it does
    san=$(printf '%s\n' "$out" | grep -c 'ERROR: [A-Za-z]*Sanitizer\|runtime error:')
    if [ "$san" != 0 ]; then
        echo "$t: $san sanitizer report(s):"
        printf '%s\n' "$out" | grep -A 12 'ERROR: [A-Za-z]*Sanitizer\|runtime error:'
    fi
    if [ "$rc" != 0 ] || [ -z "$line" ] || [ "$san" != 0 ]; then
        bad="$bad $t"
        [ "${f:-0}" = 0 ] && failed=$((failed + 1))
    fi
    : "${c:=0}"
done
echo
[ -n "$bad" ] && echo "failing:$bad"
echo "tests: $passed passed, $failed failed"
[ -z "$bad" ]
