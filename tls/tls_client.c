/* see tls_client.h */
#include <stddef.h>
#include <string.h>

#include "hostname.h"
#include "tls_client.h"
#include "tls_err.h"

/* The client is the first member's container: the engine calls back with &c->engine. */
static struct tls_client *client_of(struct tls_engine *e)
{
    return (struct tls_client *)(void *)e;
}

/* The chain's verdict (verify.c) decides both ways: "ok: chain anchored at ..." once open,
 * else what was wrong with the server's chain, or the engine's reason. */
static void client_verdict(struct tls_engine *e, int err)
{
    verdict_handshake(err, &client_of(e)->verify, e->verdict, sizeof e->verdict);
}

/* The name we check is the one we ask for; an IP address is never sent as SNI. */
static int client_reset(struct tls_engine *e)
{
    struct tls_client *c = client_of(e);
    uint8_t ip[16];
    const char *name = c->verify.host;
    return br_ssl_client_reset(&c->cc, host_parse_ip(name, ip) ? NULL : name, 0);
}

static const struct tls_engine_class client_class = {
    "server", client_verdict, client_reset,
};

_Static_assert(offsetof(struct tls_client, engine) == 0, "client_of() needs the engine first");

/* see tls_client.h */
int tls_client_start(struct tls_client *c, const struct tls_client_config *cfg,
                     const struct tls_io *io)
{
    unsigned rec = cfg->record_max ? cfg->record_max : TLS_RECORD_FULL;
    /* BearSSL asks for the largest power of two, 512 to 4096, that fits the output buffer
     * (8192 is not a TLS value), and for nothing when it holds a full record. */
    if (cfg->host == NULL || cfg->host[0] == 0 || (rec & (rec - 1)) != 0 || rec < 512 ||
        (rec > 4096 && rec != TLS_RECORD_FULL)) {
        return TLS_EINVAL;
    }
    br_ssl_client_zero(&c->cc);
    br_ssl_engine_set_buffers_bidi(&c->cc.eng, c->buf, TLS_CLIENT_IBUF,
                                   c->buf + TLS_CLIENT_IBUF,
                                   TLS_CLIENT_OBUF - TLS_RECORD_FULL + rec);
    tls_verify_init(&c->verify, cfg->anchors, cfg->anchors_num, cfg->sni ? cfg->sni : cfg->host,
                    cfg->now, cfg->capture);
    br_ssl_engine_set_x509(&c->cc.eng, &c->verify.vtable);
    if (cfg->client_key) {
        br_ssl_client_set_single_ec(&c->cc, cfg->client_chain, cfg->client_chain_len,
                                    cfg->client_key, BR_KEYTYPE_SIGN, BR_KEYTYPE_EC,
                                    &br_ec_p256_m31, br_ecdsa_i31_sign_asn1);
    }
    return tls_engine_start(&c->engine, &c->cc.eng, &client_class, io, cfg->prefer);
}
