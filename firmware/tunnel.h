/* The tunnel service (issue 6): one tunnel to each configured relay, mutual TLS with the
 * device identity, yamux inside (proto/yamux.h), `hello` on the first stream; keepalive by
 * yamux ping, a dead link noticed within TUNNEL_DEAD_MS, reconnect with exponential backoff
 * and jitter (1 s to 60 s) forever. Streams the relay opens carry a SOCKS5 request that is
 * checked against the local mappings (mappings.h) before anything is connected.
 *
 * Streams the gateway opens (mail delivery, issue 7) go through tunnel_open(): the owner
 * reads and writes with yamux_read/yamux_write, half-closes with yamux_close and ends with
 * tunnel_release; the service calls cb with yamux_poll's events (YAMUX_EV_*), or with
 * TUNNEL_EV_GONE when the tunnel carrying the stream went down: the stream is then already
 * gone (do not release it). Owners should also retry their reads and writes on every
 * loop turn they get; tunnel_poll() moves the bytes.
 *
 * Memory per relay (CONFIG_RELAYS_MAX = 4 of them, static): one TLS connection (~52 KiB)
 * and one yamux block (1024 stream slots, a 512 KiB receive pool, a 64 KiB output queue:
 * ~660 KiB, touched only as far as it is used), plus the splices (splice.h). */
#ifndef GW_TUNNEL_H
#define GW_TUNNEL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "yamux.h"

#define TUNNEL_KEEPALIVE_MS 5000
#define TUNNEL_DEAD_MS 15000
#define TUNNEL_BACKOFF_MIN_MS 1000
#define TUNNEL_BACKOFF_MAX_MS 60000
#define TUNNEL_EV_GONE 0x100u

typedef void (*tunnel_stream_cb)(struct yamux_stream *st, unsigned events, void *arg);

/* (Re)start the tunnels from the running config (at boot, after a commit). */
void tunnel_start(void);
/* Every loop turn: pump TLS and yamux, dispatch stream events, keepalive, reconnect.
 * Returns 1 when work is left that should not wait for the next sleep. */
int tunnel_poll(void);
/* The gateway stops: each relay's tunnel gets GoAway and its TLS close (close_notify, then
 * the TCP FIN), so the relay routes no stream to a gateway that is gone. The caller runs
 * the loop while tunnel_closing() says those bytes are still on their way. */
void tunnel_stop(void);
int tunnel_closing(void);
/* For the board's receive reserve (board_set_rx_urgent): 1 for ARP and for frames from a
 * relay's address and port, which keep the tunnel moving when the pbuf pool runs low. */
int tunnel_frame_urgent(const uint8_t *frame, size_t len);
/* Tunnels up now (TLS done and hello answered). */
unsigned tunnel_up_count(void);
/* A gateway-opened stream on a live tunnel, or NULL (no tunnel up, or no stream slot). */
struct yamux_stream *tunnel_open(tunnel_stream_cb cb, void *arg);
/* 1 when tunnel_open() would give a stream now: a tunnel is up that takes one more (not
 * closing after a GoAway, a stream slot free) and an owner slot is free. */
int tunnel_can_open(void);
/* The delivery version its tunnel's hello agreed (docs/protocol.md 3.2): 1 or 2. */
unsigned tunnel_delivery_version(const struct yamux_stream *st);
/* The lowest delivery version of the tunnels up (1 with none): what a stream that
 * tunnel_open() may put on any of them can count on. */
unsigned tunnel_delivery_version_min(void);
/* The fewest deliveries in flight a tunnel up admits (its relay's hello answer, else
 * DELIVERY_WINDOW_DEFAULT; 1 with none): how deep a pipeline over any of them may be. */
unsigned tunnel_deliveries_min(void);
/* The owner is done with a stream from tunnel_open (yamux_release, and no more callbacks). */
void tunnel_release(struct yamux_stream *st);
/* The suite the first tunnel up agreed on and the code running it, as tls_engine_describe
 * says it (`show status`); 0 (buf untouched) when no tunnel is up. */
int tunnel_tls_describe(char *buf, size_t len);
/* `show tunnel`: each relay's state, last error, round-trip time, streams, bytes. */
void tunnel_show(void (*out)(const char *fmt, ...));

#endif
