#!/usr/bin/env bash
# Record which chains see IPv4 fragments, for each dump of tests/data/fragments.
#
# Usage: tests/record/fragments.sh
#
# For each NAME.rules, three fresh network namespaces: H (the host, forwarding, addresses 192.0.2.1/24
# on vh0 and 198.51.100.1/24 on vh1), A (192.0.2.2, the sender, on vh0's link) and B (198.51.100.2, on
# vh1's). The dump is loaded into H with iptables-legacy-restore; A then sends, from a raw socket, a first
# fragment (MF, offset 0) and a later fragment (offset 1480) of two different UDP packets, to H's own
# address and to B (forwarded), none of which can be reassembled. NAME.result is what
# `iptables-legacy-save -c` prints in H afterwards: each rule's packet counter tells whether it saw one.
# Needs root, iproute2, python3 and iptables (legacy). Nothing is sent outside the namespaces.
set -euo pipefail
export LC_ALL=C
dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../data/fragments" && pwd)
h="cwfrh-$$" a="cwfra-$$" b="cwfrb-$$"
cleanup() { for n in "$h" "$a" "$b"; do ip netns del "$n" 2>/dev/null || true; done; }
trap cleanup EXIT
for f in "$dir"/*.rules; do
    for n in "$h" "$a" "$b"; do ip netns add "$n"; ip -n "$n" link set lo up; done
    ip link add vh0 netns "$h" type veth peer name eth0 netns "$a"
    ip link add vh1 netns "$h" type veth peer name eth0 netns "$b"
    ip -n "$h" addr add 192.0.2.1/24 dev vh0
    ip -n "$h" addr add 198.51.100.1/24 dev vh1
    ip -n "$a" addr add 192.0.2.2/24 dev eth0
    ip -n "$b" addr add 198.51.100.2/24 dev eth0
    for l in "$h vh0" "$h vh1" "$a eth0" "$b eth0"; do set -- $l; ip -n "$1" link set "$2" up; done
    ip -n "$a" route add default via 192.0.2.1
    ip -n "$b" route add default via 198.51.100.1
    ip netns exec "$h" sysctl -qw net.ipv4.ip_forward=1
    ip netns exec "$h" iptables-legacy-restore <"$f"
    sleep 1
    ip netns exec "$a" python3 - <<'PY'
import socket, struct

def checksum(b):
    s = sum((b[i] << 8) + (b[i + 1] if i + 1 < len(b) else 0) for i in range(0, len(b), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
ident = 0x4000
for dst in ("192.0.2.1", "198.51.100.2"):
    for offset, more in ((0, 1), (185, 0)):
        ident += 1
        payload = b"cwrec" * 16
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, (more << 13) | offset, 64, 17, 0,
                             socket.inet_aton("192.0.2.2"), socket.inet_aton(dst))
        header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
        sock.sendto(header + payload, (dst, 0))
PY
    sleep 1
    ip netns exec "$h" iptables-legacy-save -c | grep -v '^#' >"${f%.rules}.result"
    cleanup
    echo "$(basename "$f"): $(grep -c '^\[[1-9]' "${f%.rules}.result") rules saw a fragment"
done
