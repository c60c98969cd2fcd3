/* see log.h */
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "log.h"
#include "text_escape.h"

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
    char line[LOG_LINE_MAX], msg[LOG_LINE_MAX];
    uint32_t ms = board_now_ms();
    int n = snprintf(line, sizeof line, "[%6lu.%03lu] %s", (unsigned long)(ms / 1000),
                     (unsigned long)(ms % 1000), level_tag[level]);
    if (n < 0) {
        return;
    }
    /* Names and texts from the network (a SOCKS5 host, an IMAP alert, a relay's reason) are
     * in the message: every byte a terminal or a log reader would act on leaves as \xHH. */
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    size_t mlen = m < 0 ? 0 : (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1, used;
    size_t len = (size_t)n + text_escape(line + n, sizeof line - (size_t)n, msg, mlen, &used);
    if (used < mlen || (size_t)m >= sizeof msg || len > sizeof line - 2) {
        len = len < sizeof line - 5 ? len : sizeof line - 5;  /* cut: room for "...\n" */
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
