#!/usr/bin/env bash
# Record how the real iptables 1.8.9 legacy tools canonicalise rules.
#
# Usage: tests/record/save-vectors.sh [OUTDIR]     (default: tests/data/save-vectors)
#
# Inputs (always read from tests/data/save-vectors/ of this repository):
#   *.in          header lines "# family: ipv4|ipv6", "# table: TABLE",
#                 optional "# chains: NAME ..."; then one rule per line in
#                 iptables-restore syntax. Other lines starting with '#' and
#                 blank lines are ignored.
#   tables/*.rules  whole restore dumps; an optional "# family: ipv6" line
#                 selects ip6tables (default ipv4).
# Outputs (in OUTDIR):
#   NAME.out      per rule: "ok<TAB>INPUT<TAB>SAVED -A LINE" or
#                 "err<TAB>INPUT<TAB>ERROR" where ERROR is the first line of
#                 the tool's stderr (see error_line below for the two
#                 refinements: leading "Warning:" lines are skipped, and an
#                 empty message is completed from the next line). Tabs in
#                 text become spaces. A rule that save prints as several
#                 lines (e.g. -s a,b) gives them joined with " ;; "; one
#                 that prints none gives an empty third field.
#   tables/NAME.result  exit status + stderr of iptables-legacy-restore
#                 --test and of iptables-legacy-restore (run in that order in
#                 one fresh namespace), then what iptables-legacy-save -t T
#                 prints afterwards for every table T named in the file
#                 (comment lines dropped), whether or not the restore
#                 succeeded.
# Optional: CWREC_ONLY=PREFIX records only the *.in and tables/*.rules files
# whose name starts with PREFIX (e.g. CWREC_ONLY=gen- for the generated ones).
# Optional: CWREC_KLOG=FILE appends kernel log lines (dmesg) emitted while
# restoring each rule to FILE (diagnostics only, never part of the data).
#
# Every rule is loaded for real (no --test) into a private network namespace
# named cwrec-<pid>, so the kernel checks it too. Needs root, iproute2 and the
# iptables legacy tools. Nothing is sent on any network.
set -euo pipefail
export LC_ALL=C TZ=UTC

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
indir="$repo/tests/data/save-vectors"
outdir="${1:-$indir}"
mkdir -p "$outdir" "$outdir/tables"
outdir=$(cd "$outdir" && pwd)
klog="${CWREC_KLOG:-}"
only="${CWREC_ONLY:-}"

ns="cwrec-$$"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cwrec.XXXXXX")

cleanup() {
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in ip iptables-legacy-restore iptables-legacy-save ip6tables-legacy-restore ip6tables-legacy-save; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

builtin_chains() {
    case "$1" in
        filter|security) echo "INPUT FORWARD OUTPUT" ;;
        nat) echo "PREROUTING INPUT OUTPUT POSTROUTING" ;;
        mangle) echo "PREROUTING INPUT FORWARD OUTPUT POSTROUTING" ;;
        raw) echo "PREROUTING OUTPUT" ;;
        *) echo "unknown table: $1" >&2; return 1 ;;
    esac
}

tools_for() {   # sets ipt restore save for a family
    case "$1" in
        ipv4) ipt=iptables-legacy; restore=iptables-legacy-restore; save=iptables-legacy-save ;;
        ipv6) ipt=ip6tables-legacy; restore=ip6tables-legacy-restore; save=ip6tables-legacy-save ;;
        *) echo "unknown family: $1" >&2; return 1 ;;
    esac
}

new_ns() {
    ip netns del "$ns" 2>/dev/null || true
    ip netns add "$ns"
}

in_ns() { ip netns exec "$ns" "$@"; }

detab() { tr '\t' ' '; }

kmark() { if [ -n "$klog" ]; then dmesg 2>/dev/null | wc -l; else echo 0; fi; }
kdump() {  # kdump MARK LABEL
    [ -n "$klog" ] || return 0
    dmesg 2>/dev/null | tail -n "+$(( $1 + 1 ))" | KLABEL="$2" awk '{ print ENVIRON["KLABEL"] "\t" $0 }' >>"$klog" || true
}

# The rule lines of one table as printed by iptables-save: every "-A" line;
# a line that follows a rule and is neither a chain line nor COMMIT (only
# possible when a string value contains a newline) is appended to the rule
# as a literal "\n".
rule_lines() {
    awk '
        /^-A / { if (have) print cur; cur = $0; have = 1; next }
        /^(\*|:|#|COMMIT)/ { if (have) print cur; have = 0; next }
        { if (have) cur = cur "\\n" $0 }
        END { if (have) print cur }
    '
}

# The error a failed restore reports: the first stderr line that is not a
# "Warning: ..." line (the first line at all if there is no other). When
# that line carries an empty message ("iptables-restore v1.8.9 (legacy): "
# followed by the text on the next lines), the next non-empty line is
# appended to it.
error_line() {
    awk '
        { lines[NR] = $0 }
        END {
            pick = 0
            for (i = 1; i <= NR; i++) if (lines[i] !~ /^Warning: /) { pick = i; break }
            if (pick == 0) pick = 1
            msg = lines[pick]
            if (msg ~ /: *$/) {
                for (j = pick + 1; j <= NR; j++) if (lines[j] !~ /^[ \t]*$/) { sub(/ *$/, "", msg); msg = msg " " lines[j]; break }
            }
            print msg
        }
    '
}

# ---------------------------------------------------------------- per rule
record_in_file() {
    local in="$1" name family="" table="" chains="" line
    name=$(basename "$in" .in)
    while IFS= read -r line; do
        case "$line" in
            "# family:"*) family=$(echo "${line#*:}" | xargs) ;;
            "# table:"*) table=$(echo "${line#*:}" | xargs) ;;
            "# chains:"*) chains=$(echo "${line#*:}" | xargs) ;;
        esac
    done <"$in"
    [ -n "$family" ] && [ -n "$table" ] || { echo "$in: missing family/table header" >&2; return 1; }
    tools_for "$family"
    local builtins
    builtins=$(builtin_chains "$table")

    new_ns
    # make sure the table exists in the new namespace
    in_ns "$ipt" -t "$table" -L -n >/dev/null

    local out="$tmp/$name.out" nok=0 nerr=0
    : >"$out"
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in ""|"#"*) continue ;; esac
        local rf="$tmp/rule.restore" c
        {
            echo "*$table"
            for c in $builtins; do echo ":$c ACCEPT [0:0]"; done
            for c in $chains; do echo ":$c - [0:0]"; done
            printf '%s\n' "$line"
            echo "COMMIT"
        } >"$rf"
        # start from an empty table for every rule
        in_ns "$ipt" -t "$table" -F >/dev/null 2>&1 || true
        in_ns "$ipt" -t "$table" -X >/dev/null 2>&1 || true
        local km rc=0
        km=$(kmark)
        in_ns "$restore" <"$rf" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
        local input
        input=$(printf '%s' "$line" | detab)
        if [ "$rc" -eq 0 ]; then
            in_ns "$save" -t "$table" >"$tmp/save" 2>"$tmp/save.err"
            local saved n
            n=$(grep -c '^-A ' "$tmp/save" || true)
            saved=$(rule_lines <"$tmp/save" | detab | sed ':a;N;$!ba;s/\n/ ;; /g' || true)
            if [ "$n" -ne 1 ]; then
                echo "warning: $name: '$line' produced $n -A lines" >&2
            fi
            printf 'ok\t%s\t%s\n' "$input" "$saved" >>"$out"
            nok=$((nok + 1))
            # round-trip check: the saved line must restore to itself
            if [ "$n" -eq 1 ]; then
                {
                    echo "*$table"
                    for c in $builtins; do echo ":$c ACCEPT [0:0]"; done
                    for c in $chains; do echo ":$c - [0:0]"; done
                    grep '^-A ' "$tmp/save"
                    echo "COMMIT"
                } >"$rf"
                if in_ns "$restore" <"$rf" >/dev/null 2>"$tmp/rt.err"; then
                    local again
                    again=$(in_ns "$save" -t "$table" 2>/dev/null | rule_lines | detab || true)
                    [ "$again" = "$saved" ] || echo "warning: $name: round trip changed '$saved' -> '$again'" >&2
                else
                    echo "warning: $name: saved line does not restore: '$saved': $(head -n1 "$tmp/rt.err")" >&2
                fi
            fi
        else
            local msg
            msg=$(error_line <"$tmp/stderr" | detab)
            [ -n "$msg" ] || msg="(exit $rc, empty stderr)"
            printf 'err\t%s\t%s\n' "$input" "$msg" >>"$out"
            nerr=$((nerr + 1))
            kdump "$km" "$name	$input"
        fi
    done < <(grep -v '^#' "$in")
    mv "$out" "$outdir/$name.out"
    ip netns del "$ns"
    echo "$name: $nok ok, $nerr err"
}

# ---------------------------------------------------------------- per table dump
record_rules_file() {
    local rules="$1" name family
    name=$(basename "$rules" .rules)
    family=$(sed -n 's/^# family:[[:space:]]*\([a-z0-9]*\).*/\1/p' "$rules" | head -n1)
    tools_for "${family:-ipv4}"
    local res="$tmp/$name.result" rc mode km
    : >"$res"
    new_ns
    for t in filter nat mangle raw; do in_ns "$ipt" -t "$t" -L -n >/dev/null; done
    for mode in --test real; do
        rc=0
        km=$(kmark)
        if [ "$mode" = --test ]; then
            echo "== $restore --test" >>"$res"
            in_ns "$restore" --test <"$rules" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
        else
            echo "== $restore" >>"$res"
            in_ns "$restore" <"$rules" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
        fi
        {
            echo "exit: $rc"
            echo "stderr:"
            sed 's/^/  /' "$tmp/stderr"
        } >>"$res"
        [ "$rc" -eq 0 ] || kdump "$km" "tables/$name	$mode"
        if [ "$mode" = real ]; then
            # also after a failure: shows which tables were committed
            echo "save:" >>"$res"
            local t
            for t in $(sed -n 's/^\*\([a-z]*\).*/\1/p' "$rules" | sort -u); do
                in_ns "$save" -t "$t" 2>&1 | grep -v '^#' | sed 's/^/  /' >>"$res" || true
            done
        fi
    done
    mv "$res" "$outdir/tables/$name.result"
    ip netns del "$ns"
    echo "tables/$name: done"
}

shopt -s nullglob
ins=("$indir"/*.in)
[ "${#ins[@]}" -gt 0 ] || { echo "no .in files in $indir" >&2; exit 1; }
for f in "${ins[@]}"; do
    case "$(basename "$f")" in "$only"*) record_in_file "$f" ;; esac
done
for f in "$indir"/tables/*.rules; do
    case "$(basename "$f")" in "$only"*) record_rules_file "$f" ;; esac
done
