/* The console's command grammar as data: one row per command form, with its help text.
 * It drives `help`, `help COMMAND`, Tab completion and the masking of secrets typed on a
 * command line; the commands themselves are run by the config text parser (settings) and
 * by console.c (everything that acts or shows).
 *
 * A pattern is space-separated tokens: a literal keyword ("show"), alternatives
 * ("tcp|tls"), or a placeholder in capitals ("NAME", "A.B.C.D/NN"); a token in brackets
 * ("[SECRET]", "[sni NAME]") is optional and a trailing "..." repeats the last token. */
#ifndef GW_CMD_GRAMMAR_H
#define GW_CMD_GRAMMAR_H

#include <stddef.h>

struct cmd_form {
    const char *pattern;
    const char *help;
};

extern const struct cmd_form cmd_forms[];
extern const size_t cmd_forms_count;

/* Candidates for the word being typed: line[0..ws) holds the complete words before it,
 * line[ws..cur) its beginning. Fills cands (deduplicated), returns the count. */
size_t cmd_complete(const char *line, size_t ws, size_t cur, const char **cands, size_t max);

/* Print the forms whose pattern starts with the given words (all forms when none), one per
 * line, pattern then help, through out. Returns how many matched. */
size_t cmd_help(const char *words, void (*out)(void *arg, const char *line), void *arg);

/* Where the secret begins in a line that carries one (`set imap password SECRET`, `set
 * system console-password SECRET`, and the restore form `set console password-hash HASH`):
 * the offset after the blanks that follow the command's words (len when nothing was typed
 * after them yet), or CMD_NO_SECRET; after `help` too. The line editor echoes from there as
 * '*' and keeps only the words before it in the history; errors never quote what follows. */
#define CMD_NO_SECRET ((size_t)-1)
size_t cmd_secret_at(const char *line, size_t len);

#endif
