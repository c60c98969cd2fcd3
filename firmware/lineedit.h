/* The console's line editor: a state machine fed one byte at a time from a VT100-style
 * terminal, writing its echo through a callback. Keys: printable characters insert at the
 * cursor; Left/Right (and Ctrl-B/F), Home/End (and Ctrl-A/E), Backspace, Delete, Ctrl-U
 * (kill to start), Ctrl-K (kill to end), Ctrl-W (kill word), Up/Down (and Ctrl-P/N) walk
 * the history, Tab completes through a callback, Ctrl-L redraws, Enter ends the line,
 * Ctrl-C drops it, Ctrl-D on an empty line means end of input.
 *
 * Secret mode (passwords) echoes nothing and keeps nothing in the history; the buffer is
 * wiped after the line is taken. A line that carries a secret after some words (`set imap
 * password SECRET`: a callback says where it begins) echoes the secret as '*' and goes into
 * the history without it. RAM: sizeof(struct lineedit), about 9 KiB: the line and
 * LE_HISTORY previous lines of LE_LINE_MAX bytes. */
#ifndef GW_LINEEDIT_H
#define GW_LINEEDIT_H

#include <stddef.h>

#define LE_LINE_MAX 512
#define LE_HISTORY 16
#define LE_COMPLETIONS_MAX 32   /* candidates one Tab may offer */

typedef void (*le_out_fn)(void *arg, const char *s, size_t n);
/* Offer words that could stand at [word_start, cur) of line: fill cands (at most max),
 * return how many. The strings must outlive the call (static tables). */
typedef size_t (*le_complete_fn)(void *arg, const char *line, size_t word_start,
                                 size_t cur, const char **cands, size_t max);

/* Where a secret begins in line[0..len): the offset of its first byte (len when it has not
 * been typed yet), or LE_NO_SECRET when the line carries none. */
#define LE_NO_SECRET ((size_t)-1)
typedef size_t (*le_secret_fn)(void *arg, const char *line, size_t len);

enum le_result {
    LE_MORE = 0,     /* keep feeding */
    LE_LINE = 1,     /* a line is ready: le->line, le->len (NUL-terminated) */
    LE_EOF = 2,      /* Ctrl-D on an empty line */
    LE_CANCEL = 3,   /* Ctrl-C: the line was dropped */
};

struct lineedit {
    char line[LE_LINE_MAX];
    size_t len, cur;
    char history[LE_HISTORY][LE_LINE_MAX];
    unsigned hist_count;      /* lines stored (<= LE_HISTORY) */
    unsigned hist_next;       /* slot the next line goes to */
    int hist_pos;             /* -1: editing the new line; else steps back from newest */
    char saved[LE_LINE_MAX];  /* the new line while walking the history */
    unsigned char esc;        /* escape-sequence state */
    unsigned char esc_arg;
    unsigned char secret;     /* no echo, no history */
    unsigned char overflow;   /* the line hit LE_LINE_MAX: further input rings the bell */
    const char *prompt;
    le_out_fn out;
    le_complete_fn complete;
    le_secret_fn secret_at;   /* NULL: no line carries a secret */
    void *arg;
};

void le_init(struct lineedit *le, le_out_fn out, le_complete_fn complete, void *arg);
/* Start a new line with this prompt (printed now); secret: no echo, no history. */
void le_start(struct lineedit *le, const char *prompt, int secret);
enum le_result le_feed(struct lineedit *le, char c);
/* Erase the prompt and line from the screen (before printing a log line), and draw them
 * again (after it), so asynchronous output never garbles what the operator types. */
void le_hide(struct lineedit *le);
void le_show(struct lineedit *le);
/* Tell the editor which lines carry a secret (see le_secret_fn); the same arg as le_init. */
void le_set_secret_fn(struct lineedit *le, le_secret_fn secret_at);
/* Wipe the line buffer (after a secret was used). */
void le_wipe(struct lineedit *le);
/* Wipe the history too (a session ends: the next one starts with none). */
void le_forget(struct lineedit *le);

#endif
