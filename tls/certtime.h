/* Certificate time: ASN.1 UTCTime/GeneralizedTime to Unix seconds, Unix seconds to
 * BearSSL's validation time (days since 1 January of year 0, and seconds in the day), and
 * the YYYY-MM-DD form verdicts print. All in UTC, proleptic Gregorian calendar, int64. */
#ifndef GW_CERTTIME_H
#define GW_CERTTIME_H

#include <stdint.h>

#include "der.h"

/* 1970-01-01 counted in BearSSL's days since 0 AD. */
#define CERTTIME_EPOCH_DAYS 719528

/* Days since 1970-01-01 of a civil date (negative before it). */
int64_t certtime_days(int64_t year, unsigned month, unsigned day);
/* Unix seconds of a civil date and time. */
int64_t certtime_unix(int64_t year, unsigned month, unsigned day,
                      unsigned hour, unsigned min, unsigned sec);

/* A UTCTime (YYMMDDHHMMSSZ, years 1950..2049) or GeneralizedTime (YYYYMMDDHHMMSSZ)
 * element as Unix seconds. Returns 0, or TLS_EDER for any other form (DER certificates
 * must use exactly these). */
int certtime_parse(const struct der_tlv *t, int64_t *unix_seconds);

/* BearSSL's br_x509_minimal_set_time() arguments for a Unix time (clamped at 0 AD). */
void certtime_to_bearssl(int64_t unix_seconds, uint32_t *days, uint32_t *seconds);

/* "YYYY-MM-DD" and a NUL into out (11 bytes); years outside 0..9999 print as "????". */
#define CERTTIME_DATE_LEN 11
void certtime_date(int64_t unix_seconds, char out[CERTTIME_DATE_LEN]);

#endif
