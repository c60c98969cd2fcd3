/* see tls_io_fd.h */
#include <errno.h>
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
