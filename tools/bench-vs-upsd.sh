#!/usr/bin/env bash
# Benchmark (not a test): hidupsd against stock upsd + dummy-ups serving the
# same variables, with examples/load.rs, on loopback.
#
#   tools/bench-vs-upsd.sh [load options, e.g. --seconds 5 --conns 10,100,1000]
#
# Serves tests/fixtures/apc-back-ups-es-850g2 as UPS "ups" from hidupsd on
# 127.0.0.1:34930; when NUT's upsd and dummy-ups are installed (Debian:
# apt-get install nut-server nut-client), also from upsd on 127.0.0.1:34931,
# with dummy-ups reading `hidupsd decode`'s output, all in a temporary
# directory (run as root: both are told `-u root`). Each server runs alone
# while the load tool measures it; the ratio table follows. Everything
# started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

FIXTURE=tests/fixtures/apc-back-ups-es-850g2
HPORT=34930
UPORT=34931
UPSD=${UPSD:-/lib/nut/upsd}          # the binary: /usr/sbin/upsd is Debian's
DUMMY=${DUMMY:-/lib/nut/dummy-ups}   # wrapper that checks /etc/nut/nut.conf

cargo build --release --quiet --bin hidupsd --example load
BIN=target/release/hidupsd
LOAD=target/release/examples/load

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop() { # stop PID: the one server started last
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    local p keep=()
    for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Waits (at most 10 s) until PORT answers GET VAR ups ups.status with a VAR
# other than WAIT (upsd's answer until the driver has sent all its data).
ready() {
    local line
    for _ in $(seq 50); do
        line=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" &&
            printf 'GET VAR ups ups.status\n' >&3 &&
            read -r -t 2 l <&3 && echo "$l") 2>/dev/null || true)
        [[ $line == VAR* && $line != *WAIT* ]] && return 0
        sleep 0.2
    done
    echo "bench: nothing answers on 127.0.0.1:$1" >&2
    return 1
}

nvars() { # the number of variables PORT serves, when upsc is there
    if command -v upsc >/dev/null; then upsc "ups@127.0.0.1:$1" 2>/dev/null | wc -l; else echo "?"; fi
}

for p in $HPORT $UPORT; do
    port_free "$p" || { echo "bench: 127.0.0.1:$p is in use" >&2; exit 1; }
done

echo "== machine: $(nproc) cores; the load tool (one thread) and the server share them"
echo
# Every load connection comes from the loopback: no per-source limit
# (upsd has none).
mkdir -p "$TMP/h"
printf 'MAXCONN_PER_SOURCE 0\n' >"$TMP/h/upsd.conf"
echo "== hidupsd: $BIN -c $TMP/h --simulate ups=$FIXTURE --listen 127.0.0.1:$HPORT"
"$BIN" -c "$TMP/h" --simulate "ups=$FIXTURE" --listen "127.0.0.1:$HPORT" 2>"$TMP/hidupsd.log" &
HPID=$!
PIDS+=("$HPID")
ready $HPORT
echo "variables: $(nvars $HPORT)"
"$LOAD" "127.0.0.1:$HPORT" ups "$@" | tee "$TMP/hidupsd.txt"
stop "$HPID"

if [[ ! -x $UPSD || ! -x $DUMMY ]]; then
    echo
    echo "== upsd: not installed ($UPSD, $DUMMY): apt-get install nut-server nut-client to compare"
    exit 0
fi

# dummy-ups reads `name: value` lines; it sets driver.* itself.
"$BIN" decode "$FIXTURE" | grep -v '^driver\.' >"$TMP/ups.dev"
printf '[ups]\n\tdriver = dummy-ups\n\tport = %s/ups.dev\n\tdesc = "bench"\n' "$TMP" >"$TMP/ups.conf"
printf 'LISTEN 127.0.0.1 %s\n' $UPORT >"$TMP/upsd.conf"
: >"$TMP/upsd.users"
chmod 600 "$TMP/upsd.conf" "$TMP/upsd.users"
export NUT_CONFPATH=$TMP NUT_STATEPATH=$TMP NUT_ALTPIDPATH=$TMP

echo
echo "== upsd: $("$UPSD" -V 2>&1 | head -1) with dummy-ups on 127.0.0.1:$UPORT"
"$DUMMY" -a ups -u root -F >"$TMP/dummy-ups.log" 2>&1 &
DPID=$!
PIDS+=("$DPID")
for _ in $(seq 50); do [[ -S $TMP/dummy-ups-ups ]] && break; sleep 0.2; done
"$UPSD" -F -u root >"$TMP/upsd.log" 2>&1 &
UPID=$!
PIDS+=("$UPID")
ready $UPORT || { cat "$TMP/dummy-ups.log" "$TMP/upsd.log" >&2; exit 1; }
echo "variables: $(nvars $UPORT)"
"$LOAD" "127.0.0.1:$UPORT" ups "$@" | tee "$TMP/upsd.txt"
stop "$UPID"
stop "$DPID"

echo
echo "== ratio hidupsd / upsd (requests/s: above 1 favours hidupsd; times: below 1 does)"
awk '
    $1 ~ /^[0-9]+$/ { k = $1 " " $2; if (FNR == NR) h[k] = $0; else u[k] = $0; order[++n] = k }
    function r(a, b) { return (b + 0 == 0) ? "-" : sprintf("%.3g", a / b) }
    END {
        printf "%6s %7s %12s %10s %10s %10s\n", "conns", "request", "requests/s", "p50", "p99", "max"
        for (i = 1; i <= n; i++) {
            k = order[i]
            if (!(k in h) || !(k in u) || seen[k]++) continue
            split(h[k], a); split(u[k], b)
            # the new-connection row has all_ms where the others have requests/s
            printf "%6s %7s %12s %10s %10s %10s%s\n", a[1], a[2], r(a[3], b[3]),
                r(a[4], b[4]), r(a[5], b[5]), r(a[6], b[6]),
                (a[2] == "connect") ? "  (all_ms in place of requests/s; failed " a[7] " vs " b[7] ")" : ""
        }
    }' "$TMP/hidupsd.txt" "$TMP/upsd.txt"
