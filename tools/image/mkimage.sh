#!/usr/bin/env bash
# make image: the bootable image of the gateway for QEMU (issue 8) from Debian's kernel and
# busybox-static, unpacked (not installed) by make deps under build/deps/.
#
#   mkimage.sh ARCH GATEWAY OUTDIR      ARCH: x86_64 | aarch64
#
# Writes OUTDIR/vmlinuz (Debian's kernel), OUTDIR/initramfs.cpio.gz (busybox, /init, the
# static gateway, the kernel modules the box needs and nothing else) and OUTDIR/image.txt
# (what went in). The modules are named below; their dependencies come from each module's
# own depends= field, so the load order in /etc/modules is dependencies first.
set -euo pipefail

ARCH=${1:?usage: mkimage.sh ARCH GATEWAY OUTDIR}
GW=${2:?usage: mkimage.sh ARCH GATEWAY OUTDIR}
OUT=${3:?usage: mkimage.sh ARCH GATEWAY OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
deps="$top/build/deps"

die() { printf 'mkimage: error: %s\n' "$*" >&2; exit 1; }

# The board per architecture: serial console, NIC, flash. On x86_64 the flash is the virtio
# disk seen as a NOR-like MTD through block2mtd (the MTD backend); Debian's arm64 kernel has
# no block2mtd, so there the gateway uses the disk itself (the block-device backend).
case "$ARCH" in
x86_64)
    file_arch='x86-64'
    console=/dev/ttyS0
    modules=(virtio_pci virtio_net virtio_blk block2mtd)
    flash=/dev/mtd0 ;;
aarch64)
    file_arch='ARM aarch64'
    console=/dev/ttyAMA0
    modules=(virtio_pci virtio_net virtio_blk)
    flash=/dev/vda ;;
*) die "unknown ARCH '$ARCH' (x86_64 or aarch64)" ;;
esac
nic=eth0
disk=/dev/vda
erase_size=4096   # the store's block (FLASH_DEFAULT_BLOCK)

kdir="$deps/kernel-$ARCH"
bdir="$deps/busybox-$ARCH"
[ -f "$kdir/.version" ] && [ -f "$bdir/.version" ] ||
    die "no unpacked kernel or busybox for $ARCH under $deps (run make deps)"
[ -x "$GW" ] || die "no gateway binary at $GW (run make $ARCH)"
finfo=$(file -b "$GW")
case "$finfo" in *"$file_arch"*) ;; *) die "$GW is not an $ARCH binary: $finfo" ;; esac
case "$finfo" in *'statically linked'* | *'static-pie linked'*) ;;
*) die "$GW is not statically linked: $finfo" ;; esac

kver=$(cd "$kdir/lib/modules" && ls)
[ "$(printf '%s\n' "$kver" | wc -l)" = 1 ] || die "expected one kernel in $kdir/lib/modules"
kernel="$kdir/boot/vmlinuz-$kver"
[ -f "$kernel" ] || die "no $kernel"
mdir="$kdir/lib/modules/$kver"

# name -> path of every loadable module (names use '_' where files may use '-').
declare -A ko
while IFS= read -r -d '' f; do
    n=${f##*/}
    n=${n%.ko}
    ko[${n//-/_}]=$f
done < <(find "$mdir/kernel" -name '*.ko' -print0)
builtin=$(sed -e 's|.*/||' -e 's|\.ko$||' -e 's|-|_|g' "$mdir/modules.builtin")

order=()
declare -A seen
# add NAME: its dependencies first (in the order its depends= lists them), then itself.
add() {
    local n=$1 d deps_of
    [ -n "${seen[$n]:-}" ] && return 0
    seen[$n]=1
    if [ -z "${ko[$n]:-}" ]; then
        grep -qx "$n" <<< "$builtin" && return 0
        die "kernel $kver has no module $n (neither loadable nor built in)"
    fi
    deps_of=$(grep -a -o -m 1 'depends=[^[:cntrl:]]*' "${ko[$n]}" | head -n 1 | cut -d= -f2)
    for d in ${deps_of//,/ }; do add "${d//-/_}"; done
    order+=("$n")
}
for m in "${modules[@]}"; do add "$m"; done

root="$OUT/root"
rm -rf "$root"
mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp,lib/modules}
install -m 755 "$bdir/bin/busybox" "$root/bin/busybox"
install -m 755 "$here/init" "$root/init"
install -m 755 "$GW" "$root/bin/gateway"
for m in "${order[@]}"; do
    install -m 644 "${ko[$m]}" "$root/lib/modules/$m.ko"
done
printf '%s\n' "${order[@]}" > "$root/etc/modules"
cat > "$root/etc/gateway.conf" <<CONF
# written by tools/image/mkimage.sh for $ARCH
console=$console
nic=$nic
disk=$disk
flash=$flash
erase_size=$erase_size
CONF

# A reproducible archive: sorted names, owner root, fixed times.
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
    cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) |
    gzip -9n > "$OUT/initramfs.cpio.gz.tmp"
mv "$OUT/initramfs.cpio.gz.tmp" "$OUT/initramfs.cpio.gz"
install -m 644 "$kernel" "$OUT/vmlinuz"

gwver=$(strings "$GW" 2>/dev/null | grep -m 1 -oE '^[0-9]+\.[0-9]+\.[0-9]+\+[0-9a-z-]+$' || true)
{
    echo "arch       $ARCH"
    echo "kernel     $(sed -n 's/^package //p' "$kdir/.version") ($kver)"
    echo "busybox    $(sed -n 's/^package //p' "$bdir/.version")"
    echo "gateway    $GW ${gwver}"
    echo "modules    ${order[*]}"
    echo "console    $console   nic $nic (packet)   flash $flash"
    echo "initramfs  $(stat -c %s "$OUT/initramfs.cpio.gz") bytes"
} > "$OUT/image.txt"
cat "$OUT/image.txt"
