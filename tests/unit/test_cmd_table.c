/* The console's command table: each line runs the handler of its form, Tab offers exactly
 * the keywords that can follow, help finds forms, secrets typed on a line are found. */
#include "check.h"
#include "cmd_table.h"
#include "console_int.h"

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
    size_t listed = 0;
    for (size_t f = 0; f < cmd_forms_count; f++) {
        listed += cmd_forms[f].help != NULL;
    }
    CHECK_EQ(cmd_help("", count, NULL), listed);
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

static cmd_fn handler_of(const char *line)
{
    char copy[128], *argv[CMD_ARGS_MAX];
    snprintf(copy, sizeof copy, "%s", line);
    const struct cmd_form *f = cmd_find(cmd_split(copy, argv), argv);
    return f != NULL ? f->run : NULL;
}

/* A form of keywords only takes exactly its words; more words after them, or words no form
 * has, are the config parser's to explain (NULL here); show and tls explain their own. */
static void each_line_runs_the_handler_of_its_form(void)
{
    static const struct { const char *line; cmd_fn run; } cases[] = {
        { "reboot", cmds_reboot },
        { "reboot now", NULL },
        { "factory-reset", cmds_factory_reset },
        { "logout", cmds_logout },
        { "exit", cmds_logout },
        { "exit now", NULL },
        { "compare", cmds_compare },
        { "commit", cmds_config },
        { "show status", show_status },
        { "show\tstatus", show_status },
        { "show status now", show_unknown },
        { "show", show_unknown },
        { "show config", show_config },
        { "show config secrets", show_config },
        { "show config everything", show_unknown },
        { "tls", probe_tls },
        { "tls bogus", probe_tls },
        { "tls probe a:1 name x client relay", probe_tls },
        { "mapping check", probe_mapping },
        { "mapping check a:1 b", probe_mapping },
        { "mapping list", show_mappings },
        { "mapping list all", NULL },
        { "mapping add a:1 b:2 tcp", cmds_config },
        { "trust list", show_trust },
        { "trust import", cmds_config },
        { "trust import relay", cmds_config },
        { "trust del relay 0123abcd", cmds_config },
        { "tunnel key generate", identity_key_generate },
        { "tunnel key", NULL },
        { "tunnel key import", NULL },
        { "tunnel csr", identity_csr },
        { "tunnel csr now", NULL },
        { "tunnel cert import", cmds_config },
        { "set imap password", cmds_imap_password },
        { "set imap password s3cr3t", cmds_imap_password },
        { "set system console-password a b", cmds_console_password },
        { "set system console-timeout 5", cmds_console_timeout },
        { "set net address dhcp", cmds_config },
        { "set net address dhcp now", cmds_config },
        { "set console password-hash x", cmds_config },
        { "set", NULL },
        { "help", cmds_help },
        { "help set imap", cmds_help },
        { "frobnicate", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (handler_of(cases[i].line) != cases[i].run) {
            fprintf(stderr, "%s: another handler\n", cases[i].line);
        }
        CHECK(handler_of(cases[i].line) == cases[i].run);
    }
}

static void only_first_words_of_forms_are_commands(void)
{
    CHECK(cmd_known("set") && cmd_known("exit") && cmd_known("tls") && cmd_known("host"));
    CHECK(!cmd_known("frobnicate") && !cmd_known("se") && !cmd_known("sets"));
    CHECK(!cmd_known("imap") && !cmd_known(""));
}

static void lines_split_at_blanks_into_at_most_twelve_words(void)
{
    char line[] = "  show\tconfig   secrets ", many[] = "a b c d e f g h i j k l m n";
    char *argv[CMD_ARGS_MAX];
    CHECK_EQ(cmd_split(line, argv), 3);
    CHECK(strcmp(argv[0], "show") == 0 && strcmp(argv[1], "config") == 0 &&
          strcmp(argv[2], "secrets") == 0);
    CHECK_EQ(cmd_split(many, argv), CMD_ARGS_MAX);
    CHECK(strcmp(argv[CMD_ARGS_MAX - 1], "l") == 0);
}

CHECK_MAIN(
    { "each_line_runs_the_handler_of_its_form", each_line_runs_the_handler_of_its_form },
    { "only_first_words_of_forms_are_commands", only_first_words_of_forms_are_commands },
    { "lines_split_at_blanks_into_at_most_twelve_words",
      lines_split_at_blanks_into_at_most_twelve_words },
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
