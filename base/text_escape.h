/* Text from the network made safe to print: in a log line, on a terminal, in the journal.
 *
 * Printable ASCII (0x20..0x7e) stays as it is, except the backslash; every other byte
 * (control bytes such as ESC, CR and LF, DEL, bytes of 0x80 and above, and '\' itself)
 * becomes the four characters \xHH (lower-case hex). So a peer cannot start a new log line,
 * move a terminal's cursor or forge an escape, and the original bytes can be read back.
 *
 * No dependencies (no log, no libc beyond size_t), so the gateway's log and the relay's
 * can both use it. */
#ifndef GW_TEXT_ESCAPE_H
#define GW_TEXT_ESCAPE_H

#include <stddef.h>
#include <stdint.h>

/* Room for len bytes escaped, and the NUL. */
#define TEXT_ESCAPE_SIZE(len) (4 * (len) + 1)

/* 1 when byte c is written as itself. */
static inline int text_escape_plain(uint8_t c)
{
    return c >= 0x20 && c <= 0x7e && c != '\\';
}

/* Escape len bytes at in into out (cap bytes; NUL-terminated when cap > 0). An escape is
 * never cut: when out is too small, the text ends after the last byte that fit whole.
 * Returns the characters written (the NUL not counted); *used (if not NULL) is the number
 * of input bytes they stand for: len when everything fit. */
size_t text_escape(char *out, size_t cap, const void *in, size_t len, size_t *used);

/* The value of a log line's quoted field (`target="..."`): a peer's '"' must not end the
 * field early, or whatever follows it in the value would read as fields of the relay's own
 * (`x" verdict="ok`). Every '"' becomes %22 and every '%' %25 (so the original bytes can be
 * read back); all other bytes are copied, because the log escapes the whole line with
 * text_escape() afterwards (a backslash written here would come out as \x5c). Not for text
 * printed without the log. Same contract as text_escape for cap, the NUL and *used; an
 * escape is never cut. */
size_t text_quote_field(char *out, size_t cap, const void *in, size_t len, size_t *used);
/* Room for len bytes as a field, and the NUL. */
#define TEXT_QUOTE_FIELD_SIZE(len) (3 * (len) + 1)

#endif
