/* The LMTP client engine (proto/lmtp): a delivery as the relay's `spool lmtp` runs it,
 * the message's bytes as the store will read them, and every way a store can refuse:
 * temporary (4xx, a store that refuses us before RCPT, a protocol error) or for good (5xx
 * to RCPT, DATA or the end of data). */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "lmtp.h"

/* Feeds a server's text; returns the event (the whole text must be taken). */
static enum lmtp_ev feed(struct lmtp_client *c, const char *s)
{
    enum lmtp_ev ev = LMTP_EV_NONE;
    size_t len = strlen(s), at = 0;
    while (at < len) {
        at += lmtp_input(c, (const uint8_t *)s + at, len - at, &ev);
        if (ev != LMTP_EV_NONE) {
            break;
        }
    }
    return at == len ? ev : (enum lmtp_ev)-1;
}

/* The command waiting, as text, and sent. */
static const char *sent(struct lmtp_client *c)
{
    static char buf[LMTP_OUT_MAX + 1];
    const uint8_t *p;
    size_t n = lmtp_out(c, &p);
    memcpy(buf, p, n);
    buf[n] = 0;
    lmtp_out_consume(c, n);
    return buf;
}

/* Greeting to 354, as Dovecot answers them. */
static int to_body(struct lmtp_client *c)
{
    if (lmtp_init(c, "relay1", "loc1@relay.example") != 0
        || feed(c, "220 store Dovecot ready.\r\n") != LMTP_EV_NONE
        || strcmp(sent(c), "LHLO relay1\r\n") != 0
        || feed(c, "250-store\r\n250-8BITMIME\r\n250-CHUNKING\r\n250 PIPELINING\r\n") != 0
        || strcmp(sent(c), "MAIL FROM:<>\r\n") != 0 || feed(c, "250 2.1.0 OK\r\n") != 0
        || strcmp(sent(c), "RCPT TO:<loc1@relay.example>\r\n") != 0
        || feed(c, "250 2.1.5 OK\r\n") != 0 || strcmp(sent(c), "DATA\r\n") != 0) {
        return -1;
    }
    return feed(c, "354 OK\r\n") == LMTP_EV_BODY && c->state == LMTP_S_BODY ? 0 : -1;
}

/* The message through lmtp_body in pieces of `piece` bytes into outputs of `cap`, then the
 * end of data: what goes on the wire. */
static size_t stuff(struct lmtp_client *c, const char *msg, size_t piece, size_t cap,
                    uint8_t *wire, size_t wire_cap)
{
    size_t len = strlen(msg), at = 0, w = 0;
    for (int guard = 0; at < len && guard < 100000; guard++) {
        size_t used, n = len - at < piece ? len - at : piece;
        size_t room = wire_cap - w < cap ? wire_cap - w : cap;
        w += lmtp_body(c, (const uint8_t *)msg + at, n, wire + w, room, &used);
        at += used;
    }
    return w + lmtp_body_end(c, wire + w, wire_cap - w);
}

static void a_delivery_is_stored_after_the_final_reply(void)
{
    struct lmtp_client c;
    uint8_t wire[256];
    CHECK_EQ(to_body(&c), 0);
    size_t n = stuff(&c, "Subject: x\r\n\r\nhello\r\n", 1000, 1000, wire, sizeof wire);
    CHECK_EQ(n, 24);
    CHECK(memcmp(wire, "Subject: x\r\n\r\nhello\r\n.\r\n", 24) == 0);
    CHECK_EQ(c.state, LMTP_S_DOT);
    CHECK_EQ(feed(&c, "250 2.0.0 <loc1@relay.example> jZutKP8eFWu Saved\r\n"), LMTP_EV_DONE);
    CHECK_EQ(c.state, LMTP_S_DONE);
    CHECK_EQ(c.code, 250);
    CHECK(strcmp(c.text, "250 2.0.0 <loc1@relay.example> jZutKP8eFWu Saved") == 0);
    CHECK_EQ(feed(&c, "221 bye\r\n"), LMTP_EV_NONE);    /* after the end: taken, ignored */
}

static void dots_that_start_lines_are_doubled_and_the_end_is_exact(void)
{
    static const struct {
        const char *msg, *wire;
    } cases[] = {
        { ".first\r\nmid.dle\r\n.\r\n..two\r\n", "..first\r\nmid.dle\r\n..\r\n...two\r\n.\r\n" },
        { "bare\n.lf\n", "bare\n..lf\n.\r\n" },             /* LF ends a line for the store */
        { "no end", "no end\r\n.\r\n" },                    /* DATA cannot carry it without */
        { "ends in cr\r", "ends in cr\r\r\n.\r\n" },
        { "", ".\r\n" },
        { ".", "..\r\n.\r\n" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        /* in one piece, byte by byte, and into outputs of 2 bytes (a doubled dot's room) */
        static const size_t shapes[][2] = { { 1000, 1000 }, { 1, 1000 }, { 1000, 2 }, { 3, 2 } };
        for (size_t s = 0; s < 4; s++) {
            struct lmtp_client c;
            uint8_t wire[256];
            CHECK_EQ(to_body(&c), 0);
            size_t n = stuff(&c, cases[k].msg, shapes[s][0], shapes[s][1], wire, sizeof wire);
            CHECK_EQ(n, strlen(cases[k].wire));
            CHECK(memcmp(wire, cases[k].wire, n) == 0);
        }
    }
}

static void a_dot_waits_for_room_for_its_double(void)
{
    struct lmtp_client c;
    uint8_t out[4];
    size_t used;
    CHECK_EQ(to_body(&c), 0);
    CHECK_EQ(lmtp_body(&c, (const uint8_t *)".x", 2, out, 1, &used), 0);
    CHECK_EQ(used, 0);
    CHECK_EQ(lmtp_body(&c, (const uint8_t *)".x", 2, out, 2, &used), 2);
    CHECK_EQ(used, 1);
    CHECK(memcmp(out, "..", 2) == 0);
    CHECK_EQ(lmtp_body_end(&c, out, 4), 0);             /* the end needs LMTP_END_MAX */
    CHECK_EQ(c.state, LMTP_S_BODY);
}

/* Each step's refusals: 4xx is temporary everywhere; 5xx before RCPT refuses the relay,
 * not the message (temporary); 5xx to RCPT, DATA or the end refuses the message. */
static void refusals_are_temporary_or_for_good_by_step(void)
{
    static const char *const steps[] = {
        "", "220 hi\r\n", "220 hi\r\n250 ok\r\n", "220 hi\r\n250 ok\r\n250 ok\r\n",
        "220 hi\r\n250 ok\r\n250 ok\r\n250 ok\r\n",
    };
    static const enum lmtp_state at[] = { LMTP_S_GREETING, LMTP_S_LHLO, LMTP_S_MAIL, LMTP_S_RCPT,
                                          LMTP_S_DATA };
    for (size_t k = 0; k < 5; k++) {
        for (int cls = 4; cls <= 5; cls++) {
            struct lmtp_client c;
            char reply[64];
            CHECK_EQ(lmtp_init(&c, "relay1", "loc1@relay.example"), 0);
            /* the steps' replies one by one, each after its command went out */
            for (const char *s = steps[k]; *s;) {
                const char *nl = strchr(s, '\n');
                char one[32];
                memcpy(one, s, (size_t)(nl - s) + 1);
                one[nl - s + 1] = 0;
                CHECK_EQ(feed(&c, one), LMTP_EV_NONE);
                sent(&c);
                s = nl + 1;
            }
            CHECK_EQ(c.state, at[k]);
            snprintf(reply, sizeof reply, "%d50 %d.1.1 <loc1@relay.example> no\r\n", cls, cls);
            CHECK_EQ(feed(&c, reply), LMTP_EV_FAILED);
            CHECK_EQ(c.state, LMTP_S_FAILED);
            CHECK_EQ(c.failed_at, at[k]);
            CHECK_EQ(c.code, (unsigned)cls * 100 + 50);
            CHECK_EQ(c.fail, cls == 5 && at[k] >= LMTP_S_RCPT ? LMTP_PERM : LMTP_TEMP);
            reply[strlen(reply) - 2] = 0;
            CHECK(strcmp(c.text, reply) == 0);
            CHECK_EQ(lmtp_out(&c, &(const uint8_t *){ NULL }), 0);
        }
    }
    /* and at the end of data, after the message */
    for (int cls = 4; cls <= 5; cls++) {
        struct lmtp_client c;
        uint8_t wire[64];
        CHECK_EQ(to_body(&c), 0);
        stuff(&c, "x\r\n", 10, 10, wire, sizeof wire);
        CHECK_EQ(feed(&c, cls == 4 ? "452 4.2.2 Mailbox is full\r\n"
                                   : "552 5.2.3 Message too large\r\n"), LMTP_EV_FAILED);
        CHECK_EQ(c.fail, cls == 4 ? LMTP_TEMP : LMTP_PERM);
        CHECK_EQ(c.failed_at, LMTP_S_DOT);
    }
}

static void malformed_or_untimely_replies_fail_temporarily(void)
{
    static const char *const bad[] = {
        "hello\r\n", "22 short\r\n", "2200 x\r\n", "120 x\r\n", "620 x\r\n", "2a0 x\r\n",
        "220-one\r\n221 two\r\n",                             /* codes differ in one reply */
        "\r\n",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        struct lmtp_client c;
        CHECK_EQ(lmtp_init(&c, "relay1", "loc1@relay.example"), 0);
        CHECK_EQ(feed(&c, bad[k]), LMTP_EV_FAILED);
        CHECK_EQ(c.fail, LMTP_TEMP);
    }
    /* a reply before our command is out */
    struct lmtp_client c;
    CHECK_EQ(lmtp_init(&c, "relay1", "loc1@relay.example"), 0);
    CHECK_EQ(feed(&c, "220 hi\r\n"), LMTP_EV_NONE);
    CHECK_EQ(feed(&c, "250 ok\r\n"), LMTP_EV_FAILED);
    CHECK(strstr(c.text, "before LHLO was sent") != NULL);
    /* 250 to DATA, 354 to RCPT */
    CHECK_EQ(to_body(&c), 0);
    struct lmtp_client d;
    CHECK_EQ(lmtp_init(&d, "relay1", "loc1@relay.example"), 0);
    CHECK_EQ(feed(&d, "220 hi\r\n"), 0);
    sent(&d);
    CHECK_EQ(feed(&d, "354 go\r\n"), LMTP_EV_FAILED);
    CHECK(strcmp(d.text, "unexpected reply to LHLO: 354 go") == 0);
    /* a reply in the middle of the message ends it */
    uint8_t out[16];
    size_t used;
    CHECK_EQ(to_body(&c), 0);
    CHECK(lmtp_body(&c, (const uint8_t *)"abc", 3, out, sizeof out, &used) == 3);
    enum lmtp_ev ev;
    const char *mid = "421-4.4.2 timeout\r\n421 bye\r\n";
    CHECK_EQ(lmtp_input(&c, (const uint8_t *)mid, strlen(mid), &ev), 19);
    CHECK_EQ(ev, LMTP_EV_FAILED);
    CHECK_EQ(c.fail, LMTP_TEMP);
    CHECK_EQ(c.failed_at, LMTP_S_BODY);
    CHECK(strcmp(c.text, "reply during the message: 421 4.4.2 timeout") == 0);
    CHECK_EQ(lmtp_body(&c, (const uint8_t *)"abc", 3, out, sizeof out, &used), 0);
    CHECK_EQ(used, 0);
}

/* Bytes as TCP cuts them: byte by byte, and a line beyond LMTP_LINE_MAX (its rest dropped,
 * the reply still read); control bytes in the text are not kept. */
static void replies_cut_anywhere_and_long_lines_are_read(void)
{
    struct lmtp_client c;
    enum lmtp_ev ev = LMTP_EV_NONE;
    CHECK_EQ(lmtp_init(&c, "relay1", "loc1@relay.example"), 0);
    const char *greet = "220 one\r\n";
    for (size_t i = 0; greet[i]; i++) {
        CHECK_EQ(lmtp_input(&c, (const uint8_t *)greet + i, 1, &ev), 1);
        CHECK_EQ(ev, LMTP_EV_NONE);
    }
    CHECK(strcmp(sent(&c), "LHLO relay1\r\n") == 0);
    char big[2000];
    memset(big, 'x', sizeof big);
    memcpy(big, "250-", 4);
    memcpy(big + sizeof big - 15, "\r\n250 OK \x1b[2J\r\n", 15);
    size_t at = 0;
    while (at < sizeof big && ev == LMTP_EV_NONE) {
        at += lmtp_input(&c, (const uint8_t *)big + at, sizeof big - at, &ev);
    }
    CHECK_EQ(at, sizeof big);
    CHECK_EQ(c.state, LMTP_S_MAIL);
    CHECK(strlen(c.reply_text) <= LMTP_TEXT_MAX);
    CHECK(strcmp(sent(&c), "MAIL FROM:<>\r\n") == 0);
    /* replies to commands not sent (a server pipelining on its own) */
    const char *two = "250 ok\r\n250 again\r\n";
    CHECK_EQ(lmtp_input(&c, (const uint8_t *)two, strlen(two), &ev), strlen(two));
    CHECK_EQ(ev, LMTP_EV_FAILED);
    CHECK(strcmp(c.text, "reply 250 before RCPT TO was sent") == 0);
    /* an event stops the input: the rest is the next call's */
    CHECK_EQ(lmtp_init(&c, "relay1", "loc1@relay.example"), 0);
    const char *pre[] = { "220 a\r\n", "250 b\r\n", "250 c\r\n", "250 d\r\n" };
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(feed(&c, pre[i]), LMTP_EV_NONE);
        sent(&c);
    }
    const char *go = "354 go\r\n250 early\r\n";
    CHECK_EQ(lmtp_input(&c, (const uint8_t *)go, strlen(go), &ev), 8);
    CHECK_EQ(ev, LMTP_EV_BODY);
    /* text without control bytes */
    CHECK_EQ(lmtp_init(&c, "relay1", "loc1@relay.example"), 0);
    CHECK_EQ(feed(&c, "554 no \x07service\r\n"), LMTP_EV_FAILED);
    CHECK(strcmp(c.text, "554 no ?service") == 0);
    CHECK_EQ(c.fail, LMTP_TEMP);                         /* the store refuses us, not the mail */
}

static void names_and_addresses_that_could_break_a_command_are_refused(void)
{
    struct lmtp_client c;
    char long_addr[LMTP_ADDR_MAX + 2];
    memset(long_addr, 'a', sizeof long_addr);
    long_addr[1] = '@';
    long_addr[sizeof long_addr - 1] = 0;
    static const char *const bad_rcpt[] = {
        "", "noat", "@relay.example", "loc1@", "a@b@c", "a b@c", "a\r\n@c", "<a@c>", "a\"@c",
        "a\\@c", "a@c\x7f",
    };
    for (size_t k = 0; k < sizeof bad_rcpt / sizeof bad_rcpt[0]; k++) {
        CHECK_EQ(lmtp_init(&c, "relay1", bad_rcpt[k]), -1);
    }
    CHECK_EQ(lmtp_init(&c, "relay1", long_addr), -1);
    long_addr[LMTP_ADDR_MAX] = 0;
    CHECK_EQ(lmtp_init(&c, "relay1", long_addr), 0);
    CHECK_EQ(lmtp_init(&c, "relay one", "a@b"), -1);
    CHECK_EQ(lmtp_init(&c, "", "a@b"), -1);
    CHECK_EQ(lmtp_init(&c, "relay_1", "a@b"), -1);
    CHECK_EQ(lmtp_init(&c, "relay-1.example", "loc1+x.y@relay.example"), 0);
}

CHECK_MAIN({ "a_delivery_is_stored_after_the_final_reply", a_delivery_is_stored_after_the_final_reply },
           { "dots_that_start_lines_are_doubled_and_the_end_is_exact",
             dots_that_start_lines_are_doubled_and_the_end_is_exact },
           { "a_dot_waits_for_room_for_its_double", a_dot_waits_for_room_for_its_double },
           { "refusals_are_temporary_or_for_good_by_step", refusals_are_temporary_or_for_good_by_step },
           { "malformed_or_untimely_replies_fail_temporarily",
             malformed_or_untimely_replies_fail_temporarily },
           { "replies_cut_anywhere_and_long_lines_are_read",
             replies_cut_anywhere_and_long_lines_are_read },
           { "names_and_addresses_that_could_break_a_command_are_refused",
             names_and_addresses_that_could_break_a_command_are_refused })
