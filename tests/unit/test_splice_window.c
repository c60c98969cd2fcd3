/* The receive windows the splices offer their internal hosts fit the pbuf pool: whatever
 * number of them is open (down to the two-segment floor), their frames, each a whole window
 * as the host sends it after one window update, fit the pbufs beside the board's reserve
 * and one merged frame's, so nothing is shed (a shed frame costs its stream a
 * retransmission timeout). */
#include "board.h"
#include "check.h"
#include "lwip/pbuf.h"
#include "splice.h"

#define HDRS (14 + 20 + 20)              /* Ethernet, IPv4, TCP: lwIP keeps them in the pbufs */

static unsigned pbufs_for(size_t len)
{
    return (unsigned)((len + PBUF_POOL_BUFSIZE - 1) / PBUF_POOL_BUFSIZE);
}

static void windows_of_all_open_splices_fit_the_pool(void)
{
    /* the tunnels' windows past a LAN one are theirs (TCP_WND - GW_TCP_WND_LAN) */
    unsigned room = PBUF_POOL_SIZE - BOARD_RX_RESERVE - pbufs_for(65535)
                    - (TCP_WND - GW_TCP_WND_LAN) / TCP_MSS;
    for (unsigned open = 1; open <= SPLICE_MAX; open++) {
        uint32_t w = splice_window_for(open);
        CHECK(w >= 2 * TCP_MSS);
        CHECK(w <= GW_TCP_WND_LAN);
        if (w == 2 * TCP_MSS) {
            continue;                    /* the floor: beyond the pool by design, shed policy */
        }
        if (open * pbufs_for(HDRS + w) > room) {
            printf("  %u open: window %u B, %u pbufs each, %u for all of them (room %u)\n",
                   open, (unsigned)w, pbufs_for(HDRS + w), open * pbufs_for(HDRS + w), room);
            CHECK(!"the windows overrun the pool");
            return;
        }
    }
    CHECK_EQ(splice_window_for(1), GW_TCP_WND_LAN);
    CHECK_EQ(splice_window_for(0), GW_TCP_WND_LAN);
}

CHECK_MAIN({ "windows_of_all_open_splices_fit_the_pool", windows_of_all_open_splices_fit_the_pool })
