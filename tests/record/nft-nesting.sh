#!/usr/bin/env bash
# Record which dumps of tests/data/nft-nesting the nf_tables backend refuses, and where.
#
# Usage: tests/record/nft-nesting.sh
#
# Each NAME.rules (an optional "# family: ipv6" line selects ip6tables) is loaded for real (not --test:
# nf_tables checks how deep chains nest only when the rules reach the kernel) with
# iptables-nft-restore in a fresh network namespace, and with iptables-legacy-restore in another.
# NAME.result gets, for each, "TOOL: exit STATUS" and the tool's stderr (its version line dropped).
# Needs root, iproute2 and both iptables backends. Nothing is sent on any network.
set -euo pipefail
export LC_ALL=C
dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../data/nft-nesting" && pwd)
ns="cwnest-$$"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
for f in "$dir"/*.rules; do
    v=""
    grep -q '^# family: ipv6' "$f" && v=6
    {
        for backend in nft legacy; do
            tool="ip${v}tables-$backend-restore"
            ip netns add "$ns"
            status=0
            err=$(ip netns exec "$ns" "$tool" <"$f" 2>&1 >/dev/null) || status=$?
            ip netns del "$ns"
            echo "$tool: exit $status"
            printf '%s\n' "$err" | grep -v -e '^ip6\?tables-[a-z]*-restore v' -e '^$' || true
        done
    } >"${f%.rules}.result"
    echo "$(basename "$f"): $(head -1 "${f%.rules}.result")"
done
