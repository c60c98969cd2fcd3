/* see log_ring.h */
#include <stdio.h>

#include "board.h"
#include "log_ring.h"

static struct {
    char ring[LOG_RING_BYTES];
    size_t head;   /* offset of the oldest byte */
    size_t used;   /* bytes in the ring */
    log_console_fn console;
} lr;

/* Append one whole line, dropping the oldest whole lines to make room. */
static void ring_put(const char *line, size_t len)
{
    while (lr.used + len > LOG_RING_BYTES) {
        size_t drop = 0;
        while (drop < lr.used && lr.ring[(lr.head + drop) % LOG_RING_BYTES] != '\n') {
            drop++;
        }
        drop = drop < lr.used ? drop + 1 : lr.used;
        lr.head = (lr.head + drop) % LOG_RING_BYTES;
        lr.used -= drop;
    }
    for (size_t i = 0; i < len; i++) {
        lr.ring[(lr.head + lr.used + i) % LOG_RING_BYTES] = line[i];
    }
    lr.used += len;
}

static size_t stamp(char *out, size_t cap)
{
    uint32_t ms = board_now_ms();
    int n = snprintf(out, cap, "[%6lu.%03lu] ", (unsigned long)(ms / 1000),
                     (unsigned long)(ms % 1000));
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static void sink(enum log_level level, const char *line, size_t len)
{
    ring_put(line, len);
    if (level > LOG_INFO) {
        return;                      /* debug lines: in the ring only */
    }
    if (lr.console) {
        lr.console(level, line, len);
    } else {
        board_console_write(line, len);
    }
}

/* see log_ring.h */
void log_ring_init(void)
{
    log_set_stamp(stamp);
    log_set_sink(sink);
}

/* see log_ring.h */
void log_ring_set_console(log_console_fn write)
{
    lr.console = write;
}

/* see log_ring.h */
void log_ring_foreach(void (*fn)(void *arg, const char *line, size_t len), void *arg)
{
    char line[LOG_LINE_MAX + 1];
    size_t len = 0;
    for (size_t i = 0; i < lr.used; i++) {
        char c = lr.ring[(lr.head + i) % LOG_RING_BYTES];
        if (len < LOG_LINE_MAX) {
            line[len++] = c;
        }
        if (c == '\n') {
            fn(arg, line, len);
            len = 0;
        }
    }
}
