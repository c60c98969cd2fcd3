/* The operator's console: the board console in raw mode with line editing, history and Tab
 * completion (a tty), or plain lines without echo (a pipe), and `--batch` scripts through
 * the same interpreter. Settings are edited in a candidate (the prompt shows `*` while it
 * differs from the running configuration); `commit` writes it to flash in one transaction.
 * Secrets are prompted without echo (given on a command line: echoed as '*', kept out of
 * the history), never printed unless exported with `show config secrets`, and wiped from
 * RAM after use. With a console password set, the console asks for it first, again after
 * `logout`/`exit` and after `set system console-timeout` minutes idle, and waits after each
 * failure: what arrives during the wait, and the rest of a read after the wrong line, is
 * dropped, so a pasted burst of guesses gets one attempt per wait. */
#ifndef GW_CONSOLE_H
#define GW_CONSOLE_H

#include <stddef.h>

#define CONSOLE_LOGIN_DELAY_MS 2000   /* after a failed password, doubling up to 32 s */

void console_init(void);
/* Console bytes are waiting: read and run what is complete. */
void console_poll(void);
/* Called by the loop every wake-up (at least once a second): ends a login delay on time,
 * and logs an idle session out. */
void console_tick(void);
/* Run a script (--batch): every line as if typed, stopping at the first error. Returns 0,
 * or the 1-based number of the failing line (its reason was printed). Commands that talk
 * to the network (tls probe) fail here: there is no event loop to run them. */
unsigned console_run_script(const char *text, size_t len);
/* The same, with the event loop: such a command runs to its verdict before the next line,
 * step() running one turn of the loop meanwhile. */
unsigned console_run_script_loop(const char *text, size_t len, void (*step)(void));

#endif
