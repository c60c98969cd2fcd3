/* The virt board's device-tree reader on any bytes: it must answer or refuse, never read
 * outside the blob, never loop. Seeds: trees QEMU 7.2 dumped (tests/unit/virt/). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fdt.h"
#include "virt_hw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy exactly as long as the input, so ASan sees a read one byte past it */
    uint8_t *blob = malloc(size ? size : 1);
    memcpy(blob, data, size);
    static struct virt_hw hw;
    const char *why;
    (void)virt_hw_from_fdt(&hw, blob, size, &why);
    struct fdt f;
    if (fdt_open(&f, blob, size) == 0) {
        int depth = 0;
        for (int n = fdt_next_node(&f, -1, &depth); n >= 0; n = fdt_next_node(&f, n, &depth)) {
            uint32_t len, v;
            uint64_t a, s;
            (void)fdt_node_name(&f, n);
            (void)fdt_prop(&f, n, "reg", &len);
            (void)fdt_prop_u32(&f, n, "interrupts", 1, &v);
            (void)fdt_reg(&f, n, 0, &a, &s);
            (void)fdt_compatible(&f, n, "virtio,mmio");
        }
    }
    free(blob);
    return 0;
}
