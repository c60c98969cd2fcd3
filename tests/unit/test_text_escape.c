/* Network text made printable (base/text_escape): what a SOCKS5 client, a gateway's hello or
 * a mail folder name may carry comes out as printable ASCII only, each other byte as \xHH,
 * and an escape is never cut in half when the room runs out. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "text_escape.h"

static void printable_ascii_stays_the_rest_becomes_hex(void)
{
    char out[64];
    const char in[] = "mail.example.test:143";
    CHECK_EQ(text_escape(out, sizeof out, in, strlen(in), NULL), strlen(in));
    CHECK(strcmp(out, in) == 0);
    const uint8_t evil[] = { 'a', 0x1b, '[', '2', 'J', '\r', '\n', 0, 0x7f, 0x80, 0xff, '\\',
                             '"', 'z' };
    size_t used;
    size_t n = text_escape(out, sizeof out, evil, sizeof evil, &used);
    CHECK(strcmp(out, "a\\x1b[2J\\x0d\\x0a\\x00\\x7f\\x80\\xff\\x5c\"z") == 0);
    CHECK_EQ(n, strlen(out));
    CHECK_EQ(used, sizeof evil);
}

static void every_byte_value_comes_out_printable(void)
{
    uint8_t all[256];
    char out[TEXT_ESCAPE_SIZE(256)];
    for (unsigned i = 0; i < 256; i++) {
        all[i] = (uint8_t)i;
    }
    size_t n = text_escape(out, sizeof out, all, sizeof all, NULL);
    /* 95 printable bytes but the backslash stay; the other 161 take four characters. */
    CHECK_EQ(n, 94 + 4 * (256 - 94));
    for (size_t i = 0; i < n; i++) {
        CHECK(out[i] >= 0x20 && out[i] <= 0x7e);
    }
    CHECK_EQ(out[n], 0);
}

static void an_escape_is_never_cut(void)
{
    const uint8_t in[] = { 'a', 'b', 0x1b, 'c' };
    char out[8];
    size_t used;
    /* Room for "ab" and the NUL, not for "\x1b": the text stops before it. */
    CHECK_EQ(text_escape(out, 5, in, sizeof in, &used), 2);
    CHECK(strcmp(out, "ab") == 0);
    CHECK_EQ(used, 2);
    CHECK_EQ(text_escape(out, 7, in, sizeof in, &used), 6);
    CHECK(strcmp(out, "ab\\x1b") == 0);
    CHECK_EQ(used, 3);
    CHECK_EQ(text_escape(out, 1, in, sizeof in, &used), 0);
    CHECK_EQ(out[0], 0);
    CHECK_EQ(text_escape(out, 0, in, sizeof in, &used), 0);
    CHECK_EQ(used, 0);
}

/* A value for a quoted log field: a client's '"' cannot end the field and forge the fields
 * after it (review finding: target=x" verdict="ok" read as a verdict of the relay's). */
static void a_quote_in_a_field_cannot_end_it(void)
{
    char out[TEXT_QUOTE_FIELD_SIZE(64)], line[256];
    const char in[] = "x:80\" verdict=\"ok\" location=\"loc9 100%";
    size_t used;
    size_t n = text_quote_field(out, sizeof out, in, strlen(in), &used);
    CHECK(strcmp(out, "x:80%22 verdict=%22ok%22 location=%22loc9 100%25") == 0);
    CHECK_EQ(n, strlen(out));
    CHECK_EQ(used, strlen(in));
    CHECK(strchr(out, '"') == NULL);
    /* As the relay writes it, then as the log escapes it: one field, ending where it should. */
    snprintf(line, sizeof line, "target=\"%s\" verdict=\"no mapping\"", out);
    CHECK(strstr(line, "verdict=\"ok") == NULL);
    CHECK_EQ(strstr(line, "\" verdict=\"no mapping\"") - line, 8 + (long)n);
    /* Room runs out: %22 is never cut. */
    CHECK_EQ(text_quote_field(out, 5, "ab\"c", 4, &used), 2);
    CHECK(strcmp(out, "ab") == 0);
    CHECK_EQ(used, 2);
    CHECK_EQ(text_quote_field(out, 7, "ab\"c", 4, &used), 6);
    CHECK(strcmp(out, "ab%22c") == 0);
    /* Control bytes are left for the log's own escaping (one pass, one \xHH each). */
    CHECK_EQ(text_quote_field(out, sizeof out, "a\nb", 3, NULL), 3);
    CHECK(memcmp(out, "a\nb", 4) == 0);
}

CHECK_MAIN(
    { "printable_ascii_stays_the_rest_becomes_hex", printable_ascii_stays_the_rest_becomes_hex },
    { "every_byte_value_comes_out_printable", every_byte_value_comes_out_printable },
    { "an_escape_is_never_cut", an_escape_is_never_cut },
    { "a_quote_in_a_field_cannot_end_it", a_quote_in_a_field_cannot_end_it })
