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

CHECK_MAIN(
    { "first_words_complete_from_every_command", first_words_complete_from_every_command },
    { "later_words_follow_the_words_before", later_words_follow_the_words_before },
    { "placeholders_and_unknown_words_offer_nothing",
      placeholders_and_unknown_words_offer_nothing },
    { "help_lists_the_forms_of_one_command", help_lists_the_forms_of_one_command })
