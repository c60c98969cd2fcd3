/* The board HAL: everything the firmware needs from the hardware, and nothing else.
 *
 * A board provides clocks, entropy, a console byte channel, one Ethernet netif and a way
 * to sleep until something happens. The firmware above never touches a file descriptor,
 * a register or an OS call directly, so the same firmware, unchanged and built the same
 * way, runs on two boards:
 *  - board/linux/: a process under Linux (TAP, AF_PACKET, QEMU stream; a flash file or
 *    MTD; a tty; ppoll as the sleep; getrandom);
 *  - board/virt/: QEMU's virt machine (aarch64) with no operating system: PL011 console,
 *    GICv2 and the generic timer (wfi as the sleep), virtio-mmio net and rng, PL031 RTC,
 *    the CFI pflash bank as the flash, PSCI for reboot and power-off; musl's few system
 *    calls are served by a shim there (board/virt/syscall.c).
 * A new board implements every function below and a flash device behind board_flash()
 * (docs/architecture.md says what a third, riscv64 virt, would change). Flash lives in
 * board/flash.h. No function here blocks, except board_wait(), which is the loop's only
 * sleep. */
#ifndef GW_BOARD_H
#define GW_BOARD_H

#include <stddef.h>
#include <stdint.h>

struct netif;

/* Board start-up options (on Linux they come from the command line). */
struct board_options {
    const char *console;   /* "stdio" or a tty path */
    const char *net;       /* "tap:IF", "stream:PATH", "packet:IF" or NULL for none */
    const char *mac;       /* "xx:xx:xx:xx:xx:xx" or NULL: locally administered from entropy */
    const char *flash;     /* file image, block device or /dev/mtdN; NULL: RAM only */
    const char *clock;     /* wall clock at boot: "host" (or NULL), "unset" (no RTC: 1970 until
                            * SNTP), or a signed offset in seconds from the host ("-86400") */
};

/* Errors, negative, shared by every board function that can fail. */
enum board_err {
    BOARD_OK = 0,
    BOARD_EINVAL = -1,     /* bad option text */
    BOARD_EIO = -2,        /* the device failed; the log says why */
    BOARD_ENOENTROPY = -3, /* no entropy source: the firmware must not start TLS */
};

/* Bring up the board: clocks, console, entropy check. The netif is added separately, after
 * lwIP is initialised, by board_netif_add(). Returns BOARD_OK or an error. */
int board_init(const struct board_options *opt);
void board_shutdown(void);
const char *board_name(void);

/* ---- time ---- */
/* Milliseconds since boot; wraps after 49 days, as lwIP expects of sys_now(). */
uint32_t board_now_ms(void);
/* Wall-clock time as Unix seconds. Returns 1 when the board believes it valid (an RTC that
 * was set, or the host clock), 0 when it is only a guess: callers then must not validate
 * certificates against it. */
int board_wallclock(int64_t *unix_seconds);
/* Set the wall clock (SNTP had an answer): board_wallclock() then counts on from
 * unix_seconds and says valid. A board with an RTC writes it; Linux keeps the time itself
 * and never touches the host's clock. */
void board_set_wallclock(int64_t unix_seconds);

/* ---- entropy ---- */
/* Fill buf with len bytes from the board's true entropy source. Returns BOARD_OK, or
 * BOARD_ENOENTROPY when no such source exists or it failed: never weak bytes. */
int board_entropy(void *buf, size_t len);

/* ---- console ---- */
/* Non-blocking: returns bytes read (0 when none yet), or -1 once the console has closed. */
long board_console_read(void *buf, size_t len);
/* Writes all of buf; a console is slow but never refuses (on Linux: blocking-safe tty). */
void board_console_write(const void *buf, size_t len);
/* 1 when a person types at it (line editing makes sense), 0 for a pipe or file. */
int board_console_interactive(void);

/* ---- network ---- */
/* Create the board's Ethernet netif from opt->net and add it to lwIP (not yet up).
 * Returns NULL when opt->net is NULL or the device cannot be opened (logged). */
struct netif *board_netif_add(void);
/* Received frames wait in pbufs until their connection's owner reads them, so many busy
 * connections can hold the whole pool; then the frames that would free it (the tunnel's
 * ACKs and data) could not get in either. The last BOARD_RX_RESERVE pbufs go only to frames
 * the firmware calls urgent (fn returns 1: ARP, the tunnel's TCP); others are shed and
 * their senders retransmit later. fn NULL: no reserve. A device that receives merged frames
 * (a TAP with offloads) keeps one such frame's pbufs more (44) on top. */
#define BOARD_RX_RESERVE 32
void board_set_rx_urgent(int (*fn)(const uint8_t *frame, size_t len));
/* Frame counters for `show status`. */
struct board_netif_stats {
    uint64_t rx_frames, tx_frames, rx_bytes, tx_bytes;
    uint64_t rx_dropped;   /* no pbuf free, or a malformed or oversize frame */
    uint64_t rx_shed;      /* not urgent while only the reserve was left (also dropped) */
    uint64_t tx_dropped;   /* device busy or link down */
};
void board_netif_stats(struct board_netif_stats *st);

/* ---- flash ---- */
struct flash;
/* The configuration flash (board/flash.h), opened by board_init(). Without a flash device
 * the board lends a RAM one of the default geometry: the box runs, but forgets its
 * configuration at power-off (and says so). Never NULL after board_init() succeeded. */
struct flash *board_flash(void);
/* 1 when board_flash() was just created blank (first boot of a new image). */
int board_flash_created(void);

/* Start the firmware afresh (the console's `reboot`). Linux: the process re-executes
 * itself with the same arguments; virt: PSCI SYSTEM_RESET. Does not return. */
void board_reboot(void) __attribute__((noreturn));

/* ---- memory ---- */
/* RAM whose contents are no longer needed (a quiet pool, net/port/memp_lazy.c): the board
 * may take back the whole pages inside [p, p + len), which then read as zeros when next
 * touched. Linux: madvise(MADV_DONTNEED), so the process's RSS shrinks; virt: nothing
 * (its RAM is all the box's, with no one to give it to). */
void board_mem_discard(void *p, size_t len);

/* ---- the loop's sleep ---- */
enum board_event {
    BOARD_EV_CONSOLE = 1 << 0,  /* console bytes (or its close) are waiting */
    BOARD_EV_STOP = 1 << 1,     /* the board was asked to stop (SIGTERM, SIGINT) */
};
/* The firmware asks to stop (the operator pressed Ctrl-D at a local console): the next
 * board_wait() returns BOARD_EV_STOP. On Linux the process then exits cleanly; on virt the
 * machine powers off (PSCI SYSTEM_OFF). */
void board_request_stop(void);
/* The firmware has taken the stop request and winds down (its tunnels close): board_wait()
 * sleeps and reads frames again, and a second request returns BOARD_EV_STOP anew. */
void board_stop_taken(void);
/* Sleep up to timeout_ms or until something happens. Received frames are handed to lwIP
 * here, before returning; other events are returned as a mask of enum board_event. */
unsigned board_wait(uint32_t timeout_ms);

#endif
