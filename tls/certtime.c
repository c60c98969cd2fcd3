/* see certtime.h */
#include "certtime.h"
#include "tls_err.h"

#define DAY 86400

/* see certtime.h */
int64_t certtime_days(int64_t year, unsigned month, unsigned day)
{
    /* H. Hinnant's days_from_civil: eras of 400 years, March-based years. */
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t yoe = year - era * 400;
    int64_t mp = month > 2 ? (int64_t)month - 3 : (int64_t)month + 9;
    int64_t doy = (153 * mp + 2) / 5 + (int64_t)day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* see certtime.h */
int64_t certtime_unix(int64_t year, unsigned month, unsigned day,
                      unsigned hour, unsigned min, unsigned sec)
{
    return certtime_days(year, month, day) * DAY + (int64_t)hour * 3600 + min * 60 + sec;
}

static int digits(const uint8_t *p, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    *out = v;
    return 0;
}

static int is_leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* see certtime.h */
int certtime_parse(const struct der_tlv *t, int64_t *unix_seconds)
{
    static const uint8_t mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int ylen;
    if (t->tag == DER_UTC_TIME && t->len == 13) {
        ylen = 2;
    } else if (t->tag == DER_GENERALIZED_TIME && t->len == 15) {
        ylen = 4;
    } else {
        return TLS_EDER;
    }
    const uint8_t *p = t->p;
    unsigned y, mo, d, h, mi, s;
    if (digits(p, ylen, &y) || digits(p + ylen, 2, &mo) || digits(p + ylen + 2, 2, &d)
        || digits(p + ylen + 4, 2, &h) || digits(p + ylen + 6, 2, &mi)
        || digits(p + ylen + 8, 2, &s) || p[ylen + 10] != 'Z') {
        return TLS_EDER;
    }
    if (ylen == 2) {
        y += y < 50 ? 2000 : 1900;    /* RFC 5280 4.1.2.5.1 */
    }
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !is_leap(y))
        || h > 23 || mi > 59 || s > 60) {
        return TLS_EDER;
    }
    *unix_seconds = certtime_unix(y, mo, d, h, mi, s);
    return 0;
}

/* see certtime.h */
void certtime_to_bearssl(int64_t unix_seconds, uint32_t *days, uint32_t *seconds)
{
    int64_t d = unix_seconds / DAY, s = unix_seconds % DAY;
    if (s < 0) {
        s += DAY;
        d--;
    }
    d += CERTTIME_EPOCH_DAYS;
    if (d < 0) {
        d = 0;
        s = 0;
    }
    *days = (uint32_t)d;
    *seconds = (uint32_t)s;
}

static void put_digits(char *out, int n, unsigned v)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* see certtime.h */
void certtime_date(int64_t unix_seconds, char out[CERTTIME_DATE_LEN])
{
    int64_t z = unix_seconds / DAY;
    if (unix_seconds % DAY < 0) {
        z--;
    }
    /* H. Hinnant's civil_from_days. */
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    y += m <= 2;
    if (y < 0 || y > 9999) {
        out[0] = out[1] = out[2] = out[3] = '?';
    } else {
        put_digits(out, 4, (unsigned)y);
    }
    out[4] = '-';
    put_digits(out + 5, 2, (unsigned)m);
    out[7] = '-';
    put_digits(out + 8, 2, (unsigned)d);
    out[10] = 0;
}
