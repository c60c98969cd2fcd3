/* see cfi_flash.h. References: JEDEC JESD68.01 (CFI), Intel's "Common Flash Interface and
 * Command Sets" (AP-646) and the 28F128J3 datasheet (command codes, status register). */
#include "cfi_flash.h"

#define CMD_READ_ARRAY 0xff
#define CMD_READ_STATUS 0x70
#define CMD_CLEAR_STATUS 0x50
#define CMD_QUERY 0x98
#define CMD_PROGRAM 0x40
#define CMD_ERASE 0x20
#define CMD_CONFIRM 0xd0
#define CMD_LOCK_SETUP 0x60     /* then CONFIRM: clear the block's lock bit */

#define SR_READY 0x80
#define SR_ERASE_ERR 0x20
#define SR_PROGRAM_ERR 0x10
#define SR_VPP_LOW 0x08
#define SR_LOCKED 0x02
#define SR_ERRORS (SR_ERASE_ERR | SR_PROGRAM_ERR | SR_VPP_LOW | SR_LOCKED)

/* CFI query table offsets (JESD68.01) */
#define QRY 0x10
#define QRY_CMDSET 0x13
#define QRY_PROGRAM_TYP 0x1f    /* 2^n us for one word */
#define QRY_ERASE_TYP 0x21      /* 2^n ms for one block */
#define QRY_PROGRAM_MAX 0x23    /* 2^n times the typical */
#define QRY_ERASE_MAX 0x25
#define QRY_SIZE 0x27           /* 2^n bytes per chip */
#define QRY_REGIONS 0x2c
#define QRY_REGION1 0x2d        /* blocks - 1 (16 bits), block size / 256 (16 bits) */

#define CMDSET_INTEL 0x0001

static uint32_t rd(struct flash_cfi *fc, uint32_t off)
{
    return fc->bus.read32(fc->bus.ctx, off);
}

static void wr(struct flash_cfi *fc, uint32_t off, uint32_t v)
{
    fc->bus.write32(fc->bus.ctx, off, v);
}

/* see cfi_flash.h */
uint32_t flash_cfi_cmd(const struct flash_cfi *fc, uint8_t cmd)
{
    uint32_t v = 0;
    for (uint32_t i = 0; i < fc->lanes; i++) {
        v |= (uint32_t)cmd << (i * fc->lane_bits);
    }
    return v;
}

static void command(struct flash_cfi *fc, uint32_t off, uint8_t cmd)
{
    wr(fc, off, flash_cfi_cmd(fc, cmd));
}

/* One byte of the CFI query: the first lane's, which every chip answers alike. */
static uint8_t query(struct flash_cfi *fc, uint32_t index)
{
    return (uint8_t)rd(fc, index * 4);
}

/* Status reads per millisecond of timeout, at most: a bound on the poll that holds even
 * if the clock stood still (a bus read takes at least a few tens of nanoseconds). */
#define POLLS_PER_MS 100000u

/* Poll the status registers until every chip is ready, then return their error bits (0:
 * done well) or -1 on timeout. Leaves the chips in read-status mode. */
static int wait_ready(struct flash_cfi *fc, uint32_t off, uint32_t timeout_ms, uint32_t *status)
{
    uint32_t ready = flash_cfi_cmd(fc, SR_READY), errors = flash_cfi_cmd(fc, SR_ERRORS);
    uint32_t start = fc->bus.now_ms(fc->bus.ctx);
    *status = 0;
    for (uint64_t polls = (uint64_t)timeout_ms * POLLS_PER_MS; polls > 0; polls--) {
        uint32_t st = rd(fc, off);
        if ((st & ready) == ready) {
            *status = st;
            return (int)(st & errors ? 1 : 0);
        }
        *status = st;
        if (fc->bus.now_ms(fc->bus.ctx) - start > timeout_ms) {
            break;
        }
    }
    fc->timeouts++;
    return -1;
}

/* An operation failed: clear the error bits and go back to reading data. */
static int failed(struct flash_cfi *fc, uint32_t off, uint32_t status)
{
    fc->errors++;
    fc->last_status = status;
    command(fc, off, CMD_CLEAR_STATUS);
    command(fc, off, CMD_READ_ARRAY);
    return FLASH_EIO;
}

static int cfi_read(struct flash *f, uint32_t addr, void *buf, size_t len)
{
    struct flash_cfi *fc = (struct flash_cfi *)f;
    uint8_t *out = buf;
    uint32_t word = addr & ~3u;
    while (len > 0) {
        uint32_t v = rd(fc, word);
        for (uint32_t b = addr - word; b < 4 && len > 0; b++, len--, addr++) {
            *out++ = (uint8_t)(v >> (8 * b));
        }
        word += 4;
    }
    return FLASH_OK;
}

static int unlock_block(struct flash_cfi *fc, uint32_t off)
{
    uint32_t st;
    fc->unlocks++;
    command(fc, off, CMD_LOCK_SETUP);
    command(fc, off, CMD_CONFIRM);
    int r = wait_ready(fc, off, fc->erase_timeout_ms, &st);
    if (r != 0) {
        return failed(fc, off, st);
    }
    return FLASH_OK;
}

/* Program one word (the chips in read-array mode or status mode: either takes commands).
 * A block locked at power-up (some Intel parts) is unlocked and the word tried again. */
static int program_word(struct flash_cfi *fc, uint32_t off, uint32_t value)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        uint32_t st;
        command(fc, off, CMD_PROGRAM);
        wr(fc, off, value);
        int r = wait_ready(fc, off, fc->program_timeout_ms, &st);
        if (r == 0) {
            fc->words_programmed++;
            return FLASH_OK;
        }
        /* A locked block reports SR.1 (with SR.4, the program that did not happen). */
        if (r > 0 && attempt == 0 && (st & flash_cfi_cmd(fc, SR_LOCKED)) &&
            !(st & flash_cfi_cmd(fc, SR_VPP_LOW))) {
            command(fc, off, CMD_CLEAR_STATUS);
            if (unlock_block(fc, off & ~(fc->base.geo.block_size - 1)) != FLASH_OK) {
                return FLASH_EIO;
            }
            continue;
        }
        return failed(fc, off, st);
    }
    return FLASH_EIO;
}

static int cfi_program(struct flash *f, uint32_t addr, const void *buf, size_t len)
{
    struct flash_cfi *fc = (struct flash_cfi *)f;
    const uint8_t *src = buf;
    uint32_t first = addr & ~3u, end = (uint32_t)(addr + len);
    int err = FLASH_OK;
    /* Word by word: the current contents (read-array mode) AND the new bytes. */
    for (uint32_t word = first; word < end && err == FLASH_OK; word += 4) {
        command(fc, word, CMD_READ_ARRAY);
        uint32_t old = rd(fc, word), value = old;
        for (uint32_t b = 0; b < 4; b++) {
            uint32_t a = word + b;
            if (a >= addr && a < end) {
                value &= ~(0xffu << (8 * b)) | ((uint32_t)src[a - addr] << (8 * b));
            }
        }
        if (value == old) {
            fc->words_skipped++;
            continue;
        }
        err = program_word(fc, word, value);
    }
    command(fc, first, CMD_READ_ARRAY);
    if (err != FLASH_OK) {
        return err;
    }
    /* Read back: a program the chips reported done must have left exactly old & new. */
    for (uint32_t word = first; word < end; word += 4) {
        uint32_t v = rd(fc, word);
        for (uint32_t b = 0; b < 4; b++) {
            uint32_t a = word + b;
            if (a >= addr && a < end) {
                uint8_t got = (uint8_t)(v >> (8 * b)), want = src[a - addr];
                if ((got & want) != got) {   /* a bit the data clears is still set */
                    fc->errors++;
                    return FLASH_EIO;
                }
            }
        }
    }
    return FLASH_OK;
}

static int cfi_erase(struct flash *f, uint32_t block)
{
    struct flash_cfi *fc = (struct flash_cfi *)f;
    uint32_t off = block * fc->base.geo.block_size, st;
    int err = unlock_block(fc, off);
    if (err != FLASH_OK) {
        return err;
    }
    command(fc, off, CMD_ERASE);
    command(fc, off, CMD_CONFIRM);
    int r = wait_ready(fc, off, fc->erase_timeout_ms, &st);
    if (r != 0) {
        return failed(fc, off, st);
    }
    fc->erases++;
    command(fc, off, CMD_READ_ARRAY);
    return FLASH_OK;
}

static const struct flash_class flash_cfi_class = {
    .read = cfi_read,
    .program = cfi_program,
    .erase = cfi_erase,
    .close = 0,
};

/* 2^a * 2^b, in the unit of a, at least floor, twice over for margin. */
static uint32_t timeout(uint8_t typ_log2, uint8_t max_log2, uint32_t div, uint32_t floor)
{
    if (typ_log2 == 0 || typ_log2 > 24 || max_log2 > 8) {
        return floor * 10;   /* the chip does not say: be generous */
    }
    uint64_t t = ((uint64_t)1 << typ_log2 << max_log2) / div * 2;
    return t < floor ? floor : (uint32_t)t;
}

/* see cfi_flash.h */
int flash_cfi_open(struct flash_cfi *fc, const struct cfi_bus *bus, uint32_t bank_size,
                   const char **why)
{
    fc->bus = *bus;
    fc->base.vtable = &flash_cfi_class;
    fc->words_programmed = fc->words_skipped = fc->erases = fc->unlocks = 0;
    fc->timeouts = fc->errors = fc->last_status = 0;
    /* Ask in every lane at once; how the 'Q' comes back says how the chips are wired. */
    wr(fc, 0x55 * 4, 0x98989898u);
    uint32_t q = rd(fc, QRY * 4);
    if (q == 0x00510051u) {
        fc->lanes = 2;
    } else if (q == 0x00000051u) {
        fc->lanes = 1;
    } else if (q == 0x51515151u) {
        fc->lanes = 4;
    } else {
        wr(fc, 0, 0xffffffffu);
        *why = "no CFI answer from the flash bank";
        return FLASH_EINVAL;
    }
    fc->lane_bits = 32 / fc->lanes;
    /* Now the query again, properly doubled, from a clean state. */
    command(fc, 0, CMD_READ_ARRAY);
    command(fc, 0x55 * 4, CMD_QUERY);
    int err = FLASH_EINVAL;
    if (query(fc, QRY) != 'Q' || query(fc, QRY + 1) != 'R' || query(fc, QRY + 2) != 'Y') {
        *why = "the flash bank's CFI answer is not QRY";
        goto done;
    }
    uint32_t cmdset = query(fc, QRY_CMDSET) | (uint32_t)query(fc, QRY_CMDSET + 1) << 8;
    if (cmdset != CMDSET_INTEL) {
        *why = "the flash bank does not speak the Intel command set (CFI 0x0001)";
        goto done;
    }
    uint8_t size_log2 = query(fc, QRY_SIZE);
    if (query(fc, QRY_REGIONS) != 1 || size_log2 < 12 || size_log2 > 30) {
        *why = "the flash bank's erase blocks are not all of one size";
        goto done;
    }
    uint32_t blocks = (query(fc, QRY_REGION1) | (uint32_t)query(fc, QRY_REGION1 + 1) << 8) + 1;
    uint32_t chip_block = (query(fc, QRY_REGION1 + 2) |
                           (uint32_t)query(fc, QRY_REGION1 + 3) << 8) * 256u;
    uint64_t chip_size = (uint64_t)1 << size_log2;
    fc->base.geo.block_size = chip_block * fc->lanes;
    fc->base.geo.size = (uint32_t)(chip_size * fc->lanes);
    fc->base.geo.prog_size = 1;
    if (chip_block == 0 || (uint64_t)blocks * chip_block != chip_size ||
        chip_size * fc->lanes != bank_size || !flash_geometry_valid(&fc->base.geo)) {
        *why = "the flash chips' size does not match the bank in the device tree";
        goto done;
    }
    fc->program_timeout_ms = timeout(query(fc, QRY_PROGRAM_TYP), query(fc, QRY_PROGRAM_MAX),
                                     1000, 10);
    fc->erase_timeout_ms = timeout(query(fc, QRY_ERASE_TYP), query(fc, QRY_ERASE_MAX), 1, 1000);
    err = FLASH_OK;
done:
    command(fc, 0, CMD_READ_ARRAY);
    return err;
}
