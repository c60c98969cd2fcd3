# The bare-metal board for QEMU's virt machine (issue 20), in an aarch64 tree configured
# with -DGW_BOARD=virt (make virt: build/aarch64-virt). The firmware libraries are the very
# ones the Linux image links, built the same way; only the board and the link differ.
if(NOT GW_ARCH STREQUAL "aarch64")
  message(FATAL_ERROR "GW_BOARD=virt needs GW_ARCH=aarch64 (make virt)")
endif()
enable_language(ASM)
find_program(GW_VIRT_NM aarch64-linux-gnu-nm REQUIRED)

set(VIRT_DIR ${CMAKE_CURRENT_SOURCE_DIR}/virt)
# Code a trap can reach (the syscall shim, interrupt handlers, the drivers they call) must
# leave FP/SIMD registers alone: the vectors do not save them. No loop may become a call to
# musl's memset/memcpy (which use SIMD): the check below looks at the objects.
set(VIRT_TRAP_FLAGS -mgeneral-regs-only -fno-tree-loop-distribute-patterns)
add_library(gw_virt_trap OBJECT
  ${VIRT_DIR}/aarch64_start.S ${VIRT_DIR}/aarch64_mmu.c ${VIRT_DIR}/aarch64_timer.c
  ${VIRT_DIR}/clock.c ${VIRT_DIR}/gicv2.c ${VIRT_DIR}/pl011.c
  ${VIRT_DIR}/pl031.c ${VIRT_DIR}/psci.c ${VIRT_DIR}/syscall.c ${VIRT_DIR}/trap.c
  ${VIRT_DIR}/virt_heap.c ${VIRT_DIR}/virtq.c ${VIRT_DIR}/virtio_mmio.c ${VIRT_DIR}/virtio_rng.c
  ${VIRT_DIR}/entropy.c)
target_link_libraries(gw_virt_trap PUBLIC gw_board_hal gw_base)
target_include_directories(gw_virt_trap PUBLIC ${VIRT_DIR})
target_compile_options(gw_virt_trap PRIVATE $<$<COMPILE_LANGUAGE:C>:${GW_WARNINGS} ${VIRT_TRAP_FLAGS}>)
# With the MMU still off every access is Device memory, where unaligned accesses fault.
set_source_files_properties(${VIRT_DIR}/aarch64_mmu.c PROPERTIES COMPILE_OPTIONS -mstrict-align)

# Everything else of the board: device tree, drivers the firmware calls, the HAL.
add_library(gw_board_virt STATIC ${VIRT_DIR}/boot.c ${VIRT_DIR}/fdt.c ${VIRT_DIR}/virt_hw.c
  ${VIRT_DIR}/board_virt.c ${VIRT_DIR}/virtio_net.c ${VIRT_DIR}/flash_virt.c
  ${VIRT_DIR}/cfi_flash.c ${CMAKE_CURRENT_SOURCE_DIR}/eth_netif.c
  ${CMAKE_CURRENT_SOURCE_DIR}/eth_rx.c $<TARGET_OBJECTS:gw_virt_trap>)
target_link_libraries(gw_board_virt PUBLIC gw_board_hal gw_flash lwip gw_base)
target_include_directories(gw_board_virt PUBLIC ${VIRT_DIR})
target_compile_options(gw_board_virt PRIVATE ${GW_WARNINGS} ${VIRT_TRAP_FLAGS})

# gw_virt_image(TARGET SOURCES... LIBS...): a bootable ELF for qemu-system-aarch64 -kernel,
# linked at 0x40200000 by virt.ld, entered at _reset, with musl's own crt1 _start.
function(gw_virt_image name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_compile_options(${name} PRIVATE ${GW_WARNINGS})
  target_link_libraries(${name} PRIVATE ${T_LIBS} gw_board_virt)
  target_link_options(${name} PRIVATE -static -T ${VIRT_DIR}/virt.ld -Wl,-u,_reset
    -Wl,--build-id=none -Wl,-z,norelro -Wl,-z,max-page-size=4096
    -Wl,-Map=${CMAKE_BINARY_DIR}/${name}.map)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}
    LINK_DEPENDS ${VIRT_DIR}/virt.ld)
  # Trap-context objects must not call into musl's SIMD string functions.
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND sh ${VIRT_DIR}/check_trap_objects.sh ${GW_VIRT_NM} $<TARGET_OBJECTS:gw_virt_trap>
    COMMAND_EXPAND_LISTS VERBATIM)
endfunction()

# The firmware on this board: build/aarch64-virt/gateway.elf.
gw_virt_image(gateway.elf SOURCES ${VIRT_DIR}/main.c LIBS gw_firmware)

# The boot smoke test: musl's stdio, malloc, clocks and sleep through the shim.
gw_virt_image(virt_smoke.elf SOURCES ${CMAKE_SOURCE_DIR}/tests/qemu/virt_smoke.c LIBS "")
