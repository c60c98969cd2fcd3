# Sourced by tools/run-local.sh when run as root: the lab inside a network namespace of its
# own (lib.sh's t_enter_netns re-runs the script there), the gateway on a TAP device, at the
# addresses imap_e2e.sh uses by default (Dovecot and the relay on 192.0.2.1, the gateway
# 192.0.2.2). Nothing in the namespace reaches your network; it vanishes with the script.

lab_enter() { # GW RELAY
    t_enter_netns "$@"
    LAB_LMTP_PORT=24 LAB_STORE_PORT=2993      # STORE=dovecot: the store on 127.0.0.1
    LAB_WHERE="in a private network namespace (nothing here reaches your network)"
    LAB_OTHER=", inside this namespace"
    LAB_NSENTER="nsenter --net=/proc/$$/ns/net "
}

lab_said() { :; }
lab_rewire() { :; }             # the TAP stays: a new gateway takes it over
