#!/usr/bin/env bash
# Network namespaces for the gateway end-to-end suite.
#   topology.sh up PREFIX [N]   creates PREFIX-gw, PREFIX-client, PREFIX-ok, PREFIX-no and their links
#   topology.sh down PREFIX     removes them
# N (default 0) picks the control subnet 10.99.N.0/24, the only one in the host's namespace, so that
# labs running side by side do not share a route.
#
#  root ns  10.99.N.1 ──veth── 10.99.N.2  gw  (Portcullis's HTTP API listens here)
#  client   10.99.1.2 ──veth── 10.99.1.1  gw  (WireGuard's UDP endpoint)
#  ok       10.40.0.10 ─veth── 10.40.0.1  gw  (the resource the policy allows)
#  no       10.30.0.10 ─veth── 10.30.0.1  gw  (the resource it does not)
set -euo pipefail
action=${1:?usage: $0 up|down PREFIX}
p=${2:?usage: $0 up|down PREFIX}
n=${3:-0}

link() { # link NS_A IF_A ADDR_A NS_B IF_B ADDR_B  (NS "" = root)
    ip link add "$2" type veth peer name "$5"
    if [ -n "$1" ]; then ip link set "$2" netns "$1"; fi
    ip link set "$5" netns "$4"
    ns_exec "$1" ip address add "$3" dev "$2"
    ns_exec "$1" ip link set "$2" up
    ns_exec "$4" ip address add "$6" dev "$5"
    ns_exec "$4" ip link set "$5" up
}
ns_exec() { local ns=$1; shift; if [ -n "$ns" ]; then ip netns exec "$ns" "$@"; else "$@"; fi; }

case "$action" in
up)
    for ns in gw client ok no; do
        ip netns add "$p-$ns"
        ip netns exec "$p-$ns" ip link set lo up
    done
    link "" "$p-h" "10.99.$n.1/24" "$p-gw" "$p-gh" "10.99.$n.2/24"
    link "$p-client" "$p-c" 10.99.1.2/24 "$p-gw" "$p-gc" 10.99.1.1/24
    link "$p-ok" "$p-o" 10.40.0.10/24 "$p-gw" "$p-go" 10.40.0.1/24
    link "$p-no" "$p-n" 10.30.0.10/24 "$p-gw" "$p-gn" 10.30.0.1/24
    ip netns exec "$p-gw" sysctl -q -w net.ipv4.ip_forward=1
    ip netns exec "$p-ok" ip route add default via 10.40.0.1
    ip netns exec "$p-no" ip route add default via 10.30.0.1
    ;;
down)
    for ns in gw client ok no; do
        ip netns del "$p-$ns" 2>/dev/null || true
    done
    ip link del "$p-h" 2>/dev/null || true
    ;;
*)
    echo "usage: $0 up|down PREFIX [N]" >&2
    exit 2
    ;;
esac
