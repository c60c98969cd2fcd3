/* see tls_io_fd.h */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "tls_io_fd.h"
#include "tls_engine.h"

static long result(ssize_t n)
{
    if (n < 0) {
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : TLS_IO_ERROR;
    }
    return (long)n;
}

/* see tls_io_fd.h */
long tls_io_fd_send(void *arg, const uint8_t *p, size_t len)
{
    return result(send(*(const int *)arg, p, len, MSG_NOSIGNAL | MSG_DONTWAIT));
}

/* see tls_io_fd.h */
long tls_io_fd_recv(void *arg, uint8_t *p, size_t len)
{
    ssize_t n = recv(*(const int *)arg, p, len, MSG_DONTWAIT);
    return n == 0 ? TLS_IO_EOF : result(n);
}

/* see tls_io_fd.h */
long tls_io_fd_buf_recv(void *arg, uint8_t *p, size_t len)
{
    struct tls_io_fd_buf *b = arg;
    if (b->roff == b->rlen) {
        if (len >= sizeof b->rbuf) {
            return tls_io_fd_recv(&b->fd, p, len);      /* as large: no copy */
        }
        ssize_t n = recv(b->fd, b->rbuf, sizeof b->rbuf, MSG_DONTWAIT);
        if (n <= 0) {
            return n == 0 ? TLS_IO_EOF : result(n);
        }
        b->roff = 0;
        b->rlen = (uint32_t)n;
    }
    size_t k = (size_t)(b->rlen - b->roff) < len ? (size_t)(b->rlen - b->roff) : len;
    memcpy(p, b->rbuf + b->roff, k);
    b->roff = (uint32_t)(b->roff + k);
    return (long)k;
}

/* see tls_io_fd.h */
long tls_io_fd_buf_flush(struct tls_io_fd_buf *b)
{
    while (b->woff < b->wlen) {
        long n = tls_io_fd_send(&b->fd, b->wbuf + b->woff, b->wlen - b->woff);
        if (n < 0) {
            return n;
        }
        if (n == 0) {
            return 0;                                   /* the socket is full: later */
        }
        b->woff = (uint32_t)(b->woff + n);
    }
    b->woff = b->wlen = 0;
    return 0;
}

/* see tls_io_fd.h */
long tls_io_fd_buf_send(void *arg, const uint8_t *p, size_t len)
{
    struct tls_io_fd_buf *b = arg;
    if (len > sizeof b->wbuf - b->wlen) {
        long r = tls_io_fd_buf_flush(b);
        if (r < 0) {
            return r;
        }
        if (b->woff > 0) {                              /* keep the unsent part at the start */
            memmove(b->wbuf, b->wbuf + b->woff, b->wlen - b->woff);
            b->wlen = (uint32_t)(b->wlen - b->woff);
            b->woff = 0;
        }
    }
    size_t k = sizeof b->wbuf - b->wlen < len ? sizeof b->wbuf - b->wlen : len;
    memcpy(b->wbuf + b->wlen, p, k);
    b->wlen = (uint32_t)(b->wlen + k);
    return (long)k;
}

/* see tls_io_fd.h */
size_t tls_io_fd_buf_pending(const struct tls_io_fd_buf *b)
{
    return (size_t)(b->wlen - b->woff);
}
