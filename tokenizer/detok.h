/* tokenizer/detok.h — joins tokens back into readable text.
 *
 * The inverse of the tokenizer's punctuation splitting, as far as it can be
 * inverted (spacing lost by the split is restored by these rules):
 *
 *  - no space before  . , ! ? ) ] } ; : % … and closing quotes;
 *  - no space after   ( [ { ¿ ¡ and opening quotes;
 *  - an apostrophe (' or ’) between two word tokens (ending / starting with
 *    a letter or digit) is joined on both sides: "j ' ai" -> "j'ai",
 *    "don ' t" -> "don't", "aujourd ' hui" -> "aujourd'hui" (a single
 *    quote between two words is taken for an apostrophe too: once
 *    tokenized the two cannot be told apart);
 *  - a hyphen (-, U+2010, U+2011) or slash between two word tokens is
 *    joined: "peut - être" -> "peut-être", "et / ou" -> "et/ou";
 *    dashes – — keep their spaces;
 *  - . , : between two digit tokens are joined: "3 , 5" -> "3,5",
 *    "10 : 30" -> "10:30";
 *  - " and ' that are not apostrophes alternate opening / closing, starting
 *    with opening; “ ‘ « ‹ „ open, ” » › close (’ is an apostrophe between
 *    words, else a closing quote);
 *  - french_spacing = 0 (English style): nothing before : ; ! ? and no
 *    space inside « »;
 *    french_spacing = 1 (French typography): a narrow no-break space
 *    U+202F before ; : ! ? and », and after «. Before : the French rule
 *    asks for a full no-break space; we use U+202F for all of them, as
 *    many French publishers do.
 *
 * Tokens are taken as they are (no re-casing).
 */
#ifndef S2S_DETOK_H
#define S2S_DETOK_H

#include <stddef.h>

/* The text of n tokens, malloc'd and NUL-terminated ("" for n = 0). */
char *s2s_detokenize(const char *const *tokens, size_t n, int french_spacing);

#endif
