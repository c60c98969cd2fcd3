/* see console_cmds.h */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "board.h"
#include "certtime.h"
#include "cmd_grammar.h"
#include "console_cmds.h"
#include "conftok.h"
#include "console_int.h"
#include "csr.h"
#include "endpoint.h"
#include "gateway.h"
#include "keys.h"
#include "log.h"
#include "pem.h"
#include "pwhash.h"
#include "secure_wipe.h"
#include "settings.h"
#include "splice.h"
#include "status.h"
#include "store.h"
#include "svc_imap.h"
#include "tls_conn.h"
#include "text_escape.h"
#include "tls_err.h"
#include "tunnel.h"
#include "x509_info.h"

/* A question a command asked, answered by the next line. */
enum pending {
    PEND_NONE,
    PEND_IMAP_PASSWORD,
    PEND_CONSOLE_PASSWORD,
    PEND_CONSOLE_PASSWORD_AGAIN,
    PEND_FACTORY_RESET,
};

static struct {
    enum pending pending;
    char first[CONFIG_SECRET_MAX];   /* the console password typed once, until confirmed */
    int paste_kind;                  /* 1: trust import, 2: tunnel cert import */
    int batch;                       /* running a script: errors name its lines */
    unsigned trust_before;           /* anchors in the candidate before the paste */
    struct config_chain_mark chain_before;   /* the candidate's chain before the paste */
    enum { NET_CMD_TLS_PROBE, NET_CMD_MAPPING_CHECK } net_cmd;   /* the one cmds_poll asks */
    int logout;                      /* `logout` or `exit`: console.c ends the session */
} cm;

/* see console_int.h */
void cons_out(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n <= 0) {
        return;
    }
    /* What `show` prints may hold text from the network (a server's capabilities or alert, a
     * relay's refusal): only printable ASCII and the newline reach the terminal as they are. */
    size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1, run = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)buf[i];
        if ((c >= 0x20 && c <= 0x7e) || c == '\n') {
            continue;
        }
        char esc[5];
        board_console_write(buf + run, i - run);
        run = i + 1;
        board_console_write(esc, text_escape(esc, sizeof esc, &c, 1, NULL));
    }
    board_console_write(buf + run, len - run);
}

/* see console_int.h */
int cons_fail(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cons_out("error: %s\n", buf);
    return -1;
}

/* The config parser's error; at the console the script line number means nothing. */
static int config_fail(const struct config_ctx *c)
{
    const char *e = c->error;
    if (!cm.batch && strncmp(e, "line ", 5) == 0 && strstr(e, ": ") != NULL) {
        e = strstr(e, ": ") + 2;
    }
    return cons_fail("%s", e);
}

/* Run a line through the config parser, reporting its error. */
static int config_line(const char *line, size_t len)
{
    struct config_ctx *c = settings_ctx();
    int err = config_exec(c, line, len);
    if (err < 0) {
        return config_fail(c);
    }
    if (err == CONFIG_DO_COMMIT && !config_changed(c)) {
        cons_out("nothing to commit\n");   /* and nothing is written to flash */
    } else if (err == CONFIG_DO_COMMIT) {
        static struct config before;    /* static: a whole config is too big for the stack */
        before = *settings_running();
        err = settings_commit();
        if (err < 0) {
            secure_wipe(&before, sizeof before);
            return config_fail(c);
        }
        cons_out("committed\n");
        services_after_commit(&before);
        secure_wipe(&before, sizeof before);   /* it held the old passwords */
    } else if (err == CONFIG_DO_DISCARD) {
        config_discard(c);
        cons_out("discarded\n");
    }
    return 0;
}

/* Run a config line built here (secrets): wiped afterwards whatever happens. */
static int config_line_secret(const char *fmt, const char *secret, size_t len)
{
    char line[CONFIG_LINE_MAX], quoted[2 * CONFIG_SECRET_MAX + 3];
    size_t q = 0;
    if (len >= CONFIG_SECRET_MAX) {
        return cons_fail("secret longer than %d characters", CONFIG_SECRET_MAX - 1);
    }
    quoted[q++] = '"';
    for (size_t i = 0; i < len; i++) {
        if (secret[i] == '"' || secret[i] == '\\') {
            quoted[q++] = '\\';
        }
        quoted[q++] = secret[i];
    }
    quoted[q++] = '"';
    quoted[q] = '\0';
    snprintf(line, sizeof line, fmt, quoted);
    int err = config_line(line, strlen(line));
    secure_wipe(line, sizeof line);
    secure_wipe(quoted, sizeof quoted);
    return err;
}

/* ---- certificates --------------------------------------------------------------------- */

static void print_cert(const char *indent, const uint8_t *der, size_t len)
{
    static struct x509_info xi;
    if (x509_info_parse(&xi, der, len) != 0) {
        cons_out("%scertificate of %zu bytes that cannot be read\n", indent, len);
        return;
    }
    cons_out("%ssubject     %s\n", indent, xi.subject);
    cons_out("%sissuer      %s\n", indent, xi.issuer);
    cons_out("%svalid       %s to %s\n", indent, xi.not_before_date, xi.not_after_date);
    cons_out("%ssha256      %s\n", indent, xi.fingerprint);
}

/* After `trust import`: what was added, so the operator sees what they trust. */
static void report_trust_paste(void)
{
    struct config_ctx *c = settings_ctx();
    unsigned added = c->candidate.ntrust - cm.trust_before;
    for (unsigned i = cm.trust_before; i < c->candidate.ntrust; i++) {
        const struct config_trust *t = &c->candidate.trust[i];
        cons_out("certificate %u:\n", i - cm.trust_before + 1);
        print_cert("  ", c->arena + t->arena_off, t->len);
    }
    int relay = cm.trust_before < c->candidate.ntrust && c->candidate.trust[cm.trust_before].relay;
    cons_out("%u certificate%s added to the candidate %strust store (commit to keep)\n", added,
        added == 1 ? "" : "s", relay ? "relay " : "");
}

/* After `tunnel cert import`: the chain as it was read. */
static void report_chain_paste(void)
{
    static struct pem_decoder d;
    static uint8_t der[CONFIG_CHAIN_MAX];
    struct pem_cert certs[8];
    struct config_ctx *c = settings_ctx();
    if (!c->candidate.chain_new) {
        cons_out("the same chain as stored: nothing changed\n");
        return;
    }
    int n = pem_decode_certs(&d, c->arena + c->candidate.chain_off, c->candidate.chain_len,
                             der, sizeof der, certs, 8);
    for (int i = 0; i < n; i++) {
        cons_out("certificate %d:\n", i + 1);
        print_cert("  ", certs[i].der, certs[i].len);
    }
    cons_out("device certificate chain of %d certificate%s in the candidate (commit to keep)\n", n,
        n == 1 ? "" : "s");
}

/* Both trust stores: the tunnel's own anchors, then those of the internal servers. */
static void trust_list(const struct config *cf)
{
    static uint8_t der[CONFIG_CERT_MAX];
    static const char *const title[2] = {
        "trust store (tls mappings, IMAP receiver)", "relay trust store (the tunnel)" };
    for (int relay = 1; relay >= 0; relay--) {
        unsigned n = 0, shown = 0;
        for (unsigned i = 0; i < cf->ntrust; i++) {
            n += cf->trust[i].relay == relay;
        }
        cons_out("%s: %u certificate%s\n", title[relay], n, n == 1 ? "" : "s");
        for (unsigned i = 0; i < cf->ntrust; i++) {
            const struct config_trust *t = &cf->trust[i];
            size_t len = 0;
            if (t->relay != relay) {
                continue;
            }
            cons_out("%u:\n", ++shown);
            if (t->len > 0) {
                print_cert("  ", settings_ctx()->arena + t->arena_off, t->len);
            } else if (store_get(settings_store(), config_trust_key(t), der, sizeof der, &len)
                       == STORE_OK) {
                print_cert("  ", der, len);
            } else {
                cons_out("  (record unreadable)\n");
            }
        }
        if (relay && cf->tunnel.trust_shared) {
            cons_out("note: set tunnel trust shared: the trust store below vouches for relays "
                     "too, so any CA in it could stand in for the relay; import the relay's CA "
                     "with `trust import relay`, then `set tunnel trust separate`\n");
        } else if (relay && n == 0) {
            cons_out("note: the tunnel trusts no relay yet: import the relay's CA with "
                     "`trust import relay`\n");
        }
    }
}

/* ---- device identity ------------------------------------------------------------------ */

static struct device_key dev_key;   /* loaded only while a command needs it, then wiped */

static int cmd_key_generate(void)
{
    uint8_t stored[KEY_STORED_LEN];
    int had_chain = settings_ctx()->candidate.has_chain;
    int ret = -1;
    if (key_generate(&dev_key) != 0) {
        ret = cons_fail("tunnel key generate: the board gives no entropy: no key made");
        goto done;
    }
    if (key_store(&dev_key, stored, sizeof stored) != KEY_STORED_LEN ||
        config_set_key(settings_ctx(), stored, sizeof stored) != CONFIG_OK) {
        ret = cons_fail("tunnel key generate: no room in the candidate (commit or discard first)");
        goto done;
    }
    cons_out("new P-256 device key in the candidate (commit to keep); 'tunnel csr' prints its "
        "certificate request\n");
    if (had_chain) {
        cons_out("note: the device certificate chain was made for the old key: import a new one\n");
    }
    ret = 0;
done:
    secure_wipe(stored, sizeof stored);
    key_wipe(&dev_key);
    return ret;
}

static int cmd_csr(void)
{
    static char pem[CSR_PEM_MAX];
    const struct config *cf = &settings_ctx()->candidate;
    int ret = -1;
    if (!cf->has_key) {
        return cons_fail("tunnel csr: no device key (tunnel key generate first)");
    }
    if (cf->tunnel.location[0] == '\0') {
        return cons_fail("tunnel csr: no Location ID for the CN (set tunnel location ID first)");
    }
    if (settings_device_key(cf, &dev_key) != 0) {
        return cons_fail("tunnel csr: the device key cannot be read (generate a new one)");
    }
    int n = csr_build_pem(&dev_key, cf->tunnel.location, pem, sizeof pem);
    if (n < 0) {
        ret = cons_fail("tunnel csr: Location ID '%s' cannot be a certificate name (at most %d "
                   "printable ASCII characters)", cf->tunnel.location, CSR_CN_MAX);
    } else {
        board_console_write(pem, (size_t)n);
        ret = 0;
    }
    key_wipe(&dev_key);
    return ret;
}

/* At the end of a `tunnel cert import` paste: the leaf must carry the device key, or the
 * chain leaves the candidate again. */
static int check_chain_key(void)
{
    static struct pem_decoder d;
    static uint8_t der[CONFIG_CHAIN_MAX];
    struct pem_cert certs[8];
    struct config_ctx *c = settings_ctx();
    const char *why = NULL;
    if (!c->candidate.chain_new) {
        return 0;
    }
    int n = pem_decode_certs(&d, c->arena + c->candidate.chain_off, c->candidate.chain_len,
                             der, sizeof der, certs, 8);
    if (n <= 0) {
        why = "no certificate in the paste";
    } else if (!c->candidate.has_key) {
        why = "no device key to match (tunnel key generate first)";
    } else if (settings_device_key(&c->candidate, &dev_key) != 0) {
        why = "the device key cannot be read";
    } else {
        int err = key_matches_cert(&dev_key, certs[0].der, certs[0].len);
        key_wipe(&dev_key);
        why = err == 0 ? NULL : err == TLS_EKEY_MISMATCH
                  ? "the certificate is for another key, not this device's (request it with "
                    "'tunnel csr')"
                  : "the first certificate cannot be decoded";
    }
    if (why == NULL) {
        return 0;
    }
    config_chain_restore(c, &cm.chain_before);
    return cons_fail("tunnel cert import: refused: %s", why);
}

/* ---- tls probe ------------------------------------------------------------------------ */

/* One probe at a time; its connection is static so 50 probes in a row cost no more than
 * one (RAM: sizeof pr, about 62 KiB, most of it the TLS buffers). */
static struct {
    int running, result;
    struct tls_conn conn;
    struct tls_chain chain;
    struct device_key key;
    br_x509_certificate certs[TLS_CHAIN_MAX];
    uint8_t chain_der[CONFIG_CHAIN_MAX];
    struct pem_decoder pem;
    char target[CONFIG_NAME_MAX + 8];
} pr;

static void probe_report(void)
{
    const struct tls_chain *ch = &pr.chain;
    const char *v = tls_conn_verdict(&pr.conn);
    if (ch->count > 0) {
        cons_out("server chain (%u certificate%s):\n", ch->count, ch->count == 1 ? "" : "s");
    } else if (pr.conn.tcp_up) {
        cons_out("server chain: none received\n");
    }
    for (unsigned i = 0; i < ch->count && i < TLS_CHAIN_MAX; i++) {
        const struct tls_cert_facts *f = &ch->cert[i];
        char nb[CERTTIME_DATE_LEN], na[CERTTIME_DATE_LEN];
        if (!f->known) {
            cons_out("  %u: %zu bytes, not described (too big or unreadable)\n", i + 1, f->der_len);
            continue;
        }
        certtime_date(f->not_before, nb);
        certtime_date(f->not_after, na);
        cons_out("  %u: subject  %s\n", i + 1, f->subject);
        cons_out("     issuer   %s\n", f->issuer);
        cons_out("     valid    %s to %s, %s%s\n", nb, na, f->key_text, f->is_ca ? ", CA" : "");
    }
    if (!pr.conn.failed || pr.conn.handshake_ms) {
        cons_out("handshake: %u ms\n", (unsigned)pr.conn.handshake_ms);
    }
    cons_out("verdict: %s\n", v);
}

static void probe_end(void)
{
    key_wipe(&pr.key);
    secure_wipe(pr.chain_der, sizeof pr.chain_der);
    probe_report();
    pr.result = strncmp(tls_conn_verdict(&pr.conn), "ok", 2) == 0
                    ? 0 : cons_fail("tls probe %s: failed", pr.target);
    pr.running = 0;
}

static void probe_event(struct tls_conn *c, unsigned events, void *arg)
{
    (void)arg;
    if (events & TLS_CONN_OPEN) {
        tls_conn_close(c);          /* the handshake was the point: close cleanly */
        return;
    }
    if (events & (TLS_CONN_CLOSED | TLS_CONN_FAILED)) {
        probe_end();
    }
}

/* Our chain and key for a server that asks for a client certificate. */
static int probe_client_identity(struct tls_client_config *cfg)
{
    struct config_ctx *c = settings_ctx();
    const struct config *cf = settings_running();
    size_t len = 0;
    static char pem[CONFIG_CHAIN_MAX];
    struct pem_cert certs[TLS_CHAIN_MAX];
    if (!cf->has_key || !cf->has_chain) {
        return cons_fail("tls probe: client: needs the device key and chain (tunnel key generate, "
                    "tunnel cert import, commit)");
    }
    if (config_get_chain(c, cf, (uint8_t *)pem, sizeof pem, &len) != CONFIG_OK) {
        return cons_fail("tls probe: client: the device chain cannot be read");
    }
    int n = pem_decode_certs(&pr.pem, (const uint8_t *)pem, len, pr.chain_der,
                             sizeof pr.chain_der, certs, TLS_CHAIN_MAX);
    if (n <= 0) {
        return cons_fail("tls probe: client: the device chain cannot be decoded");
    }
    for (int i = 0; i < n; i++) {
        pr.certs[i].data = (unsigned char *)certs[i].der;
        pr.certs[i].data_len = certs[i].len;
    }
    if (settings_device_key(cf, &pr.key) != 0) {
        return cons_fail("tls probe: client: the device key cannot be read");
    }
    cfg->client_chain = pr.certs;
    cfg->client_chain_len = (size_t)n;
    cfg->client_key = &pr.key.sk;
    return 0;
}

/* HOST: an IPv4 literal or a name of the static host table. */
static int probe_resolve(const char *host, ip_addr_t *addr)
{
    const struct config *cf = settings_running();
    if (ipaddr_aton(host, addr) && IP_IS_V4(addr)) {
        return 0;
    }
    for (unsigned i = 0; i < cf->nhosts; i++) {
        if (strcasecmp(cf->hosts[i].name, host) == 0) {
            const uint8_t *b = cf->hosts[i].addr;
            IP_ADDR4(addr, b[0], b[1], b[2], b[3]);
            return 0;
        }
    }
    return -1;
}

static int cmd_tls_probe(int argc, char **argv)
{
    struct tls_client_config cfg = { 0 };
    const char *name = NULL;
    int client = 0, relay = 0;
    ip_addr_t addr;
    if (argc < 3 || strcmp(argv[1], "probe") != 0) {
        return cons_fail("tls %s: expected probe HOST:PORT [name NAME] [client] [relay]",
                    argc > 1 ? argv[1] : "(nothing)");
    }
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "name") == 0 && i + 1 < argc) {
            name = argv[++i];
        } else if (strcmp(argv[i], "client") == 0) {
            client = 1;
        } else if (strcmp(argv[i], "relay") == 0) {
            relay = 1;
        } else {
            return cons_fail("tls probe: %s: expected name NAME, client or relay", argv[i]);
        }
    }
    char *colon = strrchr(argv[2], ':');
    char *end = NULL;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
    if (colon == NULL || colon == argv[2] || end == colon + 1 || *end != '\0' || port == 0 ||
        port > 65535) {
        return cons_fail("tls probe: %s: expected HOST:PORT", argv[2]);
    }
    *colon = '\0';
    if (probe_resolve(argv[2], &addr) != 0) {
        return cons_fail("tls probe: %s: not an IPv4 address nor a name in the host table "
                    "(host add NAME A.B.C.D)", argv[2]);
    }
    memset(&pr.chain, 0, sizeof pr.chain);
    snprintf(pr.target, sizeof pr.target, "%s:%lu", argv[2], port);
    cfg.host = name ? name : argv[2];
    if (relay) {
        settings_relay_anchors(&cfg.anchors, &cfg.anchors_num);   /* as the tunnel checks */
    } else {
        settings_trust_anchors(&cfg.anchors, &cfg.anchors_num);
    }
    settings_time(&cfg.now);
    cfg.capture = &pr.chain;
    if (client && probe_client_identity(&cfg) != 0) {
        key_wipe(&pr.key);
        return -1;
    }
    if (tls_conn_open(&pr.conn, &addr, (uint16_t)port, &cfg, probe_event, NULL) != 0) {
        probe_end();
        return pr.result;
    }
    pr.running = 1;
    pr.result = 0;
    return CMDS_IN_PROGRESS;
}

/* see console_cmds.h */
int cmds_poll(void)
{
    if (cm.net_cmd == NET_CMD_MAPPING_CHECK) {
        return mapping_check_poll();
    }
    return pr.running ? CMDS_IN_PROGRESS : pr.result;
}


/* ---- show --------------------------------------------------------------------------------- */

static void config_sink_out(void *arg, const char *p, size_t len)
{
    (void)arg;
    board_console_write(p, len);
}

static void log_line_out(void *arg, const char *line, size_t len)
{
    (void)arg;
    board_console_write(line, len);
}

static void help_out(void *arg, const char *line)
{
    (void)arg;
    cons_out("%s", line);
}

static void show_imap(const struct config *cf)
{
    static const char *const sec[] = { "starttls", "tls", "off" };
    cons_out("server:    %s:%u, security %s\n", cf->imap.server.host[0] ? cf->imap.server.host : "-",
        cf->imap.server.port, sec[cf->imap.security]);
    cons_out("enabled:   %s\n", cf->imap.enabled ? "yes" : "no");
    imap_show(cons_out);
}

static void show_flash(void)
{
    struct store_stat ss;
    store_stat(settings_store(), &ss);
    uint32_t emin = UINT32_MAX, emax = 0;
    for (uint32_t b = 0; b < ss.blocks; b++) {
        uint32_t ec, seq;
        if (store_block_info(settings_store(), b, &ec, &seq) == STORE_OK) {
            emin = ec < emin ? ec : emin;
            emax = ec > emax ? ec : emax;
        }
    }
    cons_out("flash:    %u KiB in %u blocks, %u live records (%u B), %u B free, "
        "erase counts %u..%u%s\n",
        (unsigned)(ss.geo.size / 1024), (unsigned)ss.blocks, (unsigned)ss.live_records,
        (unsigned)ss.live_bytes, (unsigned)ss.free_bytes, emin == UINT32_MAX ? 0 : emin,
        (unsigned)emax, ss.corrupt ? ", DAMAGE FOUND (see log)" : "");
}

static void show_status(void)
{
    const struct config *cf = settings_running();
    status_print(cons_out);
    show_flash();
    cons_out("config:   %s\n", config_changed(settings_ctx()) ? "uncommitted changes" : "committed");
    cons_out("tunnel:   %u of %u relay%s up, %u streams open (limit %u), TLS endpoints %u of %u\n",
             tunnel_up_count(), cf->tunnel.nrelays, cf->tunnel.nrelays == 1 ? "" : "s",
             splice_in_use(), SPLICE_MAX, endpoint_tls_in_use(), ENDPOINT_TLS_MAX);
    imap_show(cons_out);
}

static int cmd_show(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    const struct config *cf = settings_running();
    if (strcmp(what, "config") == 0 && argc <= 3) {
        unsigned flags = 0;
        if (argc == 3 && strcmp(argv[2], "candidate") == 0) {
            cf = &settings_ctx()->candidate;
        } else if (argc == 3) {
            if (strcmp(argv[2], "secrets") != 0) {
                return cons_fail("show config %s: expected 'candidate', 'secrets' or nothing",
                                 argv[2]);
            }
            flags = CONFIG_PRINT_SECRETS;
        }
        config_print(settings_ctx(), cf, flags, config_sink_out, NULL);
        return 0;
    }
    if (argc == 2) {
        if (strcmp(what, "status") == 0) { show_status(); return 0; }
        if (strcmp(what, "log") == 0) { log_ring_foreach(log_line_out, NULL); return 0; }
        if (strcmp(what, "version") == 0) {
            cons_out("gateway %s on %s\n", gateway_version, board_name());
            return 0;
        }
        if (strcmp(what, "mappings") == 0) { show_mappings(cf); return 0; }
        if (strcmp(what, "trust") == 0) { trust_list(cf); return 0; }
        if (strcmp(what, "tunnel") == 0) { show_tunnel(cf); return 0; }
        if (strcmp(what, "imap") == 0) { show_imap(cf); return 0; }
    }
    return cons_fail("show %s: expected config [candidate|secrets], status, log, version, "
                "mappings, trust, tunnel or imap", argc > 1 ? argv[1] : "(nothing)");
}

/* ---- the session and the candidate ----------------------------------------------------- */

static int cmd_logout(void)
{
    if (settings_running()->console_hash[0] == '\0') {
        cons_out("no console password is set: there is no session to end "
                 "(set system console-password, commit)\n");
    } else if (!cm.batch) {
        cm.logout = 1;   /* a script has no session: nothing to do */
    }
    return 0;
}

/* see console_cmds.h */
int cmds_take_logout(void)
{
    int l = cm.logout;
    cm.logout = 0;
    return l;
}

static int cmd_compare(void)
{
    if (config_compare(settings_ctx(), config_sink_out, NULL) == 0) {
        cons_out("no changes: the candidate is the running configuration\n");
    }
    return 0;
}

/* set system console-password SECRET: the console language's words, so a quoted password
 * is its words without the quotes, as typed at the password prompt and at the login. */
static int cmd_console_password_line(const char *text, size_t len)
{
    static struct conftok tk;          /* static: 1 KiB; wiped after use */
    char hash[PWHASH_TEXT_MAX];
    int ret;
    if (conftok_split(&tk, text, len, CONFTOK_WORDS_MAX) != 0 || tk.n != 4) {
        ret = cons_fail("set system console-password: expected one password (in quotes if it "
                        "has blanks), or none to be asked");
    } else if (strlen(tk.t[3]) == 0 || strlen(tk.t[3]) >= CONFIG_SECRET_MAX) {
        ret = cons_fail("console password: 1 to %d characters", CONFIG_SECRET_MAX - 1);
    } else if (pwhash_make(tk.t[3], strlen(tk.t[3]), hash, sizeof hash) != 0) {
        ret = cons_fail("set system console-password: no random numbers for the salt");
    } else {
        ret = config_line_secret("set console password-hash %s", hash, strlen(hash));
    }
    secure_wipe(hash, sizeof hash);
    secure_wipe(&tk, sizeof tk);
    return ret;
}

/* ---- the dispatcher ---------------------------------------------------------------------- */

#define ARGV_MAX 12

static int split(char *line, char **argv)
{
    int argc = 0;
    for (char *tok = strtok(line, " \t"); tok && argc < ARGV_MAX; tok = strtok(NULL, " \t")) {
        argv[argc++] = tok;
    }
    return argc;
}

static void count_line(void *arg, const char *line)
{
    (void)line;
    ++*(size_t *)arg;
}

/* A first word that starts some command form of the grammar. */
static int known_command(const char *word)
{
    char w[40];
    size_t n = 0;
    snprintf(w, sizeof w, "%s ", word);
    return cmd_help(w, count_line, &n) > 0;
}

/* see console_cmds.h */
void cmds_set_batch(int on)
{
    cm.batch = on;
}

/* see console_cmds.h */
int cmds_pasting(void)
{
    return settings_ctx()->input != CFG_IN_COMMAND;
}

static int paste_line(const char *line, size_t len)
{
    if (len == 4 && memcmp(line, "quit", 4) == 0) {
        len = 0; /* `quit` ends a paste like a blank line */
    }
    int err = config_line(line, len);
    if (!cmds_pasting()) {
        int kind = cm.paste_kind;
        cm.paste_kind = 0;
        if (err == 0 && kind == 1) {
            report_trust_paste();
        } else if (err == 0 && kind == 2) {
            err = check_chain_key();
            if (err == 0) {
                report_chain_paste();
            }
        }
    }
    return err;
}

/* see console_cmds.h */
int cmds_exec(const char *text, size_t len)
{
    if (cmds_pasting()) {
        return paste_line(text, len);
    }
    char copy[CONFIG_LINE_MAX], *argv[ARGV_MAX];
    if (len >= sizeof copy) {
        return cons_fail("line longer than %d characters", CONFIG_LINE_MAX - 1);
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    int argc = split(copy, argv), ret;
    if (argc == 0 || argv[0][0] == '#') {
        ret = 0;
    } else if (strcmp(argv[0], "help") == 0) {
        char words[CONFIG_LINE_MAX] = "";
        for (int i = 1; i < argc; i++) {
            strncat(words, argv[i], sizeof words - strlen(words) - 2);
            strcat(words, " ");
        }
        if (!cmd_help(words, help_out, NULL)) {
            size_t at = cmd_secret_at(words, strlen(words));
            if (at != CMD_NO_SECRET) {
                /* a secret typed after help is not repeated */
                snprintf(words + at, sizeof words - at, "...");
            }
            ret = cons_fail("help %s: no such command", words);
        } else {
            ret = 0;
        }
        secure_wipe(words, sizeof words);
    } else if (strcmp(argv[0], "show") == 0) {
        ret = cmd_show(argc, argv);
    } else if (strcmp(argv[0], "reboot") == 0 && argc == 1) {
        if (config_changed(settings_ctx())) {
            log_warnx("console: rebooting drops the uncommitted changes");
        }
        log_info("console: reboot");
        board_reboot();
    } else if (strcmp(argv[0], "factory-reset") == 0 && argc == 1) {
        cm.pending = PEND_FACTORY_RESET;
        ret = 0;
    } else if (strcmp(argv[0], "set") == 0 && argc == 3 && strcmp(argv[1], "imap") == 0 &&
               strcmp(argv[2], "password") == 0) {
        cm.pending = PEND_IMAP_PASSWORD;
        ret = 0;
    } else if (strcmp(argv[0], "set") == 0 && argc >= 3 && strcmp(argv[1], "system") == 0 &&
               strcmp(argv[2], "console-password") == 0) {
        if (argc == 3) {
            cm.pending = PEND_CONSOLE_PASSWORD;
            ret = 0;
        } else {
            /* given on the line (scripts): hash it at once; the line itself is wiped */
            ret = cmd_console_password_line(text, len);
        }
    } else if ((strcmp(argv[0], "logout") == 0 || strcmp(argv[0], "exit") == 0) && argc == 1) {
        ret = cmd_logout();
    } else if (strcmp(argv[0], "compare") == 0 && argc == 1) {
        ret = cmd_compare();
    } else if (strcmp(argv[0], "trust") == 0 && argc == 2 && strcmp(argv[1], "list") == 0) {
        trust_list(settings_running());
        ret = 0;
    } else if (strcmp(argv[0], "mapping") == 0 && argc == 2 && strcmp(argv[1], "list") == 0) {
        show_mappings(settings_running());
        ret = 0;
    } else if (strcmp(argv[0], "mapping") == 0 && argc >= 2 && strcmp(argv[1], "check") == 0) {
        cm.net_cmd = NET_CMD_MAPPING_CHECK;
        ret = cmd_mapping_check(argc, argv);
    } else if (strcmp(argv[0], "tls") == 0) {
        cm.net_cmd = NET_CMD_TLS_PROBE;
        ret = cmd_tls_probe(argc, argv);
    } else if (strcmp(argv[0], "tunnel") == 0 && argc == 3 && strcmp(argv[1], "key") == 0 &&
               strcmp(argv[2], "generate") == 0) {
        ret = cmd_key_generate();
    } else if (strcmp(argv[0], "tunnel") == 0 && argc == 2 && strcmp(argv[1], "csr") == 0) {
        ret = cmd_csr();
    } else if (!known_command(argv[0])) {
        ret = cons_fail("'%s': unknown command (help lists them)", argv[0]);
    } else {
        unsigned before = settings_ctx()->candidate.ntrust;
        config_chain_save(settings_ctx(), &cm.chain_before);
        ret = config_line(text, len);
        if (ret == 0 && argc == 4 && strcmp(argv[0], "set") == 0 &&
            strcmp(argv[1], "system") == 0 && strcmp(argv[2], "console-timeout") == 0 &&
            settings_ctx()->candidate.console_hash[0] == '\0') {
            cons_out("note: no console password is set: the console logs out only once one "
                     "is\n");
        }
        if (ret == 0 && cmds_pasting()) {
            cm.paste_kind = strcmp(argv[0], "trust") == 0 ? 1 :
                            strcmp(argv[0], "tunnel") == 0 && argc > 1 &&
                            strcmp(argv[1], "cert") == 0 ? 2 : 0;
            cm.trust_before = before;
            if (board_console_interactive()) {
                cons_out("paste PEM; a blank line or 'quit' ends it\n");
            }
        }
    }
    secure_wipe(copy, sizeof copy);
    return ret;
}

/* see console_cmds.h */
int cmds_wants_secret(char *prompt, size_t cap)
{
    switch (cm.pending) {
    case PEND_NONE: return 0;
    case PEND_IMAP_PASSWORD: snprintf(prompt, cap, "IMAP password: "); return 1;
    case PEND_CONSOLE_PASSWORD: snprintf(prompt, cap, "New console password: "); return 1;
    case PEND_CONSOLE_PASSWORD_AGAIN: snprintf(prompt, cap, "Again: "); return 1;
    case PEND_FACTORY_RESET:
        snprintf(prompt, cap, "Erase the whole configuration? Type 'yes': ");
        return 2;
    }
    return 0;
}

/* see console_cmds.h */
void cmds_secret(const char *s, size_t len)
{
    enum pending p = cm.pending;
    cm.pending = PEND_NONE;
    switch (p) {
    case PEND_NONE:
        break;
    case PEND_IMAP_PASSWORD:
        config_line_secret("set imap password %s", s, len);
        break;
    case PEND_CONSOLE_PASSWORD:
        if (len == 0 || len >= sizeof cm.first) {
            cons_fail("console password: 1 to %zu characters", sizeof cm.first - 1);
            break;
        }
        memcpy(cm.first, s, len);
        cm.first[len] = '\0';
        cm.pending = PEND_CONSOLE_PASSWORD_AGAIN;
        break;
    case PEND_CONSOLE_PASSWORD_AGAIN:
        if (len != strlen(cm.first) || memcmp(cm.first, s, len) != 0) {
            cons_fail("the passwords differ: nothing changed");
        } else {
            char hash[PWHASH_TEXT_MAX];
            if (pwhash_make(s, len, hash, sizeof hash) == 0) {
                config_line_secret("set console password-hash %s", hash, strlen(hash));
            }
            secure_wipe(hash, sizeof hash);
        }
        secure_wipe(cm.first, sizeof cm.first);
        break;
    case PEND_FACTORY_RESET:
        if (len == 3 && memcmp(s, "yes", 3) == 0) {
            if (settings_factory_reset() == 0) {
                board_reboot();
            }
            cons_fail("factory-reset failed (see log)");
        } else {
            cons_out("factory-reset cancelled\n");
        }
        break;
    }
}

/* see console_cmds.h */
void cmds_cancel(void)
{
    if (pr.running) {
        tls_conn_abort(&pr.conn);
        pr.running = 0;
        key_wipe(&pr.key);
        pr.result = cons_fail("tls probe %s: cancelled", pr.target);
    }
    if (cmds_pasting()) {
        config_discard_paste(settings_ctx());
        cm.paste_kind = 0;
        cons_out("paste cancelled\n");
    }
    cm.pending = PEND_NONE;
    secure_wipe(cm.first, sizeof cm.first);
}
