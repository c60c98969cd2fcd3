/* Error codes of the tls/ modules: negative, from this one enum, so a caller several layers
 * up (console, store) can print any of them with tls_strerror(). BearSSL's own codes
 * (BR_ERR_*, positive) never travel in these; verdict.h names those. */
#ifndef GW_TLS_ERR_H
#define GW_TLS_ERR_H

enum tls_err {
    TLS_OK = 0,
    TLS_EINVAL = -1,          /* bad argument (NULL, empty, out of range) */
    TLS_ENOSPC = -2,          /* the caller's buffer is too small */

    /* PEM text (pem.h) */
    TLS_EPEM_NONE = -10,      /* no "-----BEGIN" block in the text */
    TLS_EPEM_PRIVKEY = -11,   /* a private key was pasted */
    TLS_EPEM_TYPE = -12,      /* a block that is not a certificate */
    TLS_EPEM_BASE64 = -13,    /* a block whose body is not Base64 */
    TLS_EPEM_TRUNC = -14,     /* a block without its "-----END" line */
    TLS_EPEM_TOOBIG = -15,    /* a certificate larger than PEM_CERT_MAX */
    TLS_EPEM_TOOMANY = -16,   /* more certificates than the caller has room for */
    TLS_EPEM_NOTDER = -17,    /* a block whose body is not one DER element */

    /* certificates (der.h, x509_info.h, trust.h) */
    TLS_EDER = -20,           /* malformed DER */
    TLS_ECERT = -21,          /* not a certificate BearSSL can decode */
    TLS_EKEYTYPE = -22,       /* a public key type or curve we do not support */
    TLS_ETRUST_FULL = -23,    /* no room left for another trust anchor */

    /* keys and requests (keys.h, csr.h) */
    TLS_EKEY = -30,           /* stored key bytes are not a valid key */
    TLS_EKEY_MISMATCH = -31,  /* the certificate is not for the device key */
    TLS_ENAME = -32,          /* a subject name we refuse to put in a request */
    TLS_ENORANDOM = -33,      /* the board gave no entropy: no key can be made */
};

/* A short English phrase for an error ("no PEM block found"); never NULL. */
const char *tls_strerror(int err);

#endif
