/* see log.h */
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "log.h"

static struct {
    char ring[LOG_RING_BYTES];
    size_t head;   /* offset of the oldest byte */
    size_t used;   /* bytes in the ring */
    log_sink_fn sink;
    enum log_level max_level;
} lg = { .max_level = LOG_INFO };

static const char *const level_tag[] = { "error: ", "warning: ", "", "debug: " };

void log_set_sink(log_sink_fn sink) { lg.sink = sink; }
void log_set_level(enum log_level max_level) { lg.max_level = max_level; }

/* Append one whole line, dropping the oldest whole lines to make room. */
static void ring_put(const char *line, size_t len)
{
    while (lg.used + len > LOG_RING_BYTES) {
        size_t drop = 0;
        while (drop < lg.used && lg.ring[(lg.head + drop) % LOG_RING_BYTES] != '\n') {
            drop++;
        }
        drop = drop < lg.used ? drop + 1 : lg.used;
        lg.head = (lg.head + drop) % LOG_RING_BYTES;
        lg.used -= drop;
    }
    for (size_t i = 0; i < len; i++) {
        lg.ring[(lg.head + lg.used + i) % LOG_RING_BYTES] = line[i];
    }
    lg.used += len;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX];
    uint32_t ms = board_now_ms();
    int n = snprintf(line, sizeof line, "[%6lu.%03lu] %s", (unsigned long)(ms / 1000),
                     (unsigned long)(ms % 1000), level_tag[level]);
    if (n < 0) {
        return;
    }
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) { /* cut: keep room for "...\n" */
        len = sizeof line - 5;
        memcpy(line + len, "...", 3);
        len += 3;
    }
    line[len++] = '\n';
    ring_put(line, len);
    if (level <= lg.max_level) {
        if (lg.sink) {
            lg.sink(level, line, len);
        } else {
            board_console_write(line, len);
        }
    }
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}

void log_ring_foreach(void (*fn)(void *arg, const char *line, size_t len), void *arg)
{
    char line[LOG_LINE_MAX + 1];
    size_t len = 0;
    for (size_t i = 0; i < lg.used; i++) {
        char c = lg.ring[(lg.head + i) % LOG_RING_BYTES];
        if (len < LOG_LINE_MAX) {
            line[len++] = c;
        }
        if (c == '\n') {
            fn(arg, line, len);
            len = 0;
        }
    }
}
