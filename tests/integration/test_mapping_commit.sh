#!/usr/bin/env bash
# A commit that changes the mapping list while streams and the IMAP receiver are still
# connecting (issue 16, item 1), inside a network namespace this test creates: the real
# gateway on TAP, the relay, Dovecot, a DNS server that answers when the test lets it
# (hardening_peers.py dns: the gateway waits for a DNS answer, the operator commits
# meanwhile) and canaries on host:port pairs no mapping names (hardening_peers.py canary).
#
# Indexes shift when a mapping before them is deleted. A stream or session that kept its
# mapping's index connected the next mapping's port with the old resolved address (or, for
# the receiver, dereferenced no mapping at all, or went plain where its pairing needed TLS).
# Each case below is set up so that the stale index names a tcp mapping to a canary port on
# the same address: the canary seeing a connection is the bug.
#
#   S1  a stream to a.example.test:443 -> slowhost.corp:9443 waits for DNS; an earlier
#       mapping is deleted and committed: the stream is checked again by name and goes on
#       to slowhost.corp:9443 (echo, byte-exact), never to :2222 (the next mapping's port);
#   S2  the same stream's own mapping is deleted: refused 0x02, nothing dialled;
#   S3  the out-of-memory retry (connect_internal's EP_FAIL_NOMEM path, which goes back to
#       SP_RESOLVE with the address kept), reached for real: seven cloud streams hold the
#       TLS slots cloud streams may have, the eighth (a tls mapping) retries; an earlier
#       mapping is deleted: once the slots free, it connects its own mapping (TLS, 0x00),
#       never :2224. The same commit restarts the IMAP receiver: it gets the TLS slot kept
#       for it although the cloud holds all of theirs and one more waits (item 2);
#   R1' the receiver (security off through a tls mapping) waits for DNS; an earlier mapping
#       is deleted: it logs in through its own mapping with TLS, and never connects the next
#       mapping (tcp, :2225), where LOGIN would have gone out in clear;
#   R1  the same with the receiver's mapping last (starttls): no NULL dereference;
#   R2, R3  the receiver's mapping changed or deleted while it waits for DNS: the session
#       restarts with the new mappings (the commit check refuses pairings that would send
#       the password in clear, and a receiver left without its mapping).
#   Open streams whose mapping a commit deletes are closed with a log line; one whose
#   mapping is unchanged goes on.
#
# Usage: test_mapping_commit.sh GATEWAY RELAY MAKE_PKI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot.sh"
t_enter_netns "$@"
GW=$1 RELAY=$2 MAKE_PKI=$3
. "$T_DIR/imap_e2e.sh"
PY="python3 $T_DIR/test_relay_socks.py"
PEERS="python3 $T_DIR/hardening_peers.py"
SOCKS=1080
REL=$T_TMP/dns-release
mkdir -p "$REL"

e2e_pki
e2e_wire
dv_start "$T_TMP/dv" "$P/chain-ec.pem" "$P/leaf-ec.key" 192.0.2.1 143 993
dv_fill 1
SERVE_ADDR=192.0.2.1 t_spawn services $PY serve 9443 9444
t_spawn dns $PEERS dns 192.0.2.1 "$REL" slowhost.corp=192.0.2.1@held \
    slowgone.corp=192.0.2.1@held slowtls.corp=192.0.2.1 slowmail.corp=192.0.2.1@held \
    slowmail2.corp=192.0.2.1@held slowmail3.corp=192.0.2.1@held slowmail4.corp=192.0.2.1@held
t_spawn canary $PEERS canary 192.0.2.1 2222 2223 2224 2225
t_wait_log dns 'serving' 10
t_wait_log canary 'listening' 10
t_wait_log services 'serving' 10
e2e_relay_config
e2e_relay_start
TOKEN=$E2E_TOKEN
# After e2e's three mappings (the receiver's is the first): spacers to delete, and after
# each mapping a case waits on, a tcp mapping to a canary port (192.0.2.77 is nobody: the
# canaries listen on the address the slow names resolve to).
E2E_SETUP_EXTRA=("set net dns 192.0.2.1"
    "mapping add spacer1.example.test:1 192.0.2.77:1 tcp"
    "mapping add spacer2.example.test:1 192.0.2.77:1 tcp"
    "mapping add spacer3.example.test:1 192.0.2.77:1 tcp"
    "mapping add spacer4.example.test:1 192.0.2.77:1 tcp"
    "mapping add hold.example.test:993 mailhost:993 tls sni mail.example.test"
    "mapping add a.example.test:443 slowhost.corp:9443 tcp"
    "mapping add b.example.test:22 192.0.2.77:2222 tcp"
    "mapping add gone.example.test:443 slowgone.corp:9443 tcp"
    "mapping add c.example.test:22 192.0.2.77:2223 tcp"
    "mapping add t.example.test:993 slowtls.corp:993 tls sni mail.example.test"
    "mapping add d.example.test:22 192.0.2.77:2224 tcp"
    "mapping add rcv2.example.test:143 slowmail2.corp:993 tls sni mail.example.test"
    "mapping add e.example.test:143 192.0.2.77:2225 tcp"
    "mapping add imap.example.test:143 slowmail.corp:143 tcp")
e2e_provision
e2e_gateway_start
t_wait_log gw 'tunnel: relay relay.example.test:7443 up' 20
t_wait_log gw 'imap: logged in' 20

commits() { grep -c '^committed' "$T_TMP/gw.log" || true; }
logins() { grep -c 'imap: logged in' "$T_TMP/gw.log" || true; }
# commit LINES...: type them and a commit, and wait until the gateway has applied it.
commit() {
    local n i
    n=$(commits)
    console "$@" "commit"
    for ((i = 0; i < 100 && $(commits) == n; i++)); do sleep 0.1; done
    [ "$(commits)" -gt "$n" ] || t_fail "the gateway did not commit: $*"
}
release() { touch "$REL/$1"; t_wait_log dns "answered $1" 10; }
canary_quiet() {
    if grep -v 'listening' "$T_TMP/canary.log" | grep -q .; then
        cat "$T_TMP/canary.log"
        t_fail "$1: a host:port no mapping names was connected"
    fi
}
gw_alive() { kill -0 "$E2E_GW_PID" 2> /dev/null || t_fail "$1: the gateway died"; }
# wait_logins N SECONDS: the receiver logged in more than N times
wait_logins() {
    local i
    for ((i = 0; i < $2 * 10 && $(logins) <= $1; i++)); do sleep 0.1; done
    [ "$(logins)" -gt "$1" ] || t_fail "$3: the receiver did not log in again"
}

# ---- an open stream whose mapping is unchanged goes on; one whose mapping is deleted ends
$PY hold $SOCKS loc1 "$TOKEN" hold.example.test 993 1 60 > "$T_TMP/open.log" 2>&1 &
OPEN=$!
t_wait_log open 'holding 1 streams' 15
# ---- S1: the stream waits for DNS, an earlier mapping is deleted ----
$PY echo $SOCKS loc1 "$TOKEN" a.example.test 443 1 100000 > "$T_TMP/s1.txt" 2>&1 &
S1=$!
t_wait_log dns 'query slowhost.corp' 10
commit "mapping del spacer1.example.test:1"
release slowhost.corp
wait $S1 || { cat "$T_TMP/s1.txt"; canary_quiet S1; t_fail "S1: the stream failed"; }
canary_quiet S1
t_log "S1: a stream waiting for DNS while an earlier mapping was deleted went on to its own" \
      "mapping (100000 bytes echoed byte-exact), not to the port now at its old index"

# ---- S2: the stream's own mapping is deleted while it waits for DNS ----
$PY reply $SOCKS loc1 "$TOKEN" gone.example.test 443 > "$T_TMP/s2.txt" 2>&1 &
S2=$!
t_wait_log dns 'query slowgone.corp' 10
commit "mapping del gone.example.test:443"
release slowgone.corp
wait $S2 || true
r=$(cat "$T_TMP/s2.txt")
[ "$r" = "reply 2" ] || { canary_quiet S2; t_fail "S2: the stream got '$r', not 0x02"; }
t_wait_log gw 'stream [0-9]+ to gone.example.test:443 refused \(0x02 .*\): its mapping was deleted by a commit' 5
canary_quiet S2
t_log "S2: its own mapping deleted while it waited for DNS: refused 0x02, nothing dialled"

# The open stream (its mapping's index moved twice) survived both commits.
kill -0 $OPEN 2> /dev/null || { cat "$T_TMP/open.log"; t_fail "the open stream ended"; }
if grep -q 'to hold.example.test:993 closed:' "$T_TMP/gw.log"; then
    t_fail "the open stream was closed although its mapping did not change"
fi
t_log "an open stream whose mapping moved (an earlier one deleted) went on across both commits"

# ---- S3: the out-of-memory retry, and the receiver's TLS slot ----
$PY hold $SOCKS loc1 "$TOKEN" hold.example.test 993 6 60 > "$T_TMP/hold.log" 2>&1 &
HOLD=$!
t_wait_log hold 'holding 6 streams' 20       # with the open one: 7 cloud TLS streams
n=$(logins)
commit "set imap poll 6"
wait_logins "$n" 15 "S3 (the TLS slot kept for the receiver)"
t_log "S3: the receiver restarted and got its TLS slot while the cloud held 7"
# One more cloud stream finds all 8 slots taken (7 cloud, the receiver's) and waits in the
# out-of-memory retry (10 s from its request) across a commit; then the slots come free.
$PY hold $SOCKS loc1 "$TOKEN" t.example.test 993 1 60 > "$T_TMP/s3.log" 2>&1 &
S3=$!
t_wait_log dns 'answered slowtls.corp' 10
sleep 0.5                                    # it found no TLS slot: retrying
commit "mapping del spacer2.example.test:1"
kill $HOLD                                   # at once: the retry has its 10 s
t_wait_log s3 'holding 1 streams' 9          # connected (0x00) once the slots were free
canary_quiet S3
kill $S3
t_log "S3: a stream in the out-of-memory retry across a commit connected its own tls mapping"

# ---- R1': security off through a tls mapping, an earlier mapping deleted ----
commit "set imap server rcv2.example.test:143" "set imap security off"
t_wait_log dns 'query slowmail2.corp' 10
n=$(logins)
commit "mapping del spacer3.example.test:1"
release slowmail2.corp
wait_logins "$n" 15 "R1'"
gw_alive "R1'"
canary_quiet "R1'"
t_log "R1': the receiver waiting for DNS went on through its own tls mapping, nothing in clear"

# ---- R1: starttls, the receiver's mapping is the last one, an earlier one deleted ----
commit "set imap server imap.example.test:143" "set imap security starttls"
t_wait_log dns 'query slowmail.corp' 10
n=$(logins)
commit "mapping del spacer4.example.test:1"
release slowmail.corp
wait_logins "$n" 15 "R1"
gw_alive R1
canary_quiet R1
t_log "R1: its mapping last, an earlier one deleted: no NULL dereference, logged in with STARTTLS"

# ---- R2, R3: the receiver's own mapping changed, or deleted (the commit check wants the
# receiver pointed elsewhere in the same commit), while it waits for DNS: it restarts with
# the new mappings and never uses the old answer ----
commit "mapping del rcv2.example.test:143" \
    "mapping add rcv2.example.test:143 slowmail3.corp:993 tls sni mail.example.test" \
    "set imap server rcv2.example.test:143" "set imap security off"
t_wait_log dns 'query slowmail3.corp' 10
n=$(logins)
commit "mapping del rcv2.example.test:143" \
    "mapping add rcv2.example.test:143 mailhost:993 tls sni mail.example.test"
wait_logins "$n" 15 R2
release slowmail3.corp
gw_alive R2
canary_quiet R2
t_log "R2: its mapping changed while it waited for DNS: restarted, logged in through the new one"
commit "mapping del rcv2.example.test:143" \
    "mapping add rcv2.example.test:143 slowmail4.corp:993 tls sni mail.example.test"
t_wait_log dns 'query slowmail4.corp' 10
n=$(logins)
commit "mapping del rcv2.example.test:143" "set imap server mail.example.test:143" \
    "set imap security starttls"
wait_logins "$n" 15 R3
release slowmail4.corp
gw_alive R3
canary_quiet R3
t_log "R3: its mapping deleted while it waited for DNS: restarted on its new server"

# ---- the open stream's mapping deleted: closed with a log line ----
commit "mapping del hold.example.test:993"
t_wait_log gw 'stream [0-9]+ to hold.example.test:993 closed: its mapping was deleted by a commit' 5
kill $OPEN; wait $OPEN 2> /dev/null || true
t_log "an open stream whose mapping a commit deleted was closed with a log line"
canary_quiet end
t_log PASS
