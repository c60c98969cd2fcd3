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

#endif
