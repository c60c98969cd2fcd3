/* see tls_conn.h */
#include <stdio.h>
#include <string.h>

#include "lwip/sys.h"
#include "lwip/timeouts.h"
#include "tls_conn.h"

static void on_deadline(void *arg);
static void on_tcp(struct tcp_stream *s, unsigned events, void *arg);
static void on_adopt_kick(void *arg);

/* The connection has ended: stop the timer, release TCP, tell the owner last (it may reuse
 * the struct from its callback). */
static void finish(struct tls_conn *c, unsigned event, int graceful)
{
    tls_conn_cb cb = c->cb;
    void *arg = c->arg;
    sys_untimeout(on_deadline, c);
    sys_untimeout(on_adopt_kick, c);
    if (graceful) {
        tcp_stream_close(&c->tcp);
    } else {
        tcp_stream_abort(&c->tcp);
    }
    c->state = TLS_CONN_IDLE;
    c->failed = event == TLS_CONN_FAILED;
    c->cb = NULL;
    if (cb != NULL) {
        cb(c, event, arg);
    }
}

static void fail_with(struct tls_conn *c, const char *verdict)
{
    snprintf(c->verdict, sizeof c->verdict, "%s", verdict);
    finish(c, TLS_CONN_FAILED, 0);
}

static void on_deadline(void *arg)
{
    struct tls_conn *c = arg;
    if (c->state == TLS_CONN_CLOSING) {
        finish(c, TLS_CONN_CLOSED, 0);       /* the peer never took our close_notify */
    } else if (c->state == TLS_CONN_HANDSHAKE) {
        fail_with(c, "handshake failed: timed out");
    } else if (c->state == TLS_CONN_CONNECTING) {
        fail_with(c, "connect failed: connection timed out");
    }
}

/* Move records, then tell the owner what changed. */
static void advance(struct tls_conn *c, unsigned tcp_events)
{
    enum tls_state st = tls_client_pump(&c->tls);
    unsigned ev = 0;
    if (st == TLS_ST_FAILED) {
        snprintf(c->verdict, sizeof c->verdict, "%s", tls_client_verdict(&c->tls));
        finish(c, TLS_CONN_FAILED, 0);
        return;
    }
    if (c->state == TLS_CONN_HANDSHAKE && st != TLS_ST_HANDSHAKE) {
        c->handshake_ms = sys_now() - c->started_ms;
        snprintf(c->verdict, sizeof c->verdict, "%s", tls_client_verdict(&c->tls));
        sys_untimeout(on_deadline, c);
        c->state = TLS_CONN_ESTABLISHED;
        ev |= TLS_CONN_OPEN | TLS_CONN_WRITABLE;
    }
    if (c->state == TLS_CONN_CLOSING) {
        /* FIN only once the engine handed every record (close_notify last) to TCP */
        if (!(tls_client_wants(&c->tls) & TLS_WANT_WRITE)) {
            finish(c, TLS_CONN_CLOSED, 1);
        }
        return;
    }
    if (c->state != TLS_CONN_ESTABLISHED) {
        return;
    }
    if (st == TLS_ST_CLOSED) {
        ev |= TLS_CONN_READABLE;             /* the owner reads EOF */
    }
    if (tcp_events & TCP_STREAM_READABLE) {
        ev |= TLS_CONN_READABLE;
    }
    if (tcp_events & TCP_STREAM_WRITABLE) {
        ev |= TLS_CONN_WRITABLE;
    }
    if (ev && c->cb) {
        c->cb(c, ev, c->arg);
    }
}

static void on_tcp(struct tcp_stream *s, unsigned events, void *arg)
{
    struct tls_conn *c = arg;
    (void)s;
    if (events & TCP_STREAM_FAILED) {
        if (c->state == TLS_CONN_CLOSING) {
            c->tcp.pcb = NULL;
            finish(c, TLS_CONN_CLOSED, 0);
            return;
        }
        if (c->state == TLS_CONN_ESTABLISHED && c->tls.engine.state == TLS_ST_CLOSED) {
            /* The peer's close_notify came before the reset: what it sent is whole. The
             * owner reads it to the end (then EOF) and closes; nothing more can be sent. */
            c->peer_gone = 1;
            if (c->cb != NULL) {
                c->cb(c, TLS_CONN_READABLE, c->arg);
            }
            return;
        }
        char v[VERDICT_MAX];
        snprintf(v, sizeof v, "%s: %s", c->state == TLS_CONN_CONNECTING ? "connect failed"
                 : c->state == TLS_CONN_HANDSHAKE ? "handshake failed" : "connection lost",
                 tcp_stream_fail_text((enum tcp_stream_fail)c->tcp.fail));
        fail_with(c, v);
        return;
    }
    if (c->state == TLS_CONN_CONNECTING && (events & TCP_STREAM_CONNECTED)) {
        c->state = TLS_CONN_HANDSHAKE;
        c->tcp_up = 1;
    }
    advance(c, events);
}

/* What open and adopt share: names, time, the engine. 0, or -1 with the verdict set. */
static int setup(struct tls_conn *c, const struct tls_client_config *cfg)
{
    memset(c, 0, offsetof(struct tls_conn, tls));
    c->cfg = *cfg;
    c->started_ms = sys_now();
    c->failed = 1;
    if (cfg->host == NULL || strlen(cfg->host) >= sizeof c->host ||
        (cfg->sni != NULL && strlen(cfg->sni) >= sizeof c->sni)) {
        snprintf(c->verdict, sizeof c->verdict, "name longer than %d characters",
                 TLS_CONN_HOST_MAX - 1);
        return -1;
    }
    snprintf(c->host, sizeof c->host, "%s", cfg->host);
    c->cfg.host = c->host;
    if (cfg->sni != NULL) {
        snprintf(c->sni, sizeof c->sni, "%s", cfg->sni);
        c->cfg.sni = c->sni;
    }
    if (cfg->now < VERIFY_TIME_MIN) {
        snprintf(c->verdict, sizeof c->verdict, TLS_CONN_TIME_INVALID);
        return -1;
    }
    static const struct tls_io io = { tcp_stream_io_send, tcp_stream_io_recv, NULL };
    struct tls_io tio = io;
    tio.arg = &c->tcp;
    if (tls_client_start(&c->tls, &c->cfg, &tio) != 0) {
        snprintf(c->verdict, sizeof c->verdict, "%s", tls_client_verdict(&c->tls));
        return -1;
    }
    c->failed = 0;
    return 0;
}

/* see tls_conn.h */
int tls_conn_open(struct tls_conn *c, const ip_addr_t *addr, uint16_t port,
                  const struct tls_client_config *cfg, tls_conn_cb cb, void *arg)
{
    if (setup(c, cfg) != 0) {
        return -1;
    }
    c->cb = cb;
    c->arg = arg;
    c->state = TLS_CONN_CONNECTING;
    if (tcp_stream_connect(&c->tcp, addr, port, TLS_CONN_TIMEOUT_MS, on_tcp, c) != 0) {
        snprintf(c->verdict, sizeof c->verdict, "connect failed: %s",
                 c->tcp.fail ? tcp_stream_fail_text((enum tcp_stream_fail)c->tcp.fail)
                             : "no free TCP connection");
        c->state = TLS_CONN_IDLE;
        c->cb = NULL;
        c->failed = 1;
        return -1;
    }
    sys_timeout(TLS_CONN_TIMEOUT_MS, on_deadline, c);
    return 0;
}

/* The first pump of an adopted stream, from the loop: never inside the plain stream's own
 * callback, where a failure would free the pcb under lwIP's feet. */
static void on_adopt_kick(void *arg)
{
    advance(arg, TCP_STREAM_READABLE | TCP_STREAM_WRITABLE);
}

/* see tls_conn.h */
int tls_conn_adopt(struct tls_conn *c, struct tcp_stream *plain,
                   const struct tls_client_config *cfg, tls_conn_cb cb, void *arg)
{
    if (!tcp_stream_alive(plain) || setup(c, cfg) != 0) {
        if (!c->verdict[0]) {
            snprintf(c->verdict, sizeof c->verdict, "connection lost");
        }
        c->failed = 1;
        return -1;
    }
    tcp_stream_move(&c->tcp, plain, on_tcp, c);
    c->cb = cb;
    c->arg = arg;
    c->tcp_up = 1;
    c->state = TLS_CONN_HANDSHAKE;
    sys_timeout(TLS_CONN_TIMEOUT_MS, on_deadline, c);
    sys_timeout(0, on_adopt_kick, c);
    return 0;
}

/* see tls_conn.h */
long tls_conn_read(struct tls_conn *c, uint8_t *buf, size_t len)
{
    if (c->state != TLS_CONN_ESTABLISHED) {
        return c->failed ? TLS_IO_ERROR : c->state == TLS_CONN_IDLE ? TLS_IO_EOF : 0;
    }
    return tls_client_read(&c->tls, buf, len);
}

/* see tls_conn.h */
long tls_conn_write(struct tls_conn *c, const uint8_t *p, size_t len)
{
    if (c->peer_gone) {
        return TLS_IO_ERROR;
    }
    if (c->state != TLS_CONN_ESTABLISHED) {
        return c->state == TLS_CONN_IDLE || c->state == TLS_CONN_CLOSING ? TLS_IO_ERROR : 0;
    }
    return tls_client_write(&c->tls, p, len);
}

/* see tls_conn.h */
size_t tls_conn_write_room(struct tls_conn *c)
{
    size_t room = 0;
    if (c->state != TLS_CONN_ESTABLISHED ||
        br_ssl_engine_sendapp_buf(&c->tls.cc.eng, &room) == NULL) {
        return 0;
    }
    return room;
}

/* see tls_conn.h */
void tls_conn_close(struct tls_conn *c)
{
    if (c->state == TLS_CONN_IDLE || c->state == TLS_CONN_CLOSING) {
        return;
    }
    if (c->state != TLS_CONN_ESTABLISHED) {
        finish(c, TLS_CONN_CLOSED, 0);       /* nothing agreed yet: nothing to close */
        return;
    }
    if (c->peer_gone) {
        finish(c, TLS_CONN_CLOSED, 0);       /* the TCP connection is gone already */
        return;
    }
    c->state = TLS_CONN_CLOSING;
    sys_untimeout(on_deadline, c);
    sys_timeout(TLS_CONN_TIMEOUT_MS, on_deadline, c);
    tls_client_close(&c->tls);
    advance(c, 0);
}

/* see tls_conn.h */
void tls_conn_abort(struct tls_conn *c)
{
    if (c->state == TLS_CONN_IDLE) {
        return;
    }
    c->cb = NULL;
    finish(c, TLS_CONN_CLOSED, 0);
}

/* see tls_conn.h */
void tls_conn_fail(struct tls_conn *c, const char *verdict)
{
    if (c->state != TLS_CONN_IDLE) {
        fail_with(c, verdict);
    }
}

/* see tls_conn.h */
const char *tls_conn_verdict(const struct tls_conn *c)
{
    return c->verdict;
}
