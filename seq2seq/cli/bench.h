/* seq2seq/cli/bench.h — `s2s bench`: the reference benchmark of
 * bench/README.md, printed as JSON lines. */
#ifndef S2S_BENCH_H
#define S2S_BENCH_H

int s2s_bench_main(int argc, char **argv);

#endif
