/* PEM certificates as an operator pastes them: any number of "CERTIFICATE" blocks, with
 * CRLF or LF line ends, indented lines, and text around the blocks (openssl's "subject=" and
 * "issuer=" lines, mail quoting) ignored. Decoding is BearSSL's br_pem_decoder; this module
 * feeds it line by line, keeps the certificates and refuses with a precise reason:
 *
 *   - a private key pasted by mistake (any "... PRIVATE KEY" block): refused when its
 *     BEGIN line is seen, before a byte of the key is decoded;
 *   - any other block type (a CSR, a public key, a CRL), named in the message;
 *   - bad Base64, a block without its END line (a paste cut short), an empty block, a
 *     block that is not exactly one DER element;
 *   - more certificates, or more bytes, than the caller made room for.
 *
 * Nothing is allocated: the DER bytes go into the caller's buffer, one after the other, and
 * the caller's array of pem_cert points into it. The text may arrive in pieces of any size
 * (console lines, network reads). The first error is sticky and stops the decoding: a paste
 * is imported whole or not at all. RAM: sizeof(struct pem_decoder), about 900 bytes. */
#ifndef GW_PEM_H
#define GW_PEM_H

#include <stddef.h>
#include <stdint.h>

#include "bearssl.h"

#define PEM_CERT_MAX 8192   /* largest certificate one block may hold, in DER bytes */
#define PEM_NAME_MAX 48     /* block type kept for messages ("EC PRIVATE KEY") */
#define PEM_MSG_MAX 160     /* pem_describe() never needs more */

struct pem_cert {
    const uint8_t *der;
    size_t len;
};

struct pem_decoder {
    br_pem_decoder_context br;
    uint8_t *out;                /* the caller's DER buffer */
    size_t cap, used;
    struct pem_cert *certs;      /* the caller's array */
    size_t max_certs, count;
    enum { PEM_OUTSIDE, PEM_IN_CERT } state;
    int err;                     /* sticky: 0 or a negative enum tls_err */
    unsigned block;              /* blocks begun so far: the current one's 1-based number */
    unsigned line;               /* 1-based line of the text being fed */
    unsigned block_line;         /* line of the current block's BEGIN */
    int at_line_start;
    uint8_t head[12];            /* the current line's first bytes, indentation skipped */
    size_t head_len;
    char name[PEM_NAME_MAX];     /* type of the current block, for messages */
};

void pem_init(struct pem_decoder *d, uint8_t *out, size_t cap,
              struct pem_cert *certs, size_t max_certs);
/* Feed text. Returns 0, or the sticky error (after which further text is ignored). */
int pem_push(struct pem_decoder *d, const uint8_t *p, size_t len);
/* End of text. Returns the number of certificates (at least 1) or a negative error. Wipes
 * BearSSL's decoding buffer; the caller's buffers keep the certificates. */
int pem_finish(struct pem_decoder *d);

/* All of it in one call: returns the number of certificates or a negative error; d is the
 * caller's scratch and afterwards holds the details pem_describe() prints. */
int pem_decode_certs(struct pem_decoder *d, const uint8_t *p, size_t len,
                     uint8_t *out, size_t cap, struct pem_cert *certs, size_t max_certs);

/* One line for the operator about the outcome: "2 certificates", or what went wrong and
 * where ("block 2 (line 31) is a private key (EC PRIVATE KEY): paste certificates only").
 * Writes at most len bytes including the NUL; returns buf. */
char *pem_describe(const struct pem_decoder *d, char *buf, size_t len);

#endif
