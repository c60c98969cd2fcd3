/* relay reload (SIGHUP): the configuration file is read again, whole, and checked as
 * `relay --check` checks it (the identity files too); then what can change under running
 * tunnels is applied: the revoked gateway certificates, the locations (tokens and mailboxes
 * changed, locations added or removed), and the jwt-issuer keys and jwt-skew. Tunnels whose
 * certificate is now revoked, or whose location is gone, are closed; so are SOCKS5
 * sessions whose credential is withdrawn (a changed token, a removed or rotated issuer
 * key, a removed location, a location its issuer's line no longer allows): a session
 * opened with a leaked credential must not outlive its rotation. A file that does not
 * pass changes nothing: the error is logged and the running configuration stays. What
 * the sockets and TLS took at start (the listen,
 * socks and metrics addresses, cert, key, client-ca, spool) needs a restart, and the
 * reload says so when it changed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "relay.h"


/* Names the settings that differ and only a restart applies ("listen, cert"), or "". */
static void restart_only_changes(const struct relay_config *n, char *out, size_t cap)
{
    const struct relay_config *o = &relay_cfg;
    const struct {
        int differs;
        const char *name;
    } what[] = {
        { memcmp(&o->listen, &n->listen, sizeof o->listen) != 0, "listen" },
        { memcmp(&o->socks, &n->socks, sizeof o->socks) != 0, "socks" },
        { o->has_metrics != n->has_metrics
          || memcmp(&o->metrics, &n->metrics, sizeof o->metrics) != 0, "metrics" },
        { strcmp(o->cert, n->cert) != 0, "cert" },
        { strcmp(o->key, n->key) != 0, "key" },
        { strcmp(o->client_ca, n->client_ca) != 0, "client-ca" },
        { strcmp(o->spool, n->spool) != 0 || o->lmtp != n->lmtp
          || strcmp(o->lmtp_target, n->lmtp_target) != 0, "spool" },
        { memcmp(&o->lim, &n->lim, sizeof o->lim) != 0, "limit" },
    };
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof what / sizeof what[0] && len < cap; i++) {
        if (what[i].differs) {
            len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? ", " : "", what[i].name);
        }
    }
}

/* Marks the running locations that next no longer has; returns how many. */
static unsigned remove_missing(const struct relay_config *next)
{
    unsigned removed = 0;
    for (unsigned i = 0; i < relay_cfg.nlocs; i++) {
        struct location *loc = &relay_cfg.locs[i];
        if (relay_location_in(next, loc->id) == NULL && !loc->removed) {
            loc->removed = 1;
            removed++;
        }
    }
    return removed;
}

/* Takes next's locations: new tokens, new locations (with their spool), and removed ones
 * back again. Returns how many were added or came back. */
static unsigned add_and_update(const struct relay_config *next)
{
    char err[300];
    unsigned added = 0;
    for (unsigned j = 0; j < next->nlocs; j++) {
        struct location *found = relay_location_in(&relay_cfg, next->locs[j].id);
        struct location *loc = found ? found : &relay_cfg.locs[relay_cfg.nlocs];
        if (found == NULL) {
            memset(loc, 0, sizeof *loc);
            snprintf(loc->id, sizeof loc->id, "%s", next->locs[j].id);
            if (spool_prepare(loc, err, sizeof err) != 0) {
                log_err("reload: location %s not added: %s", loc->id, err);
                continue;
            }
            relay_location_index(&relay_cfg, loc);
            relay_cfg.nlocs++;
            added++;
        } else if (loc->removed) {
            loc->removed = 0;                    /* back again: its spool index is still here */
            added++;
        }
        memcpy(loc->token_sha256, next->locs[j].token_sha256, 32);
        /* The next delivery goes to the new mailbox; those under way keep theirs. */
        memcpy(loc->mailbox, next->locs[j].mailbox, sizeof loc->mailbox);
    }
    return added;
}

/* see relay.h */
void relay_reload(const char *path)
{
    static struct relay_config next;
    static struct tls_server_identity id;    /* checked only: running TLS keeps its own */
    char err[400], changed[80];
    unsigned slots = relay_cfg.nlocs, active = 0;
    if (relay_config_load(&next, path, err, sizeof err) != 0
        || relay_identity_load(&next, &id, err, sizeof err) != 0) {
        log_err("reload: %s: the running configuration stays", err);
        goto done;
    }
    for (unsigned j = 0; j < next.nlocs; j++) {
        slots += relay_location_in(&relay_cfg, next.locs[j].id) == NULL;
    }
    if (slots > RELAY_LOCATIONS_MAX) {
        /* Removed locations keep their slots (tunnels and clients may still point there). */
        log_err("reload: %u locations, counting those removed since the start, is more than "
                "%d: the running configuration stays (restart the relay)", slots,
                RELAY_LOCATIONS_MAX);
        goto done;
    }
    unsigned removed = remove_missing(&next);
    unsigned added = add_and_update(&next);
    for (unsigned i = 0; i < relay_cfg.nlocs; i++) {
        active += !relay_cfg.locs[i].removed;
    }
    /* The revoked list changes hands whole. */
    free(relay_cfg.revoked);
    relay_cfg.revoked = next.revoked;
    relay_cfg.nrevoked = next.nrevoked;
    relay_cfg.revoked_cap = next.revoked_cap;
    memcpy(relay_cfg.revoked_file, next.revoked_file, sizeof relay_cfg.revoked_file);
    next.revoked = NULL;
    next.nrevoked = next.revoked_cap = 0;
    /* The issuers too (their keys point into themselves: the array changes hands). */
    struct jwt_issuer *old = relay_cfg.issuers;
    relay_cfg.issuers = next.issuers;
    relay_cfg.nissuers = next.nissuers;
    relay_cfg.jwt_skew_s = next.jwt_skew_s;
    next.issuers = old;
    restart_only_changes(&next, changed, sizeof changed);
    if (changed[0]) {
        log_warnx("reload: %s changed: takes effect when the relay restarts", changed);
    }
    unsigned closed = tunnel_recheck();
    unsigned sessions = socks_recheck();
    log_info("reload: %s read again: %u locations (%u added, %u removed), %u revoked "
             "certificates, %u jwt-issuer keys, %u tunnels closed, %u SOCKS5 sessions closed",
             path, active, added, removed, relay_cfg.nrevoked, relay_cfg.nissuers, closed,
             sessions);
done:
    tls_server_identity_wipe(&id);
    relay_config_free(&next);
}
