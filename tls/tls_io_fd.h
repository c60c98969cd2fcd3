/* struct tls_io (tls_engine.h) over a non-blocking kernel socket, for the programs that run on
 * a Linux host: the relay, its tests and the benches. arg points to the int descriptor.
 * Never part of the gateway image, which has no kernel sockets. */
#ifndef GW_TLS_IO_FD_H
#define GW_TLS_IO_FD_H

#include <stddef.h>
#include <stdint.h>

/* Bytes sent (0: the socket's buffer is full), or TLS_IO_ERROR. */
long tls_io_fd_send(void *arg, const uint8_t *p, size_t len);
/* Bytes received (0: none now), TLS_IO_EOF, or TLS_IO_ERROR. */
long tls_io_fd_recv(void *arg, uint8_t *p, size_t len);

/* Buffered both ways, for a busy connection (the relay's tunnels). arg points to the struct.
 *
 * Receiving reads ahead: BearSSL asks for each record's 5-byte header, then for its body, so
 * a plain recv per ask costs two system calls per record; one recv of up to TLS_IO_FD_RBUF
 * bytes serves two full 16 KiB records and the next header (a smaller read-ahead split every
 * full record in two recv()s: issue 21). The engine drains the buffer in the same pump that
 * filled it (it stops only when it holds a record's plaintext), so a caller that waits for
 * the socket while the engine wants to read never sleeps on buffered bytes.
 *
 * Sending gathers records and sends them together: when the buffer is full (every fourth
 * full record), and at tls_io_fd_buf_flush(), which the caller runs before it waits; while
 * tls_io_fd_buf_pending() it waits for the socket to be writable too. */
#define TLS_IO_FD_RBUF (2 * 16709)      /* BR_SSL_BUFSIZE_INPUT: BearSSL's largest record in */
#define TLS_IO_FD_WBUF (4 * 16469)      /* BR_SSL_BUFSIZE_OUTPUT: its largest record out */
struct tls_io_fd_buf {
    int fd;
    uint32_t roff, rlen;
    uint32_t woff, wlen;
    uint8_t rbuf[TLS_IO_FD_RBUF];
    uint8_t wbuf[TLS_IO_FD_WBUF];
};
long tls_io_fd_buf_recv(void *arg, uint8_t *p, size_t len);
long tls_io_fd_buf_send(void *arg, const uint8_t *p, size_t len);
/* Send what is gathered: 0 when all is out or nothing could go now, or TLS_IO_ERROR. */
long tls_io_fd_buf_flush(struct tls_io_fd_buf *b);
/* Gathered bytes not yet sent. */
size_t tls_io_fd_buf_pending(const struct tls_io_fd_buf *b);

#endif
