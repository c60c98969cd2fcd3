/* The operator's console: reads lines from the board console and runs them.
 * (This is the first-light console: help, show status|log|version. The full command
 * language of docs/operator-guide.md grows here.) */
#ifndef GW_CONSOLE_H
#define GW_CONSOLE_H

#define CONSOLE_LINE_MAX 512   /* longest command line; longer input is refused whole */

void console_init(const char *hostname);
/* Console bytes are waiting: read and run what is complete. */
void console_poll(void);

#endif
