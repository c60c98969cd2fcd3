/* Streams the relay opens on a tunnel: each starts with the cloud client's SOCKS5 request
 * (RFC 1928: VER CMD RSV ATYP DST.ADDR DST.PORT, as the client sent it). The gateway checks
 * it against its own mappings, connects to the internal host (plain for `tcp`, TLS with the
 * trust store and the internal name for `tls`), answers with an RFC 1928 reply, and then
 * splices bytes both ways, half-close included. A request for anything no mapping names is
 * refused (0x02) before any connection is made: the relay is never trusted blindly.
 *
 * A commit that changes the mapping list is felt by every stream at its next step: each
 * finds its mapping again by virtual host:port and goes on only if that mapping is exactly
 * the one it was checked against (mappings_fingerprint); otherwise a stream still starting
 * is refused (0x02) and an open one is closed (RST both ways) with a log line, since the
 * operator withdrew or changed the permission. Indexes are never trusted across a commit.
 *
 * Replies: 0x00 ok, 0x02 no mapping, 0x04 internal host unreachable or TLS to it failed,
 * 0x05 refused, 0x06 timeout, 0x01 no resources; request parse errors as socks5_err_reply.
 *
 * Memory: SPLICE_MAX splices, ~0.6 KiB each (a request buffer and a dial, dial.h), static;
 * data is never buffered here: it goes from yamux's receive pool straight into TCP (or the
 * TLS engine), and from there into yamux's output queue, as far as the other side has room. */
#ifndef GW_SPLICE_H
#define GW_SPLICE_H

#include "lwipopts.h"
#include "yamux.h"

#define SPLICE_MAX GW_TCP_CONN_MAX    /* cloud streams open at once (1024), all tunnels */
#define SPLICE_REQUEST_MS 10000      /* the SOCKS5 request must arrive within this */
#define SPLICE_LINGER_MS 5000        /* after a refusal: time for the relay to read it */

/* A stream the relay opened on link's session: the splice owns it from now on (a full
 * table resets it). */
void splice_accept(struct yamux_stream *st, const void *link);
/* Advance every splice (tunnel_poll, once a turn): 1 when bytes moved or states changed. */
int splice_poll(uint32_t now_ms);
/* link's session is going away: drop its splices (their streams die with the session). */
void splice_link_down(const void *link);
/* Splices in use now, and how many streams were refused since boot. */
unsigned splice_in_use(void);
/* The receive window each of open plain splices offers its internal host: their share of
 * the pbuf pool beyond the board's reserves, in whole segments, at least two, at most
 * TCP_WND. */
uint32_t splice_window_for(unsigned open);
unsigned splice_refused(void);

#endif
