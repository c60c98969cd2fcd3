/* see verdict.h */
#include <stdio.h>
#include <string.h>

#include "bearssl.h"
#include "certtime.h"
#include "verdict.h"

struct code_name {
    int code;
    const char *name;
};

#define E(x) { x, #x }
static const struct code_name br_errors[] = {
    E(BR_ERR_OK), E(BR_ERR_BAD_PARAM), E(BR_ERR_BAD_STATE), E(BR_ERR_UNSUPPORTED_VERSION),
    E(BR_ERR_BAD_VERSION), E(BR_ERR_BAD_LENGTH), E(BR_ERR_TOO_LARGE), E(BR_ERR_BAD_MAC),
    E(BR_ERR_NO_RANDOM), E(BR_ERR_UNKNOWN_TYPE), E(BR_ERR_UNEXPECTED), E(BR_ERR_BAD_CCS),
    E(BR_ERR_BAD_ALERT), E(BR_ERR_BAD_HANDSHAKE), E(BR_ERR_OVERSIZED_ID),
    E(BR_ERR_BAD_CIPHER_SUITE), E(BR_ERR_BAD_COMPRESSION), E(BR_ERR_BAD_FRAGLEN),
    E(BR_ERR_BAD_SECRENEG), E(BR_ERR_EXTRA_EXTENSION), E(BR_ERR_BAD_SNI),
    E(BR_ERR_BAD_HELLO_DONE), E(BR_ERR_LIMIT_EXCEEDED), E(BR_ERR_BAD_FINISHED),
    E(BR_ERR_RESUME_MISMATCH), E(BR_ERR_INVALID_ALGORITHM), E(BR_ERR_BAD_SIGNATURE),
    E(BR_ERR_WRONG_KEY_USAGE), E(BR_ERR_NO_CLIENT_AUTH), E(BR_ERR_IO),
    E(BR_ERR_X509_OK), E(BR_ERR_X509_INVALID_VALUE), E(BR_ERR_X509_TRUNCATED),
    E(BR_ERR_X509_EMPTY_CHAIN), E(BR_ERR_X509_INNER_TRUNC), E(BR_ERR_X509_BAD_TAG_CLASS),
    E(BR_ERR_X509_BAD_TAG_VALUE), E(BR_ERR_X509_INDEFINITE_LENGTH),
    E(BR_ERR_X509_EXTRA_ELEMENT), E(BR_ERR_X509_UNEXPECTED), E(BR_ERR_X509_NOT_CONSTRUCTED),
    E(BR_ERR_X509_NOT_PRIMITIVE), E(BR_ERR_X509_PARTIAL_BYTE), E(BR_ERR_X509_BAD_BOOLEAN),
    E(BR_ERR_X509_OVERFLOW), E(BR_ERR_X509_BAD_DN), E(BR_ERR_X509_BAD_TIME),
    E(BR_ERR_X509_UNSUPPORTED), E(BR_ERR_X509_LIMIT_EXCEEDED), E(BR_ERR_X509_WRONG_KEY_TYPE),
    E(BR_ERR_X509_BAD_SIGNATURE), E(BR_ERR_X509_TIME_UNKNOWN), E(BR_ERR_X509_EXPIRED),
    E(BR_ERR_X509_DN_MISMATCH), E(BR_ERR_X509_BAD_SERVER_NAME),
    E(BR_ERR_X509_CRITICAL_EXTENSION), E(BR_ERR_X509_NOT_CA),
    E(BR_ERR_X509_FORBIDDEN_KEY_USAGE), E(BR_ERR_X509_WEAK_PUBLIC_KEY),
    E(BR_ERR_X509_NOT_TRUSTED),
};
#undef E

static const struct code_name alerts[] = {
    { 0, "close_notify" }, { 10, "unexpected_message" }, { 20, "bad_record_mac" },
    { 22, "record_overflow" }, { 30, "decompression_failure" }, { 40, "handshake_failure" },
    { 42, "bad_certificate" }, { 43, "unsupported_certificate" },
    { 44, "certificate_revoked" }, { 45, "certificate_expired" },
    { 46, "certificate_unknown" }, { 47, "illegal_parameter" }, { 48, "unknown_ca" },
    { 49, "access_denied" }, { 50, "decode_error" }, { 51, "decrypt_error" },
    { 70, "protocol_version" }, { 71, "insufficient_security" }, { 80, "internal_error" },
    { 86, "inappropriate_fallback" }, { 90, "user_canceled" }, { 100, "no_renegotiation" },
    { 110, "unsupported_extension" }, { 112, "unrecognized_name" },
    { 116, "certificate_required" }, { 120, "no_application_protocol" },
};

static const char *lookup(const struct code_name *t, size_t n, int code)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i].code == code) {
            return t[i].name;
        }
    }
    return NULL;
}

/* see verdict.h */
const char *verdict_br_err_name(int err)
{
    return lookup(br_errors, sizeof br_errors / sizeof br_errors[0], err);
}

/* see verdict.h */
const char *verdict_alert_name(int alert)
{
    return lookup(alerts, sizeof alerts / sizeof alerts[0], alert);
}

/* A certificate as the verdict names it: its subject, or its place in the chain when it
 * could not be parsed. */
static const char *who(const struct tls_cert_facts *f, char *tmp, size_t len)
{
    if (f->known) {
        return f->subject;
    }
    snprintf(tmp, len, "certificate %u (%zu bytes, not parsed)", f->index + 1, f->der_len);
    return tmp;
}

static void cut(char *buf, size_t len, int n)
{
    /* snprintf truncated: say so rather than end mid-word. */
    if (n >= 0 && (size_t)n >= len && len >= 4) {
        memcpy(buf + len - 4, "...", 4);
    }
}

static void dated(char *buf, size_t len, const struct tls_verify *v)
{
    const struct tls_cert_facts *f = &v->failed;
    char date[CERTTIME_DATE_LEN], tmp[64];
    int n;
    if (!f->known) {
        n = snprintf(buf, len, "%s is outside its validity period", who(f, tmp, sizeof tmp));
    } else if (v->now < f->not_before) {
        certtime_date(f->not_before, date);
        n = f->index == 0 ? snprintf(buf, len, "not yet valid until %s", date)
                          : snprintf(buf, len, "not yet valid until %s (\"%s\", certificate %u "
                                     "in chain)", date, f->subject, f->index + 1);
    } else {
        certtime_date(f->not_after, date);
        n = f->index == 0 ? snprintf(buf, len, "expired %s", date)
                          : snprintf(buf, len, "expired %s (\"%s\", certificate %u in chain)",
                                     date, f->subject, f->index + 1);
    }
    cut(buf, len, n);
}

/* see verdict.h */
char *verdict_chain(const struct tls_verify *v, char *buf, size_t len)
{
    const struct tls_cert_facts *f = &v->failed, *p = &v->failed_prev;
    char t1[64], t2[64], date[CERTTIME_DATE_LEN];
    const char *name;
    int n;
    switch (v->err) {
    case 0:
        n = v->anchored.known
                ? snprintf(buf, len, "ok: chain anchored at \"%s\"", v->anchored.issuer)
                : snprintf(buf, len, "ok");
        break;
    case BR_ERR_X509_EMPTY_CHAIN:
        n = snprintf(buf, len, "server sent no certificate");
        break;
    case BR_ERR_X509_TIME_UNKNOWN:
        certtime_date(v->now, date);
        n = snprintf(buf, len, "clock not set (%s): certificates cannot be checked yet", date);
        break;
    case BR_ERR_X509_NOT_TRUSTED:
        if (!f->known) {
            n = snprintf(buf, len, "unknown issuer of %s (not in trust store)",
                         who(f, t1, sizeof t1));
        } else if (f->self_issued && f->index == 0) {
            n = snprintf(buf, len, "self-signed certificate \"%s\" (not in trust store)",
                         f->subject);
        } else {
            n = snprintf(buf, len, "unknown issuer \"%s\" (not in trust store)", f->issuer);
        }
        break;
    case BR_ERR_X509_EXPIRED:
        dated(buf, len, v);
        return buf;
    case BR_ERR_X509_FORBIDDEN_KEY_USAGE:
        n = snprintf(buf, len, "server certificate is not for server authentication (its "
                               "extended key usage lacks serverAuth)");
        break;
    case BR_ERR_X509_BAD_SERVER_NAME:
        n = snprintf(buf, len, "name mismatch: wanted %s, certificate has %s", v->host, v->have);
        break;
    case BR_ERR_X509_DN_MISMATCH:
        n = snprintf(buf, len, "broken chain: \"%s\" is followed by \"%s\", not by its issuer",
                     who(p, t1, sizeof t1), who(f, t2, sizeof t2));
        break;
    case BR_ERR_X509_BAD_SIGNATURE:
        n = snprintf(buf, len, "bad signature on \"%s\" (issuer \"%s\")", who(p, t1, sizeof t1),
                     who(f, t2, sizeof t2));
        break;
    case BR_ERR_X509_NOT_CA:
        n = snprintf(buf, len, "\"%s\" is not a CA but issued \"%s\"", who(f, t1, sizeof t1),
                     who(p, t2, sizeof t2));
        break;
    case BR_ERR_X509_CRITICAL_EXTENSION:
        n = snprintf(buf, len, "unsupported critical extension in \"%s\"", who(f, t1, sizeof t1));
        break;
    case BR_ERR_X509_WEAK_PUBLIC_KEY:
        n = snprintf(buf, len, "weak key (%s) in \"%s\"", f->key_text, who(f, t1, sizeof t1));
        break;
    case BR_ERR_X509_UNSUPPORTED:
        n = snprintf(buf, len, "unsupported algorithm (SHA-1 or unknown) in \"%s\"",
                     who(f, t1, sizeof t1));
        break;
    case BR_ERR_X509_LIMIT_EXCEEDED:
        if (v->leaf_too_big) {
            n = snprintf(buf, len, "server certificate too large to check (%u bytes, limit %u)",
                         (unsigned)v->leaf_too_big, (unsigned)VERIFY_CERT_MAX);
        } else {
            n = snprintf(buf, len, "key or signature too large in \"%s\"", who(f, t1, sizeof t1));
        }
        break;
    default:
        name = verdict_br_err_name(v->err);
        n = snprintf(buf, len, "malformed certificate %u from server: BearSSL error %d (%s)",
                     f->index + 1, v->err, name ? name : "unknown");
        break;
    }
    cut(buf, len, n);
    return buf;
}

/* see verdict.h */
char *verdict_handshake(int engine_err, const struct tls_verify *v, char *buf, size_t len)
{
    const char *name;
    int n;
    if (v && v->err) {
        return verdict_chain(v, buf, len);     /* the certificate step decided */
    }
    if (engine_err == BR_ERR_OK) {
        if (v) {
            return verdict_chain(v, buf, len);
        }
        snprintf(buf, len, "ok");
        return buf;
    }
    if (engine_err >= BR_ERR_RECV_FATAL_ALERT && engine_err < BR_ERR_SEND_FATAL_ALERT) {
        int a = engine_err - BR_ERR_RECV_FATAL_ALERT;
        name = verdict_alert_name(a);
        n = snprintf(buf, len, "handshake failed: server sent fatal alert %d (%s)", a,
                     name ? name : "unknown");
    } else if (engine_err >= BR_ERR_SEND_FATAL_ALERT) {
        int a = engine_err - BR_ERR_SEND_FATAL_ALERT;
        name = verdict_alert_name(a);
        n = snprintf(buf, len, "handshake failed: we sent fatal alert %d (%s)", a,
                     name ? name : "unknown");
    } else {
        name = verdict_br_err_name(engine_err);
        n = snprintf(buf, len, "handshake failed: BearSSL error %d (%s)", engine_err,
                     name ? name : "unknown");
    }
    cut(buf, len, n);
    return buf;
}
