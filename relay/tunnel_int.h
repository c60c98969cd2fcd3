/* A relay tunnel's insides, shared by tunnel.c (its mapping, life and service routine) and
 * tunnel_hello.c (who the gateway is: its certificate's purpose, its hello). Private to
 * the two. */
#ifndef RELAY_TUNNEL_INT_H
#define RELAY_TUNNEL_INT_H

#include "relay.h"

/* tunnel.c */
/* Closes t and logs why (rf < RF_COUNT: a refusal anyone can cause, counted and rate
 * limited). */
void tunnel_close(struct tunnel *t, const char *why, enum refusal rf);
/* Pushes what yamux has queued into TLS, and TLS to the socket: 1 moved, 0 not, -1 TLS
 * failed. */
int tunnel_push_output(struct tunnel *t);

/* tunnel_hello.c */
/* The gateway's leaf may open a tunnel: not revoked, meant for TLS clients. 0, or -1 with
 * why. Also sets t->cert_sha256. */
int tunnel_certificate_allowed(struct tunnel *t, char *why, size_t cap);
/* The first stream the gateway opens carries its hello: its receiver is t->hello. */
void tunnel_hello_start(struct tunnel *t, struct yamux_stream *st);
/* The hello stream has news: read, judge and answer (the tunnel becomes ready or closes),
 * or after the answer, drain it until it ends. */
void tunnel_hello_service(struct tunnel *t, void *hello);

#endif
