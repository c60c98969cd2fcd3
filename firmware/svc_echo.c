/* see svc_echo.h */
#include <string.h>

#include "log.h"
#include "lwip/tcp.h"
#include "svc_echo.h"

struct echo_conn {
    struct tcp_pcb *pcb;
    struct pbuf *pending;   /* received, not yet written back (at most one window) */
    int peer_closed;        /* the client sent FIN: close once pending is written */
};

static struct echo_conn conns[ECHO_MAX_CONNS];
static struct echo_stats stats;

static void echo_detach(struct echo_conn *c)
{
    tcp_arg(c->pcb, NULL);
    tcp_recv(c->pcb, NULL);
    tcp_sent(c->pcb, NULL);
    tcp_err(c->pcb, NULL);
    if (c->pending) {
        pbuf_free(c->pending);
    }
    memset(c, 0, sizeof *c);
    stats.active--;
}

/* Close gracefully; returns ERR_ABRT if we had to abort instead (callers pass it up). */
static err_t echo_close(struct echo_conn *c)
{
    struct tcp_pcb *pcb = c->pcb;
    echo_detach(c);
    if (tcp_close(pcb) != ERR_OK) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    return ERR_OK;
}

/* Write back as much pending data as the send buffer takes, and acknowledge exactly that
 * much to the client. Closes when the client is done and everything went back. */
static err_t echo_flush(struct echo_conn *c)
{
    u32_t done = 0;
    while (c->pending != NULL) {
        u16_t room = tcp_sndbuf(c->pcb);
        u16_t n = c->pending->len < room ? c->pending->len : room;
        if (n == 0) {
            break;
        }
        err_t err = tcp_write(c->pcb, c->pending->payload, n, TCP_WRITE_FLAG_COPY);
        if (err == ERR_MEM) {
            break; /* segments or heap short for now: the sent callback retries */
        }
        if (err != ERR_OK) {
            log_warnx("%s: tcp_write failed: %s", __func__, lwip_strerr(err));
            struct tcp_pcb *pcb = c->pcb;
            echo_detach(c);
            tcp_abort(pcb);
            return ERR_ABRT;
        }
        c->pending = pbuf_free_header(c->pending, n);
        done += n;
    }
    if (done) {
        stats.bytes += done;
        tcp_recved(c->pcb, (u16_t)done);
        tcp_output(c->pcb);
    }
    if (c->pending == NULL && c->peer_closed) {
        return echo_close(c);
    }
    return ERR_OK;
}

static err_t echo_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct echo_conn *c = arg;
    (void)pcb;
    if (p == NULL || err != ERR_OK) {
        if (p) {
            pbuf_free(p);
        }
        c->peer_closed = 1;
        return echo_flush(c);
    }
    /* Unacknowledged data is bounded by our receive window, so this chain is too. */
    if (c->pending) {
        pbuf_cat(c->pending, p);
    } else {
        c->pending = p;
    }
    return echo_flush(c);
}

static err_t echo_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)pcb;
    (void)len;
    return echo_flush(arg);
}

static void echo_err(void *arg, err_t err)
{
    struct echo_conn *c = arg;
    (void)err;
    /* lwIP already freed the pcb. */
    if (c->pending) {
        pbuf_free(c->pending);
    }
    memset(c, 0, sizeof *c);
    stats.active--;
}

static err_t echo_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || pcb == NULL) {
        return ERR_VAL;
    }
    struct echo_conn *c = NULL;
    for (int i = 0; i < ECHO_MAX_CONNS; i++) {
        if (conns[i].pcb == NULL) {
            c = &conns[i];
            break;
        }
    }
    if (c == NULL) {
        stats.refused++;
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    c->pcb = pcb;
    stats.active++;
    stats.accepted++;
    tcp_arg(pcb, c);
    tcp_recv(pcb, echo_recv);
    tcp_sent(pcb, echo_sent);
    tcp_err(pcb, echo_err);
    return ERR_OK;
}

/* see svc_echo.h */
int echo_start(uint16_t port)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
    if (pcb == NULL) {
        return ERR_MEM;
    }
    err_t err = tcp_bind(pcb, IP_ANY_TYPE, port);
    if (err != ERR_OK) {
        tcp_close(pcb);
        return err;
    }
    struct tcp_pcb *lpcb = tcp_listen_with_backlog(pcb, ECHO_MAX_CONNS);
    if (lpcb == NULL) {
        tcp_close(pcb);
        return ERR_MEM;
    }
    tcp_accept(lpcb, echo_accept);
    return ERR_OK;
}

/* see svc_echo.h */
void echo_get_stats(struct echo_stats *st)
{
    *st = stats;
}
