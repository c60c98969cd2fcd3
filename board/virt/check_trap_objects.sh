#!/bin/sh
# Trap-context code of the virt board (the syscall shim, interrupt handlers and what they
# call) runs with the interrupted code's FP/SIMD registers live and unsaved. It is built
# with -mgeneral-regs-only, but a call into the C library (musl's memcpy and memset use
# SIMD registers) would still clobber them. So these objects may only call each other:
# anything else they leave undefined is an error.
#
#   check_trap_objects.sh NM OBJECT...
set -eu
nm=$1
shift
# Linker-script symbols, musl's entry, the boot code _reset calls before any trap can
# happen, and the stack protector's failure path are fine.
allowed='_start virt_early virt_boot __stack_chk_fail __stack_chk_guard __bss_start __bss_end __exc_stack_top
__stack_guard __stack_bottom __stack_top __heap_start __image_start'
defined=$("$nm" --defined-only -g "$@" 2>/dev/null | awk 'NF == 3 { print $3 }')
bad=$("$nm" -u "$@" | awk 'NF == 2 { print $2 }' | sort -u | while read -r sym; do
    case " $(echo $allowed $defined) " in
    *" $sym "*) ;;
    *) echo "$sym" ;;
    esac
done)
if [ -n "$bad" ]; then
    echo "virt: trap-context objects call outside themselves (FP/SIMD registers at risk):" >&2
    echo "$bad" | sed 's/^/  /' >&2
    exit 1
fi
