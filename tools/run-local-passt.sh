# Sourced by tools/run-local.sh when run without root: the lab on this machine's loopback,
# nothing privileged. Dovecot (DV_UNPRIVILEGED: as this user) and the relay listen on
# 127.0.0.1 only, on free high ports; the gateway's network is passt (unprivileged, in this
# user's network namespace, i.e. the machine's), over its UNIX socket in the temp dir.
#
# passt's addresses are given, not copied from the host: -i lo (with -a, -n, -g and a MAC
# of our own, -M, since lo has none) works on a machine whose only interface is lo as well
# as in a container with a veth. The gateway gets 192.0.2.2/24 by passt's DHCP; passt
# turns its TCP connections to the default gateway 192.0.2.1 into connections to the
# machine's 127.0.0.1, same port: that is how it reaches Dovecot and the relay. passt
# forwards nothing inbound (-t none -u none), offers no DNS (-D none), and speaks IPv4 only.

LAB_BOX=192.0.2.2 LAB_HOST=192.0.2.1

# lab_free_ports N: N TCP ports below the ephemeral range that no socket here uses now,
# from a random start (two users' make runs rarely meet; a port taken meanwhile makes its
# server fail loudly).
lab_free_ports() {
    local n=$1 eph used p end out=()
    read -r eph _ < /proc/sys/net/ipv4/ip_local_port_range
    ((eph > 12000)) || eph=65535
    used=" $(ss -Htan | awk '{ sub(/.*:/, "", $4); print $4 }' | sort -u | tr '\n' ' ') "
    p=$((10000 + RANDOM % (eph - 10000 - 1000)))
    for ((end = p + 1000; p < end && ${#out[@]} < n; p++)); do
        [[ $used == *" $p "* ]] || out+=("$p")
    done
    ((${#out[@]} == n)) || t_fail "no $n free TCP ports from $((end - 1000))"
    echo "${out[@]}"
}

lab_enter() { # GW RELAY
    T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/gw-$T_NAME.XXXXXX")
    trap t_cleanup EXIT
    DV_UNPRIVILEGED=1
    local ports socks
    ports=$(lab_free_ports 6)
    read -r E2E_IMAP_PORT E2E_IMAPS_PORT E2E_TUNNEL_PORT socks LAB_LMTP_PORT LAB_STORE_PORT <<< "$ports"
    E2E_LISTEN=127.0.0.1 E2E_SERVER=$LAB_HOST E2E_SOCKS=127.0.0.1:$socks
    E2E_NET="set net address dhcp" E2E_GW_NET=stream:$T_TMP/passt.sock E2E_WIRE=lab_passt
    LAB_WHERE="on this machine's loopback, the gateway's network through passt (not root: no namespace, nothing privileged)"
    LAB_OTHER=" on this machine"
    LAB_NSENTER=
}

# The wire (e2e_setup calls it): passt, until its socket is there.
lab_passt() {
    local i sock=$T_TMP/passt.sock
    rm -f "$sock"
    t_spawn passt-stderr passt -f -q -l "$T_TMP/passt.log" -s "$sock" -4 -D none -t none -u none \
        -i lo -M 9a:55:9a:55:9a:55 -a "$LAB_BOX" -n 24 -g "$LAB_HOST" -m 1500
    for ((i = 0; i < 50; i++)); do [ -S "$sock" ] && break; sleep 0.1; done
    [ -S "$sock" ] || t_fail "passt did not create $sock"
    PASST_AT=$((${#T_PIDS[@]} - 1))        # its place in T_PIDS (lab_rewire)
}

# A fresh wire for the gateway's second start. passt serves one guest at a time, and once
# (make run's test, 1 run in many) it did not take the new one: no DHCP answer, and the
# first gateway's tunnel lived on at the relay until its keepalive (15 s).
lab_rewire() {
    kill "${T_PIDS[PASST_AT]}" 2> /dev/null || true
    wait "${T_PIDS[PASST_AT]}" 2> /dev/null || true
    lab_passt
}

lab_said() {
    say "listening on 127.0.0.1 only: Dovecot :$E2E_IMAP_PORT (STARTTLS) and :$E2E_IMAPS_PORT, relay tunnels :$E2E_TUNNEL_PORT, SOCKS5 :${E2E_SOCKS#*:}"
    say "passt (socket $T_TMP/passt.sock): the gateway gets $LAB_BOX by DHCP and reaches them at $LAB_HOST, which passt maps to 127.0.0.1"
}
