#!/bin/sh
# scripts/run-default.sh — the README's main command: trains the small
# default model on the bundled corpus, then translates a few sentences.
set -eu
BUILD=${1:-build}
S2S="$BUILD/s2s"
export S2S_CELL_PATH="$BUILD/cells"

"$S2S" train configs/default.yaml

echo
echo "== translating a few sentences (French -> English) with runs/default/best.ckpt"
examples=$(mktemp)
trap 'rm -f "$examples" "$examples.out"' EXIT
cat > "$examples" <<'SENTENCES'
Je suis fatigué.
Il fait froid.
Où est mon chien ?
Nous sommes en retard.
Elle aime les chats.
J'ai faim !
SENTENCES
"$S2S" translate -m runs/default/best.ckpt "$examples" > "$examples.out"
paste "$examples" "$examples.out" | sed 's/\t/   ->   /'
echo
echo "Try it yourself:   $S2S repl -m runs/default/best.ckpt"
echo "Score it:          $S2S eval -m runs/default/best.ckpt"
echo "Training curves:   runs/default/curves.svg (metrics in runs/default/metrics.csv)"
