/* Fuzz the SOCKS5 parsers (greeting, RFC 1929 auth, CONNECT request, reply) on the same
 * input, cut at every length a reading loop would see: a parser must ask for more or
 * answer, never read past len, never claim more bytes than it was given, and agree with
 * itself when given more bytes than it needs; and whatever is not a whole message leaves
 * its output cleared. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socks5.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct socks5_request r;
    struct socks5_auth a;
    uint8_t rep;
    int up;
    if (size > SOCKS5_AUTH_MAX + 16) {
        size = SOCKS5_AUTH_MAX + 16;
    }
    uint8_t *copy = malloc(size ? size : 1);     /* exact size: ASan sees any overread */
    memcpy(copy, data, size);
    for (size_t len = 0; len <= size; len++) {
        long n = socks5_request_parse(copy, len, &r);
        if (n > (long)len || (n > 0 && n > SOCKS5_REQUEST_MAX)) {
            abort();
        }
        if (n > 0 && (strlen(r.host) == 0 || r.cmd != SOCKS5_CMD_CONNECT)) {
            abort();
        }
        if (n <= 0 && (r.host[0] != 0 || r.port != 0)) {
            abort();                             /* no request: nothing to print as one */
        }
        if (n > 0 && len < size && socks5_request_parse(copy, size, &r) != n) {
            abort();
        }
        n = socks5_auth_parse(copy, len, &a);
        if (n > (long)len || (n > 0 && (a.user_len == 0 || a.pass_len == 0))
            || (n <= 0 && (a.user[0] != 0 || a.pass[0] != 0))) {
            abort();
        }
        n = socks5_greeting_parse(copy, len, &up);
        if (n > (long)len) {
            abort();
        }
        n = socks5_reply_parse(copy, len, &rep);
        if (n > (long)len) {
            abort();
        }
    }
    /* What parses re-encodes to the same bytes (domain and IPv4 CONNECTs). */
    long n = socks5_request_parse(copy, size, &r);
    if (n > 0 && r.atyp == SOCKS5_ATYP_DOMAIN && socks5_parse_ip4(r.host, (uint8_t[4]){0}) == 0) {
        uint8_t again[SOCKS5_REQUEST_MAX];
        long m = socks5_request_encode(again, sizeof again, r.host, r.port);
        if (m != n || memcmp(again, copy, (size_t)n) != 0) {
            abort();
        }
    }
    free(copy);
    return 0;
}
