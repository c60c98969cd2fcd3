/* sha256_bulk_update: the digest of every input, cut into any pieces, is BearSSL's (and
 * FIPS 180-4's), with the CPU's SHA instructions where this machine has them. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "sha256_bulk.h"

static void digest_bulk(const uint8_t *p, size_t len, const size_t *cuts, size_t ncuts,
                        uint8_t out[32])
{
    br_sha256_context c;
    size_t at = 0;
    br_sha256_init(&c);
    for (size_t i = 0; i < ncuts && at < len; i++) {
        size_t k = cuts[i] < len - at ? cuts[i] : len - at;
        sha256_bulk_update(&c, p + at, k);
        at += k;
    }
    sha256_bulk_update(&c, p + at, len - at);
    br_sha256_out(&c, out);
}

static void digest_bearssl(const uint8_t *p, size_t len, uint8_t out[32])
{
    br_sha256_context c;
    br_sha256_init(&c);
    br_sha256_update(&c, p, len);
    br_sha256_out(&c, out);
}

static void hex(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    }
}

/* FIPS 180-4 examples (NIST's SHA256.pdf): one block, two blocks, a million 'a's. */
static void known_answers(void)
{
    static uint8_t million[1000000];
    uint8_t d[32];
    char h[65];
    const size_t none[] = { 0 };
    printf("implementation: %s\n", sha256_bulk_impl());
    digest_bulk((const uint8_t *)"abc", 3, none, 0, d);
    hex(d, h);
    CHECK(strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    digest_bulk((const uint8_t *)two, strlen(two), none, 0, d);
    hex(d, h);
    CHECK(strcmp(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);
    memset(million, 'a', sizeof million);
    digest_bulk(million, sizeof million, none, 0, d);
    hex(d, h);
    CHECK(strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
}

/* Every length up to 300 and pieces that start and end anywhere in a block: the buffer
 * BearSSL keeps and the whole blocks the CPU takes meet at every offset. */
static void any_length_any_pieces_as_bearssl(void)
{
    static uint8_t buf[4096];
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
    const size_t cuts[][4] = {
        { 0 }, { 1, 63, 64, 65 }, { 63, 1, 127, 129 }, { 64, 64, 64, 64 }, { 5, 200, 3, 1000 },
    };
    for (size_t len = 0; len <= 300; len++) {
        for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
            uint8_t a[32], b[32];
            digest_bulk(buf, len, cuts[c], 4, a);
            digest_bearssl(buf, len, b);
            CHECK(memcmp(a, b, 32) == 0);
        }
    }
    for (size_t len = 301; len <= sizeof buf; len += 97) {
        uint8_t a[32], b[32];
        digest_bulk(buf, len, cuts[4], 4, a);
        digest_bearssl(buf, len, b);
        CHECK(memcmp(a, b, 32) == 0);
    }
}

/* Forced to BearSSL's code, the same again (the fallback of a CPU without SHA). */
static void portable_fallback_is_the_same(void)
{
    sha256_bulk_allow_cpu(0);
    CHECK(strcmp(sha256_bulk_impl(), "portable") == 0);
    known_answers();
    any_length_any_pieces_as_bearssl();
    sha256_bulk_allow_cpu(1);
}

CHECK_MAIN(
    { "known_answers", known_answers },
    { "any_length_any_pieces_as_bearssl", any_length_any_pieces_as_bearssl },
    { "portable_fallback_is_the_same", portable_fallback_is_the_same })
