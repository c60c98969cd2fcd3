/* The gateway configuration: schema, candidate/commit/discard, and its one text format.
 *
 * The text is the console language of design.md §5: `config_exec()` applies one line to the
 * candidate, `config_print()` writes the configuration as lines that re-import to the same
 * configuration. Secrets (IMAP password, console password hash, device key) print as
 * ******** unless exporting; the line `set imap password ********` keeps the current secret,
 * so `show config` output also re-imports unchanged.
 *
 * On flash (store.h) each setting group is one record holding its own canonical text lines
 * (key STORE_KEY(CFG_T_..., id)); trust anchors (DER), the device key (DER) and the device
 * certificate chain (PEM text) are records of their own and stay on flash: RAM holds their
 * fingerprints, and the candidate holds new ones in the caller's arena until the commit.
 * `config_commit()` writes every changed record and deletes the dropped ones in ONE store
 * transaction: after a power cut the gateway boots with the old or the new config.
 *
 * Schema: CFG_T_SCHEMA holds the version; config_load() runs the migration hooks from the
 * stored version up to CONFIG_SCHEMA_VERSION, and the next commit writes the result. */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define CONFIG_SCHEMA_VERSION 2

/* Limits (RAM costs are for struct config; the candidate holds a second copy). */
#define CONFIG_NAME_MAX 64        /* host names, user, folder, location, NTP server */
#define CONFIG_HOSTS_MAX 32       /* static host table: 32 x 68 B = 2.2 KiB */
#define CONFIG_RELAYS_MAX 4       /* tunnel relays: 4 x 68 B */
#define CONFIG_MAPPINGS_MAX 32    /* 32 x 204 B = 6.5 KiB */
#define CONFIG_SECRET_MAX 128     /* IMAP password, console password hash */
#define CONFIG_TRUST_MAX 64       /* trust anchors: 64 x 40 B of fingerprint and id in RAM */
#define CONFIG_CERT_MAX 4096      /* one DER certificate */
#define CONFIG_CHAIN_MAX 8000     /* device chain, PEM text (fits STORE_VALUE_MAX) */
#define CONFIG_KEY_MAX 512        /* device private key, DER */
#define CONFIG_LINE_MAX 512       /* one command line */
#define CONFIG_IMAP_BATCH_MAX 64  /* the receiver's UID set per cycle (proto/imap_client.h) */
#define CONFIG_CONSOLE_TIMEOUT_DEFAULT 15    /* minutes idle before the console logs out */
#define CONFIG_CONSOLE_TIMEOUT_MAX 1440      /* a day; 0 means never */

/* Record types of the schema: key = STORE_KEY(type, id). */
enum config_type {
    CFG_T_SYSTEM = 1,    /* id 0: "set system ..." lines */
    CFG_T_NET = 2,       /* id 0: "set net ..." lines */
    CFG_T_HOST = 3,      /* id i: one "host add" line */
    CFG_T_TUNNEL = 4,    /* id 0: relays and location lines */
    CFG_T_DEVKEY = 5,    /* id 0: device private key, DER */
    CFG_T_CHAIN = 6,     /* id 0: device certificate chain, PEM */
    CFG_T_MAPPING = 7,   /* id i: one "mapping add" line */
    CFG_T_IMAP = 8,      /* id 0: "set imap ..." lines but the password; id 1: the password */
    CFG_T_TRUST = 9,     /* id i: one trust anchor, DER */
    CFG_T_CONSOLE = 10,  /* id 0: console password hash */
    CFG_T_TIME = 11,     /* id 0: last-known-good time, 8 bytes little-endian seconds */
    CFG_T_SCHEMA = 12,   /* id 0: schema version, 4 bytes little-endian */
    CFG_T_RELAY_TRUST = 13,  /* id i: one relay trust anchor, DER (schema 2: the tunnel's own,
                                apart from the anchors of tls mappings and the receiver) */
};

enum config_err_code {
    CONFIG_OK = 0,
    CONFIG_ESYNTAX = -1,     /* the line: a token is not what was expected */
    CONFIG_EFULL = -2,       /* a table or the arena is full */
    CONFIG_ENOENT = -3,      /* del of something that is not there */
    CONFIG_ESTORE = -4,      /* the store failed; config_error says how */
    CONFIG_DO_COMMIT = 1,    /* the line was `commit`: the caller commits */
    CONFIG_DO_DISCARD = 2,   /* the line was `discard` */
};

struct config_hostport {
    char host[CONFIG_NAME_MAX];
    uint16_t port;
};

/* mapping add VHOST:VPORT IHOST:IPORT tcp|tls [sni NAME] */
struct config_mapping {
    struct config_hostport virt, internal;
    int tls;
    char sni[CONFIG_NAME_MAX];
};

enum config_imap_security { IMAP_SEC_STARTTLS, IMAP_SEC_TLS, IMAP_SEC_OFF };
enum config_imap_after { IMAP_AFTER_SEEN, IMAP_AFTER_DELETE, IMAP_AFTER_MOVE };

struct config_trust {
    uint16_t id;                 /* record id on flash */
    uint8_t relay;               /* 1: vouches for relays only (`trust import relay`, record
                                    CFG_T_RELAY_TRUST); 0: for internal servers (CFG_T_TRUST) */
    uint8_t sha256[32];          /* fingerprint: `trust del` takes a hex prefix of it */
    uint32_t arena_off, len;     /* new in the candidate: its DER in the arena; else len 0 */
};

/* The record of a trust anchor: relay anchors and server anchors are kept apart on flash. */
static inline uint32_t config_trust_key(const struct config_trust *t)
{
    return STORE_KEY(t->relay ? CFG_T_RELAY_TRUST : CFG_T_TRUST, t->id);
}

struct config {
    char hostname[CONFIG_NAME_MAX];
    struct {
        int dhcp;
        uint8_t addr[4], gateway[4], dns[4];
        uint8_t prefix, has_dns;
        char ntp[CONFIG_NAME_MAX];
    } net;
    struct {
        char name[CONFIG_NAME_MAX];
        uint8_t addr[4];
    } hosts[CONFIG_HOSTS_MAX];
    unsigned nhosts;
    struct {
        struct config_hostport relays[CONFIG_RELAYS_MAX];
        unsigned nrelays;
        char location[CONFIG_NAME_MAX];
        int trust_shared;           /* `set tunnel trust shared`: the server anchors vouch for
                                       relays too (what the schema-2 migration keeps for an
                                       older flash, until the operator separates them) */
    } tunnel;
    struct config_mapping mappings[CONFIG_MAPPINGS_MAX];
    unsigned nmappings;
    struct {
        struct config_hostport server;
        enum config_imap_security security;
        char user[CONFIG_NAME_MAX];
        char password[CONFIG_SECRET_MAX];
        char folder[CONFIG_NAME_MAX];
        enum config_imap_after after;
        char move_folder[CONFIG_NAME_MAX];
        uint32_t poll;
        uint32_t max_size;          /* bytes; 0: none (the relay's 256 MiB still applies) */
        uint32_t batch;             /* messages delivered per cycle, 1..CONFIG_IMAP_BATCH_MAX */
        int enabled;
    } imap;
    char console_hash[CONFIG_SECRET_MAX];
    uint32_t console_timeout;        /* minutes idle before logout (with a password); 0: never */
    /* blobs: on flash, or (candidate) in the arena */
    struct config_trust trust[CONFIG_TRUST_MAX];
    unsigned ntrust;
    uint32_t key_off, key_len;       /* in the arena when key_new */
    uint32_t chain_off, chain_len;   /* in the arena when chain_new */
    int has_key, key_new, has_chain, chain_new;
};

/* Multi-line input (PEM pasted after `trust import` etc.) runs through these states. */
enum config_input {
    CFG_IN_COMMAND, CFG_IN_TRUST_PEM, CFG_IN_RELAY_TRUST_PEM, CFG_IN_CHAIN_PEM, CFG_IN_KEY_PEM
};

struct config_ctx {
    struct store *store;
    struct config running, candidate;
    int64_t lkg_time;                 /* last-known-good time (not operator config) */
    enum config_input input;
    uint32_t pem_start;               /* arena offset where the current PEM text began */
    uint8_t *arena;                   /* caller-owned: new blobs of the candidate */
    size_t arena_cap, arena_used;
    unsigned line;                    /* lines seen, for error messages */
    char error[160];                  /* the last error: "line N: ..." */
    uint32_t schema_loaded;           /* version found on flash (0: none) */
    uint8_t scratch[STORE_VALUE_MAX]; /* a record read back from flash */
    char render[2048];                /* one record's text being written */
};
/* Secrets never outlive their use in the context's own buffers: the arena (a new device
 * key), scratch (records read back) and render are wiped after every commit, discard,
 * load and print, and the parts of the arena a paste gives back are wiped at once. */

/* Set up ctx over a mounted store; arena holds PEM/DER pasted into the candidate (64 KiB
 * takes a whole trust store of 30+ certificates). Loads nothing yet. */
void config_init(struct config_ctx *c, struct store *s, uint8_t *arena, size_t arena_cap);
/* Factory defaults (DHCP, IMAP off, everything else empty) into *cfg. */
void config_defaults(struct config *cfg);
/* Read the configuration from the store into running and candidate, migrating an older
 * schema. CONFIG_OK, or CONFIG_ESTORE / CONFIG_ESYNTAX with config_error set. */
int config_load(struct config_ctx *c);

/* Apply one line of text (without its newline) to the candidate. Returns CONFIG_OK,
 * CONFIG_DO_COMMIT/CONFIG_DO_DISCARD for those commands, or an error (c->error says
 * "line N: TOKEN: expected ..."). Comments (#) and empty lines are fine. Parser: reads
 * exactly len bytes of p. */
int config_exec(struct config_ctx *c, const char *p, size_t len);
/* Run every line of a text (import, --batch), committing at each `commit` line and
 * discarding at `discard`. Stops at the first error (c->error names the line). */
int config_exec_text(struct config_ctx *c, const char *p, size_t len);

/* Write the candidate to flash as one transaction, make it the running config. */
int config_commit(struct config_ctx *c);
/* Drop the candidate's changes. */
void config_discard(struct config_ctx *c);
/* Abandon a PEM paste in progress (Ctrl-C): the candidate stays as before it began. */
void config_discard_paste(struct config_ctx *c);
/* 1 when the candidate differs from the running config. */
int config_changed(const struct config_ctx *c);

/* Print cfg (running or candidate of c) as re-importable lines. flags: CONFIG_PRINT_SECRETS
 * prints secrets and blobs (export); without it they are masked or summarised. The sink
 * gets pieces of text; it may be called many times per line. */
#define CONFIG_PRINT_SECRETS 1
typedef void (*config_sink)(void *arg, const char *p, size_t len);
int config_print(struct config_ctx *c, const struct config *cfg, unsigned flags,
                 config_sink sink, void *arg);
/* What a commit would change (config_compare.c), as `show config` lines: those of the
 * running config the candidate drops as "- LINE", those it adds as "+ LINE", section by
 * section. Secrets stay masked: a changed secret is its masked line removed and added. The
 * device key, chain and trust anchors are one comment line each (a trust anchor by its
 * SHA-256). Returns the number of lines printed (0: no difference). Uses c->render. */
int config_compare(struct config_ctx *c, config_sink sink, void *arg);

/* ---- the device identity's blobs (config_blob.c) ----
 * The device key (tls/keys.h stored form, or the DER of an imported key) and the device
 * chain (PEM text) as bytes, wherever they are (the candidate's arena or flash). */

/* Put a new device key into the candidate (kept until commit or discard). CONFIG_OK, or
 * CONFIG_ESYNTAX (empty or longer than CONFIG_KEY_MAX), CONFIG_EFULL (arena full, or a
 * paste in progress). */
int config_set_key(struct config_ctx *c, const uint8_t *p, size_t len);
/* The key or the chain of cf (running or candidate of c) into out. CONFIG_OK, CONFIG_ENOENT
 * (none configured), CONFIG_EFULL (cap too small), CONFIG_ESTORE (flash unreadable). */
int config_get_key(struct config_ctx *c, const struct config *cf, uint8_t *out, size_t cap,
                   size_t *len);
int config_get_chain(struct config_ctx *c, const struct config *cf, uint8_t *out, size_t cap,
                     size_t *len);
/* Undo a `tunnel cert import` whose chain was refused (the leaf does not match the key):
 * save the candidate's chain before the paste, restore it after. */
struct config_chain_mark {
    int has, is_new;
    uint32_t off, len;
};
void config_chain_save(const struct config_ctx *c, struct config_chain_mark *m);
void config_chain_restore(struct config_ctx *c, const struct config_chain_mark *m);

#endif
