/* Fuzz the LMTP client engine (proto/lmtp) as a hostile store would talk to it: the input
 * is everything the server says, cut into packets at sizes from its first byte; the
 * commands are taken as soon as they are asked for, and whenever the engine wants the
 * message it gets the input's own bytes as one (in pieces, into outputs of odd sizes), then
 * the end of data. The engine must never take more than it was given, never stall, keep
 * each command within LMTP_OUT_MAX and ending in CRLF, keep its text printable and
 * bounded, and the bytes it writes for the message must be the message again once the
 * store undoes the dot-stuffing (a line's leading "." dropped, up to the "." line). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lmtp.h"

#define BODY_MAX 4096

static uint8_t msg[BODY_MAX], wire[2 * BODY_MAX + LMTP_END_MAX];

/* The store's reading of the wire: 1 when it gives back msg[0..len) (and CRLF after it when
 * its last line had no line end), ended by a "." line. */
static int unstuffed_is(size_t len, size_t wlen)
{
    uint8_t out[BODY_MAX + 2];
    size_t o = 0, i = 0;
    int bol = 1;
    while (i < wlen) {
        if (bol && wire[i] == '.') {
            if (wlen - i == 3 && wire[i + 1] == '\r' && wire[i + 2] == '\n') {
                break;                           /* the end of data */
            }
            i++;                                 /* a doubled dot */
        }
        if (i >= wlen || o >= sizeof out) {
            return 0;
        }
        out[o++] = wire[i];
        bol = wire[i] == '\n';
        i++;
    }
    if (i + 3 != wlen) {
        return 0;
    }
    int ended = len == 0 || msg[len - 1] == '\n';
    return o == len + (ended ? 0 : 2) && memcmp(out, msg, len) == 0
           && (ended || memcmp(out + len, "\r\n", 2) == 0);
}

static void body(struct lmtp_client *c, const uint8_t *p, size_t n, unsigned shape)
{
    size_t len = n < BODY_MAX ? n : BODY_MAX, at = 0, w = 0;
    size_t piece = 1 + shape % 7, cap = 2 + shape / 7 % 5;
    memcpy(msg, p, len);
    while (at < len) {
        size_t used, take = len - at < piece ? len - at : piece;
        w += lmtp_body(c, msg + at, take, wire + w, cap, &used);
        if (used == 0) {
            abort();                             /* cap >= 2: a doubled dot always fits */
        }
        at += used;
    }
    w += lmtp_body_end(c, wire + w, LMTP_END_MAX);
    if (c->state != LMTP_S_DOT || !unstuffed_is(len, w)) {
        abort();
    }
}

static void take_command(struct lmtp_client *c)
{
    const uint8_t *p;
    size_t n = lmtp_out(c, &p);
    if (n > LMTP_OUT_MAX || (n && (n < 2 || p[n - 2] != '\r' || p[n - 1] != '\n'))) {
        abort();
    }
    lmtp_out_consume(c, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lmtp_client c;
    if (size < 1 || lmtp_init(&c, "relay1", "loc1@relay.example") != 0) {
        return 0;
    }
    size_t packet = 1 + data[0] % 97, at = 1;
    unsigned rounds = 0;
    while (at < size) {
        size_t n = size - at < packet ? size - at : packet;
        enum lmtp_ev ev;
        size_t k = lmtp_input(&c, data + at, n, &ev);
        if (k > n || (k == 0 && n > 0) || ++rounds > 4 * size + 16) {
            abort();                             /* more than given, or no progress */
        }
        if (strlen(c.text) > LMTP_TEXT_MAX) {
            abort();
        }
        for (const char *t = c.text; *t; t++) {
            if (*t < 0x20 || *t > 0x7e) {
                abort();
            }
        }
        at += k;
        take_command(&c);
        if (ev == LMTP_EV_BODY) {
            body(&c, data + at, size - at, data[0]);
        }
        if ((ev == LMTP_EV_DONE || ev == LMTP_EV_FAILED)
            && (c.state != (ev == LMTP_EV_DONE ? LMTP_S_DONE : LMTP_S_FAILED)
                || (ev == LMTP_EV_FAILED && c.fail == LMTP_OK))) {
            abort();
        }
    }
    return 0;
}
