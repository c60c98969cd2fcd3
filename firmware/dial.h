/* One way out for every connection the gateway makes (a relay link, a cloud stream to an
 * internal host, the IMAP receiver, `mapping check`, `tls probe`): look the name up, connect,
 * and for TLS run the handshake, with one state and one verdict.
 *
 *   dial_start(d, host, what, flags)   RESOLVING (DNS), or at once RESOLVED or FAILED
 *   dial_connect(d, port, tls|NULL, own, flags)
 *                                     from RESOLVED: CONNECTING, HANDSHAKING (TLS), OPEN
 *   dial_poll(d)                       every turn: the state now
 *   dial_starttls(d, tls)              OPEN plain -> HANDSHAKING -> OPEN (STARTTLS)
 *   dial_close(d) / dial_abort(d)      back to IDLE (graceful / RST, a DNS query forgotten)
 *
 * Once OPEN, the owner reads, writes and half-closes through d->ep (endpoint.h). CLOSED:
 * a TLS connection ended cleanly (the peer's close_notify, or ours after endpoint_shutdown):
 * reads give EOF. FAILED is final, and dial_verdict() says why in one line: the name ("WHAT:
 * not in the host table and no DNS server ...", "WHAT: DNS found no address"), then the
 * endpoint's verdict (connect, handshake, certificate, connection lost); d->ep.fail says
 * which kind (enum endpoint_fail: a name failure is EP_FAIL_UNREACHABLE). A connect refused
 * at once for want of memory (EP_FAIL_NOMEM) leaves the dial RESOLVED: its owner may try
 * again on a later turn.
 *
 * It lives in firmware/ because the name lookup is resolve.c's (an IPv4 literal, the host
 * table, DNS only when the operator configured a server), which reads the settings.
 * The callbacks below it (resolve's, the endpoint's) only set flags in the struct; nothing
 * is called back: the owner's step function asks dial_poll(). No allocation: the owner
 * holds the struct (~0.3 KiB, most of it the endpoint and its verdict). */
#ifndef GW_DIAL_H
#define GW_DIAL_H

#include <stdint.h>

#include "endpoint.h"
#include "lwip/ip_addr.h"

enum dial_state {
    DIAL_IDLE,           /* not started, or closed or aborted by the owner */
    DIAL_RESOLVING,      /* a DNS query is out */
    DIAL_RESOLVED,       /* the address is known: the owner connects (its checks first) */
    DIAL_CONNECTING,     /* TCP connect */
    DIAL_HANDSHAKING,    /* TLS handshake (TCP is up) */
    DIAL_OPEN,           /* bytes flow through d->ep */
    DIAL_CLOSED,         /* final: a TLS connection ended cleanly; reads give EOF */
    DIAL_FAILED,         /* final: dial_verdict() says why */
};

#define DIAL_NO_DNS 1u   /* dial_start: a literal or the host table only, answered now */

struct dial {
    struct endpoint ep;  /* the connection; its verdict is the dial's */
    ip_addr_t addr;      /* from RESOLVED on: the address dialled */
    uint8_t state;       /* enum dial_state */
    uint8_t ev;          /* endpoint events not yet taken by dial_poll */
    uint8_t dns;         /* DNS's answer, not yet taken by dial_poll */
    uint8_t live;        /* ep holds a connection or an attempt */
};

/* Look host up; what names it in a failure's verdict ("relay name", "internal host db").
 * d is zeroed or was dialled before: a dial still running is aborted first. */
void dial_start(struct dial *d, const char *host, const char *what, unsigned flags);
/* From RESOLVED: connect to port, plain (tls NULL) or TLS with *tls (kept by reference as
 * tls_conn_open does), its TLS connection in own (a relay link's, tls probe's) or, own
 * NULL, in the endpoints' pool; flags as endpoint_open's (ENDPOINT_SHARED for the cloud's
 * streams, ENDPOINT_CLOSE_ON_OPEN for a check). 0, or -1 failed at once (FAILED, or
 * RESOLVED for EP_FAIL_NOMEM). */
int dial_connect(struct dial *d, uint16_t port, const struct tls_client_config *tls,
                 struct endpoint_tls *own, unsigned flags);
/* From OPEN plain: TLS on the same connection (endpoint_starttls). 0 (HANDSHAKING), or -1
 * refused at once (still OPEN and plain; the verdict says why). */
int dial_starttls(struct dial *d, const struct tls_client_config *tls);
/* Take what the callbacks left and say where the dial is. An OPEN that came with a close
 * is reported first, the CLOSED at the next call; a failure outranks both. */
enum dial_state dial_poll(struct dial *d);
void dial_close(struct dial *d);
void dial_abort(struct dial *d);
const char *dial_verdict(const struct dial *d);

#endif
