/* The log: one line per event. Shared by the gateway and the relay; each says how a line
 * starts (a stamp: the gateway its seconds since boot, the relay UTC time and its name) and
 * where finished lines go (a sink: the gateway's ring and console, the relay's stderr).
 *
 * Every byte of the message that is not printable ASCII is written as \xHH (text_escape.h),
 * here, once: names and texts from the network (a SOCKS5 host, an IMAP alert, a relay's
 * reason) can never start a new line, move a cursor or forge an escape, and no caller can
 * forget it. Never log secrets: callers pass names and verdicts, not passwords or keys.
 *
 * No allocation; a line is built on the stack (2 x LOG_LINE_MAX). Not reentrant: one
 * thread, as both programs are. */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* A line is at most LOG_LINE_MAX bytes with its newline; a longer one is cut and ends in
 * "..." (an escape is never cut in half). */
#define LOG_LINE_MAX 512

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* The start of each line: writes at most cap - 1 bytes and a NUL into out, returns the
 * length. NULL (the default): no stamp. */
typedef size_t (*log_stamp_fn)(char *out, size_t cap);
void log_set_stamp(log_stamp_fn stamp);
/* Where finished lines go (each with its "error: " / "warning: " tag and its newline).
 * NULL (the default): stderr. */
typedef void (*log_sink_fn)(enum log_level level, const char *line, size_t len);
void log_set_sink(log_sink_fn sink);
/* Lines above this level are not even formatted (LOG_DEBUG: all). Default LOG_DEBUG. */
void log_set_level(enum log_level max_level);

#endif
