/* What an operator wants to know about a certificate, from its DER bytes: subject and
 * issuer as text ("CN=Lab Intermediate CA, O=Gateway Test Lab"), validity, SHA-256
 * fingerprint, CA or not, key type and size, SAN DNS names and IP addresses.
 *
 * Two parsers look at the bytes: our bounded DER walker (x509_split) for the parts BearSSL
 * does not expose (issuer, dates, extensions), and BearSSL's br_x509_decoder for the key and
 * the CA flag, so a certificate shown here is one BearSSL can also use. Neither reads past
 * len. Stack: about 1.2 KiB (the BearSSL decoder). */
#ifndef GW_X509_INFO_H
#define GW_X509_INFO_H

#include <stddef.h>
#include <stdint.h>

#include "der.h"

#define X509_DN_TEXT_MAX 160   /* a DN as text, NUL included; longer ones end in "..." */
#define X509_NAME_MAX 64       /* a SAN DNS name kept for display (longer: cut) */
#define X509_SAN_MAX 8         /* SAN DNS names kept, and SAN IP addresses kept */
#define X509_DN_RDN_MAX 16     /* RDNs printed per DN; more print as "..." */
#define X509_FP_HEX_LEN 65     /* 64 hex digits and a NUL */

/* The top-level pieces of a certificate, each pointing into the DER it came from. */
struct x509_parts {
    struct der_tlv tbs;          /* the signed part, whole */
    struct der_tlv issuer;       /* Name SEQUENCE, whole (tag and length included in raw) */
    struct der_tlv subject;
    struct der_tlv spki;         /* SubjectPublicKeyInfo SEQUENCE */
    struct der_tlv exts;         /* content of the Extensions SEQUENCE; len 0 when none */
    int64_t not_before, not_after;
};

/* Split a certificate (exactly len bytes) into its parts. Returns 0 or TLS_EDER. */
int x509_split(const uint8_t *der, size_t len, struct x509_parts *x);
/* Find an extension: returns 1 and its value (the OCTET STRING's content) when present,
 * 0 when absent, TLS_EDER when the extensions are malformed. */
int x509_find_ext(const struct x509_parts *x, const uint8_t *oid, size_t oid_len,
                  struct der_tlv *value, int *critical);

/* Calls fn for each SAN dNSName (type 2) and iPAddress (type 7) of the certificate, in
 * order; fn returns nonzero to stop. Returns 1 when the certificate has a SAN extension,
 * 0 when not, TLS_EDER when it is malformed. */
#define X509_SAN_DNS 2
#define X509_SAN_IP 7
typedef int (*x509_san_fn)(void *arg, int type, const uint8_t *p, size_t len);
int x509_san_foreach(const struct x509_parts *x, x509_san_fn fn, void *arg);

/* Extended key usage (RFC 5280 4.2.1.12): the purposes the certificate lists, as bits.
 * id-kp-N (1.3.6.1.5.5.7.3.N, N = 1..9) is bit N-1: */
#define X509_EKU_SERVER_AUTH (1u << 0)   /* id-kp-serverAuth */
#define X509_EKU_CLIENT_AUTH (1u << 1)   /* id-kp-clientAuth */
#define X509_EKU_CODE_SIGNING (1u << 2)
#define X509_EKU_EMAIL (1u << 3)         /* id-kp-emailProtection */
#define X509_EKU_TIME_STAMPING (1u << 7)
#define X509_EKU_OCSP_SIGNING (1u << 8)
#define X509_EKU_ANY (1u << 9)           /* anyExtendedKeyUsage, 2.5.29.37.0 */
#define X509_EKU_OTHER (1u << 10)        /* any other purpose */
/* Returns 1 with *bits when the certificate has the extension, 0 (and *bits 0) when it has
 * none (no restriction), TLS_EDER when it is malformed (also an empty list). */
int x509_eku(const struct x509_parts *x, unsigned *bits);
/* May the certificate serve this purpose (from x509_eku)? A
 * certificate without the extension may serve any; with it, only the purposes it lists
 * (anyExtendedKeyUsage lists them all). Returns 1 allowed, 0 not, TLS_EDER malformed. */
enum x509_purpose { X509_PURPOSE_SERVER, X509_PURPOSE_CLIENT };
int x509_eku_allows(const struct x509_parts *x, enum x509_purpose purpose);

/* A Name (the whole SEQUENCE, as in x509_parts.subject.raw) as text, most specific RDN
 * first (RFC 4514 order): "CN=Lab Intermediate CA, O=Gateway Test Lab". Non-printable and
 * non-ASCII bytes print as \XX; ',' '+' '"' '\' '<' '>' ';' are escaped. Always
 * NUL-terminated; cut with "..." when cap is too small. Returns out. */
char *x509_dn_text(const uint8_t *dn, size_t len, char *out, size_t cap);
/* The subject's last (most specific) CN, as raw bytes: 1 found, 0 none, TLS_EDER. */
int x509_subject_cn(const struct x509_parts *x, const uint8_t **cn, size_t *cn_len);

struct x509_san_ip {
    uint8_t len;                 /* 4 or 16 */
    uint8_t addr[16];
};

struct x509_info {
    char subject[X509_DN_TEXT_MAX];
    char issuer[X509_DN_TEXT_MAX];
    int64_t not_before, not_after;           /* Unix seconds */
    char not_before_date[11], not_after_date[11];   /* YYYY-MM-DD */
    uint8_t sha256[32];
    char fingerprint[X509_FP_HEX_LEN];       /* lower-case hex of sha256 */
    int is_ca;                   /* Basic Constraints says CA */
    int self_issued;             /* subject and issuer are the same DN */
    int key_type;                /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
    unsigned key_bits;           /* RSA modulus size, or the curve's size */
    int curve;                   /* BR_EC_* for EC keys */
    char key_text[16];           /* "RSA-2048", "EC P-256" */
    int has_san;                 /* a SAN extension is present */
    unsigned san_dns_count, san_ip_count;    /* as found (only X509_SAN_MAX of each kept) */
    char san_dns[X509_SAN_MAX][X509_NAME_MAX + 1];   /* printable ASCII, '?' for others */
    struct x509_san_ip san_ip[X509_SAN_MAX];
    int br_err;                  /* BearSSL's decoder error, when parse says TLS_ECERT */
};

/* Parse a DER certificate of exactly len bytes. Returns 0, TLS_EDER (not DER in X.509's
 * shape), TLS_ECERT (BearSSL's decoder refused it: br_err says why) or TLS_EKEYTYPE (a key
 * BearSSL cannot use, such as Ed25519). xi is filled as far as parsing got. */
int x509_info_parse(struct x509_info *xi, const uint8_t *der, size_t len);

/* An IP address as text ("192.0.2.1", "2001:db8::1"); out needs 40 bytes. Returns out. */
#define X509_IP_TEXT_MAX 40
char *x509_ip_text(const uint8_t *addr, size_t len, char *out, size_t cap);

#endif
