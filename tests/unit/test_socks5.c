/* SOCKS5 codec (RFC 1928/1929): what curl and other clients send, byte by byte, and the
 * replies the relay and the gateway give, including every refusal. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "socks5.h"

/* Every prefix of a complete message asks for more; the whole message parses. */
#define CHECK_PREFIXES(call_with_len, full) do { \
        for (size_t cut_ = 0; cut_ < (full); cut_++) { \
            size_t len_ = cut_; \
            CHECK_EQ((call_with_len), 0); \
        } \
    } while (0)

static void greeting_offering_userpass_is_recognised(void)
{
    const uint8_t curl[] = { 5, 2, 0, 2 };
    int up = 0;
    CHECK_PREFIXES(socks5_greeting_parse(curl, len_, &up), sizeof curl);
    CHECK_EQ(socks5_greeting_parse(curl, sizeof curl, &up), 4);
    CHECK_EQ(up, 1);
    const uint8_t noauth[] = { 5, 1, 0 };
    CHECK_EQ(socks5_greeting_parse(noauth, sizeof noauth, &up), 3);
    CHECK_EQ(up, 0);
    const uint8_t v4[] = { 4, 1, 0, 80, 127, 0, 0, 1, 0 };
    CHECK_EQ(socks5_greeting_parse(v4, sizeof v4, &up), SOCKS5_EVERSION);
    const uint8_t none[] = { 5, 0 };
    CHECK_EQ(socks5_greeting_parse(none, sizeof none, &up), SOCKS5_EMALFORMED);
    uint8_t out[2];
    socks5_method_encode(out, SOCKS5_M_NOACCEPT);
    CHECK(out[0] == 5 && out[1] == 0xff);
}

static void auth_carries_location_and_token(void)
{
    uint8_t msg[SOCKS5_AUTH_MAX];
    struct socks5_auth a;
    long n = socks5_auth_encode(msg, sizeof msg, "loc1", "s3cret-token");
    CHECK_EQ(n, 3 + 4 + 12);
    CHECK_PREFIXES(socks5_auth_parse(msg, len_, &a), (size_t)n);
    CHECK_EQ(socks5_auth_parse(msg, (size_t)n, &a), n);
    CHECK(strcmp(a.user, "loc1") == 0 && strcmp(a.pass, "s3cret-token") == 0);
    CHECK_EQ(a.user_len, 4);
    /* Longest fields. */
    char u[256], p[256];
    memset(u, 'u', 255);
    memset(p, 'p', 255);
    u[255] = p[255] = 0;
    n = socks5_auth_encode(msg, sizeof msg, u, p);
    CHECK_EQ(n, SOCKS5_AUTH_MAX);
    CHECK_EQ(socks5_auth_parse(msg, (size_t)n, &a), n);
    CHECK_EQ(strlen(a.pass), 255);
}

static void auth_failures_are_refused(void)
{
    struct socks5_auth a;
    const uint8_t badver[] = { 5, 1, 'a', 1, 'b' };
    CHECK_EQ(socks5_auth_parse(badver, sizeof badver, &a), SOCKS5_EVERSION);
    const uint8_t emptyuser[] = { 1, 0, 1, 'b' };
    CHECK_EQ(socks5_auth_parse(emptyuser, sizeof emptyuser, &a), SOCKS5_EMALFORMED);
    const uint8_t emptypass[] = { 1, 1, 'a', 0 };
    CHECK_EQ(socks5_auth_parse(emptypass, sizeof emptypass, &a), SOCKS5_EMALFORMED);
    const uint8_t nul[] = { 1, 2, 'a', 0, 1, 'b' };
    CHECK_EQ(socks5_auth_parse(nul, sizeof nul, &a), SOCKS5_EMALFORMED);
    uint8_t ok[2], fail[2];
    socks5_auth_reply_encode(ok, 1);
    socks5_auth_reply_encode(fail, 0);
    CHECK(ok[0] == 1 && ok[1] == 0 && fail[0] == 1 && fail[1] == 1);
}

static void connect_by_domain_name_keeps_the_name(void)
{
    uint8_t msg[SOCKS5_REQUEST_MAX];
    struct socks5_request r;
    long n = socks5_request_encode(msg, sizeof msg, "mail.example.test", 143);
    CHECK_EQ(n, 7 + 17);
    CHECK(msg[3] == SOCKS5_ATYP_DOMAIN);
    CHECK_PREFIXES(socks5_request_parse(msg, len_, &r), (size_t)n);
    CHECK_EQ(socks5_request_parse(msg, (size_t)n + 5, &r), n);   /* bytes after: not ours */
    CHECK(strcmp(r.host, "mail.example.test") == 0);
    CHECK_EQ(r.port, 143);
    CHECK_EQ(r.atyp, SOCKS5_ATYP_DOMAIN);
}

static void connect_by_ipv4_gives_a_dotted_quad(void)
{
    uint8_t msg[SOCKS5_REQUEST_MAX];
    struct socks5_request r;
    long n = socks5_request_encode(msg, sizeof msg, "10.1.2.3", 993);
    CHECK_EQ(n, 10);
    CHECK(msg[3] == SOCKS5_ATYP_IPV4);
    CHECK_EQ(socks5_request_parse(msg, (size_t)n, &r), 10);
    CHECK(strcmp(r.host, "10.1.2.3") == 0);
    CHECK_EQ(r.port, 993);
    CHECK(r.ip4[0] == 10 && r.ip4[3] == 3);
}

static void ipv6_and_other_commands_get_their_reply_codes(void)
{
    struct socks5_request r;
    uint8_t v6[22] = { 5, 1, 0, 4 };
    v6[21] = 80;
    CHECK_PREFIXES(socks5_request_parse(v6, len_, &r), sizeof v6);
    long e = socks5_request_parse(v6, sizeof v6, &r);
    CHECK_EQ(e, SOCKS5_EATYP);
    CHECK_EQ(socks5_err_reply(e), SOCKS5_REP_ATYP_UNSUPPORTED);
    const uint8_t bind[] = { 5, 2, 0, 1, 1, 2, 3, 4, 0, 80 };
    e = socks5_request_parse(bind, sizeof bind, &r);
    CHECK_EQ(e, SOCKS5_ECMD);
    CHECK_EQ(socks5_err_reply(e), SOCKS5_REP_CMD_UNSUPPORTED);
    const uint8_t unknown[] = { 5, 1, 0, 9, 1, 2 };
    CHECK_EQ(socks5_request_parse(unknown, sizeof unknown, &r), SOCKS5_EATYP);
    const uint8_t rsv[] = { 5, 1, 7, 1, 1, 2, 3, 4, 0, 80 };
    CHECK_EQ(socks5_request_parse(rsv, sizeof rsv, &r), SOCKS5_EMALFORMED);
    const uint8_t empty[] = { 5, 1, 0, 3, 0, 0, 80 };
    CHECK_EQ(socks5_request_parse(empty, sizeof empty, &r), SOCKS5_EMALFORMED);
    const uint8_t nul[] = { 5, 1, 0, 3, 2, 'a', 0, 0, 80 };
    CHECK_EQ(socks5_request_parse(nul, sizeof nul, &r), SOCKS5_EMALFORMED);
}

static void replies_round_trip_with_every_code(void)
{
    for (unsigned rep = 0; rep <= 8; rep++) {
        uint8_t out[SOCKS5_REPLY_LEN], got;
        socks5_reply_encode(out, (enum socks5_reply)rep, NULL, 0);
        CHECK_PREFIXES(socks5_reply_parse(out, len_, &got), sizeof out);
        CHECK_EQ(socks5_reply_parse(out, sizeof out, &got), SOCKS5_REPLY_LEN);
        CHECK_EQ(got, rep);
        CHECK(strcmp(socks5_reply_text(rep), "unknown reply") != 0);
    }
    CHECK(strcmp(socks5_reply_text(SOCKS5_REP_NOT_CONNECTED), "location not connected") == 0);
    /* A reply with a domain-name bound address (other servers send those). */
    const uint8_t dom[] = { 5, 0, 0, 3, 3, 'a', 'b', 'c', 1, 2 };
    uint8_t got;
    CHECK_EQ(socks5_reply_parse(dom, sizeof dom, &got), 10);
    const uint8_t v6[22] = { 5, 4, 0, 4 };
    CHECK_EQ(socks5_reply_parse(v6, sizeof v6, &got), 22);
    CHECK_EQ(got, 4);
}

static void encoders_refuse_what_does_not_fit(void)
{
    uint8_t small[8];
    char name[300];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = 0;
    CHECK_EQ(socks5_request_encode(small, sizeof small, "host.example", 1), SOCKS5_ENOSPC);
    uint8_t big[600];
    CHECK_EQ(socks5_request_encode(big, sizeof big, name, 1), SOCKS5_EMALFORMED);
    CHECK_EQ(socks5_auth_encode(big, sizeof big, "", "x"), SOCKS5_EMALFORMED);
    CHECK_EQ(socks5_greeting_encode(big, sizeof big, NULL, 0), SOCKS5_EMALFORMED);
    uint8_t ip[4];
    CHECK_EQ(socks5_parse_ip4("256.1.1.1", ip), 0);
    CHECK_EQ(socks5_parse_ip4("1.2.3", ip), 0);
    CHECK_EQ(socks5_parse_ip4("1.2.3.4x", ip), 0);
    CHECK_EQ(socks5_parse_ip4("127.0.0.1", ip), 1);
}

/* A parser's output after a call that did not return a whole message: cleared, whatever
 * the struct held before (0xAA stands for a stack frame's old contents). */
#define POISON(x) memset(&(x), 0xAA, sizeof(x))

static void a_request_that_fails_leaves_no_host_behind(void)
{
    static const struct {
        const char *why;
        uint8_t msg[16];
        size_t len;
    } bad[] = {
        { "SOCKS version 4", { 4, 1, 0, 3, 1, 'a', 0, 80 }, 8 },
        { "RSV not 0", { 5, 1, 7, 3, 1, 'a', 0, 80 }, 8 },
        { "RSV not 0 (IPv4)", { 5, 1, 1, 1, 1, 2, 3, 4, 0, 80 }, 10 },
        { "empty name", { 5, 1, 0, 3, 0, 0, 80 }, 7 },
        { "NUL in the name", { 5, 1, 0, 3, 2, 'a', 0, 0, 80 }, 9 },
        { "BIND to a name", { 5, 2, 0, 3, 1, 'a', 0, 80 }, 8 },
        { "UDP ASSOCIATE to IPv4", { 5, 3, 0, 1, 1, 2, 3, 4, 0, 80 }, 10 },
        { "unknown address type", { 5, 1, 0, 9, 1, 2 }, 6 },
        { "IPv6", { 5, 1, 0, 4 }, 4 },                 /* (more bytes wanted) */
        { "a name cut short", { 5, 1, 0, 3, 5, 'a', 'b' }, 7 },
        { "nothing yet", { 0 }, 0 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct socks5_request r;
        POISON(r);
        long n = socks5_request_parse(bad[i].msg, bad[i].len, &r);
        if (n > 0 || r.host[0] != 0 || r.port != 0 || r.cmd != 0 || r.atyp != 0) {
            fprintf(stderr, "case '%s': returned %ld, host[0]=0x%02x\n", bad[i].why, n,
                    (unsigned char)r.host[0]);
        }
        CHECK(n <= 0);
        CHECK_EQ(r.host[0], 0);
        CHECK_EQ(r.port, 0);
        CHECK_EQ(r.cmd, 0);
    }
}

static void a_greeting_or_auth_that_fails_leaves_nothing_behind(void)
{
    int up;
    static const uint8_t v4[] = { 4, 1, 2 }, none[] = { 5, 0 }, cut[] = { 5, 2, 2 };
    up = 1;
    CHECK_EQ(socks5_greeting_parse(v4, sizeof v4, &up), SOCKS5_EVERSION);
    CHECK_EQ(up, 0);
    up = 1;
    CHECK_EQ(socks5_greeting_parse(none, sizeof none, &up), SOCKS5_EMALFORMED);
    CHECK_EQ(up, 0);
    up = 1;
    CHECK_EQ(socks5_greeting_parse(cut, sizeof cut, &up), 0);
    CHECK_EQ(up, 0);
    /* The user parsed, the password did not: neither is left in the struct. */
    static const uint8_t nopass[] = { 1, 4, 'l', 'o', 'c', '1', 0 };
    static const uint8_t badver[] = { 5, 1, 'a', 1, 'b' };
    static const uint8_t halfpass[] = { 1, 1, 'a', 6, 's', '3', 'c' };
    const uint8_t *msgs[] = { nopass, badver, halfpass };
    size_t lens[] = { sizeof nopass, sizeof badver, sizeof halfpass };
    for (size_t i = 0; i < 3; i++) {
        struct socks5_auth a;
        POISON(a);
        CHECK(socks5_auth_parse(msgs[i], lens[i], &a) <= 0);
        CHECK_EQ(a.user[0], 0);
        CHECK_EQ(a.pass[0], 0);
        CHECK_EQ(a.pass[1], 0);
        CHECK_EQ(a.user_len, 0);
    }
}

CHECK_MAIN(
    { "greeting_offering_userpass_is_recognised", greeting_offering_userpass_is_recognised },
    { "auth_carries_location_and_token", auth_carries_location_and_token },
    { "auth_failures_are_refused", auth_failures_are_refused },
    { "connect_by_domain_name_keeps_the_name", connect_by_domain_name_keeps_the_name },
    { "connect_by_ipv4_gives_a_dotted_quad", connect_by_ipv4_gives_a_dotted_quad },
    { "ipv6_and_other_commands_get_their_reply_codes",
      ipv6_and_other_commands_get_their_reply_codes },
    { "replies_round_trip_with_every_code", replies_round_trip_with_every_code },
    { "encoders_refuse_what_does_not_fit", encoders_refuse_what_does_not_fit },
    { "a_request_that_fails_leaves_no_host_behind", a_request_that_fails_leaves_no_host_behind },
    { "a_greeting_or_auth_that_fails_leaves_nothing_behind",
      a_greeting_or_auth_that_fails_leaves_nothing_behind })
