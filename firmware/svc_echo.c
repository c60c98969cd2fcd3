/* see svc_echo.h */
#include <string.h>

#include "log.h"
#include "lwip/tcp.h"
#include "svc_echo.h"
#include "tcp_stream.h"

struct echo_conn {
    struct tcp_stream ts;
    uint8_t in_use;
};

static struct echo_conn conns[ECHO_MAX_CONNS];
static struct echo_stats stats;

static void echo_release(struct echo_conn *c)
{
    c->in_use = 0;
    stats.active--;
}

/* Move what was received into the send buffer, no more than fits: what stays unread is not
 * acknowledged, so the client's window closes until we catch up. */
static void echo_pump(struct echo_conn *c)
{
    uint8_t buf[TCP_MSS];
    for (;;) {
        size_t room = tcp_stream_room(&c->ts);
        if (room > sizeof buf) {
            room = sizeof buf;
        }
        if (room == 0) {
            return; /* WRITABLE will call again */
        }
        long n = tcp_stream_recv(&c->ts, buf, room);
        if (n == 0) {
            return;
        }
        if (n == TCP_STREAM_EOF) {
            tcp_stream_close(&c->ts); /* sends our FIN after the queued echo */
            echo_release(c);
            return;
        }
        if (n < 0 || tcp_stream_send(&c->ts, buf, (size_t)n) != n) {
            tcp_stream_abort(&c->ts); /* cannot happen: room was checked */
            echo_release(c);
            return;
        }
        stats.bytes += (uint64_t)n;
    }
}

static void echo_event(struct tcp_stream *ts, unsigned events, void *arg)
{
    struct echo_conn *c = arg;
    (void)ts;
    if (events & TCP_STREAM_FAILED) {
        echo_release(c);
        return;
    }
    echo_pump(c);
}

static err_t echo_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || pcb == NULL) {
        return ERR_VAL;
    }
    for (int i = 0; i < ECHO_MAX_CONNS; i++) {
        struct echo_conn *c = &conns[i];
        if (!c->in_use) {
            c->in_use = 1;
            stats.active++;
            stats.accepted++;
            tcp_stream_accept(&c->ts, pcb, echo_event, c);
            return ERR_OK;
        }
    }
    stats.refused++;
    tcp_abort(pcb);
    return ERR_ABRT;
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
