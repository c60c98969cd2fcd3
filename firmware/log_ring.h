/* The firmware's end of the log (base/log.h): lines start with seconds since boot, every
 * line is kept in a RAM ring for `show log`, and lines up to LOG_INFO go on to the console:
 * the board's console until the console installs a writer of its own (which keeps a log line
 * from garbling what the operator is typing).
 *
 * RAM: the ring, LOG_RING_BYTES, static. */
#ifndef GW_LOG_RING_H
#define GW_LOG_RING_H

#include <stddef.h>

#include "log.h"

/* The ring keeps the newest LOG_RING_BYTES of text; older lines are dropped whole. */
#define LOG_RING_BYTES 8192

/* Take over the log's stamp and sink (at boot, before the first line). */
void log_ring_init(void);
/* Where console lines go; NULL: the board's console. */
typedef void (*log_console_fn)(enum log_level level, const char *line, size_t len);
void log_ring_set_console(log_console_fn write);
/* Calls fn for each line in the ring, oldest first (the line includes its '\n'). */
void log_ring_foreach(void (*fn)(void *arg, const char *line, size_t len), void *arg);

#endif
