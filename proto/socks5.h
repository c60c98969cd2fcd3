/* SOCKS5 (RFC 1928) with username/password authentication (RFC 1929) and SAP's private
 * method 0x80 (a JWT and a Location ID, docs/protocol.md section 4): the messages as bytes, shared by the relay (method negotiation, authentication, the CONNECT request, its
 * reply) and the gateway (the request arriving on a tunnel stream, the reply it sends).
 *
 * Parsers take (p, len) and return the bytes the message used (> 0), 0 when more bytes are
 * needed (never more than the message's maximum: SOCKS5_*_MAX), or a negative enum
 * socks5_err; they never read past len. socks5_err_reply() names the reply code to send
 * for a request that failed to parse.
 *
 * Reply codes as our product uses them (design.md section 6):
 *   0x00 succeeded
 *   0x01 general failure
 *   0x02 no mapping for that host:port (RFC: connection not allowed by ruleset)
 *   0x03 location not connected: the relay has no live tunnel (RFC: network unreachable)
 *   0x04 internal host unreachable, or TLS to it failed
 *   0x05 connection refused by the internal host
 *   0x06 timeout (RFC: TTL expired)
 *   0x07 command not supported (anything but CONNECT)
 *   0x08 address type not supported (IPv6) */
#ifndef GW_SOCKS5_H
#define GW_SOCKS5_H

#include <stddef.h>
#include <stdint.h>

#define SOCKS5_VER 0x05
#define SOCKS5_AUTH_VER 0x01         /* RFC 1929 subnegotiation version */
#define SOCKS5_M_NONE 0x00
#define SOCKS5_M_USERPASS 0x02
#define SOCKS5_M_JWT 0x80            /* SAP's connectivity proxy: JWT + Location ID */
#define SOCKS5_M_NOACCEPT 0xff
#define SOCKS5_CMD_CONNECT 0x01
#define SOCKS5_ATYP_IPV4 0x01
#define SOCKS5_ATYP_DOMAIN 0x03
#define SOCKS5_ATYP_IPV6 0x04

enum socks5_reply {
    SOCKS5_REP_OK = 0x00,
    SOCKS5_REP_FAILURE = 0x01,
    SOCKS5_REP_NO_MAPPING = 0x02,
    SOCKS5_REP_NOT_CONNECTED = 0x03,
    SOCKS5_REP_UNREACHABLE = 0x04,
    SOCKS5_REP_REFUSED = 0x05,
    SOCKS5_REP_TIMEOUT = 0x06,
    SOCKS5_REP_CMD_UNSUPPORTED = 0x07,
    SOCKS5_REP_ATYP_UNSUPPORTED = 0x08,
};

/* Largest messages, in bytes. */
#define SOCKS5_GREETING_MAX (2 + 255)
#define SOCKS5_AUTH_MAX (3 + 255 + 255)
#define SOCKS5_REQUEST_MAX (4 + 1 + 255 + 2)
#define SOCKS5_REPLY_MAX (4 + 1 + 255 + 2)
#define SOCKS5_REPLY_LEN 10          /* the replies we send: IPv4 bound address */
#define SOCKS5_NAME_MAX 255
#define SOCKS5_JWT_MAX 16384         /* the longest JWT method 0x80 accepts */
#define SOCKS5_JWT_AUTH_MAX (1 + 4 + SOCKS5_JWT_MAX + 1 + 255)

enum socks5_err {
    SOCKS5_EVERSION = -1,            /* not SOCKS version 5 (or RFC 1929 version 1) */
    SOCKS5_EMALFORMED = -2,          /* zero methods, an empty or NUL-bearing name, RSV != 0 */
    SOCKS5_ECMD = -3,                /* a command other than CONNECT */
    SOCKS5_EATYP = -4,               /* IPv6 or an unknown address type */
    SOCKS5_ENOSPC = -5,              /* the caller's buffer is too small (encoders) */
    SOCKS5_ETOOBIG = -6,             /* method 0x80: a JWT longer than SOCKS5_JWT_MAX */
};

/* A CONNECT target. host is NUL-terminated text: the domain name as sent, or the IPv4
 * address as a dotted quad. */
struct socks5_request {
    uint8_t cmd, atyp;
    uint8_t ip4[4];
    char host[SOCKS5_NAME_MAX + 1];
    uint16_t port;
};

/* RFC 1929 credentials. Both are NUL-terminated; the password is a secret: the caller wipes
 * the struct (explicit_bzero) once it was checked. */
struct socks5_auth {
    char user[256];
    char pass[256];
    uint8_t user_len, pass_len;
};

/* Method 0x80's request: VER=1, JWT length (4 bytes, big-endian), the JWT, the length of
 * the Location ID's base64 (1 byte, 0 = none), that base64. Both point into the bytes
 * parsed. */
struct socks5_jwt_auth {
    const uint8_t *jwt;
    size_t jwt_len;
    const uint8_t *loc_b64;
    size_t loc_b64_len;
};

/* ---- server side (relay) ---- */
/* Every parser leaves its output defined whatever it returns: filled on success, and
 * cleared (0, empty strings) when it asks for more bytes or fails, so a caller that looks
 * at it after an error sees nothing rather than stale or uninitialised bytes. */
/* VER NMETHODS METHODS: *userpass is 1 when method 0x02 is offered. */
long socks5_greeting_parse(const uint8_t *p, size_t len, int *userpass);
/* The same, for any method: *offered is 1 when method is in the list. */
long socks5_greeting_offers(const uint8_t *p, size_t len, uint8_t method, int *offered);
/* Method 0x80. SOCKS5_ETOOBIG as soon as the first 5 bytes declare a JWT longer than
 * SOCKS5_JWT_MAX (the caller refuses at once, before a byte of it is read); an empty JWT is
 * malformed. *need (if not NULL) is the whole message's length once those 5 bytes are in
 * (counting 255 bytes of Location ID until its length byte is in), else 0: what a reader
 * must hold. */
long socks5_jwt_auth_parse(const uint8_t *p, size_t len, struct socks5_jwt_auth *a,
                           size_t *need);
/* VER=1 ULEN UNAME PLEN PASSWD. Empty names or passwords are malformed. */
long socks5_auth_parse(const uint8_t *p, size_t len, struct socks5_auth *a);
/* VER CMD RSV ATYP DST.ADDR DST.PORT. The bytes used are also what the relay forwards. On
 * SOCKS5_ECMD and SOCKS5_EATYP the message was complete (the caller may skip it), but it
 * is no request: *r is cleared as on every other error. */
long socks5_request_parse(const uint8_t *p, size_t len, struct socks5_request *r);
/* The reply code for a request parse error. */
enum socks5_reply socks5_err_reply(long err);
/* VER METHOD (2 bytes), and the RFC 1929 status (2 bytes: 0x01 then 0 success / 1 fail). */
void socks5_method_encode(uint8_t out[2], uint8_t method);
void socks5_auth_reply_encode(uint8_t out[2], int ok);
/* VER REP RSV ATYP=1 BND.ADDR BND.PORT: SOCKS5_REPLY_LEN bytes (address 0.0.0.0:0 if
 * bind_ip4 is NULL). */
void socks5_reply_encode(uint8_t out[SOCKS5_REPLY_LEN], enum socks5_reply rep,
                         const uint8_t *bind_ip4, uint16_t bind_port);

/* ---- client side (the relay reading the gateway's reply; tests) ---- */
/* A reply of any address type: *rep is its REP byte. */
long socks5_reply_parse(const uint8_t *p, size_t len, uint8_t *rep);
/* Encoders return the length written, or SOCKS5_ENOSPC / SOCKS5_EMALFORMED. */
long socks5_greeting_encode(uint8_t *out, size_t cap, const uint8_t *methods, size_t n);
long socks5_auth_encode(uint8_t *out, size_t cap, const char *user, const char *pass);
/* Method 0x80's request; loc_b64 "" for none. */
long socks5_jwt_auth_encode(uint8_t *out, size_t cap, const uint8_t *jwt, size_t jwt_len,
                            const char *loc_b64);
/* host as a dotted quad gives ATYP 1, anything else a domain name. */
long socks5_request_encode(uint8_t *out, size_t cap, const char *host, uint16_t port);

/* "no mapping", "location not connected", ... for log lines. */
const char *socks5_reply_text(unsigned rep);
/* A dotted quad "a.b.c.d" into 4 bytes: 1, or 0 when it is not one. */
int socks5_parse_ip4(const char *s, uint8_t out[4]);

#endif
