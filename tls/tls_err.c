/* see tls_err.h */
#include "tls_err.h"

/* see tls_err.h */
const char *tls_strerror(int err)
{
    switch (err) {
    case TLS_OK: return "ok";
    case TLS_EINVAL: return "invalid argument";
    case TLS_ENOSPC: return "buffer too small";
    case TLS_EPEM_NONE: return "no PEM block found";
    case TLS_EPEM_PRIVKEY: return "a private key, not a certificate";
    case TLS_EPEM_TYPE: return "not a certificate block";
    case TLS_EPEM_BASE64: return "bad Base64 in PEM block";
    case TLS_EPEM_TRUNC: return "PEM block has no END line";
    case TLS_EPEM_TOOBIG: return "certificate too large";
    case TLS_EPEM_TOOMANY: return "too many certificates";
    case TLS_EPEM_NOTDER: return "PEM block does not hold one DER element";
    case TLS_EDER: return "malformed DER";
    case TLS_ECERT: return "not a valid X.509 certificate";
    case TLS_EKEYTYPE: return "unsupported key type";
    case TLS_ETRUST_FULL: return "trust store full";
    case TLS_EKEY: return "invalid key";
    case TLS_EKEY_MISMATCH: return "certificate does not match the device key";
    case TLS_ENAME: return "invalid subject name";
    case TLS_ENORANDOM: return "no entropy source";
    default: return "unknown error";
    }
}
