/* The IMAP response lexer: real server lines come out as the same tokens whatever the
 * packet boundaries, literals pass through in pieces without being held, and each broken
 * or oversized form stops with its own error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "imap_parse.h"

/* Events as text: "B:tag" "B*" "B+" "A:x" "S:x" "L:n" "D:bytes" (pieces joined) "E" "(" ")"
 * "[" "]" "T:text" "." (end of line), separated by spaces. */
struct trace {
    char s[8192];
    size_t n;
    int in_data;
};

static void put(struct trace *t, const char *pfx, const uint8_t *p, size_t len)
{
    if (t->n + strlen(pfx) + 2 >= sizeof t->s) {
        return;                 /* long traces (limit tests) are cut, not compared */
    }
    int m = snprintf(t->s + t->n, sizeof t->s - t->n, "%s%s", t->n ? " " : "", pfx);
    t->n += (size_t)m;
    if (p && len && t->n + len < sizeof t->s) {
        memcpy(t->s + t->n, p, len);
        t->n += len;
        t->s[t->n] = 0;
    }
}

static void record(struct trace *t, const struct imap_ev *ev)
{
    char num[32];
    if (ev->type == IMAP_T_LITDATA && t->in_data) {
        if (t->n + ev->len < sizeof t->s) {
            memcpy(t->s + t->n, ev->p, ev->len);
            t->n += ev->len;
            t->s[t->n] = 0;
        }
        return;
    }
    t->in_data = ev->type == IMAP_T_LITDATA;
    switch (ev->type) {
    case IMAP_T_BEGIN:
        put(t, ev->line == IMAP_L_TAGGED ? "B:" : ev->line == IMAP_L_UNTAGGED ? "B*" : "B+",
            ev->p, ev->len);
        break;
    case IMAP_T_ATOM: put(t, "A:", ev->p, ev->len); break;
    case IMAP_T_STRING: put(t, "S:", ev->p, ev->len); break;
    case IMAP_T_LITERAL:
        snprintf(num, sizeof num, "L:%llu", (unsigned long long)ev->size);
        put(t, num, NULL, 0);
        break;
    case IMAP_T_LITDATA: put(t, "D:", ev->p, ev->len); break;
    case IMAP_T_LITEND: put(t, "E", NULL, 0); break;
    case IMAP_T_LIST_OPEN: put(t, "(", NULL, 0); break;
    case IMAP_T_LIST_CLOSE: put(t, ")", NULL, 0); break;
    case IMAP_T_CODE_OPEN: put(t, "[", NULL, 0); break;
    case IMAP_T_CODE_CLOSE: put(t, "]", NULL, 0); break;
    case IMAP_T_TEXT: put(t, "T:", ev->p, ev->len); break;
    case IMAP_T_END: put(t, ".", NULL, 0); break;
    default: put(t, "?", NULL, 0); break;
    }
}

/* Feeds text in pieces of `chunk` bytes; returns the first error or 0; fills t. */
static long run(const char *text, size_t chunk, struct trace *t, size_t *biggest_piece)
{
    static struct imap_parser ps;
    imap_parser_init(&ps);
    memset(t, 0, sizeof *t);
    const uint8_t *p = (const uint8_t *)text;
    size_t left = strlen(text);
    if (biggest_piece) {
        *biggest_piece = 0;
    }
    for (unsigned guard = 0; guard < 1000000; guard++) {
        size_t n = left < chunk ? left : chunk;
        struct imap_ev ev;
        long r = imap_next(&ps, p, n, &ev);
        if (r < 0) {
            return r;
        }
        if ((size_t)r > n) {
            return -100;        /* read past what it was given */
        }
        p += r;
        left -= (size_t)r;
        if (ev.type == IMAP_T_NONE) {
            if (left == 0) {
                return imap_parser_idle(&ps) ? 0 : -101;
            }
            continue;
        }
        if (ev.type == IMAP_T_LITDATA && biggest_piece && ev.len > *biggest_piece) {
            *biggest_piece = ev.len;
        }
        record(t, &ev);
    }
    return -102;
}

/* The same tokens at every packet size, including one byte at a time. */
static void expect(const char *text, const char *want)
{
    static const size_t chunks[] = { 1, 2, 3, 5, 7, 13, 64, 100000 };
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        struct trace t;
        long r = run(text, chunks[i], &t, NULL);
        if (r != 0 || strcmp(t.s, want) != 0) {
            fprintf(stderr, "chunk %zu: r=%ld\n got: %s\nwant: %s\n", chunks[i], r, t.s, want);
            check_failed = 1;
            return;
        }
    }
}

static void dovecot_greeting_and_capability_lines(void)
{
    expect("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
           "STARTTLS AUTH=PLAIN] Dovecot (Ubuntu) ready.\r\n",
           "B* A:OK [ A:CAPABILITY A:IMAP4rev1 A:SASL-IR A:LOGIN-REFERRALS A:ID A:ENABLE "
           "A:IDLE A:LITERAL+ A:STARTTLS A:AUTH=PLAIN ] T:Dovecot (Ubuntu) ready. .");
    expect("* CAPABILITY IMAP4rev1 IDLE MOVE UIDPLUS\r\na1 OK Pre-login capabilities listed.\r\n",
           "B* A:CAPABILITY A:IMAP4rev1 A:IDLE A:MOVE A:UIDPLUS . B:a1 A:OK "
           "T:Pre-login capabilities listed. .");
    expect("a2 OK\r\n", "B:a2 A:OK .");
    expect("a2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
           "B:a2 A:NO [ A:AUTHENTICATIONFAILED ] T:Authentication failed. .");
}

static void select_responses(void)
{
    expect("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
           "* OK [PERMANENTFLAGS (\\Answered \\Deleted \\Seen \\*)] Flags permitted.\r\n"
           "* 50 EXISTS\r\n* 0 RECENT\r\n"
           "* OK [UIDVALIDITY 1764337500] UIDs valid\r\n* OK [UIDNEXT 51] Predicted next UID\r\n"
           "g3 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n",
           "B* A:FLAGS ( A:\\Answered A:\\Flagged A:\\Deleted A:\\Seen A:\\Draft ) . "
           "B* A:OK [ A:PERMANENTFLAGS ( A:\\Answered A:\\Deleted A:\\Seen A:\\* ) ] "
           "T:Flags permitted. . B* A:50 A:EXISTS . B* A:0 A:RECENT . "
           "B* A:OK [ A:UIDVALIDITY A:1764337500 ] T:UIDs valid . "
           "B* A:OK [ A:UIDNEXT A:51 ] T:Predicted next UID . "
           "B:g3 A:OK [ A:READ-WRITE ] T:Select completed (0.001 + 0.000 secs). .");
}

/* Quotes, braces and parentheses in human text are just text. */
static void text_is_not_tokenized(void)
{
    expect("* BYE Server shutting down (\"now\") {5}\r\n",
           "B* A:BYE T:Server shutting down (\"now\") {5} .");
    expect("+ idling\r\n", "B+ T:idling .");
    expect("+ \r\n", "B+ T: .");
    expect("+\r\n", "B+ .");
    expect("* OK\r\n", "B* A:OK .");
    expect("* PREAUTH [CAPABILITY IMAP4rev1] Logged in as x\r\n",
           "B* A:PREAUTH [ A:CAPABILITY A:IMAP4rev1 ] T:Logged in as x .");
}

static void fetch_with_literal_and_brackets(void)
{
    expect("* 3 FETCH (UID 7 BODY[] {12}\r\nSubject: x\r\n)\r\ng5 OK Fetch completed.\r\n",
           "B* A:3 A:FETCH ( A:UID A:7 A:BODY[] L:12 D:Subject: x\r\n E ) . "
           "B:g5 A:OK T:Fetch completed. .");
    expect("* 1 FETCH (BODY[HEADER.FIELDS (FROM TO)] {0}\r\n UID 9)\r\n",
           "B* A:1 A:FETCH ( A:BODY[HEADER.FIELDS (FROM TO)] L:0 E A:UID A:9 ) .");
    expect("* 2 FETCH (BODY[] {3+}\r\n{x})\r\n",
           "B* A:2 A:FETCH ( A:BODY[] L:3 D:{x} E ) .");
    /* A literal holding a CRLF and a fake tagged line is data, not a response. */
    expect("* 2 FETCH (BODY[] {18}\r\n\r\ng5 OK injected\r\n)\r\n",
           "B* A:2 A:FETCH ( A:BODY[] L:18 D:\r\ng5 OK injected\r\n E ) .");
}

static void quoted_strings_and_nil(void)
{
    expect("* LIST (\\HasNoChildren) \"/\" \"Market \\\"Archive\\\" \\\\ 2026\"\r\n",
           "B* A:LIST ( A:\\HasNoChildren ) S:/ S:Market \"Archive\" \\ 2026 .");
    expect("* 4 FETCH (BODY[] NIL UID 4)\r\n", "B* A:4 A:FETCH ( A:BODY[] A:NIL A:UID A:4 ) .");
    expect("* 4 FETCH (BODY[] \"\" UID 4)\r\n", "B* A:4 A:FETCH ( A:BODY[] S: A:UID A:4 ) .");
    expect("* SEARCH\r\n* SEARCH 1 2 30000\r\n", "B* A:SEARCH . B* A:SEARCH A:1 A:2 A:30000 .");
    expect("* ESEARCH (TAG \"g4\") UID ALL 1:3,5\r\n",
           "B* A:ESEARCH ( A:TAG S:g4 ) A:UID A:ALL A:1:3,5 .");
}

static void nested_lists(void)
{
    expect("* 1 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL "
           "\"7bit\" 20 1 NIL NIL NIL NIL) \"mixed\"))\r\n",
           "B* A:1 A:FETCH ( A:BODYSTRUCTURE ( ( S:text S:plain ( S:charset S:utf-8 ) A:NIL "
           "A:NIL S:7bit A:20 A:1 A:NIL A:NIL A:NIL A:NIL ) S:mixed ) ) .");
}

/* Word positions and depth let the engine tell a status word from data. */
static void words_and_depth(void)
{
    struct imap_parser ps;
    imap_parser_init(&ps);
    const char *line = "* 5 FETCH (UID 9)\r\n";
    const uint8_t *p = (const uint8_t *)line;
    size_t left = strlen(line);
    unsigned words[8], depths[8], n = 0;
    while (left && n < 8) {
        struct imap_ev ev;
        long r = imap_next(&ps, p, left, &ev);
        CHECK(r >= 0);
        p += r;
        left -= (size_t)r;
        if (ev.type == IMAP_T_ATOM || ev.type == IMAP_T_LIST_OPEN) {
            words[n] = ev.word;
            depths[n++] = ev.depth;
        }
    }
    CHECK_EQ(n, 5);
    CHECK_EQ(words[0], 0);     /* 5 */
    CHECK_EQ(words[1], 1);     /* FETCH */
    CHECK_EQ(words[2], 2);     /* ( */
    CHECK_EQ(depths[2], 0);
    CHECK_EQ(depths[3], 1);    /* UID */
    CHECK_EQ(depths[4], 1);    /* 9 */
}

/* A 3 MiB literal comes out in pieces no larger than what was fed: nothing is held. */
static void big_literal_streams_in_fed_pieces(void)
{
    size_t body = 3u * 1024 * 1024;
    const char *head = "* 1 FETCH (UID 1 BODY[] {3145728}\r\n";
    const char *tail = ")\r\ng1 OK done\r\n";
    char *text = malloc(strlen(head) + body + strlen(tail) + 1);
    CHECK(text != NULL);
    strcpy(text, head);
    memset(text + strlen(head), 'x', body);
    strcpy(text + strlen(head) + body, tail);
    struct trace t;
    size_t biggest;
    long r = run(text, 1460, &t, &biggest);
    free(text);
    CHECK_EQ(r, 0);
    CHECK(biggest <= 1460);
    CHECK(strstr(t.s, "L:3145728 D:xxx") != NULL);
    CHECK(strstr(t.s, " E ) . B:g1 A:OK T:done .") != NULL);
}

static void imap_tok_helpers(void)
{
    struct imap_ev ev = { .type = IMAP_T_ATOM, .p = (const uint8_t *)"4294967295", .len = 10 };
    CHECK_EQ(imap_tok_u32(&ev), 4294967295ll);
    ev.p = (const uint8_t *)"4294967296";
    CHECK_EQ(imap_tok_u32(&ev), -1);
    ev.p = (const uint8_t *)"12a";
    ev.len = 3;
    CHECK_EQ(imap_tok_u32(&ev), -1);
    ev.p = (const uint8_t *)"uidNext";
    ev.len = 7;
    CHECK(imap_tok_is(&ev, "UIDNEXT"));
    CHECK(!imap_tok_is(&ev, "UIDNEX"));
}

static long error_of(const char *text)
{
    struct trace t;
    long r = 0;
    /* The same error whatever the packet boundaries. */
    long first = run(text, 1, &t, NULL);
    for (size_t chunk = 2; chunk < 9; chunk++) {
        r = run(text, chunk, &t, NULL);
        if (r != first) {
            return -200;
        }
    }
    return first;
}

static void malformed_responses_are_refused(void)
{
    CHECK_EQ(error_of("a1 OK done\n"), IMAP_PE_SYNTAX);           /* bare LF */
    CHECK_EQ(error_of("a1 OK do\rne\r\n"), IMAP_PE_SYNTAX);       /* CR inside */
    CHECK_EQ(error_of("*OK\r\n"), IMAP_PE_SYNTAX);
    CHECK_EQ(error_of("\r\n"), IMAP_PE_SYNTAX);                    /* empty line */
    CHECK_EQ(error_of("+x\r\n"), IMAP_PE_SYNTAX);
    CHECK_EQ(error_of("* 1 FETCH (UID 1\r\n"), IMAP_PE_SYNTAX);  /* list left open */
    CHECK_EQ(error_of("* 1 FETCH UID 1)\r\n"), IMAP_PE_DEPTH);
    CHECK_EQ(error_of("* 1 FETCH (BODY[] {}\r\n)\r\n"), IMAP_PE_SYNTAX);
    CHECK_EQ(error_of("* 1 FETCH (BODY[] {12x}\r\n)\r\n"), IMAP_PE_SYNTAX);
    CHECK_EQ(error_of("* 1 FETCH (BODY[] {3}\n)\r\n"), IMAP_PE_SYNTAX);
    CHECK_EQ(error_of("* OK [UIDNEXT {3}\r\nabc] x\r\n"), IMAP_PE_SYNTAX);
    CHECK_EQ(error_of("* OK [UIDNEXT 3 x\r\n"), IMAP_PE_SYNTAX);  /* code left open */
    CHECK_EQ(error_of("* LIST () \"a\rb\"\r\n"), IMAP_PE_SYNTAX);
    CHECK_EQ(error_of("* LIST () \"a\\b\"\r\n"), IMAP_PE_SYNTAX);
    CHECK_EQ(error_of("* 1 FETCH (BODY[HEADER\r\n"), IMAP_PE_SYNTAX);
    CHECK_EQ(error_of("* X a\x01\r\n"), IMAP_PE_SYNTAX);
    CHECK_EQ(error_of("a+1 OK\r\n"), IMAP_PE_SYNTAX);              /* "+" in a tag */
    /* The error is sticky: nothing parses after it. */
    struct imap_parser ps;
    struct imap_ev ev;
    imap_parser_init(&ps);
    CHECK_EQ(imap_next(&ps, (const uint8_t *)"\n", 1, &ev), IMAP_PE_SYNTAX);
    CHECK_EQ(imap_next(&ps, (const uint8_t *)"* OK\r\n", 6, &ev), IMAP_PE_SYNTAX);
    CHECK(strcmp(imap_perror(IMAP_PE_TOKEN), "token longer than 768 bytes") == 0);
}

static void limits_are_enforced(void)
{
    static char text[IMAP_LINE_MAX + 64];
    /* An atom one byte over the limit. */
    strcpy(text, "* ");
    memset(text + 2, 'a', IMAP_TOKEN_MAX + 1);
    strcpy(text + 2 + IMAP_TOKEN_MAX + 1, "\r\n");
    CHECK_EQ(error_of(text), IMAP_PE_TOKEN);
    text[2 + IMAP_TOKEN_MAX] = '\r';
    text[2 + IMAP_TOKEN_MAX + 1] = '\n';
    text[2 + IMAP_TOKEN_MAX + 2] = 0;
    CHECK_EQ(error_of(text), 0);                                  /* exactly the limit */
    /* Nesting. */
    size_t n = 0;
    n += (size_t)sprintf(text, "* X ");
    for (int i = 0; i < IMAP_DEPTH_MAX + 1; i++) text[n++] = '(';
    strcpy(text + n, "\r\n");
    CHECK_EQ(error_of(text), IMAP_PE_DEPTH);
    /* A line without end: many short atoms. */
    n = (size_t)sprintf(text, "* SEARCH");
    while (n < IMAP_LINE_MAX + 10) {
        memcpy(text + n, " 1", 2);
        n += 2;
    }
    strcpy(text + n, "\r\n");
    struct trace t;
    CHECK_EQ(run(text, 4096, &t, NULL), IMAP_PE_LINE);
    /* Literals over the cap, and the cap lowered for non-message data. */
    CHECK_EQ(error_of("* 1 FETCH (BODY[] {99999999999999999999}\r\n"), IMAP_PE_LITERAL);
    struct imap_parser ps;
    struct imap_ev ev;
    imap_parser_init(&ps);
    imap_parser_literal_max(&ps, 100);
    const char *l = "* 1 FETCH (BODY[] {101}\r\n";
    long r = 0;
    for (size_t i = 0; i < strlen(l) && r >= 0; i += (size_t)r) {
        r = imap_next(&ps, (const uint8_t *)l + i, strlen(l) - i, &ev);
    }
    CHECK_EQ(r, IMAP_PE_LITERAL);
    /* Text beyond IMAP_TEXT_MAX is dropped, not an error. */
    n = (size_t)sprintf(text, "* OK ");
    memset(text + n, 't', IMAP_TEXT_MAX + 50);
    strcpy(text + n + IMAP_TEXT_MAX + 50, "\r\n");
    imap_parser_init(&ps);
    const uint8_t *p = (const uint8_t *)text;
    size_t left = strlen(text);
    int seen_text = 0;
    while (left) {
        r = imap_next(&ps, p, left, &ev);
        CHECK(r >= 0);
        p += r;
        left -= (size_t)r;
        if (ev.type == IMAP_T_TEXT) {
            CHECK_EQ(ev.len, IMAP_TEXT_MAX);
            CHECK(ev.truncated);
            seen_text = 1;
        }
    }
    CHECK(seen_text);
}

CHECK_MAIN(
    { "dovecot_greeting_and_capability_lines", dovecot_greeting_and_capability_lines },
    { "select_responses", select_responses },
    { "text_is_not_tokenized", text_is_not_tokenized },
    { "fetch_with_literal_and_brackets", fetch_with_literal_and_brackets },
    { "quoted_strings_and_nil", quoted_strings_and_nil },
    { "nested_lists", nested_lists },
    { "words_and_depth", words_and_depth },
    { "big_literal_streams_in_fed_pieces", big_literal_streams_in_fed_pieces },
    { "imap_tok_helpers", imap_tok_helpers },
    { "malformed_responses_are_refused", malformed_responses_are_refused },
    { "limits_are_enforced", limits_are_enforced }
)
