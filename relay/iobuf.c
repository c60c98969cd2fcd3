/* Socket buffers for tunnels (relay.h): the read-ahead and the gathered records of
 * tls_io_fd.h (struct tls_io_fd_buf, 97 KiB: two full records read ahead, four gathered
 * to send) are needed only while a tunnel moves data, so
 * a tunnel takes one when its TLS first reads or writes in a service round and gives it
 * back when both halves are empty again (tunnel_io_release). An idle tunnel holds none.
 * Each thread (the loop, each handshake thread) keeps its own free list, at most
 * SPARES_KEPT buffers (1.5 MiB); a buffer taken in one thread may be given back in another.
 * A busy tunnel gives its buffer back at the end of each service that left it empty, so a
 * thread needs few spares at once: more would only keep memory the bursts needed.
 * What is committed is what the busiest moment needed, not what 10,000 tunnels would. */
#include <stdlib.h>

#include "relay.h"

#define SPARES_KEPT 16

struct spare {
    struct spare *next;
};

static __thread struct spare *spares;
static __thread unsigned nspares;

/* see relay.h */
struct tls_io_fd_buf *iobuf_get(void)
{
    struct tls_io_fd_buf *b;
    if (spares) {
        b = (struct tls_io_fd_buf *)(void *)spares;
        spares = spares->next;
        nspares--;
    } else if ((b = malloc(sizeof *b)) == NULL) {
        return NULL;
    }
    b->fd = -1;
    b->roff = b->rlen = b->woff = b->wlen = 0;
    return b;
}

/* see relay.h */
void iobuf_put(struct tls_io_fd_buf *b)
{
    if (b == NULL) {
        return;
    }
    if (nspares < SPARES_KEPT) {
        struct spare *s = (struct spare *)(void *)b;
        s->next = spares;
        spares = s;
        nspares++;
    } else {
        free(b);
    }
}
