/* One outgoing byte stream over lwIP, plain TCP or TLS, behind one interface: what a
 * mapping connects to an internal host with, and what the IMAP receiver talks through.
 *
 *   endpoint_open(e, addr, port, tls_cfg|NULL, own, flags, cb, arg)   connect (and
 *        handshake for TLS);
 *        the owner hears EP_OPEN (TLS: the chain was checked and names the host), or
 *        EP_FAILED with endpoint_verdict() saying why in one line.
 *   endpoint_starttls(e, cfg)   turn an open plain stream into TLS on the same connection
 *        (STARTTLS): bytes not yet read are refused (-1), so plaintext received before the
 *        handshake is never carried into the TLS session.
 *   read/write         bytes; EP_READABLE / EP_WRITABLE say when to try again.
 *   endpoint_shutdown  half-close our direction (TCP FIN; TLS: close_notify, then the
 *                      connection ends once it was sent: TLS has no half-close).
 *   endpoint_close / endpoint_abort   graceful end / RST; no event follows either.
 *
 * Memory: struct endpoint is ~0.2 KiB (a tcp_stream and a verdict); a TLS endpoint also
 * holds one of ENDPOINT_TLS_MAX TLS connections (~52 KiB each, a static pool), so at most
 * that many TLS endpoints exist at once; one more fails at once with "no TLS slot free".
 * A shared open (ENDPOINT_SHARED: the cloud's streams) leaves the last
 * ENDPOINT_TLS_RESERVED slots to the others and to endpoint_starttls() (the IMAP receiver,
 * mapping check), so however many tls-mapping streams the cloud opens, the receiver still
 * gets its TLS connection. An owner that keeps its own struct endpoint_tls (a relay link,
 * `tls probe`) opens in it: it neither waits for the pool nor takes from it. */
#ifndef GW_ENDPOINT_H
#define GW_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "lwip/ip_addr.h"
#include "tcp_stream.h"
#include "tls_conn.h"

#define ENDPOINT_TLS_MAX 8             /* TLS endpoints at once: 8 x ~52 KiB */
#define ENDPOINT_TLS_RESERVED 1        /* of them, never taken with ENDPOINT_SHARED */
#define ENDPOINT_CONNECT_MS 10000      /* TCP connect deadline (TLS: connect + handshake) */
/* lwIP heap (MEM_SIZE) that plain endpoints leave free when they queue send data: many busy
 * internal connections must never starve the tunnel, new SYNs and ACKs of memory. The
 * tunnel's send buffer (GW_TCP_SND_BUF_WAN, ~280 KiB of heap with its headers) and 128 KiB
 * beside it for the rest (TLS endpoints, SYNs, ACKs). 384 KiB. */
#define ENDPOINT_HEAP_RESERVE (GW_TCP_SND_BUF_WAN + 128 * 1024)

enum endpoint_event {
    EP_OPEN = 1u << 0,
    EP_READABLE = 1u << 1,
    EP_WRITABLE = 1u << 2,
    EP_FAILED = 1u << 3,               /* final: connect, handshake or connection failed */
    EP_CLOSED = 1u << 4,               /* final: a TLS close we started has completed */
};

/* endpoint_open's flags. */
#define ENDPOINT_SHARED 1u             /* a pool slot the cloud's streams may take */
/* A check (tls probe, mapping check): closed as soon as it is open, in the same turn, so
 * that nothing the peer sends after its handshake is taken (it meets a closed connection,
 * which lwIP answers with RST). The owner hears EP_OPEN, then (TLS) EP_CLOSED or EP_FAILED
 * once the close_notify went out. */
#define ENDPOINT_CLOSE_ON_OPEN 2u

/* Why it failed, for SOCKS5 reply codes (0x04 unreachable or TLS failed, 0x05 refused,
 * 0x06 timeout). */
enum endpoint_fail {
    EP_FAIL_NONE,
    EP_FAIL_UNREACHABLE,
    EP_FAIL_REFUSED,
    EP_FAIL_TIMEOUT,
    EP_FAIL_TLS,                       /* the TLS handshake or the certificate check */
    EP_FAIL_NOMEM,                     /* no pcb or TLS slot free */
};

struct endpoint;
typedef void (*endpoint_cb)(struct endpoint *e, unsigned events, void *arg);

/* Where a TLS connection lives: a slot of the pool, or one its owner keeps. It outlives its
 * endpoint when the owner closes (the close_notify still has to go out): its owner is then
 * NULL, and it is busy (used) until the close is done; an owner's own is reused only after. */
struct endpoint_tls {
    struct tls_conn conn;
    struct endpoint *owner;
    uint8_t used;
    uint8_t shared;                    /* a pool slot taken with ENDPOINT_SHARED */
};

struct endpoint {
    struct tcp_stream tcp;             /* plain TCP (before STARTTLS, or a tcp mapping) */
    struct tls_conn *tls;              /* TLS: from the pool; NULL for plain */
    endpoint_cb cb;
    void *arg;
    uint8_t open;                      /* EP_OPEN was reported */
    uint8_t ended;                     /* EP_CLOSED was reported: reads give EOF */
    uint8_t fail;                      /* enum endpoint_fail */
    uint8_t close_on_open;             /* ENDPOINT_CLOSE_ON_OPEN */
    char verdict[VERDICT_MAX];
};

/* Connect to addr:port, plain (tls NULL) or TLS with *tls (validated as tls_conn_open
 * does), its TLS connection in own (the owner's, not busy) or, own NULL, in a slot of the
 * pool. flags: ENDPOINT_SHARED for traffic that must not starve the reserved owners (the
 * cloud's streams: EP_FAIL_NOMEM once only the reserved slots are left), and
 * ENDPOINT_CLOSE_ON_OPEN. 0: events follow; -1: failed at once (verdict and fail say why;
 * no event). */
int endpoint_open(struct endpoint *e, const ip_addr_t *addr, uint16_t port,
                  const struct tls_client_config *tls, struct endpoint_tls *own,
                  unsigned flags, endpoint_cb cb, void *arg);
/* Upgrade an open plain endpoint to TLS on its connection. 0: EP_OPEN follows once the
 * handshake is done (or EP_FAILED); -1: refused at once (received bytes were not read,
 * no TLS slot, not plain and open); the verdict says why. */
int endpoint_starttls(struct endpoint *e, const struct tls_client_config *tls);
/* Bytes read (0: none yet), or TCP_STREAM_EOF / TCP_STREAM_ERROR. */
long endpoint_read(struct endpoint *e, uint8_t *buf, size_t len);
/* Bytes taken (0: no room now, wait for EP_WRITABLE), or TCP_STREAM_ERROR. */
long endpoint_write(struct endpoint *e, const uint8_t *p, size_t len);
/* Bytes a write would take now: a splice reads no more than this from the other side.
 * Plain endpoints also keep ENDPOINT_HEAP_RESERVE of lwIP's heap free. */
size_t endpoint_write_room(struct endpoint *e);
void endpoint_shutdown(struct endpoint *e);
void endpoint_close(struct endpoint *e);
void endpoint_abort(struct endpoint *e);
const char *endpoint_verdict(const struct endpoint *e);
/* TLS endpoints in use now (for show status). */
unsigned endpoint_tls_in_use(void);

/* The trust store changed (a commit): every TLS connection of the pool still connecting or
 * in its handshake fails now ("the trust store changed during the handshake"), before any
 * new one is given the rebuilt anchors: BearSSL holds the anchors it was given by
 * reference for the whole handshake. */
void endpoint_trust_changed(void);

#endif
