/* struct tls_io (tls_stream.h) over a non-blocking kernel socket, for the programs that run on
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

/* Receiving with read-ahead: BearSSL asks for each record's 5-byte header, then for its body,
 * so a plain recv per ask costs two system calls per record (4 KiB with our fragment
 * length); one recv of up to TLS_IO_FD_AHEAD bytes serves several records. arg points to
 * the struct. The engine drains the buffer in the same pump that filled it (it stops only
 * when it holds a record's plaintext), so a caller that waits for the socket while the
 * engine wants to read never sleeps on buffered bytes. */
#define TLS_IO_FD_AHEAD 8192
struct tls_io_fd_ahead {
    int fd;
    uint16_t off, len;
    uint8_t buf[TLS_IO_FD_AHEAD];
};
long tls_io_fd_recv_ahead(void *arg, uint8_t *p, size_t len);
long tls_io_fd_send_ahead(void *arg, const uint8_t *p, size_t len);   /* the same arg */

#endif
