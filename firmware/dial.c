/* see dial.h */
#include <stdio.h>
#include <string.h>

#include "dial.h"
#include "resolve.h"

enum { DNS_WAIT, DNS_ADDRESS, DNS_NONE };

/* The name failed: "WHAT: why". Until a connect, the endpoint's verdict buffer is the
 * dial's: dial_start() put WHAT there. */
static void fail(struct dial *d, const char *why)
{
    size_t n = strlen(d->ep.verdict);
    snprintf(d->ep.verdict + n, sizeof d->ep.verdict - n, ": %s", why);
    d->ep.fail = EP_FAIL_UNREACHABLE;
    d->state = DIAL_FAILED;
}

static void on_resolved(const char *name, const ip_addr_t *addr, void *arg)
{
    struct dial *d = arg;
    (void)name;
    if (addr != NULL) {
        d->addr = *addr;
        d->dns = DNS_ADDRESS;
    } else {
        d->dns = DNS_NONE;
    }
}

static void on_endpoint(struct endpoint *e, unsigned events, void *arg)
{
    struct dial *d = arg;
    (void)e;
    d->ev |= (uint8_t)events;
    if (events & (EP_FAILED | EP_CLOSED)) {
        d->live = 0;                 /* the endpoint has let go of its connection */
    }
}

/* see dial.h */
void dial_start(struct dial *d, const char *host, const char *what, unsigned flags)
{
    dial_abort(d);
    memset(d, 0, sizeof *d);
    snprintf(d->ep.verdict, sizeof d->ep.verdict, "%s", what);
    if (flags & DIAL_NO_DNS) {
        if (resolve_now(host, &d->addr) != 0) {
            fail(d, "not an IPv4 address nor a name in the host table (host add NAME A.B.C.D)");
            return;
        }
        d->state = DIAL_RESOLVED;
        return;
    }
    switch (resolve_name(host, &d->addr, on_resolved, d)) {
    case RESOLVE_DONE:
        d->state = DIAL_RESOLVED;
        return;
    case RESOLVE_PENDING:
        d->state = DIAL_RESOLVING;
        return;
    default:
        fail(d, "not in the host table and no DNS server (host add NAME A.B.C.D)");
    }
}

/* see dial.h */
int dial_connect(struct dial *d, uint16_t port, const struct tls_client_config *tls,
                 struct endpoint_tls *own, unsigned flags)
{
    d->ev = 0;
    d->live = 1;
    d->state = DIAL_CONNECTING;
    if (endpoint_open(&d->ep, &d->addr, port, tls, own, flags, on_endpoint, d) != 0) {
        d->live = 0;
        d->state = d->ep.fail == EP_FAIL_NOMEM ? DIAL_RESOLVED : DIAL_FAILED;
        return -1;
    }
    return 0;
}

/* see dial.h */
int dial_starttls(struct dial *d, const struct tls_client_config *tls)
{
    if (d->state != DIAL_OPEN || endpoint_starttls(&d->ep, tls) != 0) {
        return -1;
    }
    d->ev = 0;
    d->state = DIAL_HANDSHAKING;
    return 0;
}

/* see dial.h */
enum dial_state dial_poll(struct dial *d)
{
    switch (d->state) {
    case DIAL_RESOLVING:
        if (d->dns == DNS_ADDRESS) {
            d->state = DIAL_RESOLVED;
        } else if (d->dns == DNS_NONE) {
            fail(d, "DNS found no address");
        }
        break;
    case DIAL_CONNECTING:
    case DIAL_HANDSHAKING:
    case DIAL_OPEN:
        if (d->ev & EP_FAILED) {
            d->state = DIAL_FAILED;
        } else if ((d->ev & EP_OPEN) && d->state != DIAL_OPEN) {
            d->state = DIAL_OPEN;
            d->ev &= EP_CLOSED;      /* a close that came with it is told next time */
            break;
        } else if (d->ev & EP_CLOSED) {
            d->state = DIAL_CLOSED;
        } else if (d->state == DIAL_CONNECTING && d->ep.tls != NULL && d->ep.tls->tcp_up) {
            d->state = DIAL_HANDSHAKING;
        }
        d->ev = 0;
        break;
    default:
        break;
    }
    return (enum dial_state)d->state;
}

/* see dial.h */
void dial_close(struct dial *d)
{
    if (d->live) {
        endpoint_close(&d->ep);
        d->live = 0;
    }
    dial_abort(d);
}

/* see dial.h */
void dial_abort(struct dial *d)
{
    if (d->state == DIAL_RESOLVING) {
        resolve_cancel(on_resolved, d);
    }
    if (d->live) {
        endpoint_abort(&d->ep);
        d->live = 0;
    }
    d->state = DIAL_IDLE;
}

/* see dial.h */
const char *dial_verdict(const struct dial *d)
{
    return d->ep.verdict;
}
