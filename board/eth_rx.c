/* see eth_rx.h */
#include "board.h"
#include "eth_rx.h"
#include "lwip/memp.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"

static int (*rx_urgent)(const uint8_t *frame, size_t len);

/* see board.h */
void board_set_rx_urgent(int (*fn)(const uint8_t *frame, size_t len))
{
    rx_urgent = fn;
}

static unsigned pool_free(void)
{
    const struct stats_mem *m = lwip_stats.memp[MEMP_PBUF_POOL];
    return m->avail > m->used ? (unsigned)(m->avail - m->used) : 0;
}

/* see eth_rx.h */
unsigned eth_rx_pbufs_for(size_t len)
{
    return (unsigned)((len + PBUF_POOL_BUFSIZE - 1) / PBUF_POOL_BUFSIZE);
}

/* see eth_rx.h */
int eth_rx_shed(const uint8_t *frame, size_t len, size_t copy_len, unsigned extra_reserve)
{
    unsigned reserve = BOARD_RX_RESERVE + extra_reserve;
    return rx_urgent != NULL && pool_free() < reserve + eth_rx_pbufs_for(copy_len) &&
           !rx_urgent(frame, len);
}
