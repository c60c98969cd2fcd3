/* see lineedit.h */
#include <stdio.h>
#include <string.h>

#include "lineedit.h"
#include "secure_wipe.h"

enum { ESC_NONE, ESC_SEEN, ESC_CSI, ESC_SS3 };

static void emit(struct lineedit *le, const char *s, size_t n)
{
    le->out(le->arg, s, n);
}

static void emits(struct lineedit *le, const char *s)
{
    emit(le, s, strlen(s));
}

/* Where the line's secret begins (LE_NO_SECRET: it has none). */
static size_t secret_start(const struct lineedit *le)
{
    return le->secret_at ? le->secret_at(le->arg, le->line, le->len) : LE_NO_SECRET;
}

/* Echo line[from, from + n): a secret's bytes as '*'. */
static void emit_masked(struct lineedit *le, size_t from, size_t n)
{
    size_t at = secret_start(le);
    if (at == LE_NO_SECRET || from + n <= at) {
        emit(le, le->line + from, n);
        return;
    }
    if (from < at) {
        emit(le, le->line + from, at - from);
        n -= at - from;
    }
    static const char stars[] = "****************";
    while (n > 0) {
        size_t k = n < sizeof stars - 1 ? n : sizeof stars - 1;
        emit(le, stars, k);
        n -= k;
    }
}

/* Redraw everything from the start of the screen line, then put the cursor back. */
static void refresh(struct lineedit *le)
{
    if (le->secret) {
        return;
    }
    emits(le, "\r");
    emits(le, le->prompt);
    emit_masked(le, 0, le->len);
    emits(le, "\033[K");
    if (le->len > le->cur) {
        char mv[16];
        int n = snprintf(mv, sizeof mv, "\033[%uD", (unsigned)(le->len - le->cur));
        emit(le, mv, (size_t)n);
    }
}

void le_init(struct lineedit *le, le_out_fn out, le_complete_fn complete, void *arg)
{
    memset(le, 0, sizeof *le);
    le->out = out;
    le->complete = complete;
    le->arg = arg;
    le->prompt = "";
    le->hist_pos = -1;
}

void le_set_secret_fn(struct lineedit *le, le_secret_fn secret_at)
{
    le->secret_at = secret_at;
}

void le_start(struct lineedit *le, const char *prompt, int secret)
{
    le_wipe(le);
    le->line[0] = '\0';
    le->hist_pos = -1;
    le->esc = ESC_NONE;
    le->overflow = 0;
    le->secret = (unsigned char)(secret != 0);
    le->prompt = prompt;
    emits(le, prompt);
}

void le_hide(struct lineedit *le)
{
    emits(le, "\r\033[K");
}

void le_show(struct lineedit *le)
{
    if (le->secret) {
        emits(le, le->prompt);
    } else {
        refresh(le);
    }
}

void le_wipe(struct lineedit *le)
{
    secure_wipe(le->line, sizeof le->line);
    secure_wipe(le->saved, sizeof le->saved);   /* the draft while walking the history */
    le->len = le->cur = 0;
}

void le_forget(struct lineedit *le)
{
    le_wipe(le);
    secure_wipe(le->history, sizeof le->history);
    le->hist_count = le->hist_next = 0;
    le->hist_pos = -1;
}

static void insert(struct lineedit *le, const char *s, size_t n)
{
    if (le->len + n >= LE_LINE_MAX) {
        emits(le, "\a");
        return;
    }
    memmove(le->line + le->cur + n, le->line + le->cur, le->len - le->cur);
    memcpy(le->line + le->cur, s, n);
    le->len += n;
    le->cur += n;
    le->line[le->len] = '\0';
    if (le->secret) {
        return;
    }
    if (le->cur == le->len) {
        emit_masked(le, le->cur - n, n); /* typing at the end: no redraw needed */
    } else {
        refresh(le);
    }
}

static void delete_range(struct lineedit *le, size_t from, size_t to)
{
    if (to <= from) {
        return;
    }
    memmove(le->line + from, le->line + to, le->len - to);
    le->len -= to - from;
    le->line[le->len] = '\0';
    if (le->cur > to) {
        le->cur -= to - from;
    } else if (le->cur > from) {
        le->cur = from;
    }
    refresh(le);
}

static void move_to(struct lineedit *le, size_t pos)
{
    if (pos > le->len) {
        pos = le->len;
    }
    le->cur = pos;
    refresh(le);
}

static const char *hist_entry(const struct lineedit *le, unsigned back)
{
    unsigned slot = (le->hist_next + LE_HISTORY - 1 - back) % LE_HISTORY;
    return le->history[slot];
}

static void hist_walk(struct lineedit *le, int dir)
{
    if (le->secret) {
        return;
    }
    int pos = le->hist_pos + dir;
    if (pos < -1 || pos >= (int)le->hist_count) {
        emits(le, "\a");
        return;
    }
    if (le->hist_pos == -1) {
        memcpy(le->saved, le->line, le->len + 1);
    }
    le->hist_pos = pos;
    const char *src = pos == -1 ? le->saved : hist_entry(le, (unsigned)pos);
    le->len = le->cur = strlen(src);
    memcpy(le->line, src, le->len + 1);
    refresh(le);
}

/* The line goes into the history without its secret: its words before it, to type a new
 * one after. */
static void hist_add(struct lineedit *le)
{
    size_t n = secret_start(le);
    if (le->secret || le->len == 0) {
        return;
    }
    n = n < le->len ? n : le->len;
    if (le->hist_count > 0 && strncmp(hist_entry(le, 0), le->line, n) == 0 &&
        hist_entry(le, 0)[n] == '\0') {
        return; /* the same command again: keep one */
    }
    memcpy(le->history[le->hist_next], le->line, n);
    memset(le->history[le->hist_next] + n, 0, LE_LINE_MAX - n);
    le->hist_next = (le->hist_next + 1) % LE_HISTORY;
    if (le->hist_count < LE_HISTORY) {
        le->hist_count++;
    }
}

static size_t word_start(const struct lineedit *le)
{
    size_t s = le->cur;
    while (s > 0 && le->line[s - 1] != ' ') {
        s--;
    }
    return s;
}

static void complete(struct lineedit *le)
{
    if (le->complete == NULL || le->secret) {
        emits(le, "\a");
        return;
    }
    const char *cands[LE_COMPLETIONS_MAX];
    size_t ws = word_start(le);
    size_t n = le->complete(le->arg, le->line, ws, le->cur, cands, LE_COMPLETIONS_MAX);
    size_t typed = le->cur - ws;
    if (n == 0) {
        emits(le, "\a");
        return;
    }
    /* The longest prefix all candidates share decides what can be inserted. */
    size_t common = strlen(cands[0]);
    for (size_t i = 1; i < n; i++) {
        size_t j = 0;
        while (j < common && cands[i][j] == cands[0][j]) {
            j++;
        }
        common = j;
    }
    if (common > typed) {
        insert(le, cands[0] + typed, common - typed);
        if (n == 1 && le->cur == le->len) {
            insert(le, " ", 1);
        }
        return;
    }
    if (n == 1) {
        if (le->cur == le->len && (le->len == 0 || le->line[le->len - 1] != ' ')) {
            insert(le, " ", 1);
        }
        return;
    }
    emits(le, "\r\n");
    for (size_t i = 0; i < n; i++) {
        emits(le, cands[i]);
        emits(le, i + 1 < n ? "  " : "\r\n");
    }
    refresh(le);
}

/* An escape sequence's final byte: arrows, Home/End, Delete. */
static void esc_final(struct lineedit *le, char c)
{
    switch (c) {
    case 'A': hist_walk(le, +1); break;
    case 'B': hist_walk(le, -1); break;
    case 'C': move_to(le, le->cur + 1); break;
    case 'D': move_to(le, le->cur > 0 ? le->cur - 1 : 0); break;
    case 'H': move_to(le, 0); break;
    case 'F': move_to(le, le->len); break;
    case '~':
        if (le->esc_arg == 3) {
            delete_range(le, le->cur, le->cur < le->len ? le->cur + 1 : le->cur);
        } else if (le->esc_arg == 1 || le->esc_arg == 7) {
            move_to(le, 0);
        } else if (le->esc_arg == 4 || le->esc_arg == 8) {
            move_to(le, le->len);
        }
        break;
    default: break; /* unknown sequences are ignored whole */
    }
}

enum le_result le_feed(struct lineedit *le, char c)
{
    unsigned char u = (unsigned char)c;
    if (le->esc == ESC_SEEN) {
        le->esc = u == '[' ? ESC_CSI : u == 'O' ? ESC_SS3 : ESC_NONE;
        le->esc_arg = 0;
        return LE_MORE;
    }
    if (le->esc == ESC_CSI || le->esc == ESC_SS3) {
        if (u >= '0' && u <= '9') {
            le->esc_arg = (unsigned char)(le->esc_arg * 10 + (u - '0'));
            return LE_MORE;
        }
        if (u == ';') {
            return LE_MORE;
        }
        le->esc = ESC_NONE;
        esc_final(le, c);
        return LE_MORE;
    }
    switch (u) {
    case '\r':
    case '\n':
        emits(le, "\r\n");
        hist_add(le);
        le->line[le->len] = '\0';
        return LE_LINE;
    case 0x1b: le->esc = ESC_SEEN; break;
    case 0x01: move_to(le, 0); break;                                  /* Ctrl-A */
    case 0x02: move_to(le, le->cur > 0 ? le->cur - 1 : 0); break;      /* Ctrl-B */
    case 0x03:                                                         /* Ctrl-C */
        emits(le, "^C\r\n");
        le_wipe(le);
        return LE_CANCEL;
    case 0x04:                                                         /* Ctrl-D */
        if (le->len == 0) {
            return LE_EOF;
        }
        delete_range(le, le->cur, le->cur < le->len ? le->cur + 1 : le->cur);
        break;
    case 0x05: move_to(le, le->len); break;                            /* Ctrl-E */
    case 0x06: move_to(le, le->cur + 1); break;                        /* Ctrl-F */
    case 0x08:
    case 0x7f:                                                         /* Backspace */
        if (le->cur > 0) {
            delete_range(le, le->cur - 1, le->cur);
        }
        break;
    case 0x09: complete(le); break;                                    /* Tab */
    case 0x0b: delete_range(le, le->cur, le->len); break;              /* Ctrl-K */
    case 0x0c: emits(le, "\033[H\033[2J"); refresh(le); break;         /* Ctrl-L */
    case 0x0e: hist_walk(le, -1); break;                               /* Ctrl-N */
    case 0x10: hist_walk(le, +1); break;                               /* Ctrl-P */
    case 0x15: delete_range(le, 0, le->cur); break;                    /* Ctrl-U */
    case 0x17: {                                                       /* Ctrl-W */
        size_t s = le->cur;
        while (s > 0 && le->line[s - 1] == ' ') {
            s--;
        }
        while (s > 0 && le->line[s - 1] != ' ') {
            s--;
        }
        delete_range(le, s, le->cur);
        break;
    }
    default:
        if (u >= 0x20) {
            insert(le, &c, 1);  /* UTF-8 bytes pass through as they come */
        }
        break;
    }
    return LE_MORE;
}
