/* Who a relay tunnel's gateway is: its certificate (not revoked, and meant for TLS
 * clients: the CA signs server certificates too), then its hello on the first stream it
 * opens (the location must be the certificate's, a free live-tunnel slot, the delivery
 * version both speak). The answer goes back on the same stream, then FIN; the tunnel is
 * ready, or closed with the reason logged and sent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "text_escape.h"
#include "tls_err.h"
#include "tunnel_int.h"
#include "x509_info.h"

/* The hello stream's receiver. */
struct hello_rx {
    enum stream_kind kind;       /* SK_HELLO, first */
    struct yamux_stream *st;
    uint8_t buf[HELLO_MSG_MAX];
    size_t len;
    int answered;
    uint8_t answer[HELLO_MSG_MAX];   /* queued until the stream takes it all, then FIN */
    size_t answer_len, answer_off;
};

/* "serverAuth, codeSigning" for a log line. */
static void eku_names(unsigned bits, char *out, size_t cap)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        { X509_EKU_SERVER_AUTH, "serverAuth" }, { X509_EKU_CLIENT_AUTH, "clientAuth" },
        { X509_EKU_CODE_SIGNING, "codeSigning" }, { X509_EKU_EMAIL, "emailProtection" },
        { X509_EKU_TIME_STAMPING, "timeStamping" }, { X509_EKU_OCSP_SIGNING, "OCSPSigning" },
        { X509_EKU_ANY, "anyExtendedKeyUsage" },
    };
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (bits & names[i].bit) {
            len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? ", " : "", names[i].name);
            bits &= ~names[i].bit;
        }
        if (len >= cap) {
            return;
        }
    }
    if (bits) {
        snprintf(out + len, cap - len, "%sanother purpose", len ? ", " : "");
    }
}

/* see tunnel_int.h. The leaf is kept whole by tls_server (its CN was read from it). The CA
 * signs certificates for other purposes too: a server certificate from it must not pass
 * for a gateway. */
int tunnel_certificate_allowed(struct tunnel *t, char *why, size_t cap)
{
    size_t leaf_len = 0;
    const uint8_t *leaf = tls_server_peer_leaf(&t->tls, &leaf_len);
    struct x509_parts x;
    char hex[65], names[120];
    unsigned bits;
    br_sha256_context h;
    br_sha256_init(&h);
    br_sha256_update(&h, leaf, leaf_len);
    br_sha256_out(&h, t->cert_sha256);
    relay_hex(t->cert_sha256, 32, hex);
    if (relay_revoked(&relay_cfg, t->cert_sha256)) {
        snprintf(why, cap, "certificate sha256=%s is revoked", hex);
        return -1;
    }
    int r = leaf && x509_split(leaf, leaf_len, &x) == 0 ? x509_eku(&x, &bits) : TLS_EDER;
    if (r < 0) {
        snprintf(why, cap, "certificate sha256=%s: malformed extended key usage", hex);
        return -1;
    }
    if (r == 1 && !(bits & (X509_EKU_CLIENT_AUTH | X509_EKU_ANY))) {
        eku_names(bits, names, sizeof names);
        snprintf(why, cap, "certificate sha256=%s is not for TLS clients (extended key usage: "
                 "%s; a gateway needs clientAuth)", hex, names);
        return -1;
    }
    return 0;
}

/* see tunnel_int.h */
void tunnel_hello_start(struct tunnel *t, struct yamux_stream *st)
{
    struct hello_rx *h = calloc(1, sizeof *h);
    if (h == NULL) {
        yamux_release(st);
        return;
    }
    h->kind = SK_HELLO;
    h->st = st;
    st->user = h;
    t->hello = h;
    tunnel_hello_service(t, h);
}

/* Writes what the stream takes of the answer; FIN once all of it went. */
static void hello_flush(struct hello_rx *h)
{
    while (h->answer_off < h->answer_len) {
        long w = yamux_write(h->st, h->answer + h->answer_off, h->answer_len - h->answer_off);
        if (w <= 0) {
            return;
        }
        h->answer_off += (size_t)w;
    }
    yamux_close(h->st);
}

static void hello_answer(struct hello_rx *h, uint8_t status, const char *txt, uint8_t dver)
{
    /* (a welcome says how many deliveries of its location may be in flight at once) */
    long n = hello_answer_encode(h->answer, sizeof h->answer, status, txt, dver,
                                 status == HELLO_ST_OK ? relay_cfg.lim.location_deliveries : 0);
    h->answer_len = n > 0 ? (size_t)n : 0;
    h->answer_off = 0;
    h->answered = 1;
    hello_flush(h);
}

/* see tunnel_int.h */
void tunnel_hello_service(struct tunnel *t, void *owner)
{
    struct hello_rx *h = owner;
    struct hello hl;
    char why[200];
    long n;
    if (h->answered) {
        uint8_t sink[256];
        hello_flush(h);
        while ((n = yamux_read(h->st, sink, sizeof sink)) > 0) {
        }
        if (n < 0) {
            h->st->user = NULL;
            yamux_release(h->st);
            t->hello = NULL;
            free(h);
        }
        return;
    }
    while (h->len < sizeof h->buf
           && (n = yamux_read(h->st, h->buf + h->len, sizeof h->buf - h->len)) > 0) {
        h->len += (size_t)n;
    }
    long m = hello_parse(h->buf, h->len, &hl);
    if (m == 0 && h->len < sizeof h->buf && h->st->state != YAMUX_S_REMOTE_CLOSED
        && h->st->state != YAMUX_S_CLOSED && h->st->state != YAMUX_S_RESET) {
        return;                                   /* more to come */
    }
    if (m <= 0) {
        if (m == HELLO_EVERSION) {
            snprintf(why, sizeof why, "hello version %u not supported (this relay speaks %d)",
                     h->len > 1 ? h->buf[1] : 0, HELLO_VERSION);
        } else {
            snprintf(why, sizeof why, "bad hello: %s",
                     m == 0 ? "stream ended early" : hello_strerror(m));
        }
    } else if (strcmp(hl.location, t->loc->id) != 0) {
        snprintf(why, sizeof why, "hello names location \"%s\" but the certificate says \"%s\"",
                 hl.location, t->loc->id);
    } else {
        why[0] = 0;
    }
    if (why[0]) {
        hello_answer(h, HELLO_ST_REFUSED, why, 0);
        tunnel_push_output(t);
        relay_m.tunnels_refused++;
        tunnel_close(t, why, RF_COUNT);
        return;
    }
    if (t->loc->nlive == RELAY_TUNNELS_PER_LOC) {
        snprintf(why, sizeof why, "location already has %d live tunnels", RELAY_TUNNELS_PER_LOC);
        hello_answer(h, HELLO_ST_REFUSED, why, 0);
        tunnel_push_output(t);
        relay_m.tunnels_refused++;
        tunnel_close(t, why, RF_COUNT);
        return;
    }
    /* The delivery version: 2 (the hash in a trailer, one read of each message on the
     * gateway) when the gateway speaks it and this relay may: not with spool lmtp, whose
     * trace header needs the hash before the body (docs/protocol.md 3.3), nor with limit
     * delivery-version 1. A gateway that does not say gets no field and sends version 1. */
    t->delivery_version = hl.delivery_version >= 2 && relay_cfg.lim.delivery_version >= 2
                                  && !relay_cfg.lmtp ? 2 : 1;
    hello_answer(h, HELLO_ST_OK, "welcome",
                 hl.delivery_version ? t->delivery_version : 0);
    t->state = TUN_READY;
    t->opened_ms = relay_now_ms();
    t->unauthenticated = 0;
    admit_release(t->src);
    relay_m.tunnels_up++;
    relay_m.tunnels_ready++;
    t->loc->live[t->loc->nlive++] = t;
    char cert[65];
    /* The gateway's own words: quoted, their '"' as %22, so that a host name cannot end
     * its field and add fields (the log escapes the rest). */
    char host[TEXT_QUOTE_FIELD_SIZE(HELLO_TEXT_MAX)], fw[TEXT_QUOTE_FIELD_SIZE(HELLO_TEXT_MAX)];
    text_quote_field(host, sizeof host, hl.hostname, strlen(hl.hostname), NULL);
    text_quote_field(fw, sizeof fw, hl.firmware, strlen(hl.firmware), NULL);
    relay_hex(t->cert_sha256, 32, cert);
    log_info("tunnel up: location=%s tunnel=%u peer=%s host=\"%s\" firmware=\"%s\" live=%u "
             "cert=%s", t->loc->id, t->serial, t->peer, host, fw, t->loc->nlive, cert);
}
