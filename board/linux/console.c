/* Linux board: the console is stdin/stdout or a serial tty opened by path.
 *
 * A tty is put in raw mode (the firmware's console does its own line editing) with output
 * post-processing kept, so "\n" still reaches the terminal as CR LF. A serial line runs at
 * 115200 8N1 unless the kernel was told otherwise. The file descriptors stay blocking: we
 * read only after poll() said there are bytes, and a console write is short and must not
 * be dropped (setting O_NONBLOCK on a shared tty description would leak into stdout). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "board_linux.h"

static struct {
    int in_fd, out_fd;
    int is_tty;
    int closed;
    int saved_valid;
    struct termios saved;
} con = { .in_fd = -1, .out_fd = -1 };

static int console_raw(int fd, int set_speed)
{
    struct termios t;
    if (tcgetattr(fd, &t) != 0) {
        return -1;
    }
    con.saved = t;
    con.saved_valid = 1;
    t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    t.c_oflag |= OPOST | ONLCR;
    t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
    t.c_cflag |= CS8 | CREAD | CLOCAL;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (set_speed) {
        cfsetispeed(&t, B115200);
        cfsetospeed(&t, B115200);
    }
    return tcsetattr(fd, TCSANOW, &t);
}

int linux_console_open(const char *spec)
{
    if (spec == NULL || strcmp(spec, "stdio") == 0) {
        con.in_fd = STDIN_FILENO;
        con.out_fd = STDOUT_FILENO;
        con.is_tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
        if (con.is_tty && console_raw(STDIN_FILENO, 0) != 0) {
            linux_err("console: cannot set raw mode on stdin");
            return BOARD_EIO;
        }
        return BOARD_OK;
    }
    int fd = open(spec, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        linux_err("console: cannot open %s: %s", spec, strerror(errno));
        return BOARD_EIO;
    }
    con.in_fd = con.out_fd = fd;
    con.is_tty = isatty(fd);
    if (con.is_tty && console_raw(fd, 1) != 0) {
        linux_err("console: cannot configure %s: %s", spec, strerror(errno));
        close(fd);
        return BOARD_EIO;
    }
    return BOARD_OK;
}

void linux_console_close(void)
{
    if (con.saved_valid) {
        tcsetattr(con.in_fd, TCSANOW, &con.saved);
        con.saved_valid = 0;
    }
    if (con.in_fd > STDERR_FILENO) {
        close(con.in_fd);
    }
    con.in_fd = con.out_fd = -1;
}

int linux_console_fd(void)
{
    return con.closed ? -1 : con.in_fd;
}

/* see board.h */
long board_console_read(void *buf, size_t len)
{
    if (con.closed || con.in_fd < 0) {
        return -1;
    }
    struct pollfd p = { .fd = con.in_fd, .events = POLLIN };
    if (poll(&p, 1, 0) <= 0) {
        return 0;
    }
    ssize_t n = read(con.in_fd, buf, len);
    if (n > 0) {
        return n;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return 0;
    }
    con.closed = 1; /* EOF or a dead line: the loop goes on without a console */
    return -1;
}

/* see board.h */
void board_console_write(const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0 && con.out_fd >= 0) {
        ssize_t n = write(con.out_fd, p, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return; /* the console is gone; output has nowhere to go */
        }
        p += n;
        len -= (size_t)n;
    }
}

/* see board.h */
int board_console_interactive(void)
{
    return con.is_tty;
}
