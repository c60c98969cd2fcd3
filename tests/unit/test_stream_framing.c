/* QEMU stream framing: frames survive being cut at every byte boundary, and bad lengths are
 * skipped without losing the frames after them. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "stream_framing.h"

struct sink {
    int frames;
    size_t lens[16];
    uint8_t first[16];
};

static void collect(void *arg, const uint8_t *frame, size_t len)
{
    struct sink *s = arg;
    if (s->frames < 16) {
        s->lens[s->frames] = len;
        s->first[s->frames] = frame[0];
    }
    s->frames++;
}

static size_t put_frame(uint8_t *out, uint32_t len, uint8_t fill)
{
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    memset(out + 4, fill, len);
    return 4 + len;
}

static void frames_split_at_every_boundary_arrive_whole(void)
{
    static uint8_t stream[3 * (4 + SFRAME_MAX)];
    size_t n = 0;
    n += put_frame(stream + n, 60, 0xa1);
    n += put_frame(stream + n, SFRAME_MAX, 0xb2);
    n += put_frame(stream + n, 14, 0xc3);
    for (size_t cut = 0; cut <= n; cut++) {
        static struct sframe_rx rx;
        struct sink s = { 0 };
        sframe_rx_init(&rx);
        sframe_rx_feed(&rx, stream, cut, collect, &s);
        sframe_rx_feed(&rx, stream + cut, n - cut, collect, &s);
        CHECK_EQ(s.frames, 3);
        CHECK_EQ(s.lens[0], 60);
        CHECK_EQ(s.lens[1], SFRAME_MAX);
        CHECK_EQ(s.lens[2], 14);
        CHECK_EQ(s.first[1], 0xb2);
        CHECK_EQ(rx.dropped, 0);
    }
}

static void byte_by_byte_feeding_works(void)
{
    uint8_t stream[2 * (4 + 100)];
    size_t n = put_frame(stream, 100, 1);
    n += put_frame(stream + n, 100, 2);
    static struct sframe_rx rx;
    struct sink s = { 0 };
    sframe_rx_init(&rx);
    for (size_t i = 0; i < n; i++) {
        sframe_rx_feed(&rx, stream + i, 1, collect, &s);
    }
    CHECK_EQ(s.frames, 2);
    CHECK_EQ(s.first[0], 1);
    CHECK_EQ(s.first[1], 2);
}

static void oversize_and_empty_frames_are_skipped_not_desynchronised(void)
{
    /* passt may send 65520-byte frames; we drop them and keep the frames after. */
    size_t cap = 4 + 65520 + 4 + 0 + 4 + 64;
    uint8_t *stream = malloc(cap);
    CHECK(stream != NULL);
    size_t n = put_frame(stream, 65520, 0xee);
    n += put_frame(stream + n, 0, 0);
    n += put_frame(stream + n, 64, 0x42);
    static struct sframe_rx rx;
    struct sink s = { 0 };
    sframe_rx_init(&rx);
    for (size_t off = 0; off < n; off += 1000) {
        sframe_rx_feed(&rx, stream + off, n - off < 1000 ? n - off : 1000, collect, &s);
    }
    free(stream);
    CHECK_EQ(s.frames, 1);
    CHECK_EQ(s.lens[0], 64);
    CHECK_EQ(s.first[0], 0x42);
    CHECK_EQ(rx.dropped, 2);
}

static void encode_writes_big_endian_length_and_refuses_small_buffers(void)
{
    uint8_t frame[60], out[64];
    memset(frame, 7, sizeof frame);
    CHECK_EQ(sframe_encode(out, sizeof out, frame, sizeof frame), 64);
    CHECK_EQ(out[0], 0);
    CHECK_EQ(out[3], 60);
    CHECK_EQ(out[4], 7);
    CHECK_EQ(sframe_encode(out, 63, frame, sizeof frame), 0);
    CHECK_EQ(sframe_encode(out, 3, frame, 0), 0);
}

CHECK_MAIN(
    { "frames_split_at_every_boundary_arrive_whole", frames_split_at_every_boundary_arrive_whole },
    { "byte_by_byte_feeding_works", byte_by_byte_feeding_works },
    { "oversize_and_empty_frames_are_skipped_not_desynchronised",
      oversize_and_empty_frames_are_skipped_not_desynchronised },
    { "encode_writes_big_endian_length_and_refuses_small_buffers",
      encode_writes_big_endian_length_and_refuses_small_buffers })
