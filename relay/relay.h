/* relay: the cloud side. Holds the gateways' tunnels (mutual TLS, yamux), offers SOCKS5 to
 * cloud applications and writes mail the gateways deliver into a Maildir spool, or hands it
 * to a mail store over LMTP (`spool lmtp`, spool_lmtp.c).
 *
 * One process. The loop (main.c) is one thread with one epoll set; every socket is
 * non-blocking. TLS handshakes, the only work that costs real CPU per connection, run in a
 * pool of handshake threads (hspool.c, one per core by default): the loop admits a
 * connection (admit.c) once its whole ClientHello is in, starts its TLS server and hands it
 * to a worker, which runs the handshake on its own epoll set and hands the finished
 * session back; everything after the handshake (hello, yamux, SOCKS5, deliveries, metrics)
 * is the loop's. A tunnel belongs to exactly one thread at a time, and the two hand-overs
 * go through a mutex, so nothing else is shared.
 *
 * Objects that own a file descriptor embed a struct relay_ev that epoll hands back.
 * Objects are freed only at the end of a loop turn (relay_defer_free), so a handler may
 * close anything it touches.
 *
 * Limits: `limit NAME VALUE` lines (struct relay_limits; docs/protocol.md lists each with
 * its default and its cost). Fixed ones:
 *   RELAY_LOCATIONS_MAX        configured locations (about 560 B each, as configured)
 *   RELAY_TUNNELS_PER_LOC      live tunnels per location (HA)
 *   metrics.c                  8 scrapes at once, each holding its answer for at most 5 s
 * Memory per tunnel: see tunnel.c (one mapping whose pages are committed only while used;
 * about 28 KiB when idle with the default limits). */
#ifndef GW_RELAY_H
#define GW_RELAY_H

#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bearssl.h"
#include "hello_delivery.h"
#include "jws.h"
#include "jwt.h"
#include "lmtp.h"
#include "socks5.h"
#include "tls_io_fd.h"
#include "tls_server.h"
#include "yamux.h"

#define RELAY_TUNNELS_PER_LOC 4
#define RELAY_SOCKS_REPLY_MS 30000   /* the gateway's answer to a request */
#define RELAY_KEEPALIVE_MS 5000
#define RELAY_DEAD_MS 15000
#define RELAY_YAMUX_POOL_MAX (64u << 20)   /* receive pool per tunnel, at most */
#define RELAY_YAMUX_OUT (256u * 1024)
#define RELAY_SPLICE_UP 16384        /* per SOCKS5 client: client -> stream */
#define RELAY_SPLICE_DOWN 65536      /* stream -> client (socks.c: why larger) */
#define RELAY_LOCATIONS_MAX 65536
#define RELAY_LOC_BUCKETS 16384      /* chains of relay_location()'s index (128 KiB) */
#define RELAY_PATH_MAX 512
#define RELAY_REVOKED_MAX 65536      /* revoked gateway certificates: 32 B each, as used */
#define RELAY_PEER_MAX 24            /* "255.255.255.255:65535" */
#define RELAY_ISSUERS_MAX 64         /* jwt-issuer lines (about 2.9 KiB each) */
#define RELAY_ISSUER_KEYS_MAX 4      /* lines with one iss: the keys a token may be tried
                                        against (a rotation needs two) */
#define RELAY_CLAIM_MAX 64           /* the location claim's name, NUL included */
#define RELAY_AUD_MAX 256            /* the audience a jwt-issuer's tokens must name, NUL
                                        included */
#define RELAY_ISSUER_LOCS_MAX 1024   /* a jwt-issuer's `locations` list as written, NUL
                                        included (a configuration line is 1 KiB at most) */
#define RELAY_JWT_SKEW_DEFAULT 60    /* seconds of clock difference exp/nbf/iat allow */
#define RELAY_JWT_SKEW_MAX 600
#define RELAY_JWT_BUFS 1024          /* method 0x80 requests being read at once, past the
                                        first 779 bytes: up to 16.6 KiB each while read
                                        (17 MiB), grown as the bytes arrive, then freed */
#define RELAY_JWT_BUFS_PER_SOURCE 16 /* ... of them from one address: a flood needs 64
                                        addresses to take them all */

/* ---- the loop ---- */
struct relay_ev {
    int fd;
    uint32_t mask;               /* EPOLLIN/EPOLLOUT currently asked for */
    void (*fn)(struct relay_ev *ev, uint32_t events);
};

uint64_t relay_now_ms(void);
/* Milliseconds from then to now, 0 when then is later. The timers get one now for their
 * pass, and what they service on the way stamps relay_now_ms(), which may have moved on:
 * now - then would wrap, and a stream just served would look idle for 584 million years. */
static inline uint64_t relay_ms_since(uint64_t now, uint64_t then)
{
    return now > then ? now - then : 0;
}
int relay_ev_add(struct relay_ev *ev, int fd, uint32_t mask);
void relay_ev_mask(struct relay_ev *ev, uint32_t mask);
/* Out of the epoll set, without closing (the fd goes to another thread). */
void relay_ev_forget(struct relay_ev *ev);
/* Out of the epoll set and closed. */
void relay_ev_del(struct relay_ev *ev);
/* Free p (with fn) at the end of this loop turn. */
void relay_defer_free(void *p, void (*fn)(void *));
/* Start a helper thread (the handshake and fsync pools) with a stack of stack bytes
 * (untouched pages cost nothing) and every signal blocked: SIGTERM and SIGHUP are the
 * loop's. 0, or pthread_create's error. */
int relay_thread_start(pthread_t *th, void *(*fn)(void *), void *arg, size_t stack);

/* ---- limits ---- */
struct relay_limits {
    unsigned tunnels;            /* tunnel connections at once, in any state */
    unsigned handshakes;         /* connections not yet authenticated (accept to hello) */
    unsigned handshakes_per_source;  /* ... of them from one source address */
    unsigned handshake_threads;  /* 0: one per online CPU */
    unsigned first_byte_s;       /* the ClientHello's first byte, after accept */
    unsigned handshake_s;        /* accept to hello answered */
    unsigned socks;              /* SOCKS5 clients at once */
    unsigned socks_per_source;   /* ... not yet authenticated, from one source address */
    unsigned socks_auth_s;       /* greeting, authentication and request */
    unsigned socks_idle_s;       /* a connected stream with no byte either way */
    unsigned deliveries;         /* deliveries in flight over all locations */
    unsigned location_streams;   /* SOCKS5 streams of one location, over all its tunnels */
    unsigned location_deliveries;    /* deliveries of one location in flight */
    uint64_t location_spool_bytes;   /* in the location's spool (new/ and cur/) */
    unsigned location_spool_messages;
    unsigned delivery_stall_s;   /* a delivery that moves no byte this long is dropped */
    unsigned delivery_version;   /* the highest delivery version offered (1 or 2) */
    unsigned store_timeout_s;    /* spool lmtp: the store owes us a reply or room this long */
    unsigned stop_drain_s;       /* SIGTERM: deliveries in flight may end this long (0: none) */
};
extern const struct relay_limits relay_limits_default;

/* ---- configuration ---- */
struct location {
    char id[HELLO_LOCATION_MAX + 1];
    uint8_t token_sha256[32];
    char mailbox[LMTP_ADDR_MAX + 1];     /* spool lmtp: the recipient ("" with a Maildir) */
    int removed;                 /* gone from the file at a reload: its slot stays, unused */
    struct location *hash_next;  /* relay_location()'s chain */
    struct tunnel *live[RELAY_TUNNELS_PER_LOC];
    unsigned nlive, rr;
    unsigned streams;            /* SOCKS5 streams open (location_streams) */
    unsigned deliveries;         /* deliveries in flight (location_deliveries) */
    struct spool_index *index;   /* delivered SHA-256s (dedup) */
    uint64_t spool_bytes;        /* what new/ and cur/ hold, as last counted (quota) */
    unsigned spool_msgs;
    uint64_t spool_counted_ms;   /* when they were last counted from the directories */
    uint64_t socks_ok, socks_refused, delivered, duplicates;
};

/* `jwt-issuer ISS key FILE aud AUD locations ID[,ID...]|* [kid KID] [claim NAME]`: tokens
 * whose iss is ISS (and, with kid, whose header names KID) are checked against the key in
 * FILE; their aud must name AUD (an identity provider signs tokens for many applications);
 * the claim NAME (default "locations") names the locations the token may reach, of those
 * the line allows ("*": any). */
struct jwt_issuer {
    char iss[JWT_ISS_MAX];
    char kid[JWT_KID_MAX];       /* "" when any */
    char claim[RELAY_CLAIM_MAX];
    char aud[RELAY_AUD_MAX];
    char locations[RELAY_ISSUER_LOCS_MAX];   /* "*", or Location IDs joined by ',' */
    char path[RELAY_PATH_MAX];
    unsigned line;               /* in the configuration file, for messages */
    struct jws_key key;          /* loaded by relay_config_load (not by _parse): the PEM
                                    file is read then, and at each reload */
    uint8_t id[32];              /* SHA-256 of iss, kid, claim, aud and the key: what a session
                                    authenticated by it remembers (reload.c) */
};

struct relay_config {
    struct sockaddr_in listen, socks, metrics;
    int has_metrics;
    char cert[RELAY_PATH_MAX], key[RELAY_PATH_MAX], client_ca[RELAY_PATH_MAX];
    char spool[RELAY_PATH_MAX];  /* the Maildir root; "" with spool lmtp */
    int lmtp;                    /* spool lmtp: deliveries go to a mail store */
    char lmtp_target[RELAY_PATH_MAX];        /* as the file says: ADDR:PORT or unix:PATH */
    struct sockaddr_storage lmtp_addr;       /* ... resolved: IPv4 or a UNIX socket */
    unsigned lmtp_addr_len;
    char revoked_file[RELAY_PATH_MAX];       /* "" when none */
    struct relay_limits lim;
    struct location *locs;       /* locs_cap slots: as many as the file has lines; the
                                    running table RELAY_LOCATIONS_MAX (relay_config_reserve),
                                    committed as used */
    unsigned nlocs, locs_cap;
    struct location **hash;      /* RELAY_LOC_BUCKETS chains by Location ID */
    uint8_t (*revoked)[32];      /* SHA-256 of revoked gateway leaf certificates, sorted */
    unsigned nrevoked, revoked_cap;
    struct jwt_issuer *issuers;  /* SOCKS5 method 0x80 (jwtauth.c) */
    unsigned nissuers;
    unsigned jwt_skew_s;         /* `jwt-skew SECONDS` */
};

/* Parse FILE; on error, "FILE:LINE: reason" in err. Returns 0 or -1. */
int relay_config_load(struct relay_config *c, const char *path, char *err, size_t errlen);
/* The same on text in memory (relative paths against dir, messages naming name); it does
 * not look at the file system. relay_config_free() releases what either allocated. */
int relay_config_parse(struct relay_config *c, const char *text, size_t len, const char *dir,
                       const char *name, char *err, size_t errlen);
void relay_config_free(struct relay_config *c);
/* Make c's location table hold RELAY_LOCATIONS_MAX, for the running configuration that
 * reloads add to (before anything points at a location). 0, or -1 out of memory. */
int relay_config_reserve(struct relay_config *c);
/* relay --check: can this machine give what the limits need (descriptors, memory)? 0, or
 * -1 with the reasons, one per line, in err. */
int relay_config_fits(const struct relay_config *c, char *err, size_t errlen);
/* SIGHUP: read PATH again and apply what can change while running (reload.c). */
void relay_reload(const char *path);
/* 1 when the gateway certificate whose DER has this SHA-256 is revoked. */
int relay_revoked(const struct relay_config *c, const uint8_t sha[32]);
/* Load the TLS identity the config names; on error, the reason in err. */
int relay_identity_load(const struct relay_config *c, struct tls_server_identity *id,
                        char *err, size_t errlen);
/* The running location named id (removed ones are not), or NULL. */
struct location *relay_location(const char *id);
/* The location named id in c, removed ones included, or NULL. */
struct location *relay_location_in(const struct relay_config *c, const char *id);
/* Enter loc, one of c's, into its index (config parse, reload). */
void relay_location_index(struct relay_config *c, struct location *loc);
int relay_parse_addr(const char *s, struct sockaddr_in *a);
void relay_hex(const uint8_t *p, size_t n, char *out);

extern struct relay_config relay_cfg;
extern struct tls_server_identity relay_id;

/* ---- sockets ---- */
int relay_listen(const struct sockaddr_in *a);
/* A new non-blocking connection and its source, or -1 (none waiting; or out of
 * descriptors: then one waiting connection is accepted and closed, so the listener does
 * not spin). */
int relay_accept(int listen_fd, struct sockaddr_in *from);
void relay_sock_tune(int fd);
void relay_addr_name(const struct sockaddr_in *a, char *out, size_t cap);

/* ---- refusals (refuse.c): a counter per cause, and a log line at most once a second per
 * cause; the caller writes the line when refusal() says one is due ---- */
enum refusal {
    RF_TUNNELS,                  /* limit tunnels */
    RF_HANDSHAKES,               /* limit handshakes */
    RF_HANDSHAKES_SOURCE,        /* limit handshakes-per-source */
    RF_FIRST_BYTE,               /* no first byte within first-byte */
    RF_NOT_TLS,                  /* the first bytes are no TLS handshake record */
    RF_HANDSHAKE_TIME,           /* handshake and hello not done within handshake */
    RF_TLS,                      /* the TLS handshake failed */
    RF_MEMORY,                   /* no memory for a tunnel */
    RF_SOCKS,                    /* limit socks */
    RF_SOCKS_SOURCE,             /* limit socks-per-source */
    RF_SOCKS_AUTH_TIME,          /* no request within socks-auth */
    RF_SOCKS_IDLE,               /* no byte either way within socks-idle */
    RF_LOCATION_STREAMS,         /* limit location-streams */
    RF_DELIVERIES,               /* limit location-deliveries or deliveries */
    RF_SPOOL_QUOTA,              /* limit location-spool-bytes / -messages */
    RF_DELIVERY_STALL,           /* a delivery moved nothing within delivery-stall */
    RF_DESCRIPTORS,              /* out of file descriptors at accept */
    /* SOCKS5 method 0x80 (jwtauth.c): one cause per reason a token is refused */
    RF_JWT_TOO_LONG,             /* a JWT over 16 KiB declared */
    RF_JWT_BUFFERS,              /* RELAY_JWT_BUFS requests being read already */
    RF_JWT_SOURCE_BUFFERS,       /* RELAY_JWT_BUFS_PER_SOURCE from the client's address */
    RF_JWT_MALFORMED,            /* no compact JWS, or a Location ID that is no base64 ID */
    RF_JWT_ALG,                  /* alg none, HS*, or not the one the issuer's key allows */
    RF_JWT_ISSUER,               /* iss (and kid) of no jwt-issuer line */
    RF_JWT_SIGNATURE,            /* the signature does not verify */
    RF_JWT_NO_EXP,               /* no exp claim */
    RF_JWT_EXPIRED,              /* exp passed */
    RF_JWT_NOT_YET,              /* nbf not reached */
    RF_JWT_IAT,                  /* iat in the future, or after exp */
    RF_JWT_AUDIENCE,             /* aud does not name the issuer line's AUD */
    RF_JWT_LOCATION,             /* valid, but not for the location asked (0x05 at CONNECT) */
    RF_COUNT
};
/* Counts one refusal of cause c. Returns 0 when its log line is not due (one was written in
 * the last second), else 1 + how many were refused since the last line without one. */
unsigned refusal(enum refusal c);
const char *refusal_name(enum refusal c);       /* the metric's label: "first_byte" */
extern uint64_t relay_refusals[RF_COUNT];

/* ---- per-source counts (srclimit.c): connections not yet authenticated, by IPv4 source
 * address, in a table of fixed size (2 x its cap, 8 B a slot) ---- */
struct srclimit {
    struct src_slot *slots;
    unsigned cap, mask, used;
};
int srclimit_init(struct srclimit *sl, unsigned cap);
/* Count one for addr, unless addr has max already (then -1). */
int srclimit_take(struct srclimit *sl, uint32_t addr, unsigned max);
void srclimit_give(struct srclimit *sl, uint32_t addr);
unsigned srclimit_count(const struct srclimit *sl, uint32_t addr);

/* ---- admission of tunnel connections (admit.c): accept, per-source and global limits,
 * the first-byte deadline, waiting for the whole ClientHello; pending connections cost a
 * descriptor and ~100 B, nothing of TLS ---- */
void admit_start(int listen_fd);
/* Stopping: the listener closed (handshakes under way go on, refused at their end). */
void admit_stop(void);
void admit_timers(uint64_t now);
/* A connection admitted from src leaves the unauthenticated (authenticated or closed). */
void admit_release(uint32_t src);

/* ---- tunnels ---- */
enum stream_kind { SK_HELLO, SK_SOCKS, SK_DELIVERY };

enum tunnel_state {
    TUN_HANDSHAKE,               /* TLS handshake running, in a handshake thread */
    TUN_HELLO,                   /* TLS up, waiting for hello on the first stream */
    TUN_READY,                   /* carries streams */
    TUN_DEAD,                    /* closed, freed at the end of the turn */
};

struct tunnel {
    struct relay_ev ev;              /* first: the loop's */
    enum tunnel_state state;
    unsigned serial;
    uint32_t src;                    /* source address (network order) */
    int unauthenticated;             /* counted in handshakes and by its source */
    char peer[RELAY_PEER_MAX];
    struct location *loc;
    struct tunnel *prev, *next;      /* the loop's list (hello and ready) */
    struct tunnel *q_next;           /* the hand-over queues */
    struct tunnel *hs_prev, *hs_next;    /* a handshake thread's list */
    void *worker;                    /* the handshake thread that has it */
    int hs_timeout;                  /* set by the worker: the deadline passed */
    struct hello_rx *hello;
    uint8_t delivery_version;        /* agreed in hello: 1, or 2 (hash in a trailer) */
    uint64_t deadline_ms, opened_ms;
    uint64_t streams_total;
    uint8_t cert_sha256[32];         /* of the gateway's leaf, once the handshake is done */
    int dirty;
    struct tunnel *next_dirty;
    /* memory: one mapping (tunnel.c) */
    size_t map_len;
    void *ymem;
    size_t ymem_len;
    struct tls_peer_check *check;    /* NULL once the handshake is over */
    uint8_t *ibuf, *obuf;
    struct tls_io_fd_buf *iob;       /* socket buffers while they hold bytes (iobuf.c) */
    uint64_t moved;                  /* record bytes both ways since the last trim */
    uint64_t moved_seen;             /* moved at the last timer visit */
    int rx_dry;                      /* the socket had nothing since epoll's last EPOLLIN
                                        (in the loop: the handshake thread always reads) */
    int blocked;                     /* input waits for room in the receive pool */
    struct tunnel *next_blocked;
    struct tls_server tls;
    struct yamux_session ys;
};

/* A tunnel's memory under these limits: its mapping (address space) and what an idle one
 * commits. 0, or -1 when the limits cannot work (too many streams). */
int tunnel_sizes(const struct relay_limits *lim, size_t *map, size_t *idle);
/* Sets the tunnels' memory layout from relay_cfg's limits; 0 or -1. */
int tunnel_init(void);
/* A connection whose ClientHello is in: a tunnel, its TLS started, to a handshake
 * thread. The connection holds its handshake slot (admit.c) until hello is answered. */
void tunnel_start(int fd, uint32_t src, const char *peer, uint64_t deadline_ms);
/* Called by the loop for each tunnel a handshake thread hands back. */
void tunnel_handshake_ended(struct tunnel *t);
void tunnel_mark_dirty(struct tunnel *t);
void tunnel_run_dirty(void);
/* Work left after tunnel_run_dirty's rounds: the loop must not sleep on it. */
int tunnel_dirty_pending(void);
void tunnel_timers(uint64_t now);
/* After a reload: closes the tunnels whose certificate is now revoked or whose location
 * was removed. Returns how many. */
unsigned tunnel_recheck(void);
/* Stopping: GoAway on every tunnel (no new stream either way; those open go on), and from
 * now on a handshake that ends is refused. Returns the tunnels told. */
unsigned tunnel_goaway_all(void);
/* Stopped: every tunnel closed as a reload closes one (GoAway, close_notify, what is owed
 * flushed as far as the socket takes it). */
void tunnel_close_all(const char *why);
/* A live tunnel of loc for a new stream (round robin over those that can open), or NULL. */
struct tunnel *tunnel_pick(struct location *loc);
/* The tunnel's TLS over its socket (struct tls_io's calls, any thread), and giving the
 * socket buffers back once they are empty. */
long tunnel_io_send(void *arg, const uint8_t *p, size_t len);
long tunnel_io_recv(void *arg, uint8_t *p, size_t len);
long tunnel_io_flush(struct tunnel *t);
void tunnel_io_release(struct tunnel *t);

/* ---- handshake threads (hspool.c) ---- */
/* Starts n threads (0: one per online CPU); returns how many, or -1. */
int hspool_start(unsigned n);
/* Hand t (its TLS started, its fd out of the loop's epoll set) to a handshake thread; the
 * loop gets it back through tunnel_handshake_ended(). */
void hspool_submit(struct tunnel *t);
/* Handshakes at work in the threads. */
unsigned hspool_busy(void);

/* ---- the group commit's fsyncs (fsync_pool.c) ---- */
/* fsync fds[0..n) at once (the threads start at the first call with n > 1); errs[i]: 0 or
 * the errno of fds[i]'s fsync. Returns when all are done. The loop's thread only. */
void fsync_many(const int *fds, int *errs, size_t n);

/* ---- socket buffers (iobuf.c): struct tls_io_fd_buf (97 KiB) taken while a tunnel's
 * socket has bytes buffered, a free list per thread ---- */
struct tls_io_fd_buf *iobuf_get(void);
void iobuf_put(struct tls_io_fd_buf *b);

/* Stream owners: the first member of each is its kind; yamux_stream.user points at it.
 * They are told about stream events and about the tunnel going away. */
void socks_on_stream(void *owner, unsigned ev);
void socks_on_tunnel_gone(void *owner);
void delivery_start(struct tunnel *t, struct yamux_stream *st);
void delivery_on_stream(void *owner, unsigned ev);
void delivery_on_tunnel_gone(void *owner);
void delivery_timers(uint64_t now);
/* Commits, a group per location, the deliveries whose body ended in this turn of the event
 * loop, and answers them (the loop calls it once a turn, after the events). */
void delivery_commit_pending(void);

/* ---- SOCKS5 ---- */
int socks_init(void);
void socks_listener_start(int fd);
/* Stopping: the listener closed; clients already connected go on. */
void socks_listener_stop(void);
void socks_timers(uint64_t now);
/* After a reload: closes the SOCKS5 sessions whose credential is no longer configured (an
 * RFC 1929 token changed; a JWT whose issuer key was removed or rotated, or whose location
 * its issuer's line no longer allows; for both, the location removed), each with a log
 * line. Returns how many. */
unsigned socks_recheck(void);

/* ---- SOCKS5 method 0x80: JWT and Location ID (jwtauth.c) ---- */
enum jwtauth_class {
    JA_OK,                       /* the token is good for the location */
    JA_UNAUTHENTICATED,          /* the token is no good: 01 01, close */
    JA_UNAUTHORIZED,             /* a good token, but not for that location: 0x05 at CONNECT */
};
struct jwtauth {
    enum jwtauth_class cls;
    enum refusal rf;             /* the cause, when not JA_OK */
    char why[160];               /* for the log: "signature does not verify" ... */
    char location[HELLO_LOCATION_MAX + 1];   /* asked for, or taken from the claim */
    const struct jwt_issuer *issuer;         /* the key that verified, once it did */
};
/* Judge a method 0x80 request: the token (len bytes), the Location ID's base64 (loc_len
 * bytes, 0 for none), against c's issuers at wall-clock time now (seconds since 1970).
 * space (13.5 KiB) is where the token is decoded; it is wiped before the return. */
void jwtauth_check(const struct relay_config *c, struct jwt *space, const uint8_t *tok,
                   size_t len, const uint8_t *loc_b64, size_t loc_len, int64_t now,
                   struct jwtauth *out);
/* Does the issuer line allow the location (its `locations` list)? 1 or 0. */
int jwtauth_issuer_allows(const struct jwt_issuer *is, const char *location);
/* The issuer line whose id is this, or NULL (reload). */
const struct jwt_issuer *jwtauth_issuer_by_id(const struct relay_config *c,
                                              const uint8_t id[32]);

/* ---- spool (spool.c): a Maildir per location ---- */
int spool_prepare(struct location *loc, char *err, size_t errlen);
/* Does loc's spool have the message with this SHA-256? 0 no; 1 yes, durably; 2 it is in
 * new/, but the fsync that makes it last failed: spool_settle() before saying so. */
int spool_seen(const struct location *loc, const uint8_t sha[32]);
/* A message spool_seen() calls 2: fsync new/ again and record it. 0 when it now lasts (or
 * a consumer already took it), -1 (logged) when it still may not. */
int spool_settle(struct location *loc, const struct delivery *d);
/* Group commit, in two steps so that deliveries ending together share the fsyncs: each
 * (its file already fsynced) is renamed into new/ by spool_publish() (0, or -1 logged: it
 * stays in tmp/ for the caller to remove), then spool_commit_group() fsyncs new/ once and
 * appends all n to the index with one fsync. 0 when all n last, and only then may they be
 * answered "stored"; -1 (logged) when the fsync of new/ failed: all n stay in new/,
 * unsettled (spool_seen() 2), and are answered "error". */
int spool_publish(struct location *loc, const char *tmp_path, const struct delivery *d,
                  char *final_name, size_t cap);
int spool_commit_group(struct location *loc, const struct delivery *const *d,
                       const char *const *name, size_t n);
int spool_tmp_open(struct location *loc, const struct delivery *d, char *path, size_t cap);
/* Would a message of len bytes stay within the location's quota? 0, or -1 with why. The
 * counts are refreshed from the directories (at most once a second) before a refusal, so
 * a consumer that took messages away is seen. */
int spool_quota(struct location *loc, uint64_t len, char *why, size_t cap);

/* ---- spool lmtp (spool_lmtp.c): each delivery one LMTP transaction to the mail store, on
 * a non-blocking connection of its own from the loop, bounded by the deliveries limits ---- */
#define RELAY_TRACE_HEADER "X-Relay-Delivery"    /* the one header the relay prepends */
struct lmtp_tx;
/* Opens the store's transaction for d to loc's mailbox (the connection is under way). The
 * owner, a delivery, is then told delivery_store_room() whenever message bytes may go, and
 * delivery_store_done() once, with the outcome. NULL, with why, when it could not start. */
struct lmtp_tx *lmtp_tx_start(struct location *loc, const struct delivery *d, void *owner,
                              char *why, size_t cap);
/* How many message bytes lmtp_tx_write() takes now: 0 before the store asked for the
 * message, after its end, and while earlier bytes wait for the socket. */
size_t lmtp_tx_room(const struct lmtp_tx *tx);
/* n <= lmtp_tx_room(); they go out as the socket takes them. */
void lmtp_tx_write(struct lmtp_tx *tx, const uint8_t *p, size_t n);
/* The message is whole and checked: the end of data goes out (lmtp_tx_room() was not 0). */
void lmtp_tx_end(struct lmtp_tx *tx);
/* 1 while the store owes a reply or taking bytes (its timeout runs), 0 while the store waits
 * for the gateway's bytes. */
int lmtp_tx_waiting(const struct lmtp_tx *tx);
/* Gives up: the connection closes without the end of data, so the store keeps nothing
 * (after lmtp_tx_end it may have it: the trace header makes a second delivery a duplicate).
 * The owner hears nothing more. */
void lmtp_tx_abort(struct lmtp_tx *tx);
void lmtp_timers(uint64_t now);
/* The delivery's side (delivery.c). */
void delivery_store_room(void *owner);
/* status: stored, error (try again) or rejected (5xx); text for the log and the answer. */
void delivery_store_done(void *owner, enum delivery_status status, const char *text);

/* ---- metrics ---- */
struct relay_metrics {
    uint64_t tunnels_accepted, tunnels_up, tunnels_refused;
    uint64_t handshakes_done, handshake_failures, tunnel_closes;
    uint64_t socks_accepted, socks_auth_failed;
    uint64_t socks_jwt_ok;       /* method 0x80 clients whose token reached its location */
    uint64_t socks_reload_closes;    /* sessions whose credential a reload withdrew */
    uint64_t socks_replies[9];   /* by reply code; 9+ counted in [1] */
    uint64_t bytes_up, bytes_down;
    uint64_t deliveries_stored, deliveries_duplicate, deliveries_failed, deliveries_rejected;
    uint64_t spool_bytes;        /* over all locations, as last counted */
    uint64_t commit_groups;      /* group commits that lasted (one fsync of new/ each) */
    uint64_t commit_grouped;     /* the deliveries in them */
    uint64_t yamux_violations;
    uint64_t yamux_pool_resets;  /* streams reset for sitting on a full receive pool unread */
    uint64_t trims;              /* idle tunnels whose buffers' pages were given back */
    unsigned tunnels_open, tunnels_ready, handshakes_pending, socks_open, deliveries_open;
};
extern struct relay_metrics relay_m;
void metrics_listener_start(int fd);
/* Closes scrapers past their deadline. */
void metrics_timers(uint64_t now);

#endif
