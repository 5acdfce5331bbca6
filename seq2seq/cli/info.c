/* seq2seq/cli/info.c — `s2s info` (what a checkpoint holds, on one screen
 * or as JSON) and `s2s export` (a translation-only copy without the Adam
 * moments). Neither builds the model nor loads a plugin. */
#include "seq2seq/cli/info.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seq2seq/checkpoint.h"

static int usage(const char *cmd, const char *what)
{
    fprintf(stderr, "s2s %s: %s (see 's2s %s --help')\n", cmd, what, cmd);
    return 2;
}

/* s as a JSON string. */
static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

/* A finite number, or null. */
static void json_num(const char *fmt, double v)
{
    if (isfinite(v)) printf(fmt, v);
    else fputs("null", stdout);
}

/* The shortest decimal that reads back to v. */
static const char *float_str(float v, char *buf)
{
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, 32, "%.*g", p, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return buf;
}

/* "1,234,567" */
static const char *grouped(uint64_t v, char *buf)
{
    char raw[32];
    int n = snprintf(raw, sizeof raw, "%llu", (unsigned long long)v), k = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) buf[k++] = ',';
        buf[k++] = raw[i];
    }
    buf[k] = 0;
    return buf;
}

static void side_json(const s2s_ckpt_info *in, const char *side,
                      const s2s_side_config *sc)
{
    printf("\"%s\": {\"layers\": %d, \"hidden\": %d, \"cells\": [", side, sc->layers,
           sc->hidden);
    int first = 1;
    for (int i = 0; i < in->n_cells; i++) {
        const s2s_ckpt_cell *c = &in->cells[i];
        if (strcmp(c->side, side) != 0) continue;
        printf("%s{\"layer\": %d, \"name\": ", first ? "" : ", ", c->layer);
        json_str(c->name);
        fputs(", \"sha256\": ", stdout);
        if (c->sha256[0]) json_str(c->sha256);
        else fputs("null", stdout);
        putchar('}');
        first = 0;
    }
    fputs("]}", stdout);
}

static void print_json(const char *path, const s2s_ckpt_info *in)
{
    const s2s_config *c = &in->cfg;
    const s2s_train_state *st = &in->state;
    fputs("{\"file\": ", stdout);
    json_str(path);
    printf(", \"bytes\": %llu, \"format\": %u, \"written_by\": ",
           (unsigned long long)in->file_bytes, in->format);
    json_str(in->version);
    printf(", \"parameters\": %llu, \"vocab_src\": %u, \"vocab_tgt\": %u, "
           "\"embed\": %d, ", (unsigned long long)in->params, in->vocab_src,
           in->vocab_tgt, c->model.embed);
    side_json(in, "encoder", &c->model.encoder);
    fputs(", ", stdout);
    side_json(in, "decoder", &c->model.decoder);
    printf(", \"bidirectional\": %s, \"attention\": ",
           c->model.bidirectional ? "true" : "false");
    json_str(c->model.attention);
    printf(", \"input_feed\": %s, \"dropout\": ", c->model.input_feed ? "true" : "false");
    json_num("%.6g", c->model.dropout);
    printf(", \"resumable\": %s, \"shortlist\": %s, \"training\": ",
           in->resumable ? "true" : "false", in->has_shortlist ? "true" : "false");
    char lr[32];
    if (in->has_position)
        printf("{\"step\": %ld, \"epochs_done\": %d, \"epochs\": %d, \"batch\": %llu, "
               "\"lr\": %s}", st->step, st->epoch, c->train.epochs,
               (unsigned long long)st->batch, float_str(st->lr, lr));
    else
        fputs("null", stdout);
    fputs(", \"best_dev\": ", stdout);
    if (in->has_best) {
        json_num("{\"loss\": %.6f", st->best_dev_loss);
        fputs(", \"perplexity\": ", stdout);
        json_num("%.4f", exp(st->best_dev_loss));
        fputs(", \"bleu\": ", stdout);
        json_num("%.2f", st->best_dev_bleu);
        fputs(", \"chrf\": ", stdout);
        json_num("%.2f", st->best_dev_chrf);
        printf(", \"step\": %ld, \"epoch\": %d}", st->best_step, st->best_epoch);
    } else {
        fputs("null", stdout);
    }
    fputs(", \"data\": ", stdout);
    json_str(c->data.train);
    printf(", \"src_column\": %d, \"tgt_column\": %d}\n", c->data.src_column,
           c->data.tgt_column);
}

static void side_line(const s2s_ckpt_info *in, const char *side,
                      const s2s_side_config *sc)
{
    printf("%-12s%d layer%s x %d:", side, sc->layers, sc->layers == 1 ? "" : "s",
           sc->hidden);
    for (int i = 0; i < in->n_cells; i++) {
        const s2s_ckpt_cell *c = &in->cells[i];
        if (strcmp(c->side, side) != 0) continue;
        printf(" %s", c->name);
        if (c->sha256[0]) printf(" (sha256 %.16s…)", c->sha256);
    }
    putchar('\n');
}

static void print_text(const char *path, const s2s_ckpt_info *in)
{
    const s2s_config *c = &in->cfg;
    const s2s_train_state *st = &in->state;
    char b1[32], b2[32];
    printf("%-12s%s: %s bytes, written by s2s %s (model format %u)\n", "checkpoint",
           path, grouped(in->file_bytes, b1), in->version, in->format);
    printf("%-12s%s parameters, embeddings %d\n", "model", grouped(in->params, b2),
           c->model.embed);
    side_line(in, "encoder", &c->model.encoder);
    if (c->model.bidirectional) printf("%-12sbidirectional (both directions side by side)\n", "");
    side_line(in, "decoder", &c->model.decoder);
    if (strcmp(c->model.attention, "none") != 0 || c->model.input_feed ||
        c->model.dropout > 0)
        printf("%-12s%s%s, dropout %g\n", "attention", c->model.attention,
               c->model.input_feed ? ", input feeding" : "", (double)c->model.dropout);
    int hashes = 0;
    for (int i = 0; i < in->n_cells; i++) hashes |= in->cells[i].sha256[0] != 0;
    if (!hashes) printf("%-12s(this checkpoint records no plugin hashes)\n", "");
    printf("%-12ssource %u, target %u tokens (nfkc %s, lowercase %s, split_punct %s)\n",
           "vocabulary", in->vocab_src, in->vocab_tgt, c->tokenizer.nfkc ? "on" : "off",
           c->tokenizer.lowercase ? "on" : "off", c->tokenizer.split_punct ? "on" : "off");
    printf("%-12s%s (columns %d -> %d)\n", "data", c->data.train, c->data.src_column,
           c->data.tgt_column);
    if (in->has_position) {
        printf("%-12sstep %ld, ", "training", st->step);
        if (st->batch == 0) printf("%d of %d epochs done", st->epoch, c->train.epochs);
        else printf("epoch %d of %d at batch %llu", st->epoch + 1, c->train.epochs,
                    (unsigned long long)st->batch);
        char lr[32];
        printf(", lr %s\n", float_str(st->lr, lr));
    }
    printf("%-12s%s\n", "",
           in->resumable ? "resumable: holds the optimiser state (s2s export drops it)"
                         : "translation only: no optimiser state (not for --resume)");
    printf("%-12s%s\n", "shortlist",
           in->has_shortlist ? "kept (decode with --shortlist K or decode.shortlist)"
                             : "none (trained before shortlists were kept)");
    if (in->has_best) {
        printf("%-12sloss %.4f, perplexity %.3f", "best dev", st->best_dev_loss,
               exp(st->best_dev_loss));
        if (isfinite(st->best_dev_bleu))
            printf(", BLEU %.2f, chrF %.2f", st->best_dev_bleu, st->best_dev_chrf);
        printf(" at step %ld (epoch %d)\n", st->best_step, st->best_epoch);
    } else if (in->has_position && isfinite(st->best_dev_loss)) {
        printf("%-12sloss %.4f, perplexity %.3f\n", "best dev", st->best_dev_loss,
               exp(st->best_dev_loss));
    }
}

static const char INFO_HELP[] =
    "usage: s2s info CHECKPOINT [--json | --config]\n"
    "\n"
    "What a checkpoint holds, on one screen: the model (layers, sizes, cells\n"
    "and, when recorded, their plugin hashes), parameter count, vocabulary\n"
    "sizes, the data it was trained on, the position in training and the\n"
    "best dev figures. Loads no plugin.\n"
    "\n"
    "  --json     the same as one JSON object\n"
    "  --config   the checkpoint's fully resolved run file (YAML)\n";

int s2s_info_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, 0, 'j'},
        {"config", no_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int json = 0, config = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'c': config = 1; break;
        case 'h': fputs(INFO_HELP, stdout); return 0;
        default: return usage("info", "bad option");
        }
    }
    if (optind != argc - 1) return usage("info", "wants exactly one checkpoint");
    if (json && config) return usage("info", "--json and --config exclude each other");
    s2s_ckpt_info *in = s2s_xcalloc(1, sizeof *in);
    s2s_err err;
    if (s2s_checkpoint_info(argv[optind], in, &err) < 0) {
        fprintf(stderr, "s2s: %s\n", err.msg);
        free(in);
        return 1;
    }
    if (config) s2s_config_write(&in->cfg, stdout);
    else if (json) print_json(argv[optind], in);
    else print_text(argv[optind], in);
    free(in);
    return 0;
}

static const char EXPORT_HELP[] =
    "usage: s2s export CHECKPOINT OUT\n"
    "\n"
    "Writes OUT, a translation-only copy of CHECKPOINT: the run file, the\n"
    "vocabularies and the parameters, without the Adam moments (about a third\n"
    "of the size). translate, repl, eval, bench --decode and info read it;\n"
    "train --resume refuses it.\n";

int s2s_export_main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(EXPORT_HELP, stdout);
        return 0;
    }
    if (argc != 3) return usage("export", "wants a checkpoint and an output file");
    s2s_err err;
    uint64_t a, b;
    if (s2s_checkpoint_export(argv[1], argv[2], &a, &b, &err) < 0) {
        fprintf(stderr, "s2s: %s\n", err.msg);
        return 1;
    }
    char b1[32], b2[32];
    fprintf(stderr, "s2s export: %s: %s bytes (from %s)\n", argv[2], grouped(b, b2),
            grouped(a, b1));
    return 0;
}
