#!/usr/bin/env bash
# make run: the gateway on built-in defaults, contained. As root it gets a network namespace
# of its own with a TAP device (host side 192.0.2.1/24, gateway 192.0.2.2/24); the console
# is this terminal. Ctrl-D on an empty line (or SIGTERM) stops it, and the namespace, its
# devices and everything started in it disappear with it.
set -euo pipefail
GW=${1:?usage: run-local.sh GATEWAY_BINARY}
GW=$(readlink -f "$GW")

if [ "$(id -u)" != 0 ]; then
    echo "make run: needs root for the network namespace and TAP device (try: sudo make run)" >&2
    exit 1
fi
if [ -z "${GW_RUN_IN_NETNS:-}" ]; then
    exec env GW_RUN_IN_NETNS=1 unshare --net -- bash "$0" "$@"
fi

ip link set lo up
ip tuntap add dev gwtap0 mode tap
ip addr add 192.0.2.1/24 dev gwtap0
ip link set gwtap0 up

cat <<TXT
make run: gateway in a private network namespace (nothing here reaches your network)
  host side   gwtap0 192.0.2.1/24
  gateway     192.0.2.2/24, TCP echo service on port 7
  try, from another terminal:
    nsenter --net=/proc/$$/ns/net ping -c 3 192.0.2.2
    nsenter --net=/proc/$$/ns/net python3 $(pwd)/tests/integration/echo_check.py 192.0.2.2 7 1000000
  at the console: help, show status, show log; Ctrl-D on an empty line stops everything.

TXT
# The box's flash lives for this run only; provisioning goes through the console language.
flash=$(mktemp /tmp/gateway-run.XXXXXX.flash)
trap 'rm -f "$flash" "$flash.txt"' EXIT
printf '%s\n' "set system hostname gateway" \
    "set net address 192.0.2.2/24 gateway 192.0.2.1" commit > "$flash.txt"
"$GW" --flash "$flash" --batch "$flash.txt" > /dev/null
"$GW" --flash "$flash" --net tap:gwtap0
