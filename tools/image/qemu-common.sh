# What qemu.sh (the Linux-kernel images) and qemu-virt.sh (the bare-metal image) share:
# sourced by both, after each set `accel`, `serial` and its own die().

# GW_QEMU_ACCEL: auto becomes kvm when /dev/kvm works and ARCH is this machine's, else tcg.
qemu_pick_accel() { # ARCH
    case "$accel" in
    auto)
        if [ "$(uname -m)" = "$1" ] && [ -c /dev/kvm ] && (exec 3<> /dev/kvm) 2> /dev/null; then
            accel=kvm
        else
            accel=tcg
        fi ;;
    kvm | tcg) ;;
    *) die "GW_QEMU_ACCEL must be auto, kvm or tcg" ;;
    esac
}

# GW_QEMU_SERIAL: mon (serial line and monitor on this terminal) or stdio (the serial line
# alone, for a program driving it): the options in the array io.
qemu_pick_serial() {
    case "$serial" in
    mon) io=(-nographic -serial mon:stdio) ;;
    stdio) io=(-display none -monitor none -serial stdio) ;;
    *) die "GW_QEMU_SERIAL must be mon or stdio" ;;
    esac
}
