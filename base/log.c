/* see log.h */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "text_escape.h"

static struct {
    log_stamp_fn stamp;
    log_sink_fn sink;
    enum log_level max_level;
} lg = { .max_level = LOG_DEBUG };

static const char *const level_tag[] = { "error: ", "warning: ", "", "debug: " };

/* see log.h */
void log_set_stamp(log_stamp_fn stamp)
{
    lg.stamp = stamp;
}

/* see log.h */
void log_set_sink(log_sink_fn sink)
{
    lg.sink = sink;
}

/* see log.h */
void log_set_level(enum log_level max_level)
{
    lg.max_level = max_level;
}

/* see log.h */
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX], msg[LOG_LINE_MAX];
    if (level > lg.max_level) {
        return;
    }
    size_t n = lg.stamp ? lg.stamp(line, sizeof line / 2) : 0;
    n += (size_t)snprintf(line + n, sizeof line - n, "%s", level_tag[level]);
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    size_t mlen = m < 0 ? 0 : (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1, used;
    /* room kept for "..." and the newline */
    size_t len = n + text_escape(line + n, sizeof line - n - 4, msg, mlen, &used);
    if (used < mlen || (size_t)m > mlen) {
        memcpy(line + len, "...", 3);
        len += 3;
    }
    line[len++] = '\n';
    if (lg.sink) {
        lg.sink(level, line, len);
    } else {
        fwrite(line, 1, len, stderr);
    }
}

/* see log.h */
void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}
