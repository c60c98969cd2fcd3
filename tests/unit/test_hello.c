/* hello and mail delivery messages: round trips, every prefix asks for more, unknown
 * fields are skipped, and each malformed form is refused with its own error. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "hello_delivery.h"

static void hello_round_trips_and_needs_every_byte(void)
{
    struct hello h = { "loc1", "gw-basement", "0.1.0+abc", 0 }, g;
    uint8_t msg[HELLO_MSG_MAX];
    long n = hello_encode(msg, sizeof msg, &h);
    CHECK(n > HELLO_HDR_LEN);
    CHECK_EQ(msg[0], 'H');
    CHECK_EQ(msg[1], HELLO_VERSION);
    for (size_t cut = 0; cut < (size_t)n; cut++) {
        CHECK_EQ(hello_parse(msg, cut, &g), 0);
    }
    CHECK_EQ(hello_parse(msg, (size_t)n + 3, &g), n);
    CHECK(strcmp(g.location, "loc1") == 0);
    CHECK(strcmp(g.hostname, "gw-basement") == 0);
    CHECK(strcmp(g.firmware, "0.1.0+abc") == 0);
    uint8_t kind, ver;
    CHECK_EQ(hello_peek(msg, (size_t)n, &kind, &ver), 1);
    CHECK_EQ(kind, HELLO_K_HELLO);
}

/* A newer gateway may add fields: they are skipped. */
static void unknown_fields_are_skipped(void)
{
    const uint8_t msg[] = { 'H', 1, 0, 13, 9, 3, 'n', 'e', 'w', 1, 4, 'l', 'o', 'c', '1',
                            200, 0 };
    struct hello g;
    CHECK_EQ(hello_parse(msg, sizeof msg, &g), sizeof msg);
    CHECK(strcmp(g.location, "loc1") == 0);
    CHECK_EQ(g.hostname[0], 0);
}

static void malformed_hellos_are_refused(void)
{
    struct hello g;
    const uint8_t v2[] = { 'H', 2, 0, 0 };
    CHECK_EQ(hello_parse(v2, sizeof v2, &g), HELLO_EVERSION);
    const uint8_t kind[] = { 'X', 1, 0, 0 };
    CHECK_EQ(hello_parse(kind, sizeof kind, &g), HELLO_EKIND);
    const uint8_t big[] = { 'H', 1, 0x04, 0x01 };
    CHECK_EQ(hello_parse(big, sizeof big, &g), HELLO_ETOOBIG);
    const uint8_t missing[] = { 'H', 1, 0, 3, 2, 1, 'h' };
    CHECK_EQ(hello_parse(missing, sizeof missing, &g), HELLO_EMISSING);
    const uint8_t twice[] = { 'H', 1, 0, 6, 1, 1, 'a', 1, 1, 'b' };
    CHECK_EQ(hello_parse(twice, sizeof twice, &g), HELLO_EFIELD);
    const uint8_t cut[] = { 'H', 1, 0, 3, 1, 5, 'a' };
    CHECK_EQ(hello_parse(cut, sizeof cut, &g), HELLO_EFIELD);
    const uint8_t slash[] = { 'H', 1, 0, 7, 1, 5, '.', '.', '/', 'e', 't' };
    CHECK_EQ(hello_parse(slash, sizeof slash, &g), HELLO_ETEXT);
    const uint8_t dotdot[] = { 'H', 1, 0, 4, 1, 2, '.', '.' };
    CHECK_EQ(hello_parse(dotdot, sizeof dotdot, &g), HELLO_ETEXT);
    const uint8_t ctl[] = { 'H', 1, 0, 7, 1, 1, 'a', 2, 2, 'x', '\n' };
    CHECK_EQ(hello_parse(ctl, sizeof ctl, &g), HELLO_ETEXT);
    CHECK(strcmp(hello_strerror(HELLO_ETEXT), "bad characters in a text field") == 0);
}

static void location_ids_are_safe_as_directory_names(void)
{
    CHECK_EQ(hello_location_valid("loc1", 4), 1);
    CHECK_EQ(hello_location_valid("Plant-7.site_A", 14), 1);
    CHECK_EQ(hello_location_valid(".", 1), 0);
    CHECK_EQ(hello_location_valid("..", 2), 0);
    CHECK_EQ(hello_location_valid("a/b", 3), 0);
    CHECK_EQ(hello_location_valid("", 0), 0);
    CHECK_EQ(hello_location_valid("a b", 3), 0);
    char longid[HELLO_LOCATION_MAX + 2];
    memset(longid, 'a', sizeof longid);
    CHECK_EQ(hello_location_valid(longid, HELLO_LOCATION_MAX), 1);
    CHECK_EQ(hello_location_valid(longid, HELLO_LOCATION_MAX + 1), 0);
}

static void delivery_header_round_trips(void)
{
    struct delivery d = { .length = 123456789, .uidvalidity = 1700000000u, .uid = 42 }, e;
    for (int i = 0; i < 32; i++) {
        d.sha256[i] = (uint8_t)(i * 7);
    }
    strcpy(d.folder, "INBOX/Rechnungen \xc3\xa4");
    uint8_t msg[HELLO_MSG_MAX];
    long n = delivery_encode(msg, sizeof msg, &d);
    CHECK(n > 0);
    for (size_t cut = 0; cut < (size_t)n; cut++) {
        CHECK_EQ(delivery_parse(msg, cut, &e), 0);
    }
    CHECK_EQ(delivery_parse(msg, (size_t)n, &e), n);
    CHECK(e.length == d.length && e.uid == 42 && e.uidvalidity == 1700000000u);
    CHECK(memcmp(e.sha256, d.sha256, 32) == 0);
    CHECK(strcmp(e.folder, d.folder) == 0);
    /* Too large a message is refused when encoding and when parsing. */
    d.length = DELIVERY_SIZE_MAX + 1;
    CHECK_EQ(delivery_encode(msg, sizeof msg, &d), HELLO_ETOOBIG);
    d.length = DELIVERY_SIZE_MAX;
    n = delivery_encode(msg, sizeof msg, &d);
    msg[HELLO_HDR_LEN + 2 + 4] = 0x20;           /* length field: 0x20000000 + ... */
    CHECK_EQ(delivery_parse(msg, (size_t)n, &e), HELLO_ETOOBIG);
    /* A short hash, a missing folder. */
    const uint8_t shorthash[] = { 'M', 1, 0, 4, 2, 2, 1, 2 };
    CHECK_EQ(delivery_parse(shorthash, sizeof shorthash, &e), HELLO_EFIELD);
    const uint8_t nofolder[] = { 'M', 1, 0, 10, 1, 8, 0, 0, 0, 0, 0, 0, 0, 1 };
    CHECK_EQ(delivery_parse(nofolder, sizeof nofolder, &e), HELLO_EMISSING);
    /* A hello is not a delivery. */
    struct hello h = { "loc1", "", "", 0 };
    n = hello_encode(msg, sizeof msg, &h);
    CHECK_EQ(delivery_parse(msg, (size_t)n, &e), HELLO_EKIND);
}

static void delivery_version_2_has_no_hash_up_front(void)
{
    struct delivery d = { .version = 2, .length = 5000, .uidvalidity = 7, .uid = 9 }, e;
    strcpy(d.folder, "INBOX");
    memset(d.sha256, 0xab, 32);                  /* not sent: the trailer carries it */
    uint8_t msg[HELLO_MSG_MAX];
    long n = delivery_encode(msg, sizeof msg, &d);
    CHECK(n > 0);
    CHECK_EQ(msg[1], 2);
    for (size_t cut = 0; cut < (size_t)n; cut++) {
        CHECK_EQ(delivery_parse(msg, cut, &e), 0);
    }
    CHECK_EQ(delivery_parse(msg, (size_t)n, &e), n);
    CHECK(e.version == 2 && e.length == 5000 && e.uidvalidity == 7 && e.uid == 9);
    CHECK(strcmp(e.folder, "INBOX") == 0);
    static const uint8_t zero[32];
    CHECK(memcmp(e.sha256, zero, 32) == 0);
    /* Version 1 needs the hash; version 2 must not carry one; version 3 is not spoken. */
    d.version = 1;
    long n1 = delivery_encode(msg, sizeof msg, &d);
    CHECK_EQ(delivery_parse(msg, (size_t)n1, &e), n1);
    CHECK_EQ(e.version, 1);
    msg[1] = 2;
    CHECK_EQ(delivery_parse(msg, (size_t)n1, &e), HELLO_EFIELD);
    msg[1] = 3;
    CHECK_EQ(delivery_parse(msg, (size_t)n1, &e), HELLO_EVERSION);
    d.version = 3;
    CHECK_EQ(delivery_encode(msg, sizeof msg, &d), HELLO_EVERSION);
}

static void hello_negotiates_the_delivery_version(void)
{
    uint8_t msg[HELLO_MSG_MAX];
    struct hello h = { "loc1", "", "", 0 }, g;
    long n = hello_encode(msg, sizeof msg, &h);
    CHECK_EQ(hello_parse(msg, (size_t)n, &g), n);
    CHECK_EQ(g.delivery_version, 0);             /* a gateway from before: version 1 */
    h.delivery_version = 2;
    n = hello_encode(msg, sizeof msg, &h);
    CHECK_EQ(hello_parse(msg, (size_t)n, &g), n);
    CHECK_EQ(g.delivery_version, 2);
    struct hello_answer a;
    n = hello_answer_encode(msg, sizeof msg, HELLO_ST_OK, "welcome", 2, 0);
    CHECK_EQ(answer_parse(msg, (size_t)n, HELLO_K_HELLO_ANSWER, &a), n);
    CHECK(a.status == HELLO_ST_OK && a.delivery_version == 2 && strcmp(a.text, "welcome") == 0);
    n = hello_answer_encode(msg, sizeof msg, HELLO_ST_OK, NULL, 0, 0);
    CHECK_EQ(n, HELLO_HDR_LEN + 3);              /* what a relay from before sends */
    CHECK_EQ(answer_parse(msg, (size_t)n, HELLO_K_HELLO_ANSWER, &a), n);
    CHECK_EQ(a.delivery_version, 0);
    CHECK_EQ(a.deliveries, 0);                   /* not said: DELIVERY_WINDOW_DEFAULT */
}

/* The welcome names the deliveries of the location the relay admits in flight (field 4,
 * two bytes): the gateway's pipeline is no deeper; a relay from before leaves it out. */
static void hello_answer_names_the_deliveries_in_flight(void)
{
    uint8_t msg[HELLO_MSG_MAX];
    struct hello_answer a;
    long n = hello_answer_encode(msg, sizeof msg, HELLO_ST_OK, "welcome", 2, 16);
    CHECK_EQ(answer_parse(msg, (size_t)n, HELLO_K_HELLO_ANSWER, &a), n);
    CHECK(a.delivery_version == 2 && a.deliveries == 16);
    n = hello_answer_encode(msg, sizeof msg, HELLO_ST_OK, NULL, 0, 1024);
    CHECK_EQ(answer_parse(msg, (size_t)n, HELLO_K_HELLO_ANSWER, &a), n);
    CHECK(a.delivery_version == 0 && a.deliveries == 1024);
    n = hello_answer_encode(msg, sizeof msg, HELLO_ST_OK, NULL, 0, 70000);
    CHECK_EQ(answer_parse(msg, (size_t)n, HELLO_K_HELLO_ANSWER, &a), n);
    CHECK_EQ(a.deliveries, 0xffff);              /* capped, not wrapped */
    /* a field 4 of another size is malformed */
    const uint8_t bad[] = { HELLO_K_HELLO_ANSWER, HELLO_VERSION, 0, 6, 1, 1, 0, 4, 1, 16 };
    CHECK_EQ(answer_parse(bad, sizeof bad, HELLO_K_HELLO_ANSWER, &a), HELLO_EFIELD);
}

static void answers_round_trip(void)
{
    uint8_t msg[HELLO_MSG_MAX];
    struct hello_answer a;
    long n = answer_encode(msg, sizeof msg, HELLO_K_DELIVERY_ANSWER, DELIVERY_ST_DUPLICATE,
                           "already have it");
    CHECK(n > 0);
    CHECK_EQ(answer_parse(msg, (size_t)n, HELLO_K_DELIVERY_ANSWER, &a), n);
    CHECK_EQ(a.status, DELIVERY_ST_DUPLICATE);
    CHECK(strcmp(a.text, "already have it") == 0);
    CHECK_EQ(answer_parse(msg, (size_t)n, HELLO_K_HELLO_ANSWER, &a), HELLO_EKIND);
    n = answer_encode(msg, sizeof msg, HELLO_K_HELLO_ANSWER, HELLO_ST_OK, NULL);
    CHECK_EQ(n, HELLO_HDR_LEN + 3);
    CHECK_EQ(answer_parse(msg, (size_t)n, HELLO_K_HELLO_ANSWER, &a), n);
    CHECK_EQ(a.status, HELLO_ST_OK);
    uint8_t tiny[5];
    CHECK_EQ(answer_encode(tiny, sizeof tiny, HELLO_K_HELLO_ANSWER, 0, "x"), HELLO_ENOSPC);
}

CHECK_MAIN(
    { "hello_round_trips_and_needs_every_byte", hello_round_trips_and_needs_every_byte },
    { "unknown_fields_are_skipped", unknown_fields_are_skipped },
    { "malformed_hellos_are_refused", malformed_hellos_are_refused },
    { "location_ids_are_safe_as_directory_names", location_ids_are_safe_as_directory_names },
    { "delivery_header_round_trips", delivery_header_round_trips },
    { "delivery_version_2_has_no_hash_up_front", delivery_version_2_has_no_hash_up_front },
    { "hello_negotiates_the_delivery_version", hello_negotiates_the_delivery_version },
    { "hello_answer_names_the_deliveries_in_flight",
      hello_answer_names_the_deliveries_in_flight },
    { "answers_round_trip", answers_round_trip })
