/* Entry from QEMU's -kernel at EL1, and the exception vectors.
 *
 * _reset: interrupts masked, FP/SIMD on (musl's printf and memcpy use it), vectors
 * installed, the identity map and caches on (virt_mmu_init, before anything touches RAM
 * through C), the device tree read and the console started (virt_early, which also checks
 * that RAM holds the whole image), .bss cleared, then virt_boot() starts the rest and
 * builds the first stack the way Linux would (argc, argv, envp, auxv) at the top of the
 * stack region, and we jump to musl's own _start with SP_EL0 pointing at it.
 *
 * The firmware runs at EL1 on SP_EL0 ("EL1t"); every exception switches to SP_EL1, a stack
 * of its own, so a fault from an overflowed main stack can still be reported. Vectors save
 * the general registers only: the code they call is built with -mgeneral-regs-only and
 * calls no C library function, so the interrupted code's FP/SIMD registers stay intact
 * (musl does not expect a system call to clobber them, and an interrupt must not). */

#define FRAME_SIZE (34 * 8)     /* x0-x30, elr, spsr, pad: struct trap_frame in virt.h */

    .section .text.boot, "ax"
    .global _reset
_reset:
    msr     daifset, #0xf
    mrs     x1, CurrentEL
    cmp     x1, #(1 << 2)
    b.ne    not_el1
    ldr     x1, =__exc_stack_top
    mov     sp, x1
    mov     x1, #(3 << 20)          /* CPACR_EL1.FPEN: no FP/SIMD traps at EL1 */
    msr     cpacr_el1, x1
    ldr     x1, =vectors
    msr     vbar_el1, x1
    isb
    bl      virt_mmu_init
    bl      virt_early              /* device tree, console; stops if RAM is too small */
    ldr     x0, =__bss_start
    ldr     x1, =__bss_end
1:  cmp     x0, x1
    b.hs    2f
    stp     xzr, xzr, [x0], #16
    b       1b
2:  bl      virt_boot               /* returns the first stack pointer for musl */
    msr     sp_el0, x0
    msr     spsel, #0
    isb
    mov     x0, #0
    mov     x1, #0
    mov     x29, #0
    mov     x30, #0
    b       _start

    /* Entered at EL2 or EL3 (virtualization=on or secure=on): this image is an EL1 one. */
not_el1:
    wfe
    b       not_el1

/* ---- exception vectors -------------------------------------------------------------- */

.macro VECTOR kind
    .balign 0x80
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #0]
    mov     x1, #\kind
    b       trap_entry
.endm

    .text
    .balign 2048
vectors:
    VECTOR  0       /* current EL, SP_EL0: synchronous (svc, faults) */
    VECTOR  1       /*                     IRQ */
    VECTOR  2       /*                     FIQ */
    VECTOR  3       /*                     SError */
    VECTOR  4       /* current EL, SP_EL1: synchronous (a fault inside a handler) */
    VECTOR  5
    VECTOR  6
    VECTOR  7
    VECTOR  8       /* lower EL, AArch64: never (nothing runs below EL1) */
    VECTOR  9
    VECTOR  10
    VECTOR  11
    VECTOR  12      /* lower EL, AArch32 */
    VECTOR  13
    VECTOR  14
    VECTOR  15

trap_entry:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x30, x2, [sp, #240]
    str     x3, [sp, #256]
    mov     x0, sp
    bl      virt_trap               /* (struct trap_frame *, unsigned kind) */
    ldr     x3, [sp, #256]
    ldp     x30, x2, [sp, #240]
    msr     spsr_el1, x3
    msr     elr_el1, x2
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    add     sp, sp, #FRAME_SIZE
    eret

/* ---- PSCI calls: x0 function, x1-x3 arguments; the tree says hvc or smc ----------------- */
    .global virt_psci_hvc
virt_psci_hvc:
    hvc     #0
    ret
    .global virt_psci_smc
virt_psci_smc:
    smc     #0
    ret

    .section .note.GNU-stack, "", %progbits
