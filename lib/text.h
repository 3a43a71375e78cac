/* text: words and their folded terms, for the search index and queries.
 *
 * A word is a run of letters and digits (Unicode alphabetic or numeric,
 * with the combining marks that follow them); everything else separates
 * words. A word's term is its compatibility decomposition (NFKD), case
 * folded, with combining marks removed: "Éçole", "ECOLE" and "ecole" give
 * the same term "ecole", "ﬁle" gives "file", "Straße" gives "strasse".
 * Terms longer than MSP_TERM_MAX bytes are cut at a character boundary. */
#ifndef MSP_TEXT_H
#define MSP_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define MSP_TERM_MAX 64 /* bytes of a term */
#define MSP_TERM_CPS MSP_TERM_MAX /* code points of a term, at most */

/* Called for each word of a text: term (NUL-terminated, n bytes, n > 0)
 * and the word's byte range [start, end) in the text. A non-zero return
 * stops the walk and is returned by msp_text_words. */
typedef int (*msp_text_fn)(const char *term, size_t n, size_t start,
    size_t end, void *arg);
/* s must be valid UTF-8 (invalid bytes separate words). */
int msp_text_words(const char *s, size_t n, msp_text_fn fn, void *arg);

/* Fold one word w[0..n) into out (MSP_TERM_MAX + 1 bytes); returns the
 * term's length (0 when nothing of it is a letter or digit). */
size_t msp_text_fold(const char *w, size_t n, char out[MSP_TERM_MAX + 1]);

/* Decode valid UTF-8 into at most max code points; returns how many. */
size_t msp_text_cps(const char *s, size_t n, uint32_t *cps, size_t max);

/* Damerau-Levenshtein distance (optimal string alignment: insertion,
 * deletion, substitution, and transposition of two adjacent characters
 * each cost one edit) between code point strings, or max + 1 when it
 * is above max. */
int msp_text_edits(const uint32_t *a, size_t an, const uint32_t *b,
    size_t bn, int max);

#endif
