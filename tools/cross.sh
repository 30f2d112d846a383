#!/usr/bin/env bash
# hidupsd for router CPUs, with Debian's Rust (rustc-web, cargo-web,
# rust-web-src: /usr/bin/cargo and /usr/bin/rustc with the standard
# library's sources), Debian's cross compilers and qemu-user.
#
#   tools/cross.sh build TARGET          the router build: target/TARGET/release/hidupsd
#   tools/cross.sh build-default TARGET  the release profile alone: target/default/TARGET/release/hidupsd
#   tools/cross.sh test TARGET [SET]     a set of tests under qemu-user (SET: see test_set)
#   tools/cross.sh decode-diff TARGET    `decode` and `decode --explore` of every fixture,
#                                        router build under qemu against the host's build
#   tools/cross.sh serve TARGET          the router build serves every fixture under qemu;
#                                        stock upsc must read what the host's decode prints
#   tools/cross.sh size [TARGET...]      raw and xz bytes beside NUT 2.8.0 on the same CPU,
#                                        budgets checked (tools/size-budgets)
#   tools/cross.sh where TARGET          where the router build's bytes go (sections, crates)
#   tools/cross.sh ci                    all of it for every target, timed
#
# TARGET is one of $TARGETS below, or x86_64-unknown-linux-gnu (the host).
# Linkers and qemu runners per target are in .cargo/config.toml; the
# router build's options are here (ROUTER_FLAGS). In CI (CI=true) a
# missing tool fails; elsewhere too, with the package that provides it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TARGETS="mips-unknown-linux-gnu mipsel-unknown-linux-gnu armv7-unknown-linux-gnueabihf aarch64-unknown-linux-gnu x86_64-unknown-linux-musl"
HOST=x86_64-unknown-linux-gnu

# Debian's toolchain by path: rustup's proxies may come first in PATH.
CROSS_CARGO=${CROSS_CARGO:-/usr/bin/cargo}
export RUSTC=${CROSS_RUSTC:-/usr/bin/rustc} RUSTDOC=${CROSS_RUSTDOC:-/usr/bin/rustdoc}
# -Z build-std and the options below are unstable: Debian's stable
# compiler accepts them with this switch.
export RUSTC_BOOTSTRAP=1
# The host's own build (reference output, default x86_64 build): the
# project's usual toolchain, as `make` uses it.
# (without this script's RUSTC: a build by another compiler would
# replace `make`'s target/release)
HOST_CARGO=${HOST_CARGO:-cargo}
host_cargo() { env -u RUSTC -u RUSTDOC -u RUSTC_BOOTSTRAP "$HOST_CARGO" "$@"; }
HOST_BIN=target/release/hidupsd

# What a router build drops (measured one by one in the README's
# "Building for a router"):
# - panic=immediate-abort: a panic aborts at once, without formatting a
#   message or a backtrace; std's panic machinery goes (-25 % xz on mips).
#   The daemon has no panic on purpose (bad input is a typed error), and
#   its supervisor (procd, OpenRC, systemd) restarts it if one happens.
# - force-unwind-tables=no: nothing unwinds, so .eh_frame goes.
# - location-detail=none: no file/line/column strings for the
#   #[track_caller] paths that survive.
ROUTER_FLAGS='"-Zunstable-options", "-Cpanic=immediate-abort", "-Cforce-unwind-tables=no", "-Zlocation-detail=none"'
# On glibc, only libc, named here instead of std's list: that list has
# libgcc_s (for unwinding, which this build never does) and libm (pow
# and log come from the libm crate), and the linker keeps
# compiler_builtins' copy of every function a library on the link line
# also defines (soft-float arithmetic the hard-float CPUs never call,
# math functions nothing calls). Without libgcc_s: 12,848 bytes of code
# on mipsel, 4,976 xz (armv7 4,084 xz); without libm too, about 15 KB
# more. (libpthread, librt, libdl and libutil are in libc since 2.34.)
GLIBC_LIBS='"-Zlink-native-libraries=no", "-Clink-arg=-lc"'
# 32-bit ARM in Thumb-2, as Debian's armhf and most ARMv7 firmware build
# their code: a quarter smaller than ARM code (armv7: 5,528 bytes xz).
THUMB='"-Ctarget-feature=+thumb-mode"'
router_flags() {
    case $1 in
    armv7-*-linux-gnu*) echo "$ROUTER_FLAGS, $GLIBC_LIBS, $THUMB" ;;
    *-linux-gnu*) echo "$ROUTER_FLAGS, $GLIBC_LIBS" ;;
    *) echo "$ROUTER_FLAGS" ;;
    esac
}
# std built for size: smaller sort and formatting paths.
ROUTER_STD_FEATURES=optimize_for_size
# The longest a test binary may run under qemu-user (seconds); the
# slowest takes about 3 minutes on mips.
QEMU_TEST_TIMEOUT=${QEMU_TEST_TIMEOUT:-900}

die() { echo "cross.sh: $*" >&2; exit 1; }

# Per target: the C cross compiler, qemu-user and its library prefix, the
# Debian architecture of NUT's packages to compare with, and the packages
# to install.
setup() {
    T=$1
    case $T in
    mips-unknown-linux-gnu)
        CC=mips-linux-gnu-gcc QEMU=qemu-mips PREFIX=/usr/mips-linux-gnu
        # Debian has no big-endian 32-bit MIPS: NUT for mipsel is the
        # nearest (same instruction set, other byte order).
        NUT_ARCH=mipsel PKGS="gcc-mips-linux-gnu libc6-dev-mips-cross" ;;
    mipsel-unknown-linux-gnu)
        CC=mipsel-linux-gnu-gcc QEMU=qemu-mipsel PREFIX=/usr/mipsel-linux-gnu
        NUT_ARCH=mipsel PKGS="gcc-mipsel-linux-gnu libc6-dev-mipsel-cross" ;;
    armv7-unknown-linux-gnueabihf)
        CC=arm-linux-gnueabihf-gcc QEMU=qemu-arm PREFIX=/usr/arm-linux-gnueabihf
        NUT_ARCH=armhf PKGS="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross" ;;
    aarch64-unknown-linux-gnu)
        CC=aarch64-linux-gnu-gcc QEMU=qemu-aarch64 PREFIX=/usr/aarch64-linux-gnu
        NUT_ARCH=arm64 PKGS="gcc-aarch64-linux-gnu libc6-dev-arm64-cross" ;;
    x86_64-unknown-linux-musl)
        # Runs natively, statically linked. Its test binaries unwind
        # through LLVM's libunwind (libunwind-14-dev).
        CC=musl-gcc QEMU="" PREFIX="" NUT_ARCH=amd64 PKGS="musl-tools libunwind-14-dev" ;;
    x86_64-unknown-linux-gnu)
        CC=cc QEMU="" PREFIX="" NUT_ARCH=amd64 PKGS="" ;;
    *) die "unknown target '$T' (one of: $TARGETS $HOST)" ;;
    esac
    # How to run the target's programs here: `qemu-<cpu> -L <prefix>`,
    # or nothing on the host's CPU.
    RUN=()
    [ -z "$QEMU" ] || RUN=("$QEMU" -L "$PREFIX")
}

# qemu-user 7.2 keeps its translated code in a GLib tree whose nodes come
# from g_slice, and g_slice's lock is not reset in a forked child: when a
# guest thread forks (posix_spawn is a fork under qemu) while another
# guest thread is translating code, the child waits on that lock for
# ever, before its exec. Seen as a NOTIFYCMD test child that never ran
# (gdb on the child: g_slice_alloc under tcg_tb_insert). With this, GLib
# takes the nodes from malloc, which glibc makes safe across fork.
export G_SLICE=always-malloc

need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || [ -x "$t" ] ||
            die "$t not found (apt-get install rustc-web cargo-web rust-web-src qemu-user xz-utils nut-client $PKGS)"
    done
}

need_build() {
    need "$CROSS_CARGO" "$RUSTC" "$CC"
    [ -e /usr/lib/rustlib/src/rust/library/std/Cargo.toml ] ||
        die "the standard library's sources are missing (apt-get install rust-web-src)"
}


router_bin() { echo "target/$1/release/hidupsd"; }
default_bin() {
    if [ "$1" = "$HOST" ]; then echo "$HOST_BIN"; else echo "target/default/$1/release/hidupsd"; fi
}

cmd_build() {
    setup "$1"; need_build
    # The rustflags add to .cargo/config.toml's for the target.
    "$CROSS_CARGO" build --release --locked --target "$T" \
        -Z build-std=std,panic_abort -Z build-std-features="$ROUTER_STD_FEATURES" \
        --config "target.$T.rustflags = [$(router_flags "$T")]"
    echo "$(router_bin "$T"): $(stat -c %s "$(router_bin "$T")") bytes"
}

# The release profile as Cargo.toml has it, std built from source too
# (Debian ships none for these targets); on the host, `make all`.
cmd_build_default() {
    setup "$1"
    if [ "$T" = "$HOST" ]; then
        host_cargo build --release --locked
    else
        need_build
        CARGO_TARGET_DIR=target/default "$CROSS_CARGO" build --release --locked \
            --target "$T" -Z build-std=std,panic_abort
    fi
    echo "$(default_bin "$T"): $(stat -c %s "$(default_bin "$T")") bytes"
}

# The host's release build, as `make` makes it (up to date).
host_bin() {
    host_cargo build --release --locked --quiet
}

# Tests per target (tests/README.md has the groups), chosen for what
# each CPU can get wrong (byte order, word size, alignment, libc) within
# CI's time (timings in the README): the library's and the binary's unit
# tests, tests/core (decoding every fixture, NUT parity, fuzz corpora,
# monitor scenarios, the device worker), the allocation checks, and
# tests/server (the daemon under qemu answering raw clients and stock
# upsc, its command line, signals and reloads). Not tests/interop (NUT's
# upsd and upsmon, Python: the host's programs, timed against the
# daemon) nor tests/packaging (make install, sh).
test_set() {
    case ${2:-${CROSS_TESTS:-$1}} in
    *) echo "--lib --bins --test core --test server --test alloc --test alloc_copy --test alloc_proto" ;;
    esac
}

# Tests that cannot pass under qemu-user (7.2, Debian 12), and why:
# - feed_writes_standard_input: qemu-user reports the exec of a missing
#   file as a success (the error is lost in qemu's own exec), so the
#   test's error path is never taken.
# - called_as_upsc_it_prints_what_upsc_prints, on MIPS: qemu passes the
#   host's errno in getsockopt(SO_ERROR) untranslated, so a refused
#   connect reads as error 111 (x86's ECONNREFUSED), which MIPS calls
#   "Unknown error 111" (its ECONNREFUSED is 146); a blocking connect
#   gets 146 as it should. The rest of that test's ground is covered on
#   MIPS by `tools/cross.sh serve` (stock upsc against the router build).
# - runs_as_another_user_and_the_root_helper_shuts_down and
#   a_lost_helper_is_noparent find the privileged helper in /proc by its
#   name, hidupsd; under qemu-user every process is named after qemu.
QEMU_SKIP="feed_writes_standard_input runs_as_another_user_and_the_root_helper_shuts_down a_lost_helper_is_noparent"
QEMU_SKIP_MIPS="called_as_upsc_it_prints_what_upsc_prints"

cmd_test() {
    setup "$1"; need_build; [ -z "$QEMU" ] || need "$QEMU"
    local set; set=$(test_set "$T" "${2:-}")
    local dir=target/qemu
    # Test binaries unwind (the harness catches panics), so std is built
    # again with unwinding, in a target directory of its own: one std per
    # directory (else "duplicate lang item in crate core").
    local extra=()
    if [ "$T" = x86_64-unknown-linux-musl ]; then
        # Test binaries unwind through Debian's LLVM libunwind.a, built
        # for glibc with _FORTIFY_SOURCE: its one glibc-only symbol,
        # __fprintf_chk (for its error messages), given here for musl.
        mkdir -p "$dir"
        printf '%s\n' '#include <stdarg.h>' '#include <stdio.h>' \
            'int __fprintf_chk(FILE *f, int flag, const char *fmt, ...) {' \
            '    va_list ap; int r; (void)flag;' \
            '    va_start(ap, fmt); r = vfprintf(f, fmt, ap); va_end(ap); return r;' \
            '}' > "$dir/fprintf_chk.c"
        musl-gcc -O2 -c -o "$dir/fprintf_chk.o" "$dir/fprintf_chk.c"
        extra=(--config "target.$T.rustflags = [\"-Clink-arg=$ROOT/$dir/fprintf_chk.o\"]")
    fi
    local list; list=$(mktemp)
    # shellcheck disable=SC2086
    CARGO_TARGET_DIR=$dir CARGO_PROFILE_RELEASE_PANIC=unwind CARGO_PROFILE_RELEASE_LTO=off \
        CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        "$CROSS_CARGO" test --release --locked --target "$T" -Z build-std "${extra[@]}" \
        --no-run --message-format=json-render-diagnostics $set |
        python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])' > "$list"
    # The tests start the daemon by its path: on another CPU, that path
    # is a script running the binary under qemu, which keeps argv[0]
    # (hidupsd called as upsc through a link behaves as upsc).
    local bin=$dir/$T/release/hidupsd
    if [ -n "$QEMU" ] && [ "$(head -c 4 "$bin")" = $'\x7fELF' ]; then
        # (cargo hard-links the binary here: the old copy may be this file)
        rm -f "$bin.real"
        mv "$bin" "$bin.real"
        # shellcheck disable=SC2016 # $0 and $@ are the script's own
        printf '#!/bin/sh\nexec %s -L %s -0 "$0" %s "$@"\n' "$QEMU" "$PREFIX" "$ROOT/$bin.real" > "$bin"
        chmod +x "$bin"
    fi
    local skip=() fail=0 n=0 s
    [ -z "$QEMU" ] || for s in $QEMU_SKIP; do skip+=(--skip "$s"); done
    case $T in mips*) for s in $QEMU_SKIP_MIPS; do skip+=(--skip "$s"); done ;; esac
    [ "${#skip[@]}" -eq 0 ] ||
        echo "$T: under qemu-user, skipped: ${skip[*]} (why: QEMU_SKIP in tools/cross.sh)"
    local rc
    while read -r exe; do
        n=$((n + 1))
        echo "== $T: $(basename "$exe")"
        rc=0
        timeout -k 10 "$QEMU_TEST_TIMEOUT" "${RUN[@]}" "$exe" "${skip[@]}" || rc=$?
        if [ "$rc" -eq 124 ] && [ -n "$QEMU" ]; then
            # Seen once on mips: a test's threads all waiting on a lock
            # whose word said "held" with no holder left, after 14
            # minutes of nothing; taken to be qemu-user's doing (not
            # confirmed; the G_SLICE hang above was one such), not the
            # test's. A hang fails the run only if the binary hangs twice.
            echo "$T: $(basename "$exe") hung for ${QEMU_TEST_TIMEOUT}s under $QEMU (the test running is named above); running it once more"
            rc=0
            timeout -k 10 "$QEMU_TEST_TIMEOUT" "${RUN[@]}" "$exe" "${skip[@]}" || rc=$?
        fi
        if [ "$rc" -ne 0 ]; then
            fail=$((fail + 1))
            [ "$rc" -ne 124 ] || echo "$T: $(basename "$exe") hung for ${QEMU_TEST_TIMEOUT}s"
        fi
    done < "$list"
    rm -f "$list"
    [ "$n" -gt 0 ] || die "$T: no test binary built"
    [ "$fail" -eq 0 ] || die "$T: $fail of $n test binaries failed"
    echo "$T: $n test binaries passed"
}

fixtures() {
    for f in tests/fixtures/*/; do [ -e "$f/descriptor.hex" ] && echo "${f%/}"; done
}

# Every fixture: the router build on the target CPU prints byte for byte
# what the host's build prints, exit status included.
cmd_decode_diff() {
    setup "$1"; [ -z "$QEMU" ] || need "$QEMU"; host_bin
    local bin; bin=$(router_bin "$T")
    [ -x "$bin" ] || die "$bin missing: run tools/cross.sh build $T"
    local out n=0 bad=0 f mode; out=$(mktemp -d)
    for f in $(fixtures); do
        for mode in "" --explore; do
            # shellcheck disable=SC2086
            { "$HOST_BIN" decode $mode "$f"; echo "exit $?"; } > "$out/want" 2>&1 || true
            # shellcheck disable=SC2086
            { "${RUN[@]}" "$bin" decode $mode "$f"; echo "exit $?"; } > "$out/got" 2>&1 || true
            n=$((n + 1))
            if ! cmp -s "$out/want" "$out/got"; then
                bad=$((bad + 1))
                echo "$T: decode $mode $f differs from $HOST:"
                diff "$out/want" "$out/got" | head -20 || true
            fi
        done
    done
    rm -rf "$out"
    [ "$n" -gt 0 ] || die "no fixture found"
    [ "$bad" -eq 0 ] || die "$T: $bad of $n decode outputs differ"
    echo "$T: $n decode outputs ($((n / 2)) fixtures, plain and --explore) identical to $HOST"
}

# The router build serves every fixture under qemu; Debian's upsc lists
# them and reads each one's variables, which must be what the host's
# `hidupsd decode` prints.
cmd_serve() {
    setup "$1"; [ -z "$QEMU" ] || need "$QEMU"; need upsc; host_bin
    local bin; bin=$(router_bin "$T")
    [ -x "$bin" ] || die "$bin missing: run tools/cross.sh build $T"
    local tmp; tmp=$(mktemp -d)
    local args=() names=() f name
    for f in $(fixtures); do
        "$HOST_BIN" decode "$f" 2>/dev/null | sort > "$tmp/$(basename "$f").want" || continue
        [ -s "$tmp/$(basename "$f").want" ] || continue
        name=$(basename "$f")
        args+=(--simulate "$name=$f"); names+=("$name")
    done
    [ "${#names[@]}" -gt 0 ] || die "no fixture to serve"
    : > "$tmp/empty.conf"
    # A port below the ephemeral range, so no client socket holds it.
    local port=${CROSS_PORT:-$((20000 + RANDOM % 10000))} pid
    "${RUN[@]}" "$bin" -c "$tmp" "${args[@]}" --listen "127.0.0.1:$port" > "$tmp/log" 2>&1 &
    pid=$!
    # shellcheck disable=SC2064 # expanded now: the function's locals are gone at exit
    trap "kill $pid 2>/dev/null || true; rm -rf '$tmp'" EXIT
    local i=0
    until upsc -l "127.0.0.1:$port" > "$tmp/list" 2>/dev/null; do
        i=$((i + 1))
        if [ "$i" -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
            cat "$tmp/log" >&2; die "$T: the daemon did not answer on port $port"
        fi
        sleep 0.1
    done
    local bad=0
    printf '%s\n' "${names[@]}" | sort > "$tmp/names"
    sort "$tmp/list" | cmp -s - "$tmp/names" || { echo "$T: upsc -l lists:"; cat "$tmp/list"; bad=1; }
    for name in "${names[@]}"; do
        # (upsc's stderr has a note on SSL: left out)
        if ! upsc "$name@127.0.0.1:$port" 2>/dev/null | sort | cmp -s - "$tmp/$name.want"; then
            echo "$T: upsc $name differs from $HOST's decode:"
            upsc "$name@127.0.0.1:$port" 2>&1 | sort | diff "$tmp/$name.want" - | head -20 || true
            bad=1
        fi
    done
    kill -TERM "$pid"
    local st=0; wait "$pid" || st=$?
    if [ "$st" -ne 0 ] || ! grep -q 'exiting' "$tmp/log"; then
        echo "$T: no clean exit on SIGTERM (status $st):"; cat "$tmp/log"; bad=1
    fi
    [ "$bad" -eq 0 ] || die "$T: served variables differ"
    echo "$T: upsc read ${#names[@]} UPSes from the router build under ${QEMU:-the host CPU}, identical to $HOST's decode; clean exit on SIGTERM"
}

# --- sizes ---------------------------------------------------------------

# NUT 2.8.0 from Debian for one architecture, unpacked under target/nut,
# through a private apt state: the system's architectures are untouched.
nut_unpacked() {
    local arch=$1 dir=target/nut
    local x=$dir/$arch
    [ -d "$x/root" ] && { echo "$x/root"; return; }
    need apt-get dpkg-deb
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$x"
    local apt=(-o "APT::Architectures::=amd64" -o "APT::Architectures::=mipsel"
        -o "APT::Architectures::=armhf" -o "APT::Architectures::=arm64"
        -o "Dir::State::Lists=$ROOT/$dir/lists" -o "Dir::Cache=$ROOT/$dir/cache"
        -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
    if [ ! -e "$dir/lists/updated" ]; then
        apt-get "${apt[@]}" update -qq >&2 && touch "$dir/lists/updated"
    fi
    (cd "$x" && apt-get "${apt[@]}" download -qq \
        "nut-server:$arch" "nut-client:$arch" "libupsclient6:$arch" "libusb-1.0-0:$arch" >&2)
    local d
    for d in "$x"/*.deb; do dpkg-deb -x "$d" "$x/root.tmp"; done
    mv "$x/root.tmp" "$x/root"
    echo "$x/root"
}

xz_size() { xz -9e -c "$1" | wc -c; }

# NUT's files for the comparison: the driver, upsd, upsmon, libupsclient
# and libusb; upsc apart (hidupsd is upsc too, through a link).
nut_files() {
    local r=$1
    echo "$r/lib/nut/usbhid-ups" "$r/lib/nut/upsd" "$r/lib/nut/upsmon"
    find "$r" -name 'libupsclient.so.6.*' -type f
    find "$r" -name 'libusb-1.0.so.0.*' -type f
}

# `name raw xz` of a file list (xz per file, summed: how squashfs
# compresses, file by file).
sum_sizes() {
    local raw=0 x=0 f
    for f in "$@"; do raw=$((raw + $(stat -L -c %s "$f"))); x=$((x + $(xz_size "$f"))); done
    echo "$raw $x"
}

# 1234567 -> 1,234,567
fmt() { echo "$1" | sed ':a; s/\B[0-9]\{3\}\>/,&/; ta'; }

cmd_size() {
    local targets=("$@")
    [ "${#targets[@]}" -gt 0 ] || read -r -a targets <<< "$TARGETS $HOST"
    need xz
    local budgets=tools/size-budgets over=0
    echo "| target | build | hidupsd | xz -9e | NUT 2.8.0 (arch) | xz -9e | + upsc | xz -9e | + nutdrv_qx | xz -9e | budget (xz) |"
    echo "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---|"
    local t kind bin r raw x budget nraw nxz uraw uxz qraw qxz verdict
    for t in "${targets[@]}"; do
        setup "$t"
        r=$(nut_unpacked "$NUT_ARCH")
        # shellcheck disable=SC2046
        read -r nraw nxz <<< "$(sum_sizes $(nut_files "$r"))"
        read -r uraw uxz <<< "$(sum_sizes "$r/bin/upsc")"
        # NUT's Megatec/Q1 driver: hidupsd serves those units too.
        read -r qraw qxz <<< "$(sum_sizes "$r/lib/nut/nutdrv_qx")"
        for kind in router default; do
            if [ $kind = router ]; then bin=$(router_bin "$t"); else bin=$(default_bin "$t"); fi
            if [ ! -e "$bin" ]; then
                echo "| $t | $kind | (not built: $bin) | | | | | | | | |"
                continue
            fi
            raw=$(stat -c %s "$bin"); x=$(xz_size "$bin")
            budget=$(awk -v t="$t" -v k="$kind" '$1 == t && $2 == k { print $3 }' "$budgets")
            verdict=
            if [ -n "$budget" ]; then
                if [ "$x" -gt "$budget" ]; then verdict="**over** $(fmt "$budget")"; over=1
                else verdict="$(fmt "$budget")"; fi
            fi
            echo "| $t | $kind | $(fmt "$raw") | $(fmt "$x") | $(fmt "$nraw") ($NUT_ARCH) | $(fmt "$nxz") | $(fmt $((nraw + uraw))) | $(fmt $((nxz + uxz))) | $(fmt $((nraw + uraw + qraw))) | $(fmt $((nxz + uxz + qxz))) | $verdict |"
        done
    done
    [ "$over" -eq 0 ] || die "over a size budget (tools/size-budgets)"
}

# Where the router build's bytes go: its sections (stripped), and code
# and data by crate and by hidupsd module (the same build with symbols,
# in target/where).
cmd_where() {
    setup "$1"; need_build
    local nm=${CC%gcc}nm readelf=${CC%gcc}readelf
    [ "$T" != x86_64-unknown-linux-musl ] || { nm="nm"; readelf="readelf"; }
    [ "$T" != "$HOST" ] || { nm="nm"; readelf="readelf"; }
    need "$nm" "$readelf"
    CARGO_TARGET_DIR=target/where "$CROSS_CARGO" build --release --locked --target "$T" \
        -Z build-std=std,panic_abort -Z build-std-features="$ROUTER_STD_FEATURES" \
        --config "target.$T.rustflags = [$(router_flags "$T")]" --config profile.release.strip=false
    local bin=target/where/$T/release/hidupsd
    echo "sections of $(router_bin "$T") (bytes):"
    "$readelf" -SW "$(router_bin "$T")" | python3 -c '
import re, sys
rows = []
for line in sys.stdin:
    m = re.match(r"\s*\[\s*\d+\]\s+(\.\S+)\s+\S+\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)", line)
    if m:
        rows.append((int(m.group(2), 16), m.group(1)))
for size, name in sorted(rows, reverse=True)[:12]:
    print(f"  {name:16} {size:8d}")
' 
    # Demangled names: a symbol belongs to the first path of its name
    # (`<hidupsd::x::Y as core::fmt::Display>::fmt` is hidupsd's).
    "$nm" -S --size-sort -C "$bin" | python3 -c '
import re, sys, collections
code, data, mods = collections.Counter(), collections.Counter(), collections.Counter()
for line in sys.stdin:
    parts = line.split(None, 3)
    if len(parts) < 4:
        continue
    size, kind, name = int(parts[1], 16), parts[2], parts[3].strip()
    path = re.sub(r"^[<&*]+|^(dyn |mut |const )+", "", name)
    crate = re.split(r"::|<| ", path)[0] or "?"
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", crate):
        crate = "(other)"
    (code if kind in "tTwW" else data)[crate] += size
    if crate == "hidupsd":
        m = re.split(r" as |<|>", path)[0].split("::")
        m = [x for x in m if x and x[0].islower()]
        mods["::".join(m[:3]) if len(m) > 3 else "::".join(m[:2])] += size
def show(title, c, n):
    print(title)
    for k, v in c.most_common(n):
        print(f"  {k:40} {v:8d}")
show("code by crate (bytes):", code, 12)
show("data by crate (bytes, named symbols only):", data, 8)
show("hidupsd, code and data by module (bytes):", mods, 20)
'
}

cmd_ci() {
    local t s t0; t0=$(date +%s)
    for t in $TARGETS; do
        s=$(date +%s)
        cmd_build "$t"
        cmd_build_default "$t"
        cmd_test "$t"
        cmd_decode_diff "$t"
        [ "$t" != mips-unknown-linux-gnu ] || cmd_serve "$t"
        echo "cross.sh: $t took $(( $(date +%s) - s )) s"
    done
    # x86_64 (glibc) too, for the size table.
    cmd_build "$HOST"
    cmd_size
    echo "cross.sh: all targets took $(( $(date +%s) - t0 )) s"
}

case ${1:-} in
build) cmd_build "${2:?target}" ;;
build-default) cmd_build_default "${2:?target}" ;;
test) cmd_test "${2:?target}" "${3:-}" ;;
decode-diff) cmd_decode_diff "${2:?target}" ;;
serve) cmd_serve "${2:?target}" ;;
size) shift; cmd_size "$@" ;;
where) cmd_where "${2:?target}" ;;
ci) cmd_ci ;;
*) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
