/* see tls_io_fd.h */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "tls_io_fd.h"
#include "tls_stream.h"

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
long tls_io_fd_recv_ahead(void *arg, uint8_t *p, size_t len)
{
    struct tls_io_fd_ahead *a = arg;
    if (a->off == a->len) {
        if (len >= sizeof a->buf) {
            return tls_io_fd_recv(&a->fd, p, len);     /* as large: no copy */
        }
        ssize_t n = recv(a->fd, a->buf, sizeof a->buf, MSG_DONTWAIT);
        if (n <= 0) {
            return n == 0 ? TLS_IO_EOF : result(n);
        }
        a->off = 0;
        a->len = (uint16_t)n;
    }
    size_t k = (size_t)(a->len - a->off) < len ? (size_t)(a->len - a->off) : len;
    memcpy(p, a->buf + a->off, k);
    a->off = (uint16_t)(a->off + k);
    return (long)k;
}

/* see tls_io_fd.h */
long tls_io_fd_send_ahead(void *arg, const uint8_t *p, size_t len)
{
    struct tls_io_fd_ahead *a = arg;
    return tls_io_fd_send(&a->fd, p, len);
}
