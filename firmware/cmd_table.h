/* The console's command table: one row per command form, with its help text and the
 * function that runs it. Dispatch (cmd_find), `help` (cmd_help), Tab completion
 * (cmd_complete) and the masking of secrets typed on a command line (cmd_secret_at) all read
 * these rows, so a command's words are written once. The settings language (set, host,
 * mapping add, trust import ...) is run by the config parser (config_exec): its rows name
 * the handler that passes the line there.
 *
 * A pattern is space-separated tokens: a literal keyword ("show"), alternatives
 * ("tcp|tls"), or a placeholder in capitals ("NAME", "A.B.C.D/NN"); a token in brackets
 * ("[SECRET]", "[sni NAME]") is optional and a trailing "..." repeats the last token (or,
 * alone after the keywords, stands for any words). A row without help is a form the
 * console runs but does not offer: a restore line, or the catch-all of a command whose
 * handler says what it expected. */
#ifndef GW_CMD_TABLE_H
#define GW_CMD_TABLE_H

#include <stddef.h>

/* Words of a line the dispatcher splits (more are left out, as the config parser sees the
 * line whole). */
#define CMD_ARGS_MAX 12

/* One line to run: its words, NUL-terminated in a copy the handler may change, and the line
 * as typed (the config parser takes it whole, quotes and all). */
struct cmd_args {
    int argc;
    char **argv;
    const char *text;
    size_t len;
};

/* Runs a line: 0, -1 after printing "error: ...", or CMDS_IN_PROGRESS (console_cmds.h). */
typedef int (*cmd_fn)(const struct cmd_args *a);

struct cmd_form {
    const char *pattern;
    const char *help;       /* NULL: not listed by help nor offered by Tab */
    cmd_fn run;
};

extern const struct cmd_form cmd_forms[];
extern const size_t cmd_forms_count;

/* Split line in place at blanks (space, tab) into at most CMD_ARGS_MAX words; returns the
 * count. */
int cmd_split(char *line, char **argv);

/* The row that runs a line of argc words: among the rows whose leading keywords are the
 * line's first words, the one with the most keywords; a row made of keywords only takes
 * exactly its words. NULL when no row takes the line (see cmd_known). */
const struct cmd_form *cmd_find(int argc, char *const *argv);
/* 1 when word is the first word of some row: a line no row takes is then the config
 * parser's to explain; 0 for an unknown command. */
int cmd_known(const char *word);

/* Candidates for the word being typed: line[0..ws) holds the complete words before it,
 * line[ws..cur) its beginning. Fills cands (deduplicated), returns the count. */
size_t cmd_complete(const char *line, size_t ws, size_t cur, const char **cands, size_t max);

/* Print the listed forms whose pattern starts with the given words (all of them when none),
 * one per line, pattern then help, through out. Returns how many matched. */
size_t cmd_help(const char *words, void (*out)(void *arg, const char *line), void *arg);

/* Where the secret begins in a line that carries one (`set imap password SECRET`, `set
 * system console-password SECRET`, and the restore form `set console password-hash HASH`):
 * the offset after the blanks that follow the command's words (len when nothing was typed
 * after them yet), or CMD_NO_SECRET; after `help` too. The line editor echoes from there as
 * '*' and keeps only the words before it in the history; errors never quote what follows. */
#define CMD_NO_SECRET ((size_t)-1)
size_t cmd_secret_at(const char *line, size_t len);

#endif
