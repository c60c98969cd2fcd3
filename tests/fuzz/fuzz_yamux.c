/* Fuzz the yamux frame decoder and session: arbitrary bytes from a hostile peer, cut into
 * reads of fuzzer-chosen sizes, with the application accepting, reading, writing, closing
 * and releasing streams in between. The bounds of yamux.h must hold at every step: streams
 * within the limit (the peer's own_reserve short of it), output within its queue, buffered bytes within each window and the
 * pool, and no read past the input (ASan). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "yamux.h"

static uint64_t mem[(256u * 1024) / 8];

static void check_bounds(struct yamux_session *s)
{
    if (yamux_stream_count(s) > s->cfg.max_streams || yamux_out_pending(s) > s->cfg.out_cap
        || s->chunks_free > s->nchunks || s->npongs > YAMUX_PONG_MAX
        || s->nrsts > YAMUX_RST_MAX) {
        abort();
    }
    size_t buffered = 0;
    unsigned peers = 0;                          /* the peer's streams: own_reserve short */
    for (unsigned i = 0; i < s->cfg.max_streams; i++) {
        const struct yamux_stream *st = &s->streams[i];
        if (st->state == YAMUX_S_IDLE) {
            continue;
        }
        peers += (st->id & 1u) != (s->cfg.client ? 1u : 0u);
        /* Window accounting: granted + buffered + read-not-granted + still arriving. */
        uint64_t arriving = s->in_state == YAMUX_IN_DATA && s->in_id == st->id ? s->in_left : 0;
        if ((uint64_t)st->rx_buffered + st->rx_window + st->rx_unacked + arriving
                != s->cfg.window && st->state != YAMUX_S_RESET) {
            abort();
        }
        buffered += st->rx_buffered;
    }
    if (buffered > (size_t)s->nchunks * (YAMUX_CHUNK - 8)
        || peers > s->cfg.max_streams - s->cfg.own_reserve) {
        abort();
    }
}

/* The application: accept everything, read a little, echo, close or release by whim. */
static void app(struct yamux_session *s, uint8_t whim)
{
    struct yamux_stream *st;
    unsigned ev;
    uint8_t buf[700];
    while ((st = yamux_accept(s)) != NULL) {
        st->user = st;
    }
    while ((st = yamux_poll(s, &ev)) != NULL) {
        long n = yamux_read(st, buf, (size_t)(whim % 7) * 100 + 1);
        if (n > 0) {
            yamux_write(st, buf, (size_t)n);
        }
        if (n == YAMUX_EOF && (whim & 1)) {
            yamux_close(st);
        }
        if (n == YAMUX_ERESET || (n == YAMUX_EOF && (whim & 2))) {
            yamux_release(st);
        }
    }
    if ((whim & 0x30) == 0x30) {
        int can = yamux_can_open(s);
        if ((yamux_open(s) != NULL) != can) {
            abort();                 /* yamux_can_open must say what yamux_open does */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct yamux_session s;
    if (size < 2) {
        return 0;
    }
    struct yamux_config cfg = {
        .client = data[0] & 1, .max_streams = 8, .own_reserve = (data[0] >> 1) & 3,
        .window = YAMUX_INITIAL_WINDOW,
        .rx_pool = 64u * 1024, .out_cap = 4096, .keepalive_ms = 100, .dead_ms = 1000,
        .name = "fuzz",
    };
    if (yamux_init(&s, &cfg, mem, sizeof mem, 0) != 0) {
        abort();
    }
    uint8_t step = data[1] | 1;
    size_t i = 2;
    uint32_t now = 0;
    for (int rounds = 0; i < size && rounds < 100000; rounds++) {
        size_t n = size - i < step ? size - i : step;
        long k = yamux_input(&s, data + i, n);
        if (k < 0) {
            break;
        }
        i += (size_t)k;
        check_bounds(&s);
        app(&s, data[i - (k > 0)]);
        check_bounds(&s);
        const uint8_t *p;
        size_t out = yamux_out_peek(&s, &p);
        yamux_out_consume(&s, out / 2 + (step & 1 ? out / 2 : 0));
        yamux_tick(&s, now += 10);
        step = (uint8_t)(step * 5 + 3) | 1;
    }
    return 0;
}
