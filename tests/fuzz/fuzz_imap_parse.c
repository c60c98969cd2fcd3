/* Fuzz the IMAP response lexer: the input is split into packets at sizes taken from its
 * first byte; every call consumes at most what it was given, always makes progress or
 * asks for more, and the tokens do not depend on the packet boundaries (the whole input
 * in one piece must give the same event count and the same error). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_parse.h"

struct outcome { long err; unsigned long events; uint64_t lit_bytes; };

static struct outcome lex(const uint8_t *p, size_t len, size_t chunk)
{
    static struct imap_parser ps;
    struct outcome o = { 0, 0, 0 };
    imap_parser_init(&ps);
    imap_parser_literal_max(&ps, 1u << 20);
    unsigned stalls = 0;
    while (len) {
        size_t n = len < chunk ? len : chunk;
        struct imap_ev ev;
        long r = imap_next(&ps, p, n, &ev);
        if (r < 0) {
            o.err = r;
            break;
        }
        if ((size_t)r > n) {
            abort();
        }
        /* An event that consumed nothing is allowed, but never twice in a row... */
        stalls = r == 0 ? stalls + 1 : 0;
        if (stalls > 2 || (ev.type == IMAP_T_NONE && (size_t)r != n)) {
            abort();
        }
        if (ev.type == IMAP_T_LITDATA) {
            o.lit_bytes += ev.len;     /* data events are split by the packets: count bytes */
        } else if (ev.type != IMAP_T_NONE) {
            o.events++;
        }
        if (ev.len > IMAP_TOKEN_MAX && ev.type != IMAP_T_LITDATA) {
            abort();
        }
        p += r;
        len -= (size_t)r;
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    size_t chunk = 1 + data[0] % 17;
    uint8_t *copy = malloc(size - 1 ? size - 1 : 1);
    memcpy(copy, data + 1, size - 1);
    struct outcome a = lex(copy, size - 1, chunk);
    struct outcome b = lex(copy, size - 1, size);
    /* The lexer is a byte-at-a-time state machine: boundaries change nothing but how
     * literal data is cut. Events after a literal ends only come with the next call, so
     * compare the error and the literal bytes, and the events when no error cut the run. */
    if (a.err != b.err || a.lit_bytes != b.lit_bytes || (!a.err && a.events != b.events)) {
        abort();
    }
    free(copy);
    return 0;
}
