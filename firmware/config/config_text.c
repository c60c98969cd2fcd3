/* see config.h: the console language as the one text format, parser and printer together
 * so that what one writes the other reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "config_int.h"
#include "conftok.h"
#include "hex.h"
#include "hostport.h"
#include "secure_wipe.h"

/* ---- tokens --------------------------------------------------------------------------- */

#define TOK_MAX 12   /* words in one command (conftok.h) */

/* ---- value parsers -------------------------------------------------------------------- */

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    uint32_t v = 0;
    if (*s == 0) {
        return -1;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (max - (uint32_t)(*s - '0')) / 10) {
            return -1;
        }
        v = v * 10 + (uint32_t)(*s - '0');
    }
    *out = v;
    return 0;
}

static int parse_ipv4(const char *s, uint8_t out[4])
{
    char part[4][4];
    int n = 0;
    size_t k = 0;
    for (; n < 4; s++) {
        if (*s == '.' || *s == 0) {
            if (k == 0 || (*s == 0) != (n == 3)) {
                return -1;
            }
            part[n++][k] = 0;
            k = 0;
            if (*s == 0) {
                break;
            }
        } else if (k < 3) {
            part[n][k++] = *s;
        } else {
            return -1;
        }
    }
    for (int i = 0; i < 4; i++) {
        uint32_t v;
        if (parse_u32(part[i], 255, &v)) {
            return -1;
        }
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* A host name or an IPv4 literal: letters, digits, '.', '-'. */
static int parse_host(const char *s, char *out)
{
    size_t n = strlen(s);
    if (n == 0 || n >= CONFIG_NAME_MAX) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == '_')) {
            return -1;
        }
    }
    memset(out, 0, CONFIG_NAME_MAX);
    memcpy(out, s, n);
    return 0;
}

static int parse_hostport(const char *s, struct config_hostport *hp)
{
    char host[CONFIG_NAME_MAX];
    uint16_t port;
    struct config_hostport tmp;
    if (hostport_split(s, host, sizeof host, &port) != 0 || parse_host(host, tmp.host)) {
        return -1;
    }
    tmp.port = port;
    *hp = tmp;
    return 0;
}

/* Free text (user, folder, secrets): printable, no control characters. */
static int parse_text(const char *s, char *out, size_t cap)
{
    size_t n = strlen(s);
    if (n == 0 || n >= cap) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            return -1;
        }
    }
    memset(out, 0, cap);
    memcpy(out, s, n);
    return 0;
}

static int expect(struct config_ctx *c, const char *tok, const char *what)
{
    snprintf(c->error, sizeof c->error, "line %u: '%.40s': expected %s", c->line,
             tok ? tok : "(end of line)", what);
    return CONFIG_ESYNTAX;
}

/* ---- commands ------------------------------------------------------------------------- */

static int cmd_set_system(struct config_ctx *c, struct conftok *tk)
{
    struct config *cf = &c->candidate;
    if (tk->n > 2 && strcmp(tk->t[2], "console-timeout") == 0) {
        uint32_t v;
        if (tk->n != 4 || parse_u32(tk->t[3], CONFIG_CONSOLE_TIMEOUT_MAX, &v)) {
            return expect(c, tk->n > 4 ? tk->t[4] : tk->n > 3 ? tk->t[3] : NULL,
                          "minutes, 0 (never) to 1440");
        }
        cf->console_timeout = v;
        return CONFIG_OK;
    }
    if (tk->n < 3 || strcmp(tk->t[2], "hostname") != 0) {
        return expect(c, tk->n > 2 ? tk->t[2] : NULL, "hostname or console-timeout");
    }
    if (tk->n != 4 || parse_host(tk->t[3], cf->hostname)) {
        return expect(c, tk->n > 3 ? tk->t[3] : NULL, "a host name (letters, digits, . -)");
    }
    return CONFIG_OK;
}

static int cmd_set_net(struct config_ctx *c, struct conftok *tk)
{
    struct config *cf = &c->candidate;
    const char *what = tk->n > 2 ? tk->t[2] : NULL;
    if (what != NULL && strcmp(what, "address") == 0) {
        if (tk->n == 4 && strcmp(tk->t[3], "dhcp") == 0) {
            cf->net.dhcp = 1;
            memset(cf->net.addr, 0, 4);
            memset(cf->net.gateway, 0, 4);
            cf->net.prefix = 0;
            return CONFIG_OK;
        }
        char a[20];
        const char *slash = tk->n > 3 ? strchr(tk->t[3], '/') : NULL;
        uint32_t prefix;
        uint8_t addr[4], gw[4];
        if (slash == NULL || (size_t)(slash - tk->t[3]) >= sizeof a) {
            return expect(c, tk->n > 3 ? tk->t[3] : NULL, "dhcp or A.B.C.D/NN");
        }
        memcpy(a, tk->t[3], (size_t)(slash - tk->t[3]));
        a[slash - tk->t[3]] = 0;
        if (parse_ipv4(a, addr) || parse_u32(slash + 1, 32, &prefix)) {
            return expect(c, tk->t[3], "dhcp or A.B.C.D/NN");
        }
        if (tk->n != 6 || strcmp(tk->t[4], "gateway") != 0) {
            return expect(c, tk->n > 4 ? tk->t[4] : NULL, "gateway A.B.C.D");
        }
        if (parse_ipv4(tk->t[5], gw)) {
            return expect(c, tk->t[5], "an IPv4 address");
        }
        cf->net.dhcp = 0;
        memcpy(cf->net.addr, addr, 4);
        memcpy(cf->net.gateway, gw, 4);
        cf->net.prefix = (uint8_t)prefix;
        return CONFIG_OK;
    }
    if (what != NULL && strcmp(what, "dns") == 0) {
        if (tk->n != 4 || parse_ipv4(tk->t[3], cf->net.dns)) {
            return expect(c, tk->n > 3 ? tk->t[3] : NULL, "an IPv4 address");
        }
        cf->net.has_dns = 1;
        return CONFIG_OK;
    }
    if (what != NULL && strcmp(what, "ntp") == 0) {
        if (tk->n != 4 || parse_host(tk->t[3], cf->net.ntp)) {
            return expect(c, tk->n > 3 ? tk->t[3] : NULL, "a host name");
        }
        return CONFIG_OK;
    }
    return expect(c, what, "address, dns or ntp");
}

static int cmd_host(struct config_ctx *c, struct conftok *tk)
{
    struct config *cf = &c->candidate;
    char name[CONFIG_NAME_MAX];
    int add = tk->n > 1 && strcmp(tk->t[1], "add") == 0;
    if (!add && !(tk->n > 1 && strcmp(tk->t[1], "del") == 0)) {
        return expect(c, tk->n > 1 ? tk->t[1] : NULL, "add or del");
    }
    if (tk->n < 3 || parse_host(tk->t[2], name)) {
        return expect(c, tk->n > 2 ? tk->t[2] : NULL, "a host name");
    }
    unsigned i = 0;
    while (i < cf->nhosts && strcmp(cf->hosts[i].name, name) != 0) {
        i++;
    }
    if (!add) {
        if (tk->n != 3) {
            return expect(c, tk->t[3], "end of line");
        }
        if (i == cf->nhosts) {
            snprintf(c->error, sizeof c->error, "line %u: host %s: no such host", c->line,
                     name);
            return CONFIG_ENOENT;
        }
        memmove(&cf->hosts[i], &cf->hosts[i + 1], (cf->nhosts - i - 1) * sizeof cf->hosts[0]);
        cf->nhosts--;
        memset(&cf->hosts[cf->nhosts], 0, sizeof cf->hosts[0]);
        return CONFIG_OK;
    }
    uint8_t addr[4];
    if (tk->n != 4 || parse_ipv4(tk->t[3], addr)) {
        return expect(c, tk->n > 3 ? tk->t[3] : NULL, "an IPv4 address");
    }
    if (i == cf->nhosts) {
        if (cf->nhosts == CONFIG_HOSTS_MAX) {
            snprintf(c->error, sizeof c->error, "line %u: host table full (%d)", c->line,
                     CONFIG_HOSTS_MAX);
            return CONFIG_EFULL;
        }
        cf->nhosts++;
    }
    memcpy(cf->hosts[i].name, name, sizeof name);
    memcpy(cf->hosts[i].addr, addr, 4);
    return CONFIG_OK;
}

static int cmd_set_tunnel(struct config_ctx *c, struct conftok *tk)
{
    struct config *cf = &c->candidate;
    const char *what = tk->n > 2 ? tk->t[2] : NULL;
    if (what != NULL && strcmp(what, "relay") == 0) {
        struct config_hostport r[CONFIG_RELAYS_MAX];
        if (tk->n < 4 || tk->n - 3 > CONFIG_RELAYS_MAX) {
            return expect(c, tk->n > 3 ? tk->t[3 + CONFIG_RELAYS_MAX] : NULL,
                          "1 to 4 relays HOST:PORT");
        }
        for (unsigned i = 3; i < tk->n; i++) {
            if (parse_hostport(tk->t[i], &r[i - 3])) {
                return expect(c, tk->t[i], "HOST:PORT");
            }
        }
        memset(cf->tunnel.relays, 0, sizeof cf->tunnel.relays);
        memcpy(cf->tunnel.relays, r, (tk->n - 3) * sizeof r[0]);
        cf->tunnel.nrelays = tk->n - 3;
        return CONFIG_OK;
    }
    if (what != NULL && strcmp(what, "location") == 0) {
        if (tk->n != 4 || parse_host(tk->t[3], cf->tunnel.location)) {
            return expect(c, tk->n > 3 ? tk->t[3] : NULL, "a location ID");
        }
        return CONFIG_OK;
    }
    if (what != NULL && strcmp(what, "trust") == 0) {
        const char *how = tk->n == 4 ? tk->t[3] : NULL;
        if (how == NULL || (strcmp(how, "shared") != 0 && strcmp(how, "separate") != 0)) {
            return expect(c, tk->n > 3 ? tk->t[3] : NULL, "shared or separate");
        }
        cf->tunnel.trust_shared = how[0] == 's' && how[1] == 'h';
        return CONFIG_OK;
    }
    return expect(c, what, "relay, location or trust");
}

static int cmd_mapping(struct config_ctx *c, struct conftok *tk)
{
    struct config *cf = &c->candidate;
    struct config_hostport v, in;
    int add = tk->n > 1 && strcmp(tk->t[1], "add") == 0;
    if (!add && !(tk->n > 1 && strcmp(tk->t[1], "del") == 0)) {
        return expect(c, tk->n > 1 ? tk->t[1] : NULL, "add or del");
    }
    if (tk->n < 3 || parse_hostport(tk->t[2], &v)) {
        return expect(c, tk->n > 2 ? tk->t[2] : NULL, "VHOST:VPORT");
    }
    unsigned i = 0;
    while (i < cf->nmappings && !(strcasecmp(cf->mappings[i].virt.host, v.host) == 0 &&
                                  cf->mappings[i].virt.port == v.port)) {
        i++;
    }
    if (!add) {
        if (tk->n != 3) {
            return expect(c, tk->t[3], "end of line");
        }
        if (i == cf->nmappings) {
            snprintf(c->error, sizeof c->error, "line %u: mapping %s: no such mapping",
                     c->line, tk->t[2]);
            return CONFIG_ENOENT;
        }
        memmove(&cf->mappings[i], &cf->mappings[i + 1],
                (cf->nmappings - i - 1) * sizeof cf->mappings[0]);
        cf->nmappings--;
        memset(&cf->mappings[cf->nmappings], 0, sizeof cf->mappings[0]);
        return CONFIG_OK;
    }
    if (tk->n < 4 || parse_hostport(tk->t[3], &in)) {
        return expect(c, tk->n > 3 ? tk->t[3] : NULL, "IHOST:IPORT");
    }
    int tls = tk->n > 4 && strcmp(tk->t[4], "tls") == 0;
    if (tk->n < 5 || (!tls && strcmp(tk->t[4], "tcp") != 0)) {
        return expect(c, tk->n > 4 ? tk->t[4] : NULL, "tcp or tls");
    }
    char sni[CONFIG_NAME_MAX] = { 0 };
    if (tk->n > 5) {
        if (!tls || strcmp(tk->t[5], "sni") != 0) {
            return expect(c, tk->t[5], tls ? "sni NAME or end of line" : "end of line");
        }
        if (tk->n != 7 || parse_host(tk->t[6], sni)) {
            return expect(c, tk->n > 6 ? tk->t[6] : NULL, "a host name");
        }
    }
    if (i == cf->nmappings) {
        if (cf->nmappings == CONFIG_MAPPINGS_MAX) {
            snprintf(c->error, sizeof c->error, "line %u: mapping table full (%d)", c->line,
                     CONFIG_MAPPINGS_MAX);
            return CONFIG_EFULL;
        }
        cf->nmappings++;
    }
    memset(&cf->mappings[i], 0, sizeof cf->mappings[0]);
    cf->mappings[i].virt = v;
    cf->mappings[i].internal = in;
    cf->mappings[i].tls = tls;
    memcpy(cf->mappings[i].sni, sni, sizeof sni);
    return CONFIG_OK;
}

static int cmd_set_imap(struct config_ctx *c, struct conftok *tk)
{
    struct config *cf = &c->candidate;
    const char *what = tk->n > 2 ? tk->t[2] : NULL;
    const char *arg = tk->n > 3 ? tk->t[3] : NULL;
    if (what == NULL) {
        return expect(c, NULL, "server, security, user, password, folder, after, poll, "
                               "max-size, batch or enabled");
    }
    if (strcmp(what, "after") == 0) {
        if (arg != NULL && tk->n == 4 && strcmp(arg, "delete") == 0) {
            cf->imap.after = IMAP_AFTER_DELETE;
        } else if (arg != NULL && tk->n == 4 && strcmp(arg, "seen") == 0) {
            cf->imap.after = IMAP_AFTER_SEEN;
        } else if (arg != NULL && strcmp(arg, "move") == 0) {
            if (tk->n != 5 || parse_text(tk->t[4], cf->imap.move_folder, CONFIG_NAME_MAX)) {
                return expect(c, tk->n > 4 ? tk->t[4] : NULL, "a folder name");
            }
            cf->imap.after = IMAP_AFTER_MOVE;
            return CONFIG_OK;
        } else {
            return expect(c, arg, "delete, seen or move FOLDER");
        }
        memset(cf->imap.move_folder, 0, CONFIG_NAME_MAX);
        return CONFIG_OK;
    }
    if (strcmp(what, "password") == 0) {
        /* the secret's words are never quoted back, however many there are */
        if (tk->n != 4) {
            return expect(c, tk->n > 3 ? "(secret)" : NULL,
                          "one password (in quotes if it has blanks)");
        }
        if (strcmp(arg, CONFIG_MASK) == 0) {
            return CONFIG_OK;   /* the masked secret of `show config`: keep it */
        }
        return parse_text(arg, cf->imap.password, CONFIG_SECRET_MAX)
                   ? expect(c, "(secret)", "a password of printable characters")
                   : CONFIG_OK;
    }
    if (tk->n != 4) {
        return expect(c, tk->n > 4 ? tk->t[4] : arg, "one value");
    }
    if (strcmp(what, "server") == 0) {
        return parse_hostport(arg, &cf->imap.server) ? expect(c, arg, "VHOST:VPORT")
                                                      : CONFIG_OK;
    }
    if (strcmp(what, "security") == 0) {
        if (strcmp(arg, "starttls") == 0) {
            cf->imap.security = IMAP_SEC_STARTTLS;
        } else if (strcmp(arg, "tls") == 0) {
            cf->imap.security = IMAP_SEC_TLS;
        } else if (strcmp(arg, "off") == 0) {
            cf->imap.security = IMAP_SEC_OFF;
        } else {
            return expect(c, arg, "starttls, tls or off");
        }
        return CONFIG_OK;
    }
    if (strcmp(what, "user") == 0) {
        return parse_text(arg, cf->imap.user, CONFIG_NAME_MAX) ? expect(c, arg, "a user name")
                                                               : CONFIG_OK;
    }
    if (strcmp(what, "folder") == 0) {
        return parse_text(arg, cf->imap.folder, CONFIG_NAME_MAX) ? expect(c, arg, "a folder")
                                                                 : CONFIG_OK;
    }
    if (strcmp(what, "poll") == 0) {
        uint32_t v;
        if (parse_u32(arg, 86400, &v) || v == 0) {
            return expect(c, arg, "seconds, 1 to 86400");
        }
        cf->imap.poll = v;
        return CONFIG_OK;
    }
    if (strcmp(what, "max-size") == 0) {
        uint32_t v = 0;
        if (strcmp(arg, "none") != 0 && (parse_u32(arg, UINT32_MAX, &v) || v < 1024)) {
            return expect(c, arg, "bytes (1024 or more) or none");
        }
        cf->imap.max_size = v;
        return CONFIG_OK;
    }
    if (strcmp(what, "batch") == 0) {
        uint32_t v;
        if (parse_u32(arg, CONFIG_IMAP_BATCH_MAX, &v) || v == 0) {
            return expect(c, arg, "messages per cycle, 1 to 64");
        }
        cf->imap.batch = v;
        return CONFIG_OK;
    }
    if (strcmp(what, "enabled") == 0) {
        if (strcmp(arg, "yes") != 0 && strcmp(arg, "no") != 0) {
            return expect(c, arg, "yes or no");
        }
        cf->imap.enabled = strcmp(arg, "yes") == 0;
        return CONFIG_OK;
    }
    return expect(c, what, "server, security, user, password, folder, after, poll, max-size, "
                           "batch or enabled");
}

static int cmd_set_console(struct config_ctx *c, struct conftok *tk)
{
    if (tk->n < 3 || strcmp(tk->t[2], "password-hash") != 0) {
        return expect(c, tk->n > 2 ? tk->t[2] : NULL, "password-hash");
    }
    if (tk->n == 4 && strcmp(tk->t[3], CONFIG_MASK) == 0) {
        return CONFIG_OK;
    }
    if (tk->n != 4 || parse_text(tk->t[3], c->candidate.console_hash, CONFIG_SECRET_MAX)) {
        return expect(c, "(secret)", "a password hash");
    }
    return CONFIG_OK;
}

/* trust del [relay] FINGERPRINT: from the server anchors, or with `relay` the tunnel's */
static int cmd_trust_del(struct config_ctx *c, struct conftok *tk)
{
    struct config *cf = &c->candidate;
    uint8_t want[32];
    int relay = tk->n == 4 && strcmp(tk->t[2], "relay") == 0;
    const char *fp = tk->n == 3 + (unsigned)relay ? tk->t[2 + relay] : NULL;
    size_t n = fp != NULL ? strlen(fp) : 0;
    if (n < 8 || n > 64 || n % 2 || hex_decode(fp, n, want, n / 2)) {
        return expect(c, tk->n > 2 ? tk->t[tk->n - 1] : NULL,
                      "a SHA-256 fingerprint (8+ hex digits)");
    }
    unsigned hit = cf->ntrust;
    for (unsigned i = 0; i < cf->ntrust; i++) {
        if (cf->trust[i].relay == relay && memcmp(cf->trust[i].sha256, want, n / 2) == 0) {
            if (hit != cf->ntrust) {
                return expect(c, fp, "a fingerprint that names one certificate");
            }
            hit = i;
        }
    }
    if (hit == cf->ntrust) {
        snprintf(c->error, sizeof c->error, "line %u: trust %s%s: no such certificate", c->line,
                 relay ? "relay " : "", fp);
        return CONFIG_ENOENT;
    }
    memmove(&cf->trust[hit], &cf->trust[hit + 1], (cf->ntrust - hit - 1) * sizeof cf->trust[0]);
    cf->ntrust--;
    memset(&cf->trust[cf->ntrust], 0, sizeof cf->trust[0]);
    return CONFIG_OK;
}

static int begin_pem(struct config_ctx *c, enum config_input in)
{
    c->input = in;
    c->pem_start = (uint32_t)c->arena_used;
    return CONFIG_OK;
}

static int exec_command(struct config_ctx *c, struct conftok *tk)
{
    const char *t0 = tk->t[0], *t1 = tk->n > 1 ? tk->t[1] : "";
    if (strcmp(t0, "commit") == 0 || strcmp(t0, "discard") == 0) {
        if (tk->n > 1) {
            return expect(c, t1, "nothing after it");
        }
        return t0[0] == 'c' ? CONFIG_DO_COMMIT : CONFIG_DO_DISCARD;
    }
    if (strcmp(t0, "set") == 0) {
        if (strcmp(t1, "system") == 0) {
            return cmd_set_system(c, tk);
        }
        if (strcmp(t1, "net") == 0) {
            return cmd_set_net(c, tk);
        }
        if (strcmp(t1, "tunnel") == 0) {
            return cmd_set_tunnel(c, tk);
        }
        if (strcmp(t1, "imap") == 0) {
            return cmd_set_imap(c, tk);
        }
        if (strcmp(t1, "console") == 0) {
            return cmd_set_console(c, tk);
        }
        return expect(c, tk->n > 1 ? t1 : NULL, "system, net, tunnel, imap or console");
    }
    if (strcmp(t0, "host") == 0) {
        return cmd_host(c, tk);
    }
    if (strcmp(t0, "mapping") == 0) {
        return cmd_mapping(c, tk);
    }
    if (strcmp(t0, "trust") == 0) {
        if (strcmp(t1, "import") == 0 && tk->n == 2) {
            return begin_pem(c, CFG_IN_TRUST_PEM);
        }
        if (strcmp(t1, "import") == 0) {
            if (tk->n != 3 || strcmp(tk->t[2], "relay") != 0) {
                return expect(c, tk->t[2], "nothing, or relay (the tunnel's own anchors)");
            }
            return begin_pem(c, CFG_IN_RELAY_TRUST_PEM);
        }
        if (strcmp(t1, "del") == 0) {
            return cmd_trust_del(c, tk);
        }
        return expect(c, tk->n > 1 ? t1 : NULL, "import or del");
    }
    if (strcmp(t0, "tunnel") == 0) {
        if (strcmp(t1, "cert") != 0 && strcmp(t1, "key") != 0) {
            return expect(c, tk->n > 1 ? t1 : NULL, "cert or key");
        }
        if (tk->n != 3 || strcmp(tk->t[2], "import") != 0) {
            return expect(c, tk->n > 2 ? tk->t[2] : NULL, "import");
        }
        return begin_pem(c, t1[0] == 'c' ? CFG_IN_CHAIN_PEM : CFG_IN_KEY_PEM);
    }
    return expect(c, t0, "a configuration command (set, host, mapping, trust, tunnel, "
                         "commit, discard)");
}

/* see config.h */
int config_exec(struct config_ctx *c, const char *p, size_t len)
{
    c->line++;
    if (c->input != CFG_IN_COMMAND) {
        return cfg_pem_line(c, p, len);
    }
    struct conftok tk;
    int err = CONFIG_OK;
    if (len > CONFIG_LINE_MAX || conftok_split(&tk, p, len, TOK_MAX) != 0) {
        snprintf(c->error, sizeof c->error, "line %u: expected at most %d tokens, %d bytes, "
                 "closed quotes", c->line, TOK_MAX, CONFIG_LINE_MAX);
        err = CONFIG_ESYNTAX;
    } else if (tk.n > 0) {
        err = exec_command(c, &tk);
    }
    secure_wipe(&tk, sizeof tk);   /* the words may be a secret's */
    return err;
}

/* ---- printing ------------------------------------------------------------------------- */

struct out {
    config_sink sink;
    void *arg;
};

static void put(struct out *o, const char *s)
{
    o->sink(o->arg, s, strlen(s));
}

/* A token, quoted when it needs to be. */
static void put_tok(struct out *o, const char *s)
{
    int plain = *s != 0 && *s != '#';
    for (const char *q = s; *q; q++) {
        plain &= *q != ' ' && *q != '\t' && *q != '"' && *q != '\\';
    }
    o->sink(o->arg, " ", 1);
    if (plain) {
        put(o, s);
        return;
    }
    o->sink(o->arg, "\"", 1);
    for (const char *q = s; *q; q++) {
        if (*q == '"' || *q == '\\') {
            o->sink(o->arg, "\\", 1);
        }
        o->sink(o->arg, q, 1);
    }
    o->sink(o->arg, "\"", 1);
}

static void put_ip(struct out *o, const uint8_t a[4])
{
    char b[20];
    snprintf(b, sizeof b, " %u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    put(o, b);
}

static void put_hp(struct out *o, const struct config_hostport *hp)
{
    char b[CONFIG_NAME_MAX + 10];
    snprintf(b, sizeof b, " %s:%u", hp->host, hp->port);
    put(o, b);
}

/* see config_int.h */
void cfg_print_section(const struct config *cf, enum config_type type, unsigned id,
                       unsigned flags, config_sink sink, void *arg)
{
    struct out o = { sink, arg };
    char b[40];
    switch (type) {
    case CFG_T_SYSTEM:
        if (cf->hostname[0]) {
            put(&o, "set system hostname");
            put_tok(&o, cf->hostname);
            put(&o, "\n");
        }
        if (cf->console_timeout != CONFIG_CONSOLE_TIMEOUT_DEFAULT) {
            snprintf(b, sizeof b, "set system console-timeout %u\n",
                     (unsigned)cf->console_timeout);
            put(&o, b);
        }
        break;
    case CFG_T_NET:
        if (!cf->net.dhcp) {
            put(&o, "set net address");
            snprintf(b, sizeof b, " %u.%u.%u.%u/%u", cf->net.addr[0], cf->net.addr[1],
                     cf->net.addr[2], cf->net.addr[3], cf->net.prefix);
            put(&o, b);
            put(&o, " gateway");
            put_ip(&o, cf->net.gateway);
            put(&o, "\n");
        }
        if (cf->net.has_dns) {
            put(&o, "set net dns");
            put_ip(&o, cf->net.dns);
            put(&o, "\n");
        }
        if (cf->net.ntp[0]) {
            put(&o, "set net ntp");
            put_tok(&o, cf->net.ntp);
            put(&o, "\n");
        }
        break;
    case CFG_T_HOST:
        put(&o, "host add");
        put_tok(&o, cf->hosts[id].name);
        put_ip(&o, cf->hosts[id].addr);
        put(&o, "\n");
        break;
    case CFG_T_TUNNEL:
        if (cf->tunnel.nrelays) {
            put(&o, "set tunnel relay");
            for (unsigned i = 0; i < cf->tunnel.nrelays; i++) {
                put_hp(&o, &cf->tunnel.relays[i]);
            }
            put(&o, "\n");
        }
        if (cf->tunnel.location[0]) {
            put(&o, "set tunnel location");
            put_tok(&o, cf->tunnel.location);
            put(&o, "\n");
        }
        if (cf->tunnel.trust_shared) {
            put(&o, "set tunnel trust shared\n");
        }
        break;
    case CFG_T_MAPPING:
        put(&o, "mapping add");
        put_hp(&o, &cf->mappings[id].virt);
        put_hp(&o, &cf->mappings[id].internal);
        put(&o, cf->mappings[id].tls ? " tls" : " tcp");
        if (cf->mappings[id].sni[0]) {
            put(&o, " sni");
            put_tok(&o, cf->mappings[id].sni);
        }
        put(&o, "\n");
        break;
    case CFG_T_IMAP:
        if (id == 1) {
            if (cf->imap.password[0]) {
                put(&o, "set imap password");
                put_tok(&o, flags & CONFIG_PRINT_SECRETS ? cf->imap.password : CONFIG_MASK);
                put(&o, "\n");
            }
            break;
        }
        if (cf->imap.server.port) {
            put(&o, "set imap server");
            put_hp(&o, &cf->imap.server);
            put(&o, "\n");
        }
        if (cf->imap.security != IMAP_SEC_STARTTLS) {
            put(&o, cf->imap.security == IMAP_SEC_TLS ? "set imap security tls\n"
                                                      : "set imap security off\n");
        }
        if (cf->imap.user[0]) {
            put(&o, "set imap user");
            put_tok(&o, cf->imap.user);
            put(&o, "\n");
        }
        if (cf->imap.folder[0]) {
            put(&o, "set imap folder");
            put_tok(&o, cf->imap.folder);
            put(&o, "\n");
        }
        if (cf->imap.after == IMAP_AFTER_DELETE) {
            put(&o, "set imap after delete\n");
        } else if (cf->imap.after == IMAP_AFTER_MOVE) {
            put(&o, "set imap after move");
            put_tok(&o, cf->imap.move_folder);
            put(&o, "\n");
        }
        if (cf->imap.poll != CONFIG_IMAP_POLL_DEFAULT) {
            snprintf(b, sizeof b, "set imap poll %u\n", (unsigned)cf->imap.poll);
            put(&o, b);
        }
        if (cf->imap.max_size) {
            snprintf(b, sizeof b, "set imap max-size %u\n", (unsigned)cf->imap.max_size);
            put(&o, b);
        }
        if (cf->imap.batch != CONFIG_IMAP_BATCH_MAX) {
            snprintf(b, sizeof b, "set imap batch %u\n", (unsigned)cf->imap.batch);
            put(&o, b);
        }
        if (cf->imap.enabled) {
            put(&o, "set imap enabled yes\n");
        }
        break;
    case CFG_T_CONSOLE:
        if (cf->console_hash[0]) {
            put(&o, "set console password-hash");
            put_tok(&o, flags & CONFIG_PRINT_SECRETS ? cf->console_hash : CONFIG_MASK);
            put(&o, "\n");
        }
        break;
    default:
        break;
    }
}

/* see config.h */
int config_print(struct config_ctx *c, const struct config *cf, unsigned flags,
                 config_sink sink, void *arg)
{
    static const enum config_type order[] = { CFG_T_SYSTEM, CFG_T_NET };
    for (unsigned i = 0; i < sizeof order / sizeof order[0]; i++) {
        cfg_print_section(cf, order[i], 0, flags, sink, arg);
    }
    for (unsigned i = 0; i < cf->nhosts; i++) {
        cfg_print_section(cf, CFG_T_HOST, i, flags, sink, arg);
    }
    cfg_print_section(cf, CFG_T_TUNNEL, 0, flags, sink, arg);
    for (unsigned i = 0; i < cf->nmappings; i++) {
        cfg_print_section(cf, CFG_T_MAPPING, i, flags, sink, arg);
    }
    cfg_print_section(cf, CFG_T_IMAP, 0, flags, sink, arg);
    cfg_print_section(cf, CFG_T_IMAP, 1, flags, sink, arg);
    cfg_print_section(cf, CFG_T_CONSOLE, 0, flags, sink, arg);
    return cfg_print_blobs(c, cf, flags, sink, arg);
}
