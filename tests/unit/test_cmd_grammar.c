/* The console grammar: Tab offers exactly the keywords that can follow, help finds forms. */
#include "check.h"
#include "cmd_grammar.h"

static size_t complete(const char *line, const char **c)
{
    size_t cur = strlen(line), ws = cur;
    while (ws > 0 && line[ws - 1] != ' ') {
        ws--;
    }
    return cmd_complete(line, ws, cur, c, 32);
}

static int has(const char **c, size_t n, const char *w)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(c[i], w) == 0) {
            return 1;
        }
    }
    return 0;
}

static void first_words_complete_from_every_command(void)
{
    const char *c[32];
    size_t n = complete("s", c);
    CHECK_EQ(n, 2);
    CHECK(has(c, n, "set") && has(c, n, "show"));
    n = complete("", c);
    CHECK(has(c, n, "mapping") && has(c, n, "trust") && has(c, n, "commit"));
}

static void later_words_follow_the_words_before(void)
{
    const char *c[32];
    size_t n = complete("set imap security ", c);
    CHECK_EQ(n, 3);
    CHECK(has(c, n, "starttls") && has(c, n, "tls") && has(c, n, "off"));
    n = complete("set imap a", c);
    CHECK_EQ(n, 1);
    CHECK(strcmp(c[0], "after") == 0);
    n = complete("mapping add a:1 b:2 ", c);
    CHECK_EQ(n, 2);
    CHECK(has(c, n, "tcp") && has(c, n, "tls"));
    n = complete("show co", c);
    CHECK_EQ(n, 1);
    CHECK(strcmp(c[0], "config") == 0);
}

static void placeholders_and_unknown_words_offer_nothing(void)
{
    const char *c[32];
    CHECK_EQ(complete("set system hostname ", c), 0);
    CHECK_EQ(complete("bogus ", c), 0);
    CHECK_EQ(complete("set bogus ", c), 0);
}

static size_t lines;
static void count(void *arg, const char *line)
{
    (void)arg;
    (void)line;
    lines++;
}

static void help_lists_the_forms_of_one_command(void)
{
    lines = 0;
    CHECK_EQ(cmd_help("set imap", count, NULL), 10);
    CHECK_EQ(lines, 10);
    CHECK_EQ(cmd_help("", count, NULL), cmd_forms_count);
    CHECK_EQ(cmd_help("nonsense", count, NULL), 0);
}

static void the_secret_of_a_line_starts_after_its_command_words(void)
{
    static const struct { const char *line; size_t at; } cases[] = {
        { "set imap password hunter2", 18 },
        { "  set\timap   password  \"two words\"", 23 },
        { "set system console-password x", 28 },
        { "set console password-hash pbkdf2$1$00$00", 26 },
        { "set imap password ", 18 },             /* nothing typed yet: it starts there */
        { "set imap password", CMD_NO_SECRET },   /* no blank yet: could still be a word */
        { "set imap passwordx y", CMD_NO_SECRET },
        { "set imap user password", CMD_NO_SECRET },
        { "help set imap password x", 23 },
        { "helpset imap password x", CMD_NO_SECRET },
        { "", CMD_NO_SECRET },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t at = cmd_secret_at(cases[i].line, strlen(cases[i].line));
        if (at != cases[i].at) {
            fprintf(stderr, "%s: %zu\n", cases[i].line, at);
        }
        CHECK(at == cases[i].at);
    }
}

/* Every form that takes a SECRET is masked: a new one cannot be forgotten. */
static void every_secret_form_of_the_grammar_is_recognised(void)
{
    size_t secrets = 0;
    for (size_t f = 0; f < cmd_forms_count; f++) {
        const char *p = cmd_forms[f].pattern, *sec = strstr(p, "SECRET");
        if (sec == NULL) {
            continue;
        }
        char line[128];
        size_t n = (size_t)(sec - p) - (sec[-1] == '[');
        memcpy(line, p, n);
        memcpy(line + n, "s3cr3t", 7);
        CHECK_EQ(cmd_secret_at(line, strlen(line)), n);
        secrets++;
    }
    CHECK_EQ(secrets, 2);
}

static void help_knows_the_session_and_candidate_commands(void)
{
    lines = 0;
    CHECK_EQ(cmd_help("logout", count, NULL), 1);
    CHECK_EQ(cmd_help("exit", count, NULL), 1);
    CHECK_EQ(cmd_help("compare", count, NULL), 1);
    CHECK_EQ(cmd_help("show config", count, NULL), 3);
    CHECK_EQ(cmd_help("set system console-timeout", count, NULL), 1);
    const char *c[32];
    size_t n = complete("show config ", c);
    CHECK(n == 2 && has(c, n, "candidate") && has(c, n, "secrets"));
}

CHECK_MAIN(
    { "the_secret_of_a_line_starts_after_its_command_words",
      the_secret_of_a_line_starts_after_its_command_words },
    { "every_secret_form_of_the_grammar_is_recognised",
      every_secret_form_of_the_grammar_is_recognised },
    { "help_knows_the_session_and_candidate_commands",
      help_knows_the_session_and_candidate_commands },
    { "first_words_complete_from_every_command", first_words_complete_from_every_command },
    { "later_words_follow_the_words_before", later_words_follow_the_words_before },
    { "placeholders_and_unknown_words_offer_nothing",
      placeholders_and_unknown_words_offer_nothing },
    { "help_lists_the_forms_of_one_command", help_lists_the_forms_of_one_command })
