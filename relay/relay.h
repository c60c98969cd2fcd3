/* relay: the cloud side. Holds the gateways' tunnels (mutual TLS, yamux), offers SOCKS5 to
 * cloud applications and writes mail the gateways deliver into a Maildir spool.
 *
 * One process, one thread, one epoll loop; every socket is non-blocking. Objects that own a
 * file descriptor embed a struct relay_ev that epoll hands back. Objects are freed only at
 * the end of a loop turn (relay_defer_free), so a handler may close anything it touches.
 *
 * Limits (the memory each costs):
 *   RELAY_TUNNELS_MAX          tunnels at once; each 44 KiB of TLS (struct tls_server),
 *                              17 KiB of struct tunnel, and a yamux block: stream table
 *                              80 KiB (1024 x 80 B), output queue up to 256 KiB and receive
 *                              pool up to RELAY_YAMUX_POOL, both committed only as used
 *   RELAY_HANDSHAKES_MAX       tunnels still in TLS handshake or hello (rathole #508):
 *                              more are closed at accept
 *   RELAY_SOCKS_MAX            SOCKS5 clients at once; each ~1 KiB idle, plus a 16 KiB
 *                              splice buffer for each direction that holds bytes
 *   RELAY_TUNNELS_PER_LOC      live tunnels per location (HA)
 *   metrics.c                  8 scrapes at once, each holding its answer (at most
 *                              64 KiB) for at most 5 s */
#ifndef GW_RELAY_H
#define GW_RELAY_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "bearssl.h"
#include "hello_delivery.h"
#include "socks5.h"
#include "tls_io_fd.h"
#include "tls_server.h"
#include "yamux.h"

#define RELAY_TUNNELS_MAX 256
#define RELAY_HANDSHAKES_MAX 64
#define RELAY_HANDSHAKE_MS 10000     /* TLS handshake and hello, together */
#define RELAY_SOCKS_MAX 4096
#define RELAY_SOCKS_HANDSHAKE_MS 10000   /* greeting, auth and request */
#define RELAY_SOCKS_REPLY_MS 30000   /* the gateway's answer to a request */
#define RELAY_TUNNELS_PER_LOC 4
#define RELAY_STREAMS_PER_TUNNEL 1024
#define RELAY_YAMUX_POOL (64u << 20)
#define RELAY_YAMUX_OUT (256u * 1024)
#define RELAY_KEEPALIVE_MS 5000
#define RELAY_DEAD_MS 15000
#define RELAY_SPLICE_BUF 16384       /* each way, per SOCKS5 client */
#define RELAY_LOCATIONS_MAX 1024
#define RELAY_PATH_MAX 512
#define RELAY_REVOKED_MAX 65536      /* revoked gateway certificates: 32 B each, as used */

/* ---- the loop ---- */
struct relay_ev {
    int fd;
    uint32_t mask;               /* EPOLLIN/EPOLLOUT currently asked for */
    void (*fn)(struct relay_ev *ev, uint32_t events);
};

uint64_t relay_now_ms(void);
int relay_ev_add(struct relay_ev *ev, int fd, uint32_t mask);
void relay_ev_mask(struct relay_ev *ev, uint32_t mask);
void relay_ev_del(struct relay_ev *ev);
/* Free p (with fn) at the end of this loop turn. */
void relay_defer_free(void *p, void (*fn)(void *));

/* ---- configuration ---- */
struct location {
    char id[HELLO_LOCATION_MAX + 1];
    uint8_t token_sha256[32];
    int removed;                 /* gone from the file at a reload: its slot stays, unused */
    struct tunnel *live[RELAY_TUNNELS_PER_LOC];
    unsigned nlive, rr;
    struct spool_index *index;   /* delivered SHA-256s (dedup) */
    uint64_t socks_ok, socks_refused, delivered, duplicates;
};

struct relay_config {
    struct sockaddr_in listen, socks, metrics;
    int has_metrics;
    char cert[RELAY_PATH_MAX], key[RELAY_PATH_MAX], client_ca[RELAY_PATH_MAX];
    char spool[RELAY_PATH_MAX];
    char revoked_file[RELAY_PATH_MAX];       /* "" when none */
    struct location *locs;
    unsigned nlocs;
    uint8_t (*revoked)[32];      /* SHA-256 of revoked gateway leaf certificates, sorted */
    unsigned nrevoked, revoked_cap;
};

/* Parse FILE; on error, "FILE:LINE: reason" in err. Returns 0 or -1. */
int relay_config_load(struct relay_config *c, const char *path, char *err, size_t errlen);
/* The same on text in memory (relative paths against dir, messages naming name); it does
 * not look at the file system. relay_config_free() releases what either allocated. */
int relay_config_parse(struct relay_config *c, const char *text, size_t len, const char *dir,
                       const char *name, char *err, size_t errlen);
void relay_config_free(struct relay_config *c);
/* SIGHUP: read PATH again and apply what can change while running (reload.c). */
void relay_reload(const char *path);
/* 1 when the gateway certificate whose DER has this SHA-256 is revoked. */
int relay_revoked(const struct relay_config *c, const uint8_t sha[32]);
/* Load the TLS identity the config names; on error, the reason in err. */
int relay_identity_load(const struct relay_config *c, struct tls_server_identity *id,
                        char *err, size_t errlen);
struct location *relay_location(const char *id);
int relay_parse_addr(const char *s, struct sockaddr_in *a);
void relay_hex(const uint8_t *p, size_t n, char *out);

extern struct relay_config relay_cfg;
extern struct tls_server_identity relay_id;

/* ---- sockets ---- */
int relay_listen(const struct sockaddr_in *a);
/* A new non-blocking connection, or -1 (none waiting; or out of descriptors: then one
 * waiting connection is accepted and closed, so the listener does not spin). */
int relay_accept(int listen_fd);
void relay_sock_tune(int fd);
void relay_peer_name(int fd, char *out, size_t cap);

/* ---- tunnels ---- */
enum stream_kind { SK_HELLO, SK_SOCKS, SK_DELIVERY };

enum tunnel_state {
    TUN_HANDSHAKE,               /* TLS handshake running */
    TUN_HELLO,                   /* TLS up, waiting for hello on the first stream */
    TUN_READY,                   /* carries streams */
    TUN_DEAD,                    /* closed, freed at the end of the turn */
};

struct tunnel {
    struct relay_ev ev;
    enum tunnel_state state;
    unsigned serial;
    char peer[64];
    struct location *loc;
    struct tls_server *tls;
    struct tls_io_fd_buf io;         /* the socket, read ahead and sent in gathered records */
    struct yamux_session ys;
    void *ymem;
    size_t ymem_len;
    uint8_t in[16384];
    size_t in_len, in_off;
    struct hello_rx *hello;
    char hostname[HELLO_TEXT_MAX + 1], firmware[HELLO_TEXT_MAX + 1];
    uint64_t deadline_ms, opened_ms;
    uint64_t streams_total;
    uint8_t cert_sha256[32];         /* of the gateway's leaf, once the handshake is done */
    int dirty;
    struct tunnel *next_dirty;
};

void tunnel_listener_start(int fd);
void tunnel_mark_dirty(struct tunnel *t);
void tunnel_run_dirty(void);
/* Work left after tunnel_run_dirty's rounds: the loop must not sleep on it. */
int tunnel_dirty_pending(void);
void tunnel_timers(uint64_t now);
/* After a reload: closes the tunnels whose certificate is now revoked or whose location
 * was removed. Returns how many. */
unsigned tunnel_recheck(void);
/* A live tunnel of loc for a new stream (round robin over those that can open), or NULL. */
struct tunnel *tunnel_pick(struct location *loc);

/* Stream owners: the first member of each is its kind; yamux_stream.user points at it.
 * They are told about stream events and about the tunnel going away. */
void socks_on_stream(void *owner, unsigned ev);
void socks_on_tunnel_gone(void *owner);
void delivery_start(struct tunnel *t, struct yamux_stream *st);
void delivery_on_stream(void *owner, unsigned ev);
void delivery_on_tunnel_gone(void *owner);

/* ---- SOCKS5 ---- */
void socks_listener_start(int fd);
void socks_timers(uint64_t now);

/* ---- spool ---- */
int spool_prepare(struct location *loc, char *err, size_t errlen);
int spool_seen(const struct location *loc, const uint8_t sha[32]);
/* Move tmp_name into new/ durably and record it; returns 0 or -1 (logged). */
int spool_commit(struct location *loc, const char *tmp_path, const struct delivery *d,
                 char *final_name, size_t cap);
int spool_tmp_open(struct location *loc, const struct delivery *d, char *path, size_t cap);

/* ---- metrics ---- */
struct relay_metrics {
    uint64_t tunnels_accepted, tunnels_up, tunnels_refused, handshakes_refused;
    uint64_t handshake_failures, tunnel_closes;
    uint64_t socks_accepted, socks_refused_limit, socks_auth_failed;
    uint64_t socks_replies[9];   /* by reply code; 9+ counted in [1] */
    uint64_t bytes_up, bytes_down;
    uint64_t deliveries_stored, deliveries_duplicate, deliveries_failed;
    uint64_t yamux_violations;
    uint64_t yamux_pool_resets;  /* streams reset for sitting on a full receive pool unread */
    unsigned tunnels_open, handshakes_pending, socks_open, deliveries_open;
};
extern struct relay_metrics relay_m;
void metrics_listener_start(int fd);
/* Closes scrapers past their deadline. */
void metrics_timers(uint64_t now);

#endif
