/* see imap_connect.h */
#include <stdio.h>

#include "imap_connect.h"
#include "mappings.h"
#include "settings.h"

/* The TLS check: starttls and tls check the virtual name (TLS runs end to end through a
 * tcp mapping); off over a tls mapping (map >= 0) checks what that mapping checks. */
static const char *tls_config(struct tls_client_config *t, int map)
{
    const char *name = map >= 0 ? mappings_tls_name(map) : settings_running()->imap.server.host;
    return settings_tls_client(t, name, SETTINGS_PEER_SERVER);
}

/* The pairing of security mode and mapping kind, or why it is refused. */
static const char *pairing(const struct config_mapping *m)
{
    enum config_imap_security s = settings_running()->imap.security;
    if (s == IMAP_SEC_OFF && !m->tls) {
        return "security off needs a tls mapping (the password would cross in clear)";
    }
    if (s != IMAP_SEC_OFF && m->tls) {
        return "security starttls/tls over a tls mapping: TLS twice; use security off";
    }
    return NULL;
}

/* The server's mapping, found again by name: a commit may have moved, changed or deleted
 * it while its name was being resolved (an index would then name another mapping, or
 * none). It is used only if it is the one resolved for, with its pairing checked again;
 * else the session starts over (a commit that changes it restarts the session too). */
static int server_mapping(struct imap_connect *c, const struct config_mapping **m, char *why,
                          size_t cap)
{
    const struct config_hostport *srv = &settings_running()->imap.server;
    int i = mappings_find(srv->host, srv->port);
    *m = mappings_get(i);
    if (*m == NULL || mappings_fingerprint(i) != c->map_fp || pairing(*m) != NULL) {
        snprintf(why, cap, "server %s:%u: its mapping changed while connecting: starting "
                 "again", srv->host, srv->port);
        return -1;
    }
    return i;
}

/* The name resolved: the connect, with implicit TLS for security tls or a tls mapping. */
static int connect_server(struct imap_connect *c, char *why, size_t cap)
{
    const struct config_mapping *m;
    struct tls_client_config t;
    const char *no = NULL;
    int i = server_mapping(c, &m, why, cap);
    if (i < 0) {
        return -1;
    }
    int tls_now = settings_running()->imap.security == IMAP_SEC_TLS || m->tls;
    if (tls_now && (no = tls_config(&t, m->tls ? i : -1)) != NULL) {
        snprintf(why, cap, "%s", no);
        return -1;
    }
    if (dial_connect(&c->dial, m->internal.port, tls_now ? &t : NULL, NULL, 0) != 0) {
        snprintf(why, cap, "connect %s:%u: %s", m->internal.host, m->internal.port,
                 dial_verdict(&c->dial));
        return -1;
    }
    return 0;
}

/* see imap_connect.h */
int imap_connect_start(struct imap_connect *c, char *why, size_t cap)
{
    const struct config *cf = settings_running();
    char what[VERDICT_MAX];
    int i = mappings_find(cf->imap.server.host, cf->imap.server.port);
    const struct config_mapping *m = mappings_get(i);
    const char *no = m ? pairing(m) : NULL;
    c->map_fp = mappings_fingerprint(i);
    if (m == NULL || no != NULL) {
        snprintf(why, cap, "server %s:%u: %s", cf->imap.server.host, cf->imap.server.port,
                 m ? no : "no mapping for it (the receiver goes through a mapping)");
        return -1;
    }
    snprintf(what, sizeof what, "internal host %s", m->internal.host);
    dial_start(&c->dial, m->internal.host, what, 0);
    return 0;
}

/* see imap_connect.h: a failure before any connect is the name's (its verdict names the
 * host); after, it was the connect or the handshake. */
enum imap_connect_step imap_connect_step(struct imap_connect *c, char *why, size_t cap)
{
    int connecting = c->dial.state == DIAL_CONNECTING || c->dial.state == DIAL_HANDSHAKING;
    switch (dial_poll(&c->dial)) {
    case DIAL_RESOLVED:
        return connect_server(c, why, cap) == 0 ? IMAP_CONNECT_CONNECTING
                                                : IMAP_CONNECT_FAILED;
    case DIAL_FAILED:
        snprintf(why, cap, "%s%s", connecting ? "connecting: " : "", dial_verdict(&c->dial));
        return IMAP_CONNECT_FAILED;
    case DIAL_OPEN:
        return IMAP_CONNECT_OPEN;
    default:
        return IMAP_CONNECT_WAIT;
    }
}

/* see imap_connect.h */
int imap_connect_starttls(struct imap_connect *c, const char **why)
{
    struct tls_client_config t;
    *why = tls_config(&t, -1);
    if (*why == NULL && dial_starttls(&c->dial, &t) != 0) {
        *why = dial_verdict(&c->dial);
    }
    return *why == NULL ? 0 : -1;
}
