/* Fuzz the IMAP engine as a hostile server would: the input is everything the server
 * says, cut into packets at sizes from its first byte; whenever the engine is READY the
 * fuzzer issues the next command of a receiver's cycle (search, fetch, dispose, idle,
 * noop, logout), and answers STARTTLS as if the handshake succeeded. The engine must never
 * consume more than it was given, never stall, never send credentials before TLS, and keep
 * every output line within IMAP_OUT_MAX. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_client.h"

static struct imap_client c;

static void drain_output(int tls)
{
    const uint8_t *p;
    size_t n = imap_client_out(&c, &p);
    if (n > IMAP_OUT_MAX) {
        abort();
    }
    /* The password (and its SASL form) never goes out before TLS. */
    if (!tls && n && (memmem(p, n, "pw-Fz", 5) || memmem(p, n, "AHUAcHctRno", 11))) {
        abort();
    }
    imap_client_out_done(&c, n);
}

static void next_command(unsigned *step)
{
    static const uint32_t uids[] = { 1, 2, 3, 7, 9 };
    switch ((*step)++ % 7) {
    case 0: imap_client_search(&c); break;
    case 1: imap_client_fetch(&c, c.nuids ? c.uids[0] : 1); break;
    case 5: imap_client_fetch_set(&c, c.nuids ? c.uids : uids, c.nuids ? c.nuids : 5); break;
    case 2: imap_client_dispose(&c, uids, 5); break;
    case 3: imap_client_idle(&c) == 0 || imap_client_noop(&c); break;
    case 4: imap_client_noop(&c); break;
    default: imap_client_logout(&c); break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    size_t chunk = 1 + data[0] % 64;
    struct imap_client_config cfg = {
        .user = "u", .pass = "pw-Fz", .folder = "INBOX",
        .after = (enum imap_after)(data[1] % 3), .move_to = "Archive",
        .starttls = data[1] & 4 ? 1 : 0,
    };
    imap_client_init(&c, &cfg);
    int tls = !cfg.starttls;
    unsigned step = 0, idle_polls = 0;
    const uint8_t *p = data + 2;
    size_t left = size - 2;
    for (unsigned guard = 0; guard < 1000000 && c.state != IC_S_FAILED; guard++) {
        size_t n = left < chunk ? left : chunk;
        struct imap_cevent ev;
        long r = imap_client_feed(&c, p, n, &ev);
        if (r > (long)n) {
            abort();
        }
        if (r > 0) {
            p += r;
            left -= (size_t)r;
        }
        if (ev.type == IC_EV_STARTTLS) {
            drain_output(tls);
            imap_client_tls_done(&c);
            tls = 1;
        } else if (ev.type == IC_EV_READY) {
            next_command(&step);
        } else if (ev.type == IC_EV_NEWMAIL) {
            imap_client_idle_done(&c);
        } else if (ev.type == IC_EV_BODY_BEGIN && (data[1] & 8)) {
            imap_client_skip_body(&c);
        } else if (ev.type == IC_EV_FAILED || ev.type == IC_EV_CLOSED) {
            break;
        }
        drain_output(tls);
        if (ev.type == IC_EV_NONE) {
            if (left == 0 && ++idle_polls > 2) {
                break;
            }
        } else {
            idle_polls = 0;
        }
    }
    return 0;
}
