#!/bin/sh
# flashtool as an operator uses it: create an image, inspect it, verify it; damage in the
# image makes verify fail (exit 1), a file without a store is exit 2.
set -eu
tool=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }

"$tool" create "$dir/a.img" >/dev/null || fail "create"
[ "$(stat -c %s "$dir/a.img")" = 262144 ] || fail "default size"
"$tool" create "$dir/a.img" 2>/dev/null && fail "create over an existing image"
"$tool" info "$dir/a.img" | grep -q "64 blocks of 4096 bytes" || fail "info geometry"
"$tool" verify "$dir/a.img" >/dev/null || fail "verify of a fresh image"

"$tool" create "$dir/b.img" --size 128K --block 2K >/dev/null || fail "create 128K/2K"
"$tool" info "$dir/b.img" | grep -q "64 blocks of 2048 bytes" || fail "info finds 2K blocks"

# damage the header of block 0 of a: no store left at all
printf 'XXXX' | dd of="$dir/a.img" bs=1 seek=8 conv=notrunc 2>/dev/null
set +e
"$tool" verify "$dir/a.img" >/dev/null 2>&1
rc=$?
set -e
[ $rc = 2 ] || fail "verify of an image without a store exits 2, not $rc"
head -c 65536 /dev/zero >"$dir/zero.img"
set +e
"$tool" verify "$dir/zero.img" >/dev/null 2>&1
rc=$?
set -e
[ $rc = 2 ] || fail "verify of zeros exits 2, not $rc"
echo "1 passed, 0 failed"
