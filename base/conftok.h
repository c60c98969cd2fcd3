/* Splitting one line of the configuration language into words, shared by the gateway's
 * console language (firmware/config) and the relay's configuration file (relay/config.c):
 * blanks separate words, "..." quotes a word (with \" and \\), # starts a comment. */
#ifndef GW_CONFTOK_H
#define GW_CONFTOK_H

#include <stddef.h>

#define CONFTOK_WORDS_MAX 12     /* the most words any caller accepts */
#define CONFTOK_LINE_MAX 1024    /* the longest line any caller accepts */

struct conftok {
    unsigned n;
    const char *t[CONFTOK_WORDS_MAX];
    char buf[CONFTOK_LINE_MAX + CONFTOK_WORDS_MAX];  /* the words, NUL-terminated */
};

/* Split p[0..len) into at most max_words words. Returns 0, or -1 for a line longer than
 * CONFTOK_LINE_MAX, an unterminated quote, or more than max_words words. */
int conftok_split(struct conftok *tk, const char *p, size_t len, unsigned max_words);

#endif
