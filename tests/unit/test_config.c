/* The configuration as the operator and the factory see it: a config typed as console
 * commands commits in one store transaction, survives a reboot, exports to text that imports
 * back to the identical config, `show config` hides secrets yet re-imports unchanged, errors
 * name the token, a power cut during commit leaves the old or the new config, and an
 * unversioned store is migrated to the current schema. `compare` shows what a commit would
 * change, secrets masked, and no secret outlives a commit or a discard in the context's
 * own buffers. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>

#include "check.h"
#include "config.h"
#include "store_emu.h"

#define KEYS 256
static struct store_entry idx[KEYS];
static struct store st;
static struct config_ctx cc, cc2;
static uint8_t arena[64 * 1024], arena2[64 * 1024];

struct text {
    char buf[128 * 1024];
    size_t len;
};
static struct text t1, t2, input;

static void to_text(void *arg, const char *p, size_t len)
{
    struct text *t = arg;
    if (len <= sizeof t->buf - t->len) {
        memcpy(t->buf + t->len, p, len);
        t->len += len;
    }
}

static void add(struct text *t, const char *s)
{
    to_text(t, s, strlen(s));
}

static void add_pem(struct text *t, const char *label, uint64_t seed, size_t len)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t der[2048];
    rng_fill(&seed, der, len);
    /* One DER SEQUENCE of random content (len >= 260): tls/pem accepts only whole DER. */
    der[0] = 0x30;
    der[1] = 0x82;
    der[2] = (uint8_t)((len - 4) >> 8);
    der[3] = (uint8_t)(len - 4);
    char line[80];
    snprintf(line, sizeof line, "-----BEGIN %s-----\n", label);
    add(t, line);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)der[i] << 16 | (i + 1 < len ? der[i + 1] << 8 : 0) |
                     (i + 2 < len ? der[i + 2] : 0);
        char q[5] = { b64[v >> 18], b64[(v >> 12) & 63], i + 1 < len ? b64[(v >> 6) & 63] : '=',
                      i + 2 < len ? b64[v & 63] : '=', 0 };
        add(t, q);
        if ((i / 3) % 16 == 15 || i + 3 >= len) {
            add(t, "\n");
        }
    }
    snprintf(line, sizeof line, "-----END %s-----\n", label);
    add(t, line);
}

/* The factory's provisioning text: everything design.md §5 can set. */
static void factory_text(struct text *t, unsigned certs)
{
    t->len = 0;
    add(t, "# factory provisioning\n"
           "set system hostname gw-berlin-1\n"
           "set net address 10.1.2.3/24 gateway 10.1.2.1\n"
           "set net dns 10.1.2.1\n"
           "set net ntp ntp.corp.example\n"
           "host add mail 10.1.2.10\n"
           "host add ldap 10.1.2.11\n"
           "set tunnel relay relay1.example.net:8443 relay2.example.net:8443\n"
           "set tunnel location loc-4711\n"
           "mapping add mail.virtual:143 mail:143 tcp\n"
           "mapping add mail.virtual:993 mail:993 tls sni mail.corp.example\n"
           "set imap server mail.virtual:993\n"
           "set imap security off\n"
           "set imap user \"receiver bot\"\n"
           "set imap password \"s3cret pass\"\n"
           "set imap folder INBOX\n"
           "set imap after move Processed\n"
           "set imap poll 30\n"
           "set imap max-size 10485760\n"
           "set imap batch 20\n"
           "set imap enabled yes\n"
           "set console password-hash $6$salt$abcdef\n"
           "tunnel key import\n");
    add_pem(t, "PRIVATE KEY", 99, 138);
    add(t, "\ntunnel cert import\n");
    for (int i = 0; i < 3; i++) {
        add_pem(t, "CERTIFICATE", 1000 + (uint64_t)i, 1000);   /* ~4.1 KiB of PEM */
    }
    add(t, "\ntrust import\n");
    for (unsigned i = 0; i < certs; i++) {
        add_pem(t, "CERTIFICATE", 7 + i, 900 + (i * 37) % 1100);
    }
    add(t, "\ncommit\n");
}

static struct emu *fresh(void)
{
    struct emu *m = emu_new(256 * 1024, 4096, 1);
    if (store_format(&m->e.base) || store_mount(&st, &m->e.base, idx, KEYS)) {
        abort();
    }
    config_init(&cc, &st, arena, sizeof arena);
    return m;
}

static void export(struct config_ctx *c, struct text *t, unsigned flags)
{
    t->len = 0;
    config_print(c, &c->running, flags, to_text, t);
}

static void a_factory_config_commits_once_and_survives_a_reboot(void)
{
    struct emu *m = fresh();
    emu_warnings_reset();
    factory_text(&input, 30);
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    uint32_t txn = st.next_txn;
    int err = config_exec_text(&cc, input.buf, input.len);
    if (err) {
        fprintf(stderr, "%s\n", cc.error);
    }
    CHECK_EQ(err, CONFIG_OK);
    CHECK_EQ(st.next_txn, txn + 1);   /* one store transaction */
    CHECK_EQ(cc.running.ntrust, 30);
    /* reboot: mount and load */
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    config_init(&cc, &st, arena, sizeof arena);
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    CHECK_EQ(cc.schema_loaded, CONFIG_SCHEMA_VERSION);
    CHECK(strcmp(cc.running.hostname, "gw-berlin-1") == 0);
    CHECK(strcmp(cc.running.imap.password, "s3cret pass") == 0);
    CHECK_EQ(cc.running.nmappings, 2);
    CHECK_EQ(cc.running.mappings[1].tls, 1);
    CHECK_EQ(cc.running.ntrust, 30);
    CHECK(cc.running.has_key && cc.running.has_chain);
    CHECK_EQ(emu_warnings, 0);
    emu_free(m);
}

static void export_then_import_gives_the_identical_config(void)
{
    struct emu *m = fresh();
    factory_text(&input, 30);
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    CHECK_EQ(config_exec_text(&cc, input.buf, input.len), CONFIG_OK);
    export(&cc, &t1, CONFIG_PRINT_SECRETS);
    CHECK(strstr(t1.buf, "s3cret pass") != NULL);
    CHECK(strstr(t1.buf, "tunnel key import") != NULL);
    /* import into another device */
    struct emu *m2 = emu_new(256 * 1024, 4096, 1);
    static struct store st2;
    static struct store_entry idx2[KEYS];
    CHECK_EQ(store_format(&m2->e.base), STORE_OK);
    CHECK_EQ(store_mount(&st2, &m2->e.base, idx2, KEYS), STORE_OK);
    config_init(&cc2, &st2, arena2, sizeof arena2);
    CHECK_EQ(config_load(&cc2), CONFIG_OK);
    CHECK_EQ(config_exec_text(&cc2, t1.buf, t1.len), CONFIG_OK);
    CHECK_EQ(config_commit(&cc2), CONFIG_OK);
    CHECK_EQ(store_mount(&st2, &m2->e.base, idx2, KEYS), STORE_OK);
    config_init(&cc2, &st2, arena2, sizeof arena2);
    CHECK_EQ(config_load(&cc2), CONFIG_OK);
    export(&cc2, &t2, CONFIG_PRINT_SECRETS);
    CHECK_EQ(t1.len, t2.len);
    CHECK(memcmp(t1.buf, t2.buf, t1.len) == 0);
    emu_free(m2);
    emu_free(m);
}

static void show_config_masks_secrets_and_reimports_unchanged(void)
{
    struct emu *m = fresh();
    factory_text(&input, 3);
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    CHECK_EQ(config_exec_text(&cc, input.buf, input.len), CONFIG_OK);
    export(&cc, &t1, 0);
    CHECK(strstr(t1.buf, "s3cret") == NULL);
    CHECK(strstr(t1.buf, "abcdef") == NULL);
    CHECK(strstr(t1.buf, "set imap password ********\n") != NULL);
    CHECK(strstr(t1.buf, "PRIVATE KEY") == NULL);
    /* replaying `show config` onto the running config changes nothing */
    CHECK_EQ(config_exec_text(&cc, t1.buf, t1.len), CONFIG_OK);
    CHECK(!config_changed(&cc));
    uint32_t txn = st.next_txn;
    CHECK_EQ(config_commit(&cc), CONFIG_OK);
    CHECK_EQ(st.next_txn, txn);   /* nothing to write */
    emu_free(m);
}

static void edits_stay_in_the_candidate_until_commit_and_discard_drops_them(void)
{
    struct emu *m = fresh();
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    const char *a = "set system hostname first\ncommit\nset system hostname second\n"
                    "host add a 1.2.3.4\n";
    CHECK_EQ(config_exec_text(&cc, a, strlen(a)), CONFIG_OK);
    CHECK(strcmp(cc.running.hostname, "first") == 0);
    CHECK(strcmp(cc.candidate.hostname, "second") == 0);
    CHECK(config_changed(&cc));
    config_discard(&cc);
    CHECK(strcmp(cc.candidate.hostname, "first") == 0);
    CHECK_EQ(cc.candidate.nhosts, 0);
    const char *b = "host add a 1.2.3.4\nhost add b 1.2.3.5\ncommit\nhost del a\ncommit\n";
    CHECK_EQ(config_exec_text(&cc, b, strlen(b)), CONFIG_OK);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    config_init(&cc, &st, arena, sizeof arena);
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    CHECK_EQ(cc.running.nhosts, 1);
    CHECK(strcmp(cc.running.hosts[0].name, "b") == 0);
    emu_free(m);
}

static void errors_name_the_token_and_what_was_expected(void)
{
    struct emu *m = fresh();
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    static const struct { const char *line, *want; } cases[] = {
        { "set net address 10.0.0.300/24 gateway 10.0.0.1", "'10.0.0.300/24': expected" },
        { "set net address 10.0.0.3/24 via 10.0.0.1", "'via': expected gateway" },
        { "mapping add a:143 b:143 udp", "'udp': expected tcp or tls" },
        { "set imap security maybe", "'maybe': expected starttls, tls or off" },
        { "set imap poll 0", "'0': expected seconds" },
        { "frobnicate", "'frobnicate': expected a configuration command" },
        { "set tunnel relay nohost", "'nohost': expected HOST:PORT" },
        { "host del nothere", "no such host" },
        { "set system hostname \"unterminated", "closed quotes" },
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int err = config_exec(&cc, cases[i].line, strlen(cases[i].line));
        CHECK(err < 0);
        if (strstr(cc.error, cases[i].want) == NULL) {
            fprintf(stderr, "%s -> %s\n", cases[i].line, cc.error);
        }
        CHECK(strstr(cc.error, cases[i].want) != NULL);
    }
    const char *t = "set system hostname ok\nset net dns 1.2.3\n";
    CHECK(config_exec_text(&cc, t, strlen(t)) < 0);
    CHECK(strstr(cc.error, "line 11:") != NULL);   /* counted across calls */
    emu_free(m);
}

/* Power fails at every write of a config commit that replaces the trust store. */
static void a_power_cut_during_commit_leaves_the_old_or_the_new_config(void)
{
    struct emu *m = fresh();
    factory_text(&input, 10);
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    CHECK_EQ(config_exec_text(&cc, input.buf, input.len), CONFIG_OK);
    export(&cc, &t1, CONFIG_PRINT_SECRETS);            /* old */
    static uint8_t snap[256 * 1024];
    memcpy(snap, m->image, sizeof snap);
    static struct text change;
    change.len = 0;
    add(&change, "set system hostname gw-berlin-2\nhost del ldap\ntrust import\n");
    for (int i = 0; i < 5; i++) {
        add_pem(&change, "CERTIFICATE", 500 + (uint64_t)i, 1200);
    }
    add(&change, "\n");
    CHECK_EQ(config_exec_text(&cc, change.buf, change.len), CONFIG_OK);
    CHECK_EQ(config_commit(&cc), CONFIG_OK);
    export(&cc, &t2, CONFIG_PRINT_SECRETS);            /* new */
    uint64_t ops = 0;
    for (uint64_t k = 1;; k++) {
        memcpy(m->image, snap, sizeof snap);
        memset(m->units, 0, 256 * 1024 / 8 + 1);
        CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
        config_init(&cc, &st, arena, sizeof arena);
        CHECK_EQ(config_load(&cc), CONFIG_OK);
        CHECK_EQ(config_exec_text(&cc, change.buf, change.len), CONFIG_OK);
        flash_emu_arm(&m->e, k, (int)(k % 2), k);
        int err = config_commit(&cc);
        flash_emu_power_on(&m->e);
        if (err == CONFIG_OK && m->e.writes < k) {
            ops = k - 1;
            break;
        }
        static struct text now;
        CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
        config_init(&cc, &st, arena, sizeof arena);
        CHECK_EQ(config_load(&cc), CONFIG_OK);
        export(&cc, &now, CONFIG_PRINT_SECRETS);
        int same_old = now.len == t1.len && memcmp(now.buf, t1.buf, now.len) == 0;
        int same_new = now.len == t2.len && memcmp(now.buf, t2.buf, now.len) == 0;
        CHECK(same_old || same_new);
    }
    CHECK(ops > 10);
    emu_free(m);
}

static void an_unversioned_store_is_migrated_at_the_next_commit(void)
{
    struct emu *m = fresh();
    /* what a first build wrote: a hostname record, no schema record */
    const char *line = "set system hostname old-gw\n";
    CHECK_EQ(store_begin(&st, 1, strlen(line)), STORE_OK);
    CHECK_EQ(store_put(&st, STORE_KEY(CFG_T_SYSTEM, 0), line, strlen(line)), STORE_OK);
    CHECK_EQ(store_commit(&st), STORE_OK);
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    CHECK_EQ(cc.schema_loaded, 0);
    CHECK(strcmp(cc.running.hostname, "old-gw") == 0);
    CHECK_EQ(config_commit(&cc), CONFIG_OK);
    size_t len;
    uint8_t v[4];
    CHECK_EQ(store_get(&st, STORE_KEY(CFG_T_SCHEMA, 0), v, sizeof v, &len), STORE_OK);
    CHECK_EQ(v[0], CONFIG_SCHEMA_VERSION);
    emu_free(m);
}

/* The tunnel's anchors live apart from those of the internal servers (records of their own):
 * the same CA may be in both, each is deleted on its own, and both survive export/import. */
static void relay_anchors_are_kept_apart_from_the_server_anchors(void)
{
    struct emu *m = fresh();
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    input.len = 0;
    add(&input, "trust import\n");
    add_pem(&input, "CERTIFICATE", 7, 900);
    add(&input, "\ntrust import relay\n");
    add_pem(&input, "CERTIFICATE", 7, 900);        /* the same CA for both: two anchors */
    add_pem(&input, "CERTIFICATE", 8, 700);
    add(&input, "\ncommit\n");
    CHECK_EQ(config_exec_text(&cc, input.buf, input.len), CONFIG_OK);
    CHECK_EQ(cc.running.ntrust, 3);
    unsigned relay = 0;
    for (unsigned i = 0; i < cc.running.ntrust; i++) {
        relay += cc.running.trust[i].relay;
    }
    CHECK_EQ(relay, 2);
    CHECK_EQ(cc.running.tunnel.trust_shared, 0);       /* a new configuration: separate */
    /* reboot: the records say which is which */
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    config_init(&cc, &st, arena, sizeof arena);
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    relay = 0;
    for (unsigned i = 0; i < cc.running.ntrust; i++) {
        relay += cc.running.trust[i].relay;
    }
    CHECK_EQ(relay, 2);
    export(&cc, &t1, CONFIG_PRINT_SECRETS);
    char *server = strstr(t1.buf, "trust import\n"), *rel = strstr(t1.buf, "trust import relay\n");
    CHECK(server != NULL && rel != NULL && server < rel);
    /* the export re-imports to the same two stores */
    struct emu *m2 = fresh();
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    t1.buf[t1.len] = 0;
    CHECK_EQ(config_exec_text(&cc, t1.buf, t1.len), CONFIG_OK);
    CHECK_EQ(config_commit(&cc), CONFIG_OK);
    export(&cc, &t2, CONFIG_PRINT_SECRETS);
    CHECK(t1.len == t2.len && memcmp(t1.buf, t2.buf, t1.len) == 0);
    /* deleting the CA from the relay store leaves the server's copy of it */
    const struct config_trust *srv = NULL;
    for (unsigned i = 0; i < cc.running.ntrust; i++) {
        if (!cc.running.trust[i].relay) {
            srv = &cc.running.trust[i];
        }
    }
    CHECK(srv != NULL);
    char fp[17], line[64];
    for (unsigned i = 0; i < 8; i++) {
        snprintf(fp + 2 * i, 3, "%02x", srv->sha256[i]);
    }
    snprintf(line, sizeof line, "trust del relay %s", fp);
    CHECK_EQ(config_exec(&cc, line, strlen(line)), CONFIG_OK);
    CHECK_EQ(config_exec(&cc, line, strlen(line)), CONFIG_ENOENT);   /* gone from there */
    CHECK_EQ(config_commit(&cc), CONFIG_OK);
    CHECK_EQ(cc.running.ntrust, 2);
    relay = 0;
    for (unsigned i = 0; i < cc.running.ntrust; i++) {
        relay += cc.running.trust[i].relay;
    }
    CHECK_EQ(relay, 1);
    snprintf(line, sizeof line, "trust del %s", fp);                  /* the server's own */
    CHECK_EQ(config_exec(&cc, line, strlen(line)), CONFIG_OK);
    CHECK_EQ(config_exec(&cc, "set tunnel trust maybe", 22), CONFIG_ESYNTAX);
    CHECK(strstr(cc.error, "shared or separate") != NULL);
    CHECK_EQ(config_exec(&cc, "trust import everything", 23), CONFIG_ESYNTAX);
    emu_free(m2);
    emu_free(m);
}

/* A configuration of schema 1 had one trust store for relays and servers: after the update it
 * keeps working as it did (`set tunnel trust shared`, written at the next commit) until the
 * operator separates them; a schema-1 configuration without anchors needs nothing. */
static void an_older_trust_store_keeps_vouching_for_relays_until_separated(void)
{
    struct emu *m = fresh();
    uint8_t der[300], one[4] = { 1, 0, 0, 0 };
    der[0] = 0x30;
    der[1] = 0x82;
    der[2] = 0x01;
    der[3] = 0x28;
    for (unsigned i = 4; i < sizeof der; i++) {
        der[i] = (uint8_t)(i * 7);
    }
    CHECK_EQ(store_begin(&st, 2, sizeof der + 4), STORE_OK);
    CHECK_EQ(store_put(&st, STORE_KEY(CFG_T_SCHEMA, 0), one, 4), STORE_OK);
    CHECK_EQ(store_put(&st, STORE_KEY(CFG_T_TRUST, 0), der, sizeof der), STORE_OK);
    CHECK_EQ(store_commit(&st), STORE_OK);
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    CHECK_EQ(cc.schema_loaded, 1);
    CHECK_EQ(cc.running.tunnel.trust_shared, 1);
    CHECK_EQ(cc.running.trust[0].relay, 0);
    CHECK_EQ(config_commit(&cc), CONFIG_OK);
    export(&cc, &t1, 0);
    CHECK(strstr(t1.buf, "set tunnel trust shared\n") != NULL);
    CHECK_EQ(config_exec(&cc, "set tunnel trust separate", 25), CONFIG_OK);
    CHECK_EQ(config_commit(&cc), CONFIG_OK);
    export(&cc, &t1, 0);
    CHECK(strstr(t1.buf, "set tunnel trust") == NULL);
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    config_init(&cc, &st, arena, sizeof arena);
    CHECK_EQ(config_load(&cc), CONFIG_OK);              /* schema 2 now: no second migration */
    CHECK_EQ(cc.running.tunnel.trust_shared, 0);
    emu_free(m);
}

/* The receiver's server must be a mapping, and its password crosses the network in clear
 * only where the mapping does TLS: refused at commit, with the reason, nothing written. */
static void an_imap_receiver_that_would_send_its_password_in_clear_is_refused_at_commit(void)
{
    static const struct {
        const char *text, *error;
    } cases[] = {
        { "set imap server nowhere.v:143\nset imap enabled yes\ncommit\n",
          "imap server nowhere.v:143 is no mapping" },
        { "mapping add m.v:143 mail:143 tcp\nset imap server m.v:143\n"
          "set imap security off\nset imap enabled yes\ncommit\n",
          "imap security off needs a tls mapping, m.v:143 is tcp (password in clear)" },
        { "mapping add m.v:993 mail:993 tls\nset imap server m.v:993\n"
          "set imap security tls\nset imap enabled yes\ncommit\n",
          "imap security tls needs a tcp mapping, m.v:993 is tls (TLS twice: use off)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct emu *m = fresh();
        CHECK_EQ(config_load(&cc), CONFIG_OK);
        uint32_t txn = st.next_txn;
        CHECK(config_exec_text(&cc, cases[i].text, strlen(cases[i].text)) != CONFIG_OK);
        CHECK(strstr(cc.error, cases[i].error) != NULL);
        CHECK_EQ(st.next_txn, txn);        /* nothing reached flash */
        CHECK(!cc.running.imap.enabled);
        emu_free(m);
    }
    struct emu *m = fresh();
    const char *ok = "mapping add m.v:993 mail:993 tls\nset imap server M.V:993\n"
                     "set imap security off\nset imap enabled yes\ncommit\n";
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    CHECK_EQ(config_exec_text(&cc, ok, strlen(ok)), CONFIG_OK);
    CHECK(cc.running.imap.enabled);
    emu_free(m);
}

/* Where a secret's bytes are still in the context's own buffers (NULL: nowhere). */
static const char *holds(const struct config_ctx *c, const void *secret, size_t n)
{
    if (memmem(c->arena, c->arena_cap, secret, n) != NULL) {
        return "arena";
    }
    if (memmem(c->scratch, sizeof c->scratch, secret, n) != NULL) {
        return "scratch";
    }
    if (memmem(c->render, sizeof c->render, secret, n) != NULL) {
        return "render";
    }
    return NULL;
}

/* The secrets of factory_text, and a second key and password that are discarded. */
struct secrets {
    uint8_t key[138], key2[138];
    char key_b64[24], key2_b64[24];   /* a piece of each key's PEM text: its last line */
};

static void key_of(uint64_t seed, uint8_t der[138], char b64[24])
{
    static struct text pem;
    pem.len = 0;
    add_pem(&pem, "PRIVATE KEY", seed, 138);
    rng_fill(&seed, der, 138);
    der[0] = 0x30;
    der[1] = 0x82;
    der[2] = 0;
    der[3] = 134;
    /* the body's last line: behind the DER decoded in place over the text */
    const char *end = memmem(pem.buf, pem.len, "\n-----END", 9);
    const char *last = end - 1;
    while (*last != '\n') {
        last--;
    }
    memcpy(b64, last + 1, 24);
}

static int secret_left(const struct config_ctx *c, const struct secrets *k, const char *when)
{
    /* the hash by its tail: a record read after it (the schema) covers its first bytes */
    static const char *const words[] = { "s3cret pass", "t$abcdef", "n3w secret" };
    const char *where = NULL, *what = NULL;
    for (size_t i = 0; i < 3 && where == NULL; i++) {
        what = words[i];
        where = holds(c, words[i], strlen(words[i]));
    }
    if (where == NULL && (where = holds(c, k->key + 40, 32)) != NULL) {
        what = "the device key's DER";
    }
    if (where == NULL && (where = holds(c, k->key2 + 40, 32)) != NULL) {
        what = "the discarded device key's DER";
    }
    if (where == NULL && (where = holds(c, k->key_b64, 24)) != NULL) {
        what = "the device key's PEM";
    }
    if (where == NULL && (where = holds(c, k->key2_b64, 24)) != NULL) {
        what = "the discarded device key's PEM";
    }
    if (where != NULL) {
        fprintf(stderr, "%s: %s is still in the %s\n", when, what, where);
    }
    return where != NULL;
}

static void no_secret_is_left_in_the_arena_scratch_or_render_after_commit_or_discard(void)
{
    static struct secrets k;
    key_of(99, k.key, k.key_b64);
    key_of(77, k.key2, k.key2_b64);
    struct emu *m = fresh();
    factory_text(&input, 3);
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    CHECK_EQ(config_exec_text(&cc, input.buf, input.len), CONFIG_OK);   /* ends with commit */
    CHECK(!secret_left(&cc, &k, "after the commit of the factory text"));
    /* a second commit reads the stored records back to compare */
    const char *again = "set system hostname gw-berlin-2\ncommit\n";
    CHECK_EQ(config_exec_text(&cc, again, strlen(again)), CONFIG_OK);
    CHECK(!secret_left(&cc, &k, "after a second commit"));
    /* an export reads the device key from flash */
    export(&cc, &t1, CONFIG_PRINT_SECRETS);
    CHECK(strstr(t1.buf, "s3cret pass") != NULL);
    CHECK(!secret_left(&cc, &k, "after an export"));
    /* a new password and key in the candidate, then discarded */
    input.len = 0;
    add(&input, "set imap password \"n3w secret\"\ntunnel key import\n");
    add_pem(&input, "PRIVATE KEY", 77, 138);
    add(&input, "\n");
    CHECK_EQ(config_exec_text(&cc, input.buf, input.len), CONFIG_OK);
    CHECK(cc.candidate.key_new);
    CHECK(holds(&cc, k.key2_b64, 24) == NULL);   /* only its DER waits for the commit */
    config_discard(&cc);
    CHECK(!secret_left(&cc, &k, "after a discard"));
    /* a reboot reads every record */
    CHECK_EQ(store_mount(&st, &m->e.base, idx, KEYS), STORE_OK);
    config_init(&cc, &st, arena, sizeof arena);
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    CHECK(!secret_left(&cc, &k, "after a load"));
    emu_free(m);
    /* a box with a key and no chain: the export reads the key last */
    m = fresh();
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    input.len = 0;
    add(&input, "tunnel key import\n");
    add_pem(&input, "PRIVATE KEY", 99, 138);
    add(&input, "\ncommit\n");
    CHECK_EQ(config_exec_text(&cc, input.buf, input.len), CONFIG_OK);
    export(&cc, &t1, CONFIG_PRINT_SECRETS);
    CHECK(!secret_left(&cc, &k, "after the export of a key"));
    emu_free(m);
}

static void compare_shows_removed_and_added_lines_with_secrets_masked(void)
{
    struct emu *m = fresh();
    factory_text(&input, 3);
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    CHECK_EQ(config_exec_text(&cc, input.buf, input.len), CONFIG_OK);
    t1.len = 0;
    CHECK_EQ(config_compare(&cc, to_text, &t1), 0);
    CHECK_EQ(t1.len, 0);
    const char *edit = "set system hostname gw-berlin-2\nhost del ldap\n"
                       "mapping add new.virtual:25 mail:25 tcp\nset imap password \"n3w secret\"\n"
                       "set system console-timeout 0\n";
    CHECK_EQ(config_exec_text(&cc, edit, strlen(edit)), CONFIG_OK);
    input.len = 0;
    add(&input, "trust import\n");
    add_pem(&input, "CERTIFICATE", 4242, 700);
    add(&input, "\n");
    CHECK_EQ(config_exec_text(&cc, input.buf, input.len), CONFIG_OK);
    t1.len = 0;
    int lines = config_compare(&cc, to_text, &t1);
    t1.buf[t1.len] = '\0';
    static const char *const want[] = {
        ("- set system hostname gw-berlin-1\n+ set system hostname gw-berlin-2\n"
         "+ set system console-timeout 0\n"),
        "- host add ldap 10.1.2.11\n",
        "+ mapping add new.virtual:25 mail:25 tcp\n",
        "- set imap password ********\n+ set imap password ********\n",
        "+ # trust certificate sha256 ",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (strstr(t1.buf, want[i]) == NULL) {
            fprintf(stderr, "compare lacks %s in:\n%s", want[i], t1.buf);
        }
        CHECK(strstr(t1.buf, want[i]) != NULL);
    }
    CHECK_EQ(lines, 8);
    CHECK(strstr(t1.buf, "n3w") == NULL && strstr(t1.buf, "s3cret") == NULL);
    CHECK(strstr(t1.buf, "host add mail") == NULL);   /* unchanged lines are not shown */
    config_discard(&cc);
    t1.len = 0;
    CHECK_EQ(config_compare(&cc, to_text, &t1), 0);
    emu_free(m);
}

static void the_console_timeout_is_a_system_setting_printed_when_not_the_default(void)
{
    struct emu *m = fresh();
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    CHECK_EQ(cc.running.console_timeout, CONFIG_CONSOLE_TIMEOUT_DEFAULT);
    const char *a = "set system console-timeout 0\ncommit\n";
    CHECK_EQ(config_exec_text(&cc, a, strlen(a)), CONFIG_OK);
    export(&cc, &t1, 0);
    t1.buf[t1.len] = '\0';
    CHECK(strstr(t1.buf, "set system console-timeout 0\n") != NULL);
    const char *b = "set system console-timeout 15\ncommit\n";
    CHECK_EQ(config_exec_text(&cc, b, strlen(b)), CONFIG_OK);
    export(&cc, &t1, 0);
    t1.buf[t1.len] = '\0';
    CHECK(strstr(t1.buf, "console-timeout") == NULL);   /* the default is not printed */
    CHECK(config_exec(&cc, "set system console-timeout 1441", 31) < 0);
    CHECK(strstr(cc.error, "'1441': expected minutes, 0 (never) to 1440") != NULL);
    emu_free(m);
}

static void an_error_never_quotes_a_secret(void)
{
    struct emu *m = fresh();
    CHECK_EQ(config_load(&cc), CONFIG_OK);
    static const char *const lines[] = {
        "set imap password secretword1 secretword2",
        "set imap password \"secretword1\x01\"",
        "set console password-hash secretword1 secretword2",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        CHECK(config_exec(&cc, lines[i], strlen(lines[i])) < 0);
        if (strstr(cc.error, "secretword") != NULL) {
            fprintf(stderr, "%s -> %s\n", lines[i], cc.error);
        }
        CHECK(strstr(cc.error, "secretword") == NULL);
        CHECK(strstr(cc.error, "'(secret)'") != NULL);
    }
    emu_free(m);
}

CHECK_MAIN(
    { "relay_anchors_are_kept_apart_from_the_server_anchors",
      relay_anchors_are_kept_apart_from_the_server_anchors },
    { "an_older_trust_store_keeps_vouching_for_relays_until_separated",
      an_older_trust_store_keeps_vouching_for_relays_until_separated },
    { "no_secret_is_left_in_the_arena_scratch_or_render_after_commit_or_discard",
      no_secret_is_left_in_the_arena_scratch_or_render_after_commit_or_discard },
    { "compare_shows_removed_and_added_lines_with_secrets_masked",
      compare_shows_removed_and_added_lines_with_secrets_masked },
    { "the_console_timeout_is_a_system_setting_printed_when_not_the_default",
      the_console_timeout_is_a_system_setting_printed_when_not_the_default },
    { "an_error_never_quotes_a_secret", an_error_never_quotes_a_secret },
    { "an_imap_receiver_that_would_send_its_password_in_clear_is_refused_at_commit",
      an_imap_receiver_that_would_send_its_password_in_clear_is_refused_at_commit },
    { "a_factory_config_commits_once_and_survives_a_reboot",
      a_factory_config_commits_once_and_survives_a_reboot },
    { "export_then_import_gives_the_identical_config",
      export_then_import_gives_the_identical_config },
    { "show_config_masks_secrets_and_reimports_unchanged",
      show_config_masks_secrets_and_reimports_unchanged },
    { "edits_stay_in_the_candidate_until_commit_and_discard_drops_them",
      edits_stay_in_the_candidate_until_commit_and_discard_drops_them },
    { "errors_name_the_token_and_what_was_expected",
      errors_name_the_token_and_what_was_expected },
    { "a_power_cut_during_commit_leaves_the_old_or_the_new_config",
      a_power_cut_during_commit_leaves_the_old_or_the_new_config },
    { "an_unversioned_store_is_migrated_at_the_next_commit",
      an_unversioned_store_is_migrated_at_the_next_commit })
