/* Fuzz the hello, delivery and answer parsers: no read past len, every prefix of a message
 * that parses asks for more, and what parses re-encodes to a message that parses to the
 * same values. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hello_delivery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hello h, h2;
    struct delivery d, d2;
    struct hello_answer a;
    uint8_t *copy = malloc(size ? size : 1);
    uint8_t out[HELLO_MSG_MAX];
    memcpy(copy, data, size);

    long n = hello_parse(copy, size, &h);
    if (n > (long)size) {
        abort();
    }
    if (n > 0) {
        for (size_t cut = 0; cut < (size_t)n; cut += 1 + cut / 8) {
            if (hello_parse(copy, cut, &h2) != 0) {
                abort();
            }
        }
        long m = hello_encode(out, sizeof out, &h);
        if (m <= 0 || hello_parse(out, (size_t)m, &h2) != m || memcmp(&h, &h2, sizeof h) != 0) {
            abort();
        }
    }
    n = delivery_parse(copy, size, &d);
    if (n > (long)size) {
        abort();
    }
    if (n > 0) {
        long m = delivery_encode(out, sizeof out, &d);
        if (m <= 0 || delivery_parse(out, (size_t)m, &d2) != m
            || memcmp(&d, &d2, sizeof d) != 0) {
            abort();
        }
    }
    n = answer_parse(copy, size, HELLO_K_DELIVERY_ANSWER, &a);
    if (n > (long)size) {
        abort();
    }
    n = answer_parse(copy, size, HELLO_K_HELLO_ANSWER, &a);
    if (n > (long)size) {
        abort();
    }
    free(copy);
    return 0;
}
