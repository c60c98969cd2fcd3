/* The receive reserve every board's netif keeps (board/eth_rx.c, board.h's
 * board_set_rx_urgent), shared by board/linux and the virt board's virtio netif: frames
 * take pool pbufs freely while more than the reserve is free; then only frames the
 * firmware calls urgent get in, and a device with merged frames keeps more back. */
#include "board.h"
#include "check.h"
#include "eth_rx.h"
#include "lwip/init.h"
#include "lwip/memp.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "lwip_port.h"
#include "random.h"

static int urgent_calls;
static int say_urgent;

static int urgent(const uint8_t *frame, size_t len)
{
    (void)frame;
    (void)len;
    urgent_calls++;
    return say_urgent;
}

static unsigned pool_free(void)
{
    const struct stats_mem *m = lwip_stats.memp[MEMP_PBUF_POOL];
    return (unsigned)(m->avail - m->used);
}

static void only_urgent_frames_take_the_last_pbufs(void)
{
    static struct pbuf *held[PBUF_POOL_SIZE];
    static const uint8_t frame[1514];
    unsigned n = 0;
    CHECK_EQ(rng_init(board_entropy), 0);   /* lwIP asks for random port numbers */
    lwip_port_init(board_now_ms, NULL);
    lwip_init();
    board_set_rx_urgent(urgent);
    /* plenty free: taken without asking */
    CHECK_EQ(eth_rx_shed(frame, sizeof frame, sizeof frame, 0), 0);
    CHECK_EQ(urgent_calls, 0);
    /* fill the pool until one frame more would eat into the reserve */
    while (pool_free() > BOARD_RX_RESERVE + eth_rx_pbufs_for(sizeof frame) - 1) {
        held[n++] = pbuf_alloc(PBUF_RAW, 1, PBUF_POOL);
    }
    say_urgent = 0;
    CHECK_EQ(eth_rx_shed(frame, sizeof frame, sizeof frame, 0), 1);
    CHECK_EQ(urgent_calls, 1);
    say_urgent = 1;
    CHECK_EQ(eth_rx_shed(frame, sizeof frame, sizeof frame, 0), 0);
    /* one pbuf more free: an ordinary frame fits again, unless merged frames need more */
    pbuf_free(held[--n]);
    say_urgent = 0;
    CHECK_EQ(eth_rx_shed(frame, sizeof frame, sizeof frame, 0), 0);
    CHECK_EQ(eth_rx_shed(frame, sizeof frame, sizeof frame, 44), 1);
    /* no urgency test set: never shed (the firmware asked for no reserve) */
    board_set_rx_urgent(NULL);
    CHECK_EQ(eth_rx_shed(frame, sizeof frame, sizeof frame, 44), 0);
    while (n > 0) {
        pbuf_free(held[--n]);
    }
}

CHECK_MAIN({ "only_urgent_frames_take_the_last_pbufs", only_urgent_frames_take_the_last_pbufs })
