/* see settings.h */
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "endpoint.h"
#include "flash.h"
#include "keys.h"
#include "log.h"
#include "lwip/dhcp.h"
#include "lwip/dns.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "mappings.h"
#include "pem.h"
#include "secure_wipe.h"
#include "settings.h"
#include "store.h"
#include "svc_imap.h"
#include "timesync.h"
#include "tls_client.h"
#include "trust.h"
#include "tunnel.h"
#include "verify.h"

static struct {
    struct store store;
    struct store_entry index[SETTINGS_KEYS_MAX];
    uint8_t arena[SETTINGS_ARENA_BYTES];
    struct config_ctx cfg;
    struct netif *netif;
    char hostname[CONFIG_NAME_MAX];
    /* the running trust store as anchors; stale after a commit until asked for again */
    int anchors_stale;
    struct trust_store trust;
    size_t relay_anchors;            /* the first ones of trust: the tunnel's own */
    br_x509_trust_anchor ta[CONFIG_TRUST_MAX];
    uint8_t ta_arena[CONFIG_TRUST_MAX * TRUST_ARENA_PER_ANCHOR];
    uint8_t der[CONFIG_CERT_MAX];
    const char *time_why;        /* why the time is not valid (settings_time) */
    int64_t lkg_tried;           /* the last attempt to write the last-known-good time */
} st;

static int mount(struct flash *f)
{
    int err = store_mount(&st.store, f, st.index, SETTINGS_KEYS_MAX);
    if (err == STORE_ENOFS) {
        log_info("flash: no configuration store yet: formatting %u KiB",
                 (unsigned)(f->geo.size / 1024));
        err = store_format(f);
        if (err == STORE_OK) {
            err = store_mount(&st.store, f, st.index, SETTINGS_KEYS_MAX);
        }
    }
    if (err != STORE_OK) {
        log_err("flash: cannot mount the configuration store: %s", store_strerror(err));
        return -1;
    }
    return 0;
}

/* see settings.h */
int settings_mount(void)
{
    if (mount(board_flash()) != 0) {
        return -1;
    }
    config_init(&st.cfg, &st.store, st.arena, sizeof st.arena);
    st.anchors_stale = 1;
    if (config_load(&st.cfg) != CONFIG_OK) {
        log_err("config: %s (running on defaults)", st.cfg.error);
    }
    struct store_stat ss;
    store_stat(&st.store, &ss);
    log_info("flash: %u live records, %u bytes free", (unsigned)ss.live_records,
             (unsigned)ss.free_bytes);
    return 0;
}

struct config_ctx *settings_ctx(void) { return &st.cfg; }
struct store *settings_store(void) { return &st.store; }
const struct config *settings_running(void) { return &st.cfg.running; }

static void ip4_from(ip4_addr_t *a, const uint8_t b[4])
{
    IP4_ADDR(a, b[0], b[1], b[2], b[3]);
}

/* The banner's address line, and the log whenever DHCP renews to something new. */
static void net_status_cb(struct netif *netif)
{
    if (netif_is_up(netif) && !ip4_addr_isany_val(*netif_ip4_addr(netif))) {
        char a[16], m[16], g[16];
        ip4addr_ntoa_r(netif_ip4_addr(netif), a, sizeof a);
        ip4addr_ntoa_r(netif_ip4_netmask(netif), m, sizeof m);
        ip4addr_ntoa_r(netif_ip4_gw(netif), g, sizeof g);
        log_info("net: address %s netmask %s gateway %s%s", a, m, g,
                 netif_dhcp_data(netif) && dhcp_supplied_address(netif) ? " (dhcp)" : "");
    }
}

/* The address, DNS server and DHCP of netif as cf says. */
static void apply_addr(const struct config *cf, struct netif *netif)
{
    netif_set_hostname(netif, st.hostname);
    netif_set_status_callback(netif, net_status_cb);
    if (cf->net.has_dns) {
        ip_addr_t dns;
        ip4_from(ip_2_ip4(&dns), cf->net.dns);
        IP_SET_TYPE_VAL(dns, IPADDR_TYPE_V4);
        dns_setserver(0, &dns);
    }
    if (cf->net.dhcp) {
        netif_set_up(netif);
        if (netif_dhcp_data(netif) == NULL || !dhcp_supplied_address(netif)) {
            err_t err = dhcp_start(netif);
            if (err != ERR_OK) {
                log_err("net: DHCP cannot start: %s", lwip_strerr(err));
                return;
            }
            log_info("net: asking for an address by DHCP");
        }
        return;
    }
    if (netif_dhcp_data(netif) != NULL) {
        dhcp_release_and_stop(netif);
    }
    ip4_addr_t ip, mask, gw;
    ip4_from(&ip, cf->net.addr);
    ip4_from(&gw, cf->net.gateway);
    unsigned prefix = cf->net.prefix;
    ip4_addr_set_u32(&mask, prefix ? lwip_htonl(0xffffffffu << (32 - prefix)) : 0);
    netif_set_addr(netif, &ip, &mask, &gw);
    netif_set_up(netif);
}

/* see settings.h */
void settings_apply_net(struct netif *netif)
{
    const struct config *cf = &st.cfg.running;
    snprintf(st.hostname, sizeof st.hostname, "%s", cf->hostname[0] ? cf->hostname : "gateway");
    if (netif != NULL) {
        st.netif = netif;
        apply_addr(cf, netif);
    }
    timesync_apply(cf, netif);
}

/* see settings.h */
const char *settings_hostname(void)
{
    return st.hostname[0] ? st.hostname : "gateway";
}

/* Do the anchors differ (which certificates, for which purpose, shared or not)? */
static int trust_view_changed(const struct config *a, const struct config *b)
{
    if (a->ntrust != b->ntrust || a->tunnel.trust_shared != b->tunnel.trust_shared) {
        return 1;
    }
    for (unsigned i = 0; i < a->ntrust; i++) {
        if (a->trust[i].relay != b->trust[i].relay ||
            memcmp(a->trust[i].sha256, b->trust[i].sha256, 32) != 0) {
            return 1;
        }
    }
    return 0;
}

/* see settings.h */
int settings_commit(void (*written)(void))
{
    /* What the commit changes is decided before it, from the candidate: afterwards the
     * running config is the candidate, so no copy of the old one (sizeof (struct config),
     * 12 KiB, passwords and all) is kept to compare against. */
    const struct config *was = &st.cfg.running, *next = &st.cfg.candidate;
    int net = memcmp(&was->net, &next->net, sizeof next->net) != 0 ||
              strcmp(was->hostname, next->hostname) != 0;
    int hosts = was->nhosts != next->nhosts ||
                memcmp(was->hosts, next->hosts, sizeof next->hosts) != 0;
    int mappings = was->nmappings != next->nmappings ||
                   memcmp(was->mappings, next->mappings, sizeof next->mappings) != 0;
    int trust = trust_view_changed(was, next);
    int err = config_commit(&st.cfg);
    if (err != CONFIG_OK) {
        return err;
    }
    const struct config *now = &st.cfg.running;
    if (trust) {
        endpoint_trust_changed();      /* before any handshake is given the rebuilt table */
        st.anchors_stale = 1;
    }
    if (net) {
        settings_apply_net(st.netif);
    } else if (hosts) {
        timesync_apply(now, st.netif);  /* the NTP server's name may point elsewhere now */
    }
    if (written != NULL) {
        written();
    }
    if (mappings) {
        mappings_reset();
    }
    tunnel_start();                  /* restarts the tunnels only if their settings changed */
    imap_svc_start();                /* restarts the receiver only if its settings changed */
    return CONFIG_OK;
}

/* see settings.h */
int settings_factory_reset(void)
{
    int err = store_format(board_flash());
    if (err != STORE_OK) {
        log_err("flash: factory reset failed: %s", store_strerror(err));
        return -1;
    }
    log_info("flash: configuration erased");
    return 0;
}

/* The last-known-good time on flash: written once the box has run a while with a valid
 * clock, then at most once a day (365 small records a year; the store spreads the wear). A
 * board clock more than the slack behind it is not believed. */
#define SETTINGS_LKG_FIRST_MS (10u * 60 * 1000)
#define SETTINGS_LKG_INTERVAL 86400
#define SETTINGS_TIME_SLACK 3600

/* see settings.h */
int settings_device_key(const struct config *cf, struct device_key *k)
{
    static uint8_t der[CONFIG_KEY_MAX];
    static br_skey_decoder_context dc;
    size_t len = 0;
    int ret = -2;
    if (!cf->has_key) {
        return -1;
    }
    if (config_get_key(&st.cfg, cf, der, sizeof der, &len) != CONFIG_OK) {
        goto done;
    }
    if (key_load(k, der, len) == 0) {
        ret = 0;
        goto done;
    }
    /* an imported key (`tunnel key import`): decode it, then load its scalar */
    br_skey_decoder_init(&dc);
    br_skey_decoder_push(&dc, der, len);
    const br_ec_private_key *ec = br_skey_decoder_get_ec(&dc);
    if (br_skey_decoder_last_error(&dc) == 0 && ec != NULL && ec->curve == BR_EC_secp256r1 &&
        ec->xlen <= 32) {
        uint8_t stored[KEY_STORED_LEN] = { KEY_FORMAT_P256, BR_EC_secp256r1 };
        memcpy(stored + 2 + 32 - ec->xlen, ec->x, ec->xlen);
        ret = key_load(k, stored, sizeof stored) == 0 ? 0 : -2;
        secure_wipe(stored, sizeof stored);
    }
done:
    secure_wipe(&dc, sizeof dc);
    secure_wipe(der, sizeof der);
    return ret;
}

/* One buffer for the device chain's PEM text, whoever reads it: it is decoded (or hashed)
 * at once and wiped; nothing keeps it between calls. */
static char chain_pem[CONFIG_CHAIN_MAX];

static int chain_text(const struct config *cf, size_t *len)
{
    *len = 0;
    return cf->has_chain && config_get_chain(&st.cfg, cf, (uint8_t *)chain_pem,
                                             sizeof chain_pem, len) == CONFIG_OK ? 0 : -1;
}

/* see settings.h */
int settings_device_chain(const struct config *cf, uint8_t *der, size_t cap,
                          br_x509_certificate *certs, size_t max, const char **why)
{
    static struct pem_decoder d;
    struct pem_cert pc[TLS_CHAIN_MAX];
    size_t len;
    if (chain_text(cf, &len) != 0) {
        *why = "the device chain cannot be read from flash";
        return -1;
    }
    int n = pem_decode_certs(&d, (const uint8_t *)chain_pem, len, der, cap, pc,
                             max < TLS_CHAIN_MAX ? max : TLS_CHAIN_MAX);
    secure_wipe(chain_pem, len);
    if (n <= 0) {
        *why = "the device chain cannot be decoded";
        return -1;
    }
    for (int i = 0; i < n; i++) {
        certs[i].data = (unsigned char *)pc[i].der;
        certs[i].data_len = pc[i].len;
    }
    return n;
}

/* see settings.h */
void settings_chain_fingerprint(const struct config *cf, uint8_t fp[32])
{
    size_t len;
    memset(fp, 0, 32);
    if (chain_text(cf, &len) == 0) {
        br_sha256_context h;
        br_sha256_init(&h);
        br_sha256_update(&h, chain_pem, len);
        br_sha256_out(&h, fp);
        secure_wipe(chain_pem, len);
    }
}

/* The running anchors in one table: the relay's first, then the servers'. */
static void anchors_build(void)
{
    const struct config *cf = &st.cfg.running;
    trust_init(&st.trust, st.ta, CONFIG_TRUST_MAX, st.ta_arena, sizeof st.ta_arena);
    for (int relay = 1; relay >= 0; relay--) {
        for (unsigned i = 0; i < cf->ntrust; i++) {
            const struct config_trust *t = &cf->trust[i];
            const uint8_t *der = st.der;
            size_t len = 0;
            if (t->relay != relay) {
                continue;
            }
            if (t->len > 0) {
                der = st.cfg.arena + t->arena_off;
                len = t->len;
            } else if (store_get(&st.store, config_trust_key(t), st.der, sizeof st.der, &len)
                       != STORE_OK) {
                log_warnx("trust: record %u unreadable: left out", t->id);
                continue;
            }
            int err = trust_add_der(&st.trust, der, len);
            if (err < 0) {
                log_warnx("trust: certificate %u cannot be an anchor (%d): left out", i + 1,
                          err);
            }
        }
        if (relay) {
            st.relay_anchors = st.trust.count;
            trust_section(&st.trust);          /* a CA in both stores is an anchor in each */
        }
    }
    st.anchors_stale = 0;
}

/* see settings.h */
void settings_trust_anchors(const br_x509_trust_anchor **ta, size_t *n)
{
    if (st.anchors_stale) {
        anchors_build();
    }
    *ta = st.trust.ta + st.relay_anchors;
    *n = st.trust.count - st.relay_anchors;
}

/* see settings.h */
void settings_relay_anchors(const br_x509_trust_anchor **ta, size_t *n)
{
    if (st.anchors_stale) {
        anchors_build();
    }
    *ta = st.trust.ta;
    *n = st.cfg.running.tunnel.trust_shared ? st.trust.count : st.relay_anchors;
}

/* see settings.h */
const char *settings_tls_client(struct tls_client_config *cfg, const char *host,
                                enum settings_peer peer)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = host;
    if (peer == SETTINGS_PEER_RELAY) {
        settings_relay_anchors(&cfg->anchors, &cfg->anchors_num);
    } else {
        settings_trust_anchors(&cfg->anchors, &cfg->anchors_num);
    }
    int timed = settings_time(&cfg->now);
    if (peer == SETTINGS_PEER_RELAY && cfg->anchors_num == 0) {
        /* say so plainly: an empty trust store would read as "unknown issuer" */
        return "no relay trust anchors: import the relay's CA with `trust import relay`";
    }
    if (!timed) {
        static char reason[96];     /* read at once by every caller */
        snprintf(reason, sizeof reason, "time not valid yet (%s)", st.time_why);
        return reason;
    }
    return NULL;
}

/* see settings.h */
const char *settings_time_check(int64_t t)
{
    int64_t lkg = st.cfg.lkg_time;
    if (t < VERIFY_TIME_MIN) {
        return "before 2025";
    }
    if (lkg > 0 && t < lkg - SETTINGS_TIME_SLACK) {
        return "behind the last known good time";
    }
    return NULL;
}

/* see settings.h */
int settings_time(int64_t *now)
{
    int valid = board_wallclock(now);
    if (!valid || *now < VERIFY_TIME_MIN) {
        st.time_why = "board clock not set";
        valid = 0;
    } else if (settings_time_check(*now) != NULL) {
        st.time_why = "board clock behind the last known good time";
        valid = 0;
    } else {
        st.time_why = NULL;
    }
    if (!valid) {
        *now = 0;
    }
    return valid;
}

/* see settings.h */
const char *settings_time_why(void)
{
    int64_t now;
    return settings_time(&now) ? NULL : st.time_why;
}

/* see settings.h */
void settings_time_keep(int64_t now)
{
    uint8_t v[8];
    /* the floor only rises, and at most once a day (365 small records a year) */
    if (now <= st.cfg.lkg_time || now - st.cfg.lkg_time < SETTINGS_LKG_INTERVAL ||
        now - st.lkg_tried < SETTINGS_LKG_INTERVAL) {
        return;
    }
    st.lkg_tried = now;
    for (int i = 0; i < 8; i++) {
        v[i] = (uint8_t)((uint64_t)now >> (8 * i));
    }
    int err = store_begin(&st.store, 1, sizeof v);
    if (err == STORE_OK) {
        err = store_put(&st.store, STORE_KEY(CFG_T_TIME, 0), v, sizeof v);
    }
    if (err == STORE_OK) {
        err = store_commit(&st.store);
    } else {
        store_abort(&st.store);
    }
    if (err != STORE_OK) {
        log_warnx("time: cannot keep the last known good time: %s", store_strerror(err));
        return;
    }
    st.cfg.lkg_time = now;
}

/* see settings.h */
void settings_time_tick(void)
{
    int64_t now;
    /* A board clock is believed as a floor only after it ran a while: a clock set wrong at
     * boot gets time to be corrected first. */
    if (board_now_ms() < SETTINGS_LKG_FIRST_MS || !settings_time(&now)) {
        return;
    }
    settings_time_keep(now);
}
