/* seq2seq/cli/info.h — `s2s info` and `s2s export`: inspect a checkpoint
 * and write its translation-only copy. */
#ifndef S2S_CLI_INFO_H
#define S2S_CLI_INFO_H

int s2s_info_main(int argc, char **argv);
int s2s_export_main(int argc, char **argv);

#endif
