#!/bin/sh
# scripts/deps.sh — installs the Debian packages s2s builds against, only
# those that are missing. Called by the Makefile before the first compile.
set -eu

# g++: the test cell written in C++ and tokenizer/spm.cc; clang and libclang-rt-14-dev: the
# libFuzzer harnesses (make fuzz, and briefly in make test);
# libsentencepiece-dev and sentencepiece: subword units (tokenizer/spm.cc);
# openmpi-bin, libopenmpi-dev: `mpirun -np N s2s train` and its tests
# (the build works without them: make MPI=0).
PKGS="gcc g++ make pkg-config libyaml-dev libutf8proc-dev libcriterion-dev libopenblas-dev libedit-dev clang libclang-rt-14-dev libsentencepiece-dev sentencepiece openmpi-bin libopenmpi-dev"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "s2s: missing packages:$missing (and no apt-get here: install them with your package manager)" >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "s2s: missing packages:$missing; run: sudo apt-get install$missing" >&2
    exit 1
fi
echo "s2s: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
