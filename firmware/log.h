/* The firmware log: one line per event, kept in a RAM ring for `show log` and sent to a
 * sink (the console). Lines start with seconds since boot. Never log secrets: callers pass
 * names and verdicts, not passwords, keys or tokens. */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* The ring keeps the newest LOG_RING_BYTES of text (older lines are dropped whole);
 * one line is at most LOG_LINE_MAX bytes, longer ones are cut and end in "...". */
#define LOG_RING_BYTES 8192
#define LOG_LINE_MAX 256

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Where finished lines go besides the ring; NULL means the board console. The console
 * installs its own sink so a log line never garbles what the operator is typing. */
typedef void (*log_sink_fn)(enum log_level level, const char *line, size_t len);
void log_set_sink(log_sink_fn sink);
/* Lines below this level are kept out of the sink (they still reach the ring). */
void log_set_level(enum log_level max_level);

/* Calls fn for each line in the ring, oldest first (the line includes its '\n'). */
void log_ring_foreach(void (*fn)(void *arg, const char *line, size_t len), void *arg);

#endif
