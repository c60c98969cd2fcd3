/* see cmd_table.h */
#include <stdio.h>
#include <string.h>

#include "cmd_table.h"
#include "console_int.h"

/* The rows, in the order `help` lists them; then the forms it does not list. */
const struct cmd_form cmd_forms[] = {
    { "set system hostname NAME", "the box's name (prompt, DHCP, hello to the relay)",
      cmds_config },
    { "set system console-password [SECRET]", "require a password at the console (prompts)",
      cmds_console_password },
    { "set system console-timeout MINUTES",
      "with a console password: log out after MINUTES idle (default 15, 0: never)",
      cmds_console_timeout },
    { "set net address dhcp", "take the address from DHCP", cmds_config },
    { "set net address A.B.C.D/NN gateway A.B.C.D", "static address and default route",
      cmds_config },
    { "set net dns A.B.C.D", "DNS server (none by default)", cmds_config },
    { "set net ntp HOST", "SNTP server (none by default)", cmds_config },
    { "host add NAME A.B.C.D", "static host table entry (looked up before DNS)", cmds_config },
    { "host del NAME", "remove a host table entry", cmds_config },
    { "set tunnel relay HOST:PORT ...", "the relays to dial, in order", cmds_config },
    { "set tunnel location ID", "this box's Location ID (the CN of its certificate)",
      cmds_config },
    { "set tunnel trust separate|shared",
      "separate: only the relay trust store vouches for relays; shared: the other too",
      cmds_config },
    { "tunnel key generate", "make the device's P-256 key (kept in flash, never shown)",
      identity_key_generate },
    { "tunnel csr", "print a certificate request for the Location ID", identity_csr },
    { "tunnel cert import", "paste the signed chain, leaf first: its key must be the device key",
      cmds_config },
    { "trust import", "paste the roots and intermediates of internal servers (blank line ends)",
      cmds_config },
    { "trust import relay", "paste the CA of the relay's certificate: the tunnel's own trust",
      cmds_config },
    { "trust list", "both trust stores: subject, validity, fingerprint", show_trust },
    { "trust del FINGERPRINT", "remove a certificate by (a prefix of) its SHA-256",
      cmds_config },
    { "trust del relay FINGERPRINT", "remove one from the relay trust store", cmds_config },
    { "tls probe HOST:PORT [name NAME] [client] [relay]",
      "TLS handshake from the box: chain and verdict (client: offer the device chain; "
      "relay: check against the relay trust store)", probe_tls },
    { "mapping add VHOST:VPORT IHOST:IPORT tcp|tls [sni NAME]", "expose an internal host",
      cmds_config },
    { "mapping del VHOST:VPORT", "remove a mapping", cmds_config },
    { "mapping list", "mappings with their counters", show_mappings },
    { "mapping check VHOST:VPORT", "connect (and handshake for tls) to the internal host",
      probe_mapping },
    { "set imap server VHOST:VPORT", "the mailbox, addressed through a mapping", cmds_config },
    { "set imap security starttls|tls|off", "how the receiver protects IMAP", cmds_config },
    { "set imap user NAME", "IMAP login name", cmds_config },
    { "set imap password [SECRET]", "IMAP password (prompts when omitted)", cmds_imap_password },
    { "set imap folder NAME", "the folder to receive from", cmds_config },
    { "set imap after delete|seen|move FOLDER", "what happens to a delivered message",
      cmds_config },
    { "set imap poll SECONDS", "poll interval when the server has no IDLE", cmds_config },
    { "set imap max-size BYTES|none", "larger messages stay on the server, reported",
      cmds_config },
    { "set imap batch N", "messages delivered per cycle, 1 to 64 (default 64)", cmds_config },
    { "set imap enabled yes|no", "run the receiver", cmds_config },
    { "compare", "what commit would change: - removed, + added lines (secrets masked)",
      cmds_compare },
    { "commit", "write the candidate to flash and apply it (says so when nothing changed)",
      cmds_config },
    { "discard", "drop uncommitted changes", cmds_config },
    { "show config", "the running configuration as commands (secrets masked)", show_config },
    { "show config candidate", "the candidate configuration, with uncommitted changes",
      show_config },
    { "show config secrets", "the running configuration with secrets, for a backup",
      show_config },
    { "show status", "uptime, network, time, memory against limits, services", show_status },
    { "show log", "the last log lines", show_log },
    { "show mappings", "mappings with their counters", show_mappings },
    { "show trust", "both trust stores (the relay's and the internal servers')", show_trust },
    { "show tunnel", "relays, state, last verdict, streams", show_tunnel },
    { "show imap", "receiver state, last poll, messages delivered", show_imap },
    { "show version", "firmware version and board", show_version },
    { "reboot", "restart the gateway", cmds_reboot },
    { "factory-reset", "erase the configuration (asks first)", cmds_factory_reset },
    { "logout", "end the session: back to the console password prompt", cmds_logout },
    { "exit", "the same as logout", cmds_logout },
    { "help [COMMAND]", "this list, or the forms of one command", cmds_help },
    /* Not listed: the restore form `show config secrets` writes (its hash is masked like a
     * secret), and the other words after show and tls, which their handlers explain. */
    { "set console password-hash HASH", NULL, cmds_config },
    { "show ...", NULL, show_unknown },
    { "tls ...", NULL, probe_tls },
};
const size_t cmd_forms_count = sizeof cmd_forms / sizeof cmd_forms[0];

/* ---- patterns ------------------------------------------------------------------------ */

static int is_sep(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* The i-th token of a pattern as written (brackets kept); its length, 0: no such token. */
static size_t raw_token(const char *pattern, unsigned i, const char **tok)
{
    const char *p = pattern;
    for (;;) {
        while (*p == ' ') {
            p++;
        }
        if (*p == '\0') {
            return 0;
        }
        const char *start = p;
        while (*p != '\0' && *p != ' ') {
            p++;
        }
        if (i-- == 0) {
            *tok = start;
            return (size_t)(p - start);
        }
    }
}

/* The i-th token of a pattern, without brackets; returns its length (0: no such token). */
static size_t token_at(const char *pattern, unsigned i, const char **tok)
{
    size_t n = raw_token(pattern, i, tok);
    if (n > 0 && **tok == '[') {
        ++*tok;
        n--;
    }
    if (n > 0 && (*tok)[n - 1] == ']') {
        n--;
    }
    return n;
}

static int is_placeholder(const char *tok, size_t n)
{
    return n > 0 && ((tok[0] >= 'A' && tok[0] <= 'Z') || tok[0] == '.');
}

/* A token that one word only fits: not optional, no alternatives, no placeholder. */
static int is_keyword(const char *tok, size_t n)
{
    return n > 0 && tok[0] != '[' && !is_placeholder(tok, n) && memchr(tok, '|', n) == NULL;
}

/* Does word (length wn) fit token (alternatives separated by '|')? Placeholders take any. */
static int word_fits(const char *tok, size_t tn, const char *word, size_t wn, int prefix)
{
    if (is_placeholder(tok, tn)) {
        return 1;
    }
    const char *alt = tok, *end = tok + tn;
    while (alt < end) {
        const char *bar = memchr(alt, '|', (size_t)(end - alt));
        size_t an = (size_t)((bar ? bar : end) - alt);
        if ((prefix ? wn <= an : wn == an) && memcmp(alt, word, wn) == 0) {
            return 1;
        }
        alt += an + 1;
    }
    return 0;
}

/* Do the complete words of line[0..ws) fit the pattern's first tokens? Sets *nwords. */
static int words_fit(const char *pattern, const char *line, size_t ws, unsigned *nwords)
{
    unsigned i = 0;
    size_t p = 0;
    while (p < ws) {
        while (p < ws && is_sep(line[p])) {
            p++;
        }
        if (p >= ws) {
            break;
        }
        size_t s = p;
        while (p < ws && !is_sep(line[p])) {
            p++;
        }
        const char *tok;
        size_t tn = token_at(pattern, i, &tok);
        if (tn == 0 || !word_fits(tok, tn, line + s, p - s, 0)) {
            return 0;
        }
        i++;
    }
    *nwords = i;
    return 1;
}

/* ---- dispatch --------------------------------------------------------------------------- */

/* see cmd_table.h */
int cmd_split(char *line, char **argv)
{
    int argc = 0;
    char *p = line;
    while (argc < CMD_ARGS_MAX) {
        while (is_sep(*p)) {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        argv[argc++] = p;
        while (*p != '\0' && !is_sep(*p)) {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        *p++ = '\0';
    }
    return argc;
}

/* Does the row take the line? Its keywords must be the line's first words, and a row of
 * keywords only takes no more words. Sets *nkw to the keywords matched. */
static int row_takes(const char *pattern, int argc, char *const *argv, unsigned *nkw)
{
    const char *tok;
    size_t tn;
    unsigned n = 0;
    for (; (tn = raw_token(pattern, n, &tok)) > 0 && is_keyword(tok, tn); n++) {
        if ((int)n >= argc || strlen(argv[n]) != tn || memcmp(argv[n], tok, tn) != 0) {
            return 0;
        }
    }
    *nkw = n;
    return tn > 0 || argc == (int)n;
}

/* see cmd_table.h */
const struct cmd_form *cmd_find(int argc, char *const *argv)
{
    const struct cmd_form *best = NULL;
    unsigned best_n = 0;
    for (size_t f = 0; f < cmd_forms_count; f++) {
        unsigned n = 0;
        if (row_takes(cmd_forms[f].pattern, argc, argv, &n) && n > best_n) {
            best = &cmd_forms[f];
            best_n = n;
        }
    }
    return best;
}

/* see cmd_table.h */
int cmd_known(const char *word)
{
    for (size_t f = 0; f < cmd_forms_count; f++) {
        const char *tok;
        size_t tn = raw_token(cmd_forms[f].pattern, 0, &tok);
        if (strlen(word) == tn && memcmp(word, tok, tn) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- help and completion ---------------------------------------------------------------- */

static void add_cand(const char **cands, size_t *n, size_t max, const char *s)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(cands[i], s) == 0) {
            return;
        }
    }
    if (*n < max) {
        cands[(*n)++] = s;
    }
}

/* see cmd_table.h */
size_t cmd_complete(const char *line, size_t ws, size_t cur, const char **cands, size_t max)
{
    /* Literal candidates must be NUL-terminated strings: keep a table of the words. */
    static char words[128][24];
    size_t nwords = 0, n = 0;
    for (size_t f = 0; f < cmd_forms_count; f++) {
        unsigned i;
        const char *tok;
        if (cmd_forms[f].help == NULL || !words_fit(cmd_forms[f].pattern, line, ws, &i)) {
            continue;
        }
        size_t tn = token_at(cmd_forms[f].pattern, i, &tok);
        if (tn == 0 || is_placeholder(tok, tn)) {
            continue;
        }
        const char *alt = tok, *end = tok + tn;
        while (alt < end) {
            const char *bar = memchr(alt, '|', (size_t)(end - alt));
            size_t an = (size_t)((bar ? bar : end) - alt);
            if (an >= cur - ws && memcmp(alt, line + ws, cur - ws) == 0 && an < 24 &&
                nwords < 128) {
                memcpy(words[nwords], alt, an);
                words[nwords][an] = '\0';
                add_cand(cands, &n, max, words[nwords]);
                if (n > 0 && cands[n - 1] == words[nwords]) {
                    nwords++;
                }
            }
            alt += an + 1;
        }
    }
    return n;
}

/* see cmd_table.h */
size_t cmd_help(const char *words, void (*out)(void *arg, const char *line), void *arg)
{
    size_t matched = 0;
    char line[160];
    for (size_t f = 0; f < cmd_forms_count; f++) {
        unsigned i;
        if (cmd_forms[f].help == NULL ||
            !words_fit(cmd_forms[f].pattern, words, strlen(words), &i)) {
            continue;
        }
        snprintf(line, sizeof line, "  %-52s %s\n", cmd_forms[f].pattern, cmd_forms[f].help);
        out(arg, line);
        matched++;
    }
    return matched;
}

/* ---- secrets ---------------------------------------------------------------------------- */

/* Blanks as the line editor masks: a carriage return too, as it may end a pasted line. */
static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Where the secret of pattern begins in line (see cmd_secret_at), or CMD_NO_SECRET. */
static size_t secret_in_form(const char *pattern, const char *line, size_t len)
{
    size_t p = 0;
    for (unsigned i = 0;; i++) {
        const char *tok;
        size_t tn = token_at(pattern, i, &tok);
        if (tn == 0) {
            return CMD_NO_SECRET;
        }
        if ((tn == 6 && memcmp(tok, "SECRET", 6) == 0) ||
            (tn == 4 && memcmp(tok, "HASH", 4) == 0)) {
            return i > 0 && p > 0 && is_blank(line[p - 1]) ? p : CMD_NO_SECRET;
        }
        size_t s = p;
        while (p < len && !is_blank(line[p])) {
            p++;
        }
        if (p - s != tn || memcmp(line + s, tok, tn) != 0) {
            return CMD_NO_SECRET;
        }
        while (p < len && is_blank(line[p])) {
            p++;
        }
    }
}

/* see cmd_table.h */
size_t cmd_secret_at(const char *line, size_t len)
{
    size_t start = 0;
    while (start < len && is_blank(line[start])) {
        start++;
    }
    if (len - start > 5 && memcmp(line + start, "help", 4) == 0 && is_blank(line[start + 4])) {
        start += 5;   /* `help set imap password x` carries the secret all the same */
        while (start < len && is_blank(line[start])) {
            start++;
        }
    }
    for (size_t f = 0; f < cmd_forms_count; f++) {   /* the unlisted restore form too */
        size_t at = secret_in_form(cmd_forms[f].pattern, line + start, len - start);
        if (at != CMD_NO_SECRET) {
            return start + at;
        }
    }
    return CMD_NO_SECRET;
}
