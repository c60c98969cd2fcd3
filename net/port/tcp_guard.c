/* A guard in front of lwIP 2.1.3's TCP input, for two flaws around its out-of-order queue.
 *
 * tcp_receive() trims every out-of-order segment to the receive window except the first one
 * it queues. When the gap before that segment fills, the window has shrunk by the gap, the
 * segment no longer fits, and LWIP_ASSERT("tcp_receive: ooseq tcplen > rcv_wnd") stops the
 * box. Any TCP peer can send that on purpose (data out of order that ends past the window),
 * and with TAP offloads the host's merged retransmissions did it under load (`make bench`,
 * 100 downloads). Such a segment is dropped here: data out of order and past the window is
 * the sender's to send again, and a peer that keeps to our window never sends it.
 *
 * Second, lwIP delays the ACK of a segment that fills a gap before queued out-of-order data
 * like any in-order segment (up to its 250 ms fast timer), where RFC 5681 4.2 asks for an
 * immediate ACK. A sender recovering from a loss (the relay's Linux, after a timeout: a
 * segment or two per ACK) then fills a 250 KiB gap at one segment per 250 ms: the tunnel
 * stood still for tens of seconds under `make bench` on AF_PACKET, where the veth reorders
 * frames between CPUs. Such a segment is marked for an ACK now; lwIP sends it when it has
 * taken the segment (tcp_input ends with tcp_output).
 *
 * Third, tcp_receive() trims the old part off a segment that starts before rcv_nxt with a
 * 16-bit offset, and LWIP_ASSERT("insane offset!") stops the box when that part is 65,535
 * bytes or more: a SYN or FIN exactly 2^31 before rcv_nxt (lwIP's sequence comparisons take
 * it as overlapping), or a 64 KiB merged frame with a FIN after data we have. fuzz_net_input
 * found the first. A segment that starts that far back carries nothing new we could use:
 * dropped, as the sender's to send again. */
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip_hooks.h"

int gw_tcp_inpacket(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, const struct pbuf *p)
{
    /* States whose segments reach tcp_receive (SYN_RCVD's last ACK may carry data); a
     * listener's struct ends before rcv_nxt, and TIME_WAIT takes none. */
    if (pcb->state != SYN_RCVD && pcb->state != ESTABLISHED && pcb->state != FIN_WAIT_1 &&
        pcb->state != FIN_WAIT_2) {
        return 0;
    }
    u32_t seqno = hdr->seqno;                /* host order: tcp_input converted it */
    u32_t len = (u32_t)p->tot_len + ((TCPH_FLAGS(hdr) & TCP_FIN) ? 1u : 0u);   /* TCP_TCPLEN */
    if (len > 0 && TCP_SEQ_GT(seqno, pcb->rcv_nxt) &&
        TCP_SEQ_GT(seqno + len, pcb->rcv_nxt + pcb->rcv_wnd)) {
        return -1;
    }
    u32_t back = pcb->rcv_nxt - seqno;       /* how far before rcv_nxt it starts */
    if ((p->tot_len > 0 || (TCPH_FLAGS(hdr) & (TCP_SYN | TCP_FIN))) && back >= 0xffffu &&
        back <= 0x80000000u) {
        return -1;
    }
    if (len > 0 && pcb->ooseq != NULL && TCP_SEQ_LEQ(seqno, pcb->rcv_nxt) &&
        TCP_SEQ_GT(seqno + len, pcb->rcv_nxt)) {
        tcp_set_flags(pcb, TF_ACK_NOW);      /* it fills (part of) the gap */
    }
    return 0;
}
