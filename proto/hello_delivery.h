/* The messages at the start of gateway-opened tunnel streams, and the relay's answers
 * (docs/protocol.md): `hello` on the first stream, a mail delivery header on the others.
 *
 * Every message is framed the same way, so a reader knows its length before its meaning:
 *
 *     KIND(1)  VERSION(1)=1  LENGTH(2, big-endian)  then LENGTH bytes of fields
 *     field:   TAG(1)  LEN(1)  VALUE(LEN)
 *
 * Fields may come in any order; an unknown tag is skipped (a newer peer may add fields), a
 * known tag twice, a missing required field, a value of the wrong size or with bytes
 * outside its character set is an error. A VERSION other than 1 is refused
 * (HELLO_EVERSION): the relay answers it with a refusal that names the versions it speaks.
 *
 * Kinds and their fields (R: required):
 *   'H' hello (gateway)      1 location R (Location ID)  2 hostname  3 firmware version
 *                            4 delivery version (u8: the highest the gateway speaks; absent: 1)
 *   'h' hello answer (relay) 1 status R (u8: 0 ok, 1 refused)  2 text
 *                            3 delivery version (u8: the one this tunnel's deliveries use;
 *                              absent: 1)
 *   'M' delivery (gateway)   1 length R (u64)  2 sha256 R (32 bytes)  3 uidvalidity R (u32)
 *                            4 uid R (u32)  5 folder R; the message's bytes follow
 *   'M' VERSION 2 delivery   the same without 2 (sha256 is not allowed): the message's bytes
 *                            follow, then DELIVERY_TRAILER_LEN bytes, their SHA-256 (one read
 *                            of the message on the gateway; negotiated in hello, above)
 *   'm' delivery answer      1 status R (u8: 0 stored, 1 already have it, 2 error,
 *                            3 rejected)  2 text
 *
 * Parsers take (p, len) and return the message's length (> 0), 0 when more bytes are needed
 * (at most HELLO_MSG_MAX in all), or a negative enum hello_err; they never read past len. */
#ifndef GW_HELLO_DELIVERY_H
#define GW_HELLO_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#define HELLO_VERSION 1
#define HELLO_HDR_LEN 4
#define HELLO_BODY_MAX 1024          /* longest field list we accept */
#define HELLO_MSG_MAX (HELLO_HDR_LEN + HELLO_BODY_MAX)
#define HELLO_TEXT_MAX 255           /* any one text field */
#define HELLO_LOCATION_MAX 64        /* Location IDs: [A-Za-z0-9._-], 1..64, not . or .. */
#define DELIVERY_SIZE_MAX (256ull * 1024 * 1024)   /* largest message the relay takes */
#define DELIVERY_VERSION_MAX 2       /* delivery versions: 1 hash up front, 2 hash in a trailer */
#define DELIVERY_TRAILER_LEN 32      /* version 2: the SHA-256 after the message's bytes */
/* Deliveries in flight a relay that does not say (hello answer field 4) admits: its
 * location-deliveries default before the field (docs/protocol.md 3.2). */
#define DELIVERY_WINDOW_DEFAULT 4

enum hello_kind {
    HELLO_K_HELLO = 'H',
    HELLO_K_HELLO_ANSWER = 'h',
    HELLO_K_DELIVERY = 'M',
    HELLO_K_DELIVERY_ANSWER = 'm',
};

enum hello_err {
    HELLO_EKIND = -1,                /* a kind other than the one expected */
    HELLO_EVERSION = -2,             /* a version we do not speak */
    HELLO_ETOOBIG = -3,              /* LENGTH over HELLO_BODY_MAX */
    HELLO_EFIELD = -4,               /* a field cut short by LENGTH, twice, or of bad size */
    HELLO_EMISSING = -5,             /* a required field is absent */
    HELLO_ETEXT = -6,                /* a text field with bytes outside its character set */
    HELLO_ENOSPC = -7,               /* encoders: the caller's buffer is too small */
};

enum hello_status { HELLO_ST_OK = 0, HELLO_ST_REFUSED = 1 };
enum delivery_status {
    DELIVERY_ST_STORED = 0,          /* written and fsynced */
    DELIVERY_ST_DUPLICATE = 1,       /* already have it (same location and SHA-256) */
    DELIVERY_ST_ERROR = 2,           /* not stored: see text; the gateway retries later */
    /* Not stored, and delivering it again would get the same: the relay's mail store
     * refused this message or mailbox for good (LMTP 5xx). The gateway leaves it on its
     * server and does not fetch it again. A gateway from before this status takes it as
     * an error (any status but 0 and 1 is one): it retries, and loses nothing. */
    DELIVERY_ST_REJECTED = 3,
};

struct hello {
    char location[HELLO_LOCATION_MAX + 1];
    char hostname[HELLO_TEXT_MAX + 1];
    char firmware[HELLO_TEXT_MAX + 1];
    uint8_t delivery_version;        /* 0: not said (a gateway from before: 1) */
};

struct delivery {
    uint8_t version;                 /* 1, or 2: no sha256 in the header (the trailer has it) */
    uint64_t length;
    uint8_t sha256[32];
    uint32_t uidvalidity, uid;
    char folder[HELLO_TEXT_MAX + 1];
};

/* The answers: status and a text for the log. */
struct hello_answer {
    uint8_t status;
    char text[HELLO_TEXT_MAX + 1];
    uint8_t delivery_version;        /* hello answer: 0 when not said (a relay from before: 1) */
    uint16_t deliveries;             /* hello answer: the location's deliveries the relay
                                        admits in flight; 0 when not said (a relay from
                                        before: DELIVERY_WINDOW_DEFAULT) */
};

/* Peek at a message's kind and version: 1 when the 4-byte header is there, else 0. */
int hello_peek(const uint8_t *p, size_t len, uint8_t *kind, uint8_t *version);

long hello_parse(const uint8_t *p, size_t len, struct hello *h);
long hello_encode(uint8_t *out, size_t cap, const struct hello *h);
long delivery_parse(const uint8_t *p, size_t len, struct delivery *d);
long delivery_encode(uint8_t *out, size_t cap, const struct delivery *d);
/* kind: HELLO_K_HELLO_ANSWER or HELLO_K_DELIVERY_ANSWER. */
long answer_parse(const uint8_t *p, size_t len, uint8_t kind, struct hello_answer *a);
long answer_encode(uint8_t *out, size_t cap, uint8_t kind, uint8_t status, const char *text);
/* The hello answer with the delivery version the relay chose and the deliveries in flight
 * it admits for the location (each 0: the field left out; deliveries at most 65535). */
long hello_answer_encode(uint8_t *out, size_t cap, uint8_t status, const char *text,
                         uint8_t delivery_version, unsigned deliveries);

/* A valid Location ID (it names a spool directory and a certificate CN): 1 or 0. */
int hello_location_valid(const char *s, size_t len);
const char *hello_strerror(long err);

#endif
