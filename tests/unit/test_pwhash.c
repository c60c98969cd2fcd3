/* Console password hashes: PBKDF2-HMAC-SHA256 against RFC 7914's test vectors, and the
 * stored text form. */
#include "check.h"
#include "pwhash.h"
#include "random.h"

static int hex_eq(const uint8_t *p, size_t n, const char *hex)
{
    char buf[3];
    for (size_t i = 0; i < n; i++) {
        snprintf(buf, sizeof buf, "%02x", p[i]);
        if (memcmp(buf, hex + 2 * i, 2) != 0) {
            return 0;
        }
    }
    return hex[2 * n] == '\0';
}

static void pbkdf2_matches_rfc7914_vectors(void)
{
    uint8_t out[64];
    pbkdf2_sha256("passwd", 6, "salt", 4, 1, out, sizeof out);
    CHECK(hex_eq(out, sizeof out,
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"));
    pbkdf2_sha256("Password", 8, "NaCl", 4, 80000, out, sizeof out);
    CHECK(hex_eq(out, sizeof out,
        "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
        "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"));
}

static void a_stored_hash_accepts_only_its_password(void)
{
    CHECK_EQ(rng_init(check_entropy), 0);
    char a[PWHASH_TEXT_MAX], b[PWHASH_TEXT_MAX];
    CHECK_EQ(pwhash_make("s3cret!", 7, a, sizeof a), 0);
    CHECK_EQ(pwhash_make("s3cret!", 7, b, sizeof b), 0);
    CHECK(strncmp(a, "pbkdf2-sha256$20000$", 20) == 0);
    CHECK(strcmp(a, b) != 0);                 /* fresh salt each time */
    CHECK(strstr(a, "s3cret") == NULL);
    CHECK_EQ(pwhash_check(a, "s3cret!", 7), 1);
    CHECK_EQ(pwhash_check(a, "s3cret?", 7), 0);
    CHECK_EQ(pwhash_check(a, "s3cret", 6), 0);
    CHECK_EQ(pwhash_check(a, "", 0), 0);
}

static void malformed_hash_text_never_matches(void)
{
    static const char *const bad[] = {
        "", "pbkdf2-sha256$", "pbkdf2-sha256$0$00$00", "md5$1$aa$bb",
        "pbkdf2-sha256$1$zz$00",
        "pbkdf2-sha256$99999999999$00112233445566778899aabbccddeeff$00",
        "pbkdf2-sha256$1$00112233445566778899aabbccddeeff$0011",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(pwhash_check(bad[i], "x", 1), 0);
    }
}

CHECK_MAIN(
    { "pbkdf2_matches_rfc7914_vectors", pbkdf2_matches_rfc7914_vectors },
    { "a_stored_hash_accepts_only_its_password", a_stored_hash_accepts_only_its_password },
    { "malformed_hash_text_never_matches", malformed_hash_text_never_matches })
