#!/usr/bin/env bash
# The relay's spool on a full or failing disk (issue 16, item 8). The spool is a small
# tmpfs mounted in the test's own mount namespace (gone with the test); tmpfs never fails
# an fsync, so the failing fsync of a real disk (EIO, ENOSPC on writeback) is injected by
# strace into the relay's fsync calls.
#
#   disk full (the write fails): each delivery is answered "error", nothing is left in new/
#   nor in tmp/, and the relay holds no more descriptors than before; once there is space
#   again the next delivery is stored
#   fsync of the message fails (EIO): the same, three times (once a descriptor leaked per
#   failure), then stored
#   fsync of new/ after the rename fails: "error" (with the fsync's own errno in the log);
#   the message stays in new/ (a consumer may have it already), and the gateway's retry,
#   after the consumer took it, is answered "already have it": one copy, never two
#
# Usage: test_relay_spool_full.sh RELAY GW_DRIVER MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay_env.sh"
if [ -z "${T_IN_MOUNTNS:-}" ]; then
    exec env T_IN_MOUNTNS=1 unshare --mount --propagation private -- bash "$0" "$@"
fi
t_enter_netns "$@"
r_setup "$@"
command -v strace > /dev/null || t_fail "strace is needed to inject fsync failures"
r_gwcert gw1 loc1
r_config
mount -t tmpfs -o size=1m,mode=0700 spool "$T_TMP/spool" || t_fail "cannot mount a tmpfs"
# At exit: our processes first (a relay that leaked descriptors keeps the tmpfs busy), then
# the tmpfs, then lib.sh's clean-up with the test's status; set -e must not cut this short.
trap 'rc=$?; set +e; for p in "${T_PIDS[@]}"; do kill "$p" 2> /dev/null; done; sleep 0.2
      umount -l "$T_TMP/spool"; t_cleanup "$rc"' EXIT
S=$T_TMP/spool/loc1

# deliver FILE N: N deliveries of FILE on one tunnel; the gateway's answers in deliver.log
deliver() {
    local args=() i
    for ((i = 0; i < $2; i++)); do args+=(--deliver "$1"); done
    "$GW" "${GWARGS[@]}" --cert "$P/gw1-chain.pem" --key "$P/gw1.key" "${args[@]}" \
        --exit-after-deliveries > "$T_TMP/deliver.log" 2>&1 ||
        { cat "$T_TMP/deliver.log"; t_fail "delivery run"; }
}
# answers WORD N: the last run got N answers, all WORD
answers() {
    local n
    n=$(grep -c "^delivery .*: $1 " "$T_TMP/deliver.log" || true)
    [ "$n" = "$2" ] || { cat "$T_TMP/deliver.log"; t_fail "want $2 answers '$1', got $n"; }
}
# tunnels_down N: wait until the relay has logged N tunnels down (the runs have ended)
tunnels_down() {
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(grep -c 'tunnel down:' "$T_TMP/relay.log")" -ge "$1" ] && return 0
        sleep 0.1
    done
    t_fail "the relay did not see $1 tunnels end"
}
spool_empty() { # WHEN
    [ -z "$(ls -A "$S/new")" ] || t_fail "$1: left in new/: $(ls "$S/new")"
    [ -z "$(ls -A "$S/tmp")" ] || t_fail "$1: left in tmp/: $(ls "$S/tmp")"
}
head -c 400000 /dev/urandom > "$T_TMP/big.eml"
printf 'Subject: small\r\n\r\nhello\r\n' > "$T_TMP/small.eml"

# ---- a full disk: the write fails with ENOSPC ----
# fds_settled: the relay's descriptors once it has accepted a first connection (it keeps
# one spare for running out of descriptors, opened then).
fds_settled() {
    curl -sS --max-time 5 -o /dev/null http://127.0.0.1:9100/metrics || t_fail "metrics"
    sleep 0.2
    r_fds
}
r_relay
[ -d "$S/new" ] || t_fail "no spool for loc1 on the tmpfs"
head -c 700000 /dev/zero > "$T_TMP/spool/filler"       # 1 MiB tmpfs: 300 KiB are left
fds0=$(fds_settled)
deliver "$T_TMP/big.eml" 3
answers error 3
tunnels_down 1
spool_empty "disk full"
fds1=$(r_fds)
[ "$fds1" = "$fds0" ] || t_fail "disk full: the relay held $fds0 descriptors, now $fds1"
grep -q 'short write (disk full?)\|No space left on device' "$T_TMP/relay.log" ||
    t_fail "the relay did not log why"
rm "$T_TMP/spool/filler"
deliver "$T_TMP/big.eml" 1
answers stored 1
[ "$(ls "$S/new" | wc -l)" = 1 ] || t_fail "after space returned: not one file in new/"
t_log "disk full: 3 x error, new/ and tmp/ empty, descriptors $fds0 -> $fds1; space back: stored"
kill "$RELAY_PID"
wait "${T_PIDS[-1]}" 2> /dev/null || true
rm -f "$S"/new/* "$S/.relay-index"

# ---- fsync of the message fails: the first three fsync calls get EIO ----
mv "$T_TMP/relay.log" "$T_TMP/relay-full.log"
r_relay strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=EIO:when=1..3
fds0=$(fds_settled)
deliver "$T_TMP/small.eml" 3
answers error 3
tunnels_down 1
spool_empty "fsync EIO"
fds1=$(r_fds)
[ "$fds1" = "$fds0" ] || t_fail "fsync failed: the relay held $fds0 descriptors, now $fds1"
grep -q 'fsync: Input/output error\|fsync: I/O error' "$T_TMP/relay.log" ||
    t_fail "the relay did not log the failed fsync"
deliver "$T_TMP/small.eml" 1
answers stored 1
t_log "fsync fails (EIO) 3 times: 3 x error, new/ and tmp/ empty, descriptors" \
      "$fds0 -> $fds1; then stored"
kill "$RELAY_PID"
wait "${T_PIDS[-2]}" 2> /dev/null || true     # strace, once its relay is gone
rm -f "$S"/new/* "$S/.relay-index"

# ---- fsync of new/ fails after the rename: the 2nd fsync (file, new/, index) ----
mv "$T_TMP/relay.log" "$T_TMP/relay-fsync.log"
r_relay strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=EIO:when=2
deliver "$T_TMP/small.eml" 1
answers error 1
# The file stays: a Maildir consumer may have taken it from new/ already, so taking it
# back out would let the gateway's retry make a second copy.
[ "$(ls "$S/new" | wc -l)" = 1 ] || t_fail "fsync of new/ failed: $(ls "$S/new" | wc -l) files in new/, want the 1 a consumer may have"
grep -Eq 'fsync: (Input/output|I/O) error: .* stays in new/, answered "error" until an fsync succeeds' \
    "$T_TMP/relay.log" || t_fail "the relay did not log the failed fsync of new/ and its errno"
mv "$S"/new/* "$S/cur/"                       # the consumer takes it
deliver "$T_TMP/small.eml" 1
answers "already have it" 1
[ -z "$(ls -A "$S/new")" ] || t_fail "the retry made a second copy: $(ls "$S/new")"
[ "$(ls "$S/cur" | wc -l)" = 1 ] || t_fail "not the one copy the consumer took"
t_log "fsync of new/ fails: error, the message stays where a consumer may take it; the" \
      "retry (fsync of new/ now good) is answered 'already have it': one copy"
t_log "ok"
