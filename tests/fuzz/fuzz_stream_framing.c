/* Fuzz the QEMU stream frame decoder: any byte stream, cut anywhere. Every delivered frame
 * must be within the limit; nothing may read past the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "stream_framing.h"

static void deliver(void *arg, const uint8_t *frame, size_t len)
{
    size_t *total = arg;
    if (len == 0 || len > SFRAME_MAX) {
        abort();
    }
    *total += frame[len - 1] & 1; /* touch the last byte: ASan checks the bound */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sframe_rx rx;
    size_t total = 0;
    sframe_rx_init(&rx);
    /* The first byte picks where to cut the stream into two reads. */
    size_t cut = size ? data[0] % (size + 1) : 0;
    sframe_rx_feed(&rx, data, cut, deliver, &total);
    sframe_rx_feed(&rx, data + cut, size - cut, deliver, &total);
    return 0;
}
