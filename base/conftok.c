/* see conftok.h */
#include "conftok.h"

/* see conftok.h */
int conftok_split(struct conftok *tk, const char *p, size_t len, unsigned max_words)
{
    size_t i = 0, w = 0;
    tk->n = 0;
    if (len > CONFTOK_LINE_MAX || max_words > CONFTOK_WORDS_MAX) {
        return -1;
    }
    while (i < len) {
        while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r')) {
            i++;
        }
        if (i == len || p[i] == '#') {
            break;
        }
        if (tk->n == max_words) {
            return -1;
        }
        tk->t[tk->n++] = &tk->buf[w];
        if (p[i] == '"') {
            for (i++;; i++) {
                if (i == len) {
                    return -1;
                }
                if (p[i] == '"') {
                    i++;
                    break;
                }
                if (p[i] == '\\' && i + 1 < len) {
                    i++;
                }
                tk->buf[w++] = p[i];
            }
        } else {
            while (i < len && p[i] != ' ' && p[i] != '\t' && p[i] != '\r') {
                tk->buf[w++] = p[i++];
            }
        }
        tk->buf[w++] = 0;
    }
    return 0;
}
