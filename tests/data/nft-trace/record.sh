#!/usr/bin/env bash
# Records `expected` from the real nf_tables backend: loads `rules` with iptables-nft-restore in a throwaway
# namespace, pings 127.0.0.1 there once, and keeps what `xtables-monitor --trace` printed.
set -euo pipefail
cd "$(dirname "$0")"
ns=cwnft-$$
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
ip -n "$ns" link set lo up
ip netns exec "$ns" iptables-nft-restore < rules
timeout 3 ip netns exec "$ns" xtables-monitor --trace > monitor.out 2>&1 &
sleep 1
ip netns exec "$ns" ping -c1 -W1 127.0.0.1 > /dev/null || true
wait || true
# The first packet's lines only (the monitor keeps listening after the echo request).
awk 'NR==1 { id = $3 } $3 == id' monitor.out > expected
rm -f monitor.out
