/* Refusals (relay.h): every connection, stream or delivery the relay turns away for a limit
 * or a deadline is counted by cause (relay_refusals_total{cause=...} on the metrics page),
 * and logged, but at most one line a second per cause, with how many were refused since
 * the last line: a flood must not flood the journal too. */
#include "relay.h"

uint64_t relay_refusals[RF_COUNT];

static const char *const names[RF_COUNT] = {
    [RF_TUNNELS] = "tunnels",
    [RF_HANDSHAKES] = "handshakes",
    [RF_HANDSHAKES_SOURCE] = "handshakes_per_source",
    [RF_FIRST_BYTE] = "first_byte",
    [RF_NOT_TLS] = "not_tls",
    [RF_HANDSHAKE_TIME] = "handshake_time",
    [RF_TLS] = "tls",
    [RF_MEMORY] = "memory",
    [RF_SOCKS] = "socks",
    [RF_SOCKS_SOURCE] = "socks_per_source",
    [RF_SOCKS_AUTH_TIME] = "socks_auth_time",
    [RF_SOCKS_IDLE] = "socks_idle",
    [RF_LOCATION_STREAMS] = "location_streams",
    [RF_DELIVERIES] = "location_deliveries",
    [RF_SPOOL_QUOTA] = "spool_quota",
    [RF_DELIVERY_STALL] = "delivery_stall",
    [RF_DESCRIPTORS] = "descriptors",
    [RF_JWT_TOO_LONG] = "jwt_too_long",
    [RF_JWT_BUFFERS] = "jwt_buffers",
    [RF_JWT_SOURCE_BUFFERS] = "jwt_source_buffers",
    [RF_JWT_MALFORMED] = "jwt_malformed",
    [RF_JWT_ALG] = "jwt_alg",
    [RF_JWT_ISSUER] = "jwt_issuer",
    [RF_JWT_SIGNATURE] = "jwt_signature",
    [RF_JWT_NO_EXP] = "jwt_no_exp",
    [RF_JWT_EXPIRED] = "jwt_expired",
    [RF_JWT_NOT_YET] = "jwt_not_yet_valid",
    [RF_JWT_IAT] = "jwt_iat",
    [RF_JWT_AUDIENCE] = "jwt_audience",
    [RF_JWT_LOCATION] = "jwt_location",
};

/* see relay.h */
const char *refusal_name(enum refusal c)
{
    return (unsigned)c < RF_COUNT ? names[c] : "?";
}

/* see relay.h */
unsigned refusal(enum refusal c)
{
    static uint64_t last_line[RF_COUNT];
    static unsigned quiet[RF_COUNT];
    uint64_t now = relay_now_ms();
    relay_refusals[c]++;
    if (last_line[c] != 0 && now - last_line[c] < 1000) {
        quiet[c]++;
        return 0;
    }
    unsigned n = quiet[c] + 1;
    quiet[c] = 0;
    last_line[c] = now;
    return n;
}
