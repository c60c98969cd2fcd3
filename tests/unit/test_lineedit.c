/* The console line editor, driven by the bytes a terminal sends. */
#define _GNU_SOURCE /* memmem */
#include "check.h"
#include "cmd_table.h"
#include "lineedit.h"

static char screen[8192];
static size_t screen_len;

static void out(void *arg, const char *s, size_t n)
{
    (void)arg;
    if (screen_len + n < sizeof screen) {
        memcpy(screen + screen_len, s, n);
        screen_len += n;
        screen[screen_len] = '\0';
    }
}

static size_t complete(void *arg, const char *line, size_t ws, size_t cur, const char **c,
                       size_t max)
{
    static const char *const words[] = { "show", "set", "help", "status", "system" };
    (void)arg;
    size_t n = 0;
    for (size_t i = 0; i < sizeof words / sizeof words[0] && n < max; i++) {
        if (strncmp(words[i], line + ws, cur - ws) == 0) {
            c[n++] = words[i];
        }
    }
    return n;
}

static struct lineedit le;

static enum le_result type(const char *keys)
{
    enum le_result r = LE_MORE;
    for (const char *k = keys; *k; k++) {
        r = le_feed(&le, *k);
        if (r != LE_MORE && k[1] != '\0') {
            le_start(&le, "> ", 0);
        }
    }
    return r;
}

static void fresh(void)
{
    le_init(&le, out, complete, NULL);
    screen_len = 0;
    le_start(&le, "> ", 0);
}

static void typing_and_enter_give_the_line(void)
{
    fresh();
    CHECK_EQ(type("show status\r"), LE_LINE);
    CHECK(strcmp(le.line, "show status") == 0);
    CHECK(strstr(screen, "> show status\r\n") != NULL);
}

static void arrows_and_control_keys_edit_in_the_middle(void)
{
    fresh();
    /* "shw", Left, insert 'o' before 'w'; End; " staus", Left x2, 't' */
    CHECK_EQ(type("shw\033[Do\033[F staus\033[D\033[Dt\r"), LE_LINE);
    CHECK(strcmp(le.line, "show status") == 0);
    fresh();
    CHECK_EQ(type("garbage here\x15show log\r"), LE_LINE); /* Ctrl-U kills to start */
    CHECK(strcmp(le.line, "show log") == 0);
    fresh();
    CHECK_EQ(type("show wrong\x17log\r"), LE_LINE);         /* Ctrl-W kills a word */
    CHECK(strcmp(le.line, "show log") == 0);
    fresh();
    CHECK_EQ(type("how\x01s\x05 x\x7f\x7fz\x08\r"), LE_LINE); /* Ctrl-A, Ctrl-E, Backspace */
    CHECK(strcmp(le.line, "show") == 0);
    fresh();
    CHECK_EQ(type("abc\x01\033[3~\r"), LE_LINE);            /* Delete at the start */
    CHECK(strcmp(le.line, "bc") == 0);
}

static void history_walks_back_and_forth(void)
{
    fresh();
    type("first\r");
    le_start(&le, "> ", 0);
    type("second\r");
    le_start(&le, "> ", 0);
    CHECK_EQ(type("new\033[A\033[A\r"), LE_LINE);
    CHECK(strcmp(le.line, "first") == 0);
    le_start(&le, "> ", 0);
    CHECK_EQ(type("draft\033[A\033[B\r"), LE_LINE);          /* Down returns to the draft */
    CHECK(strcmp(le.line, "draft") == 0);
}

static void tab_completes_unique_words_and_lists_choices(void)
{
    fresh();
    CHECK_EQ(type("he\t\r"), LE_LINE);
    CHECK(strcmp(le.line, "help ") == 0);
    fresh();
    CHECK_EQ(type("s\t"), LE_MORE);                           /* show, set, status, system */
    CHECK(strstr(screen, "show  set  status  system") != NULL);
    CHECK_EQ(type("y\t\r"), LE_LINE);
    CHECK(strcmp(le.line, "system ") == 0);
}

static void secrets_are_not_echoed_nor_kept(void)
{
    fresh();
    le_start(&le, "password: ", 1);
    screen_len = 0;
    CHECK_EQ(type("hunter2\r"), LE_LINE);
    CHECK(strcmp(le.line, "hunter2") == 0);
    CHECK(strstr(screen, "hunter2") == NULL);
    le_wipe(&le);
    CHECK_EQ(le.line[0], 0);
    le_start(&le, "> ", 0);
    CHECK_EQ(type("\033[A\r"), LE_LINE);                      /* nothing to recall */
    CHECK(strcmp(le.line, "") == 0);
}

static void ctrl_d_ends_input_only_on_an_empty_line(void)
{
    fresh();
    CHECK_EQ(type("\x04"), LE_EOF);
    fresh();
    CHECK_EQ(type("ab\x01\x04\r"), LE_LINE);                  /* deletes under the cursor */
    CHECK(strcmp(le.line, "b") == 0);
    fresh();
    CHECK_EQ(type("oops\x03"), LE_CANCEL);
}

static void an_overlong_line_is_refused_with_a_bell(void)
{
    fresh();
    for (int i = 0; i < LE_LINE_MAX + 20; i++) {
        CHECK_EQ(le_feed(&le, 'x'), LE_MORE);
    }
    CHECK_EQ(le.len, LE_LINE_MAX - 1);
    CHECK(strchr(screen, '\a') != NULL);
}

/* The console's rule: the grammar says where a command line's secret begins. */
static size_t secret_at(void *arg, const char *line, size_t len)
{
    (void)arg;
    size_t at = cmd_secret_at(line, len);
    return at == CMD_NO_SECRET ? LE_NO_SECRET : at;
}

/* Is the secret anywhere in the editor's memory (line, draft, history)? */
static int remembers(const char *secret)
{
    return memmem(&le, sizeof le, secret, strlen(secret)) != NULL;
}

static void a_secret_on_a_command_line_is_echoed_as_stars_and_kept_out_of_history(void)
{
    fresh();
    le_set_secret_fn(&le, secret_at);
    CHECK_EQ(type("set imap password hunter2\r"), LE_LINE);
    CHECK(strcmp(le.line, "set imap password hunter2") == 0);   /* the console runs it */
    CHECK(strstr(screen, "> set imap password *******\r\n") != NULL);
    CHECK(strstr(screen, "hunter2") == NULL);
    le_wipe(&le);
    CHECK(!remembers("hunter2"));
    le_start(&le, "> ", 0);
    CHECK_EQ(type("\033[A\r"), LE_LINE);      /* Up: the command, without its secret */
    CHECK(strcmp(le.line, "set imap password ") == 0);
    /* edited in the middle, quoted, on the console password: redrawn masked */
    le_start(&le, "> ", 0);
    screen_len = 0;
    CHECK_EQ(type("set system console-password \"Quo Pw\"\033[D\033[DX\r"), LE_LINE);
    CHECK(strcmp(le.line, "set system console-password \"Quo PXw\"") == 0);
    CHECK(strstr(screen, "Quo") == NULL && strstr(screen, "PX") == NULL);
    CHECK(strstr(screen, "console-password *********") != NULL);
    le_wipe(&le);
    CHECK(!remembers("Quo"));
}

static void a_draft_with_a_secret_is_wiped_with_the_line(void)
{
    fresh();
    le_set_secret_fn(&le, secret_at);
    type("show log\r");
    le_start(&le, "> ", 0);
    CHECK_EQ(type("set imap password hunter3\033[A\x03"), LE_CANCEL);   /* Up, then Ctrl-C */
    CHECK(!remembers("hunter3"));
    CHECK(strstr(screen, "hunter3") == NULL);
}

static void forget_empties_the_history(void)
{
    fresh();
    type("show log\r");
    le_forget(&le);
    CHECK(!remembers("show log"));
    le_start(&le, "> ", 0);
    CHECK_EQ(type("\033[A\r"), LE_LINE);
    CHECK(strcmp(le.line, "") == 0);
}

CHECK_MAIN(
    { "a_secret_on_a_command_line_is_echoed_as_stars_and_kept_out_of_history",
      a_secret_on_a_command_line_is_echoed_as_stars_and_kept_out_of_history },
    { "a_draft_with_a_secret_is_wiped_with_the_line",
      a_draft_with_a_secret_is_wiped_with_the_line },
    { "forget_empties_the_history", forget_empties_the_history },
    { "typing_and_enter_give_the_line", typing_and_enter_give_the_line },
    { "arrows_and_control_keys_edit_in_the_middle", arrows_and_control_keys_edit_in_the_middle },
    { "history_walks_back_and_forth", history_walks_back_and_forth },
    { "tab_completes_unique_words_and_lists_choices", tab_completes_unique_words_and_lists_choices },
    { "secrets_are_not_echoed_nor_kept", secrets_are_not_echoed_nor_kept },
    { "ctrl_d_ends_input_only_on_an_empty_line", ctrl_d_ends_input_only_on_an_empty_line },
    { "an_overlong_line_is_refused_with_a_bell", an_overlong_line_is_refused_with_a_bell })
