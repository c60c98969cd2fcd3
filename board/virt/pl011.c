/* The console: an ARM PL011 UART (TRM DDI 0183). Output is polled (a console is slow but
 * never refuses, board.h). Input is interrupt-driven: the handler moves the receive FIFO
 * into a ring the firmware reads from. When the ring is full the handler stops taking
 * bytes and masks the receive interrupt, so the FIFO fills and the sender is held back
 * (QEMU's serial backend waits; a real line would need flow control): a long PEM paste is
 * never cut, only slowed. Trap context: no C library calls. */
#include "aarch64_cpu.h"
#include "virt.h"

#define UART_DR 0x000
#define UART_FR 0x018
#define UART_LCRH 0x02c
#define UART_CR 0x030
#define UART_IMSC 0x038
#define UART_ICR 0x044

#define FR_RXFE (1u << 4)
#define FR_TXFF (1u << 5)
#define LCRH_FEN (1u << 4)
#define LCRH_WLEN8 (3u << 5)
#define CR_UARTEN (1u << 0)
#define CR_TXE (1u << 8)
#define CR_RXE (1u << 9)
#define INT_RX (1u << 4)
#define INT_RT (1u << 6)

/* 4 KiB: a whole certificate chain pasted ahead of the console's reading. */
#define RX_RING 4096u

static uintptr_t uart __attribute__((section(".data.virt_early")));   /* set before .bss is cleared */
static uint8_t ring[RX_RING];
static volatile uint32_t ring_head;    /* written by the interrupt handler */
static volatile uint32_t ring_tail;    /* written by the reader */
static volatile int rx_held;           /* the handler masked receive: the ring was full */
static unsigned long line_errors;      /* framing, parity, break, overrun: for a debugger */

/* see virt.h */
void pl011_init(uintptr_t base)
{
    uart = base;
    mmio_write32(uart + UART_CR, 0);
    mmio_write32(uart + UART_LCRH, LCRH_WLEN8 | LCRH_FEN);
    mmio_write32(uart + UART_IMSC, 0);
    mmio_write32(uart + UART_ICR, 0x7ff);
    mmio_write32(uart + UART_CR, CR_UARTEN | CR_TXE | CR_RXE);
}

static void putc_raw(uint8_t c)
{
    while (mmio_read32(uart + UART_FR) & FR_TXFF) {
    }
    mmio_write32(uart + UART_DR, c);
}

/* see virt.h */
void pl011_write(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    if (uart == 0) {
        return;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n') {
            putc_raw('\r');
        }
        putc_raw(p[i]);
    }
}

/* Move what the receive FIFO holds into the ring; when the ring is full, leave the rest in
 * the FIFO (where it holds the sender back) and mask the receive interrupt. */
static void rx_drain(void)
{
    while (!(mmio_read32(uart + UART_FR) & FR_RXFE)) {
        uint32_t head = ring_head;
        if (head - ring_tail >= RX_RING) {
            mmio_write32(uart + UART_IMSC, 0);
            rx_held = 1;
            return;
        }
        uint32_t dr = mmio_read32(uart + UART_DR);
        if (dr & 0xf00) {
            line_errors++;
        }
        ring[head % RX_RING] = (uint8_t)dr;
        dmb_ish();
        ring_head = head + 1;
    }
}

static void rx_irq(void *arg)
{
    (void)arg;
    /* Clear first, then drain: a byte that arrives after the drain raises the interrupt
     * anew. (Cleared after the drain, that byte's interrupt would be lost, and QEMU's PL011
     * raises it only when its FIFO goes from empty to one byte: input would stop.) */
    mmio_write32(uart + UART_ICR, INT_RX | INT_RT);
    rx_drain();
}

/* see virt.h */
void pl011_start_rx(uint32_t irq)
{
    gic_attach(irq, 0, rx_irq, 0);
    mmio_write32(uart + UART_IMSC, INT_RX | INT_RT);
}

/* see virt.h */
int pl011_rx_pending(void)
{
    return ring_head != ring_tail;
}

/* see virt.h */
size_t pl011_read(void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t n = 0;
    uint32_t head = ring_head;
    dmb_ishld();
    while (n < len && ring_tail != head) {
        p[n++] = ring[ring_tail % RX_RING];
        ring_tail = ring_tail + 1;
    }
    if (rx_held && n > 0) {
        /* The FIFO kept what the ring could not take, and will not interrupt again for it:
         * take it now, then let the interrupt back on. */
        uint64_t daif = irq_save();
        rx_held = 0;
        mmio_write32(uart + UART_ICR, INT_RX | INT_RT);
        rx_drain();
        if (!rx_held) {
            mmio_write32(uart + UART_IMSC, INT_RX | INT_RT);
        }
        irq_restore(daif);
    }
    return n;
}
