/* The IMAP engine against scripted server lines (the normal flows also run against Dovecot
 * in tests/integration/test_imap_client.sh): what it sends, in which order, and the
 * events it reports; STARTTLS attacks end the session before the password goes out. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "imap_client.h"

#define PASS "s3cret\"pw"
#define PASS_B64 "AG1hcmtldABzM2NyZXQicHc="      /* \0market\0s3cret"pw */

static struct imap_client c;
static char sent[16384];         /* everything the client sent, for the no-password checks */
static size_t sent_len;
static char body[8192];
static size_t body_len;

static void start(int starttls, enum imap_after after, const char *move_to)
{
    struct imap_client_config cfg = {
        .user = "market", .pass = PASS, .folder = "INBOX", .after = after,
        .move_to = move_to, .starttls = starttls,
    };
    imap_client_init(&c, &cfg);
    sent_len = 0;
    sent[0] = 0;
}

/* What the client wants to send now, as a string (and consumed). */
static const char *out(void)
{
    static char s[IMAP_OUT_MAX + 1];
    const uint8_t *p;
    size_t n = imap_client_out(&c, &p);
    memcpy(s, p, n);
    s[n] = 0;
    if (sent_len + n < sizeof sent) {
        memcpy(sent + sent_len, p, n);
        sent_len += n;
        sent[sent_len] = 0;
    }
    imap_client_out_done(&c, n);
    return s;
}

/* Feeds server text in pieces of `chunk`; returns the events as letters:
 * S starttls, R ready, N newmail, B begin, D data, E end, F failed, C closed. */
static const char *server_chunked(const char *text, size_t chunk)
{
    static char evs[256];
    size_t ne = 0, len = strlen(text);
    const uint8_t *p = (const uint8_t *)text;
    evs[0] = 0;
    for (unsigned guard = 0; guard < 100000 && ne + 1 < sizeof evs; guard++) {
        struct imap_cevent ev;
        size_t n = len < chunk ? len : chunk;
        long r = imap_client_feed(&c, p, n, &ev);
        if (r >= 0) {
            p += r;
            len -= (size_t)r;
        }
        static const char letters[] = "-SRNBDEFC";
        if (ev.type == IC_EV_NONE) {
            if (len == 0) {
                break;
            }
            continue;
        }
        if (ev.type != IC_EV_BODY_DATA || !ne || evs[ne - 1] != 'D') {
            evs[ne++] = letters[ev.type];
        }
        if (ev.type == IC_EV_BODY_BEGIN) {
            body_len = 0;
        }
        if (ev.type == IC_EV_BODY_DATA && body_len + ev.len < sizeof body) {
            memcpy(body + body_len, ev.p, ev.len);
            body_len += ev.len;
        }
        if (r < 0 || ev.type == IC_EV_STARTTLS) {
            break;          /* the owner stops feeding when told to do TLS */
        }
    }
    evs[ne] = 0;
    return evs;
}

static const char *server(const char *text)
{
    return server_chunked(text, 4096);
}

#define EXPECT_STR(got, want) do { \
        const char *g_ = (got); \
        if (strcmp(g_, (want)) != 0) { \
            fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, g_, \
                    (want)); \
            check_failed = 1; \
            return; \
        } \
    } while (0)

static const char *GREETING =
    "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
    "AUTH=PLAIN] Dovecot ready.\r\n";
static const char *CAPS_PRE =
    "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
    "AUTH=PLAIN\r\n";
static const char *SELECT_ANSWER =
    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
    "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags "
    "permitted.\r\n* 3 EXISTS\r\n* 0 RECENT\r\n"
    "* OK [UIDVALIDITY 1764337500] UIDs valid\r\n* OK [UIDNEXT 9] Predicted next UID\r\n";

/* Up to READY through STARTTLS with Dovecot's real lines. */
static int login_starttls(void)
{
    start(1, IMAP_DO_DELETE, NULL);
    if (strcmp(server(GREETING), "") || strcmp(out(), "g1 CAPABILITY\r\n")) return 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%sg1 OK Pre-login capabilities listed, post-login "
             "capabilities have more.\r\n", CAPS_PRE);
    if (strcmp(server(buf), "") || strcmp(out(), "g2 STARTTLS\r\n")) return 0;
    if (strcmp(server("g2 OK Begin TLS negotiation now.\r\n"), "S")) return 0;
    imap_client_tls_done(&c);
    if (strcmp(out(), "g3 CAPABILITY\r\n")) return 0;
    snprintf(buf, sizeof buf, "%sg3 OK caps\r\n", CAPS_PRE);
    if (strcmp(server(buf), "") || strcmp(out(), "g4 AUTHENTICATE PLAIN " PASS_B64 "\r\n"))
        return 0;
    if (strcmp(server("g4 OK [CAPABILITY IMAP4rev1 SASL-IR IDLE UIDPLUS MOVE] Logged in\r\n"),
               "") || strcmp(out(), "g5 SELECT \"INBOX\"\r\n")) return 0;
    snprintf(buf, sizeof buf, "%sg5 OK [READ-WRITE] Select completed.\r\n", SELECT_ANSWER);
    return strcmp(server(buf), "R") == 0;
}

static void starttls_login_select_from_dovecot_lines(void)
{
    CHECK(login_starttls());
    CHECK_EQ(c.uidvalidity, 1764337500u);
    CHECK_EQ(c.uidnext, 9);
    CHECK_EQ(c.exists, 3);
    CHECK(c.caps & IMAP_CAP_UIDPLUS);
    CHECK(c.caps & IMAP_CAP_MOVE);
    CHECK(!(c.caps & IMAP_CAP_STARTTLS));       /* the post-login list replaced it */
    CHECK(strcmp(c.caps_text, "IMAP4rev1 SASL-IR IDLE UIDPLUS MOVE") == 0);
}

static void search_fetch_dispose_idle_logout(void)
{
    CHECK(login_starttls());
    CHECK_EQ(imap_client_search(&c), 0);
    EXPECT_STR(out(), "g6 UID SEARCH ALL\r\n");
    CHECK(!c.news);
    /* A mail announced during the search is announced once: the owner must search again. */
    EXPECT_STR(server("* 9 EXISTS\r\n* SEARCH 8 3 5 4\r\ng6 OK Search completed\r\n"), "R");
    CHECK(c.news);
    CHECK_EQ(c.nuids, 4);
    CHECK_EQ(c.uids[0], 3);
    CHECK_EQ(c.uids[3], 8);
    CHECK_EQ(imap_client_fetch(&c, 3), 0);
    EXPECT_STR(out(), "g7 UID FETCH 3 BODY.PEEK[]\r\n");
    /* A flag change of another message, then ours with a body holding a fake tagged line. */
    const char *fetch = "* 1 FETCH (FLAGS (\\Seen))\r\n"
                        "* 2 FETCH (UID 3 BODY[] {24}\r\nSubject: a\r\ng7 OK fake\r\n)\r\n"
                        "g7 OK Fetch completed.\r\n";
    for (size_t chunk = 1; chunk < 40; chunk += 6) {
        c.state = IC_S_FETCH;     /* re-run the same answer at another packet size */
        c.body_found = 0;
        const char *evs = server_chunked(fetch, chunk);
        if (strcmp(evs, "BDER")) {
            fprintf(stderr, "chunk %zu: %s: %s\n", chunk, evs, c.verdict);
        }
        EXPECT_STR(evs, "BDER");
        CHECK_EQ(body_len, 24);
        CHECK(memcmp(body, "Subject: a\r\ng7 OK fake\r\n", 24) == 0);
        CHECK(c.body_found);
        CHECK_EQ(c.body_size, 24);
    }
    uint32_t uids[] = { 3, 4, 5, 8 };
    CHECK_EQ(imap_client_dispose(&c, uids, 4), 0);
    EXPECT_STR(out(), "g8 UID STORE 3:5,8 +FLAGS.SILENT (\\Deleted)\r\n");
    EXPECT_STR(server("g8 OK Store completed.\r\n"), "");
    EXPECT_STR(out(), "g9 UID EXPUNGE 3:5,8\r\n");
    EXPECT_STR(server("* 1 EXPUNGE\r\n* 1 EXPUNGE\r\ng9 OK Expunge completed.\r\n"), "R");
    CHECK_EQ(imap_client_idle(&c), 0);
    EXPECT_STR(out(), "g10 IDLE\r\n");
    EXPECT_STR(server("+ idling\r\n* OK Still here\r\n"), "");
    EXPECT_STR(server("* 4 EXISTS\r\n"), "N");
    CHECK_EQ(c.exists, 4);
    EXPECT_STR(server("* 2 EXPUNGE\r\n* 4 EXISTS\r\n"), "N");   /* 3, then one more */
    CHECK_EQ(c.exists, 4);
    CHECK_EQ(imap_client_idle_done(&c), 0);
    EXPECT_STR(out(), "DONE\r\n");
    EXPECT_STR(server("g10 OK Idle completed.\r\n"), "R");
    CHECK_EQ(imap_client_logout(&c), 0);
    EXPECT_STR(out(), "g11 LOGOUT\r\n");
    EXPECT_STR(server("* BYE Logging out\r\ng11 OK Logout completed.\r\n"), "C");
}

/* A message expunged meanwhile: no body, READY, not a failure; NIL and a quoted body. */
static void fetch_of_a_vanished_message_and_small_bodies(void)
{
    CHECK(login_starttls());
    CHECK_EQ(imap_client_fetch(&c, 7), 0);
    out();
    EXPECT_STR(server("g6 NO Some messages could not be FETCHed (Failure)\r\n"), "R");
    CHECK(!c.body_found);
    CHECK_EQ(imap_client_fetch(&c, 7), 0);
    out();
    EXPECT_STR(server("* 2 FETCH (UID 7 BODY[] NIL)\r\ng7 OK Fetch completed.\r\n"), "R");
    CHECK(!c.body_found);
    CHECK_EQ(imap_client_fetch(&c, 7), 0);
    out();
    EXPECT_STR(server("* 2 FETCH (BODY[] \"hi\" UID 7)\r\ng8 OK done\r\n"), "BDER");
    CHECK_EQ(body_len, 2);
    /* The UID given after the body must still be the one asked for. */
    CHECK_EQ(imap_client_fetch(&c, 7), 0);
    out();
    EXPECT_STR(server("* 2 FETCH (BODY[] {2}\r\nhi UID 6)\r\ng9 OK done\r\n"), "BDEF");
    CHECK(strstr(c.verdict, "asked for UID 7, the body came for UID 6") != NULL);
}

/* A run of UIDs in one command (one round trip): each body comes with its UID, a flag
 * line between them is no body, a UID with no answer is simply not there; a body whose
 * UID comes only after it is begun with UID 0 (the owner skips it) and is no failure; a
 * second, different UID after a body is. */
static void fetch_set_names_each_body(void)
{
    static const uint32_t uids[] = { 3, 4, 5, 9 };
    static const uint32_t want[] = { 3, 5, 9 };
    CHECK(login_starttls());
    CHECK_EQ(imap_client_fetch_set(&c, uids, 4), 0);
    EXPECT_STR(out(), "g6 UID FETCH 3:5,9 (UID BODY.PEEK[])\r\n");
    const char *answer = "* 1 FETCH (UID 3 BODY[] {3}\r\nabc)\r\n"
                         "* 2 FETCH (FLAGS (\\Seen))\r\n"
                         "* 3 FETCH (UID 5 BODY[] {2}\r\nde)\r\n"
                         "* 4 FETCH (UID 9 BODY[] \"fgh\")\r\n"
                         "g6 OK Fetch completed.\r\n";
    for (size_t chunk = 1; chunk < 40; chunk += 7) {
        c.state = IC_S_FETCH;     /* the same answer at another packet size */
        unsigned k = 0;
        const char *p = answer;
        size_t left = strlen(answer);
        char evs[32] = "";
        size_t ne = 0;
        for (unsigned guard = 0; guard < 10000 && ne + 1 < sizeof evs; guard++) {
            struct imap_cevent ev;
            size_t n = left < chunk ? left : chunk;
            long r = imap_client_feed(&c, (const uint8_t *)p, n, &ev);
            CHECK(r >= 0);
            p += r;
            left -= (size_t)r;
            if (ev.type == IC_EV_BODY_BEGIN) {
                CHECK(k < 3 && c.fetch_uid == want[k]);
                k++;
            }
            if (ev.type != IC_EV_NONE && ev.type != IC_EV_BODY_DATA) {
                evs[ne++] = "-SRNBDEFC"[ev.type];
            }
            if (ev.type == IC_EV_NONE && left == 0) {
                break;
            }
        }
        evs[ne] = 0;
        EXPECT_STR(evs, "BEBEBER");
        CHECK_EQ(k, 3);
    }
    CHECK_EQ(imap_client_fetch_set(&c, uids, 2), 0);
    EXPECT_STR(out(), "g7 UID FETCH 3:4 (UID BODY.PEEK[])\r\n");
    EXPECT_STR(server("* 1 FETCH (BODY[] {2}\r\n"), "B");
    CHECK_EQ(c.fetch_uid, 0);                    /* not named first: the owner skips it */
    imap_client_skip_body(&c);
    EXPECT_STR(server("hi UID 3)\r\n"), "E");
    EXPECT_STR(server("* 2 FETCH (UID 4 BODY[] {2}\r\nyo)\r\ng7 OK done\r\n"), "BDER");
    CHECK_EQ(body_len, 2);
    CHECK(memcmp(body, "yo", 2) == 0);
    CHECK_EQ(imap_client_fetch_set(&c, uids, 1), 0);
    out();
    EXPECT_STR(server("* 1 FETCH (UID 3 BODY[] {2}\r\nhi UID 8)\r\ng8 OK done\r\n"), "BDEF");
    CHECK(strstr(c.verdict, "asked for UID 3, the body came for UID 8") != NULL);
}

static void skipped_body_still_ends(void)
{
    CHECK(login_starttls());
    CHECK_EQ(imap_client_fetch(&c, 3), 0);
    out();
    EXPECT_STR(server("* 2 FETCH (UID 3 BODY[] {10}\r\n"), "B");
    imap_client_skip_body(&c);
    EXPECT_STR(server("0123456789)\r\ng6 OK done\r\n"), "ER");
}

static void move_without_move_extension_and_seen(void)
{
    start(0, IMAP_DO_MOVE, "Archive/2026");
    EXPECT_STR(server("* OK ready\r\n"), "");
    EXPECT_STR(out(), "g1 CAPABILITY\r\n");
    EXPECT_STR(server("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\ng1 OK\r\n"), "");
    /* No SASL-IR: the credentials follow the continuation request. */
    EXPECT_STR(out(), "g2 AUTHENTICATE PLAIN\r\n");
    EXPECT_STR(server("+ \r\n"), "");
    EXPECT_STR(out(), PASS_B64 "\r\n");
    EXPECT_STR(server("g2 OK Logged in\r\n"), "");
    EXPECT_STR(out(), "g3 CAPABILITY\r\n");
    EXPECT_STR(server("* CAPABILITY IMAP4rev1 IDLE\r\ng3 OK\r\n"), "");
    EXPECT_STR(out(), "g4 SELECT \"INBOX\"\r\n");
    EXPECT_STR(server("* OK [UIDVALIDITY 7] x\r\ng4 OK\r\n"), "R");
    uint32_t uids[] = { 10 };
    CHECK_EQ(imap_client_dispose(&c, uids, 1), 0);
    EXPECT_STR(out(), "g5 UID COPY 10 \"Archive/2026\"\r\n");
    EXPECT_STR(server("g5 OK Copy completed.\r\n"), "");
    EXPECT_STR(out(), "g6 UID STORE 10 +FLAGS.SILENT (\\Deleted)\r\n");
    EXPECT_STR(server("g6 OK\r\n"), "");
    EXPECT_STR(out(), "g7 EXPUNGE\r\n");             /* no UIDPLUS */
    EXPECT_STR(server("g7 OK\r\n"), "R");
    CHECK_EQ(imap_client_noop(&c), 0);                /* no IDLE capability: polling */
    CHECK_EQ(imap_client_idle(&c), -1);
    EXPECT_STR(out(), "g8 NOOP\r\n");

    start(0, IMAP_DO_SEEN, NULL);
    server("* OK ready\r\n");
    out();
    server("* CAPABILITY IMAP4rev1\r\ng1 OK\r\n");
    /* LOGIN with the password quoted (its quote escaped). */
    EXPECT_STR(out(), "g2 LOGIN \"market\" \"s3cret\\\"pw\"\r\n");
    EXPECT_STR(server("g2 OK [CAPABILITY IMAP4rev1 MOVE] Logged in\r\n"), "");
    EXPECT_STR(out(), "g3 SELECT \"INBOX\"\r\n");
    EXPECT_STR(server("* OK [UIDVALIDITY 7] x\r\ng3 OK\r\n"), "R");
    CHECK_EQ(imap_client_search(&c), 0);
    EXPECT_STR(out(), "g4 UID SEARCH UNSEEN\r\n");
    EXPECT_STR(server("* SEARCH\r\ng4 OK\r\n"), "R");
    CHECK_EQ(c.nuids, 0);
    uint32_t two[] = { 1, 2 };
    CHECK_EQ(imap_client_dispose(&c, two, 2), 0);
    EXPECT_STR(out(), "g5 UID STORE 1:2 +FLAGS.SILENT (\\Seen)\r\n");
    EXPECT_STR(server("g5 OK\r\n"), "R");

    /* A folder that keeps keywords: "delivered" is our keyword, not \Seen (a person may
     * have read the mail first); PERMANENTFLAGS before login would not count. */
    CHECK_EQ(c.keywords, 0);
    EXPECT_STR(server("* OK [PERMANENTFLAGS (\\Seen \\*)] Limited\r\n"), "");
    CHECK_EQ(c.keywords, 1);
    CHECK_EQ(imap_client_search(&c), 0);
    EXPECT_STR(out(), "g6 UID SEARCH UNKEYWORD $GatewayDelivered\r\n");
    EXPECT_STR(server("* SEARCH 3\r\ng6 OK\r\n"), "R");
    CHECK_EQ(imap_client_dispose(&c, c.uids, c.nuids), 0);
    EXPECT_STR(out(), "g7 UID STORE 3 +FLAGS.SILENT (\\Seen $GatewayDelivered)\r\n");
}

/* Before login the server can only tell us capabilities and status. */
static void before_login_only_capabilities_count(void)
{
    start(0, IMAP_DO_DELETE, NULL);
    server("* OK [UIDVALIDITY 99] hi\r\n* 5 EXISTS\r\n* SEARCH 1 2\r\n* 1 FETCH (UID 1 BODY[] "
           "{3}\r\nabc)\r\n");
    CHECK_EQ(c.state, IC_S_CAPA);
    CHECK_EQ(c.uidvalidity, 0);
    CHECK_EQ(c.exists, 0);
    CHECK_EQ(c.nuids, 0);
    /* A literal before login is capped small. */
    EXPECT_STR(server("* 1 FETCH (BODY[] {70000}\r\n"), "F");
    CHECK(strstr(c.verdict, "literal larger than allowed") != NULL);
}

/* The search keeps the smallest UIDs when the server lists more than a batch. */
static void search_keeps_the_smallest_batch(void)
{
    CHECK(login_starttls());
    CHECK_EQ(imap_client_search(&c), 0);
    out();
    char line[2048] = "* SEARCH";
    for (unsigned u = 200; u >= 100; u--) {
        snprintf(line + strlen(line), sizeof line - strlen(line), " %u", u);
    }
    strcat(line, "\r\ng6 OK\r\n");
    EXPECT_STR(server(line), "R");
    CHECK_EQ(c.nuids, IMAP_BATCH_MAX);
    CHECK(c.search_more);
    for (unsigned i = 0; i < IMAP_BATCH_MAX; i++) {
        CHECK_EQ(c.uids[i], 100 + i);
    }
}

/* ---- STARTTLS attacks: each refused, and the password never leaves ---- */

static void no_password_sent(void)
{
    CHECK(strstr(sent, "s3cret") == NULL);
    CHECK(strstr(sent, PASS_B64) == NULL);
    CHECK(strstr(sent, "LOGIN") == NULL);
    CHECK(strstr(sent, "AUTHENTICATE") == NULL);
}

static void starttls_not_offered(void)
{
    start(1, IMAP_DO_DELETE, NULL);
    server("* OK ready\r\n");
    out();
    EXPECT_STR(server("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\ng1 OK\r\n"), "F");
    CHECK(strstr(c.verdict, "does not offer STARTTLS") != NULL);
    out();
    no_password_sent();
}

static void preauth_greeting(void)
{
    start(1, IMAP_DO_DELETE, NULL);
    EXPECT_STR(server("* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] Logged in as market\r\n"), "F");
    CHECK(strstr(c.verdict, "PREAUTH") != NULL);
    out();
    no_password_sent();
    start(0, IMAP_DO_DELETE, NULL);       /* over TLS too: we log in as ourselves or not */
    EXPECT_STR(server("* PREAUTH hello\r\n"), "F");
}

static void starttls_refused(void)
{
    start(1, IMAP_DO_DELETE, NULL);
    server("* OK ready\r\n");
    out();
    server("* CAPABILITY IMAP4rev1 STARTTLS\r\ng1 OK\r\n");
    EXPECT_STR(out(), "g2 STARTTLS\r\n");
    EXPECT_STR(server("g2 NO not now\r\n"), "F");
    CHECK(strstr(c.verdict, "starttls: NO not now") != NULL);
    out();
    no_password_sent();
    /* BAD, and an untagged OK where the tagged one belongs. */
    start(1, IMAP_DO_DELETE, NULL);
    server("* OK ready\r\n");
    out();
    server("* CAPABILITY IMAP4rev1 STARTTLS\r\ng1 OK\r\n");
    out();
    EXPECT_STR(server("* OK Begin TLS negotiation now.\r\ng2 BAD no\r\n"), "F");
    out();
    no_password_sent();
}

static void bytes_after_starttls_ok(void)
{
    start(1, IMAP_DO_DELETE, NULL);
    server("* OK ready\r\n");
    out();
    server("* CAPABILITY IMAP4rev1 STARTTLS\r\ng1 OK\r\n");
    out();
    /* The injected capability line shares the packet with the OK. */
    struct imap_cevent ev;
    const char *pkt = "g2 OK Begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n";
    long r = imap_client_feed(&c, (const uint8_t *)pkt, strlen(pkt), &ev);
    CHECK_EQ(ev.type, IC_EV_STARTTLS);
    CHECK(r > 0 && (size_t)r < strlen(pkt));
    r = imap_client_feed(&c, (const uint8_t *)pkt + r, strlen(pkt) - (size_t)r, &ev);
    CHECK_EQ(r, -1);
    CHECK_EQ(ev.type, IC_EV_FAILED);
    CHECK(strstr(c.verdict, "after the STARTTLS OK") != NULL);
    imap_client_tls_done(&c);             /* too late: nothing happens */
    out();
    no_password_sent();
}

static void tagged_response_injection(void)
{
    start(1, IMAP_DO_DELETE, NULL);
    server("* OK ready\r\n");
    out();
    /* An OK for a command we have not sent yet (the STARTTLS to come). */
    EXPECT_STR(server("* CAPABILITY IMAP4rev1 STARTTLS\r\ng2 OK Begin TLS\r\ng1 OK\r\n"), "F");
    CHECK(strstr(c.verdict, "tagged response g2 is not for the command in flight") != NULL);
    out();
    no_password_sent();
    /* A tagged response with no command in flight. */
    CHECK(login_starttls());
    EXPECT_STR(server("g5 OK again\r\n"), "F");
}

static void server_bye_and_syntax_errors_end_the_session(void)
{
    CHECK(login_starttls());
    EXPECT_STR(server("* BYE shutting down\r\n"), "F");
    CHECK(strstr(c.verdict, "server closed the session: shutting down") != NULL);
    CHECK(login_starttls());
    EXPECT_STR(server("* 3 EXISTS\x01\r\n"), "F");
    CHECK(strstr(c.verdict, "syntax") != NULL);
    CHECK(login_starttls());
    imap_client_abort(&c, "connection lost");
    CHECK(strcmp(c.verdict, "ready: connection lost") == 0);
    CHECK_EQ(imap_client_search(&c), -1);
}

static void login_refused_names_the_reason(void)
{
    start(0, IMAP_DO_DELETE, NULL);
    server("* OK ready\r\n");
    out();
    server("* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\ng1 OK\r\n");
    out();
    EXPECT_STR(server("g2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"), "F");
    CHECK(strcmp(c.verdict, "login refused: Authentication failed.") == 0);
    /* The wire copy of the credentials is wiped once sent. */
    const uint8_t *p;
    CHECK_EQ(imap_client_out(&c, &p), 0);
    for (size_t i = 0; i < sizeof c.out; i++) {
        CHECK_EQ(c.out[i], 0);
    }
}

static void uid_sets(void)
{
    char s[64];
    uint32_t a[] = { 1, 2, 3, 5, 7, 8, 10 };
    CHECK_EQ(imap_uidset(s, sizeof s, a, 7), 12);
    CHECK(strcmp(s, "1:3,5,7:8,10") == 0);
    CHECK_EQ(imap_uidset(s, 5, a, 7), -1);
    uint32_t big[IMAP_BATCH_MAX];
    for (unsigned i = 0; i < IMAP_BATCH_MAX; i++) {
        big[i] = 4000000000u + 2 * i;      /* worst case: no ranges, 10 digits each */
    }
    CHECK(imap_uidset(c.uidset, sizeof c.uidset, big, IMAP_BATCH_MAX) > 0);
}

CHECK_MAIN(
    { "starttls_login_select_from_dovecot_lines", starttls_login_select_from_dovecot_lines },
    { "search_fetch_dispose_idle_logout", search_fetch_dispose_idle_logout },
    { "fetch_of_a_vanished_message_and_small_bodies",
      fetch_of_a_vanished_message_and_small_bodies },
    { "fetch_set_names_each_body", fetch_set_names_each_body },
    { "skipped_body_still_ends", skipped_body_still_ends },
    { "move_without_move_extension_and_seen", move_without_move_extension_and_seen },
    { "before_login_only_capabilities_count", before_login_only_capabilities_count },
    { "search_keeps_the_smallest_batch", search_keeps_the_smallest_batch },
    { "starttls_not_offered", starttls_not_offered },
    { "preauth_greeting", preauth_greeting },
    { "starttls_refused", starttls_refused },
    { "bytes_after_starttls_ok", bytes_after_starttls_ok },
    { "tagged_response_injection", tagged_response_injection },
    { "server_bye_and_syntax_errors_end_the_session",
      server_bye_and_syntax_errors_end_the_session },
    { "login_refused_names_the_reason", login_refused_names_the_reason },
    { "uid_sets", uid_sets }
)
