/* Power: PSCI (ARM DEN 0022) SYSTEM_OFF and SYSTEM_RESET, called with the conduit the
 * device tree's psci node names (hvc on QEMU's virt at EL1, smc with secure=on). Without
 * PSCI the box can only stop the CPU. Trap context: no C library calls. */
#include "aarch64_cpu.h"
#include "virt.h"

#define PSCI_SYSTEM_OFF 0x84000008u
#define PSCI_SYSTEM_RESET 0x84000009u

static void psci_call(uint64_t fn)
{
    if (virt_hw.psci == VIRT_PSCI_HVC) {
        virt_psci_hvc(fn, 0, 0, 0);
    } else if (virt_hw.psci == VIRT_PSCI_SMC) {
        virt_psci_smc(fn, 0, 0, 0);
    }
}

static void halt(void) __attribute__((noreturn));
static void halt(void)
{
    virt_puts("board: no PSCI in the device tree: the CPU stops here\n");
    irq_mask();
    for (;;) {
        wfi();
    }
}

/* see virt.h */
void psci_system_off(void)
{
    psci_call(PSCI_SYSTEM_OFF);
    halt();
}

/* see virt.h */
void psci_system_reset(void)
{
    psci_call(PSCI_SYSTEM_RESET);
    halt();
}
