#!/usr/bin/env bash
# End-to-end tests of hidupsd against a real Linux HID stack: a Debian
# kernel booted under QEMU, UPSes simulated through /dev/uhid (and a USB
# gadget), hidupsd reading them through hidraw. See tests/vm/README.md.
#
# Usage: tests/vm/run.sh            (what `make vm-test` runs)
# Environment: VM_DIR (default target/vm), VM_TIMEOUT (seconds, default
# 360), VM_KEEP_LOG=1 to print the whole console, VM_APPEND for more
# kernel arguments (vm.only=1,2 vm.passes=kernel: see init.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

VM_DIR=${VM_DIR:-target/vm}
VM_TIMEOUT=${VM_TIMEOUT:-360}
CACHE=$VM_DIR/cache
ROOT=$VM_DIR/root
mkdir -p "$CACHE"

die() { echo "vm-test: $*" >&2; exit 1; }
note() { echo "vm-test: $*"; }

for tool in qemu-system-x86_64 busybox cpio depmod dpkg-deb apt-get; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool not found (Debian: apt-get install qemu-system-x86 busybox-static cpio kmod)"
done
busybox_bin=$(command -v busybox)

# --- Downloads, cached -------------------------------------------------
# The kernel: whatever linux-image-amd64 depends on now (bookworm: 6.1).
fetch() { # fetch PACKAGE: the .deb path in $CACHE, downloaded once
    local pkg=$1 deb
    deb=$(find "$CACHE" -maxdepth 1 -name "${pkg}_*.deb" | sort | tail -n 1)
    if [ -z "$deb" ]; then
        # (apt warns that root downloads unsandboxed: not worth a line.)
        if ! (cd "$CACHE" && apt-get download -q "$pkg" >"$pkg.log" 2>&1); then
            cat "$CACHE/$pkg.log" >&2
            die "apt-get download $pkg failed"
        fi
        deb=$(find "$CACHE" -maxdepth 1 -name "${pkg}_*.deb" | sort | tail -n 1)
    fi
    [ -n "$deb" ] || die "no .deb for $pkg"
    echo "$deb"
}

kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/ { print $2; exit }') || true
if [ -z "$kpkg" ]; then
    # Offline: a kernel fetched before.
    kpkg=$(find "$CACHE" -maxdepth 1 -name 'linux-image-[0-9]*-amd64_*.deb' |
        sort | tail -n 1 | sed 's|.*/||; s|_.*||')
fi
[ -n "$kpkg" ] || die "cannot tell which linux-image package to use (apt-cache depends linux-image-amd64)"
kdeb=$(fetch "$kpkg")
KDIR=$VM_DIR/$kpkg
if [ ! -f "$KDIR/.done" ]; then
    note "unpacking $(basename "$kdeb")"
    rm -rf "$KDIR"
    mkdir -p "$KDIR"
    dpkg-deb -x "$kdeb" "$KDIR"
    # The package has no modules.dep (made when installed).
    depmod -b "$KDIR" "$(find "$KDIR/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | head -n 1)"
    touch "$KDIR/.done"
fi
kver=$(find "$KDIR/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | head -n 1)
[ -n "$kver" ] || die "no modules in $kdeb"

# The uncompressed kernel (QEMU boots its ELF directly, PVH): vmlinuz is
# a bzImage whose payload is xz; find the xz magic and unpack from there.
VMLINUX=$VM_DIR/vmlinux-$kver
if [ ! -f "$VMLINUX" ]; then
    vmlinuz=$KDIR/boot/vmlinuz-$kver
    off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n 1 | cut -d: -f1)
    [ -n "$off" ] || die "no xz payload in $vmlinuz"
    tail -c +"$((off + 1))" "$vmlinuz" | xz -dc 2>/dev/null >"$VMLINUX.tmp" || true
    head -c 4 "$VMLINUX.tmp" | grep -q 'ELF' || die "could not unpack vmlinux from $vmlinuz"
    mv "$VMLINUX.tmp" "$VMLINUX"
fi

# udev for the second pass (systemd-udevd is udevadm under another name).
udeb=$(fetch udev)
UDIR=$VM_DIR/udev
if [ ! -f "$UDIR/.done" ] || [ "$UDIR/.done" -ot "$udeb" ]; then
    rm -rf "$UDIR"
    mkdir -p "$UDIR"
    dpkg-deb -x "$udeb" "$UDIR"
    touch "$UDIR/.done"
fi

# --- Build ---------------------------------------------------------------
note "building hidupsd and the VM helpers (release)"
cargo build --release -q --bin hidupsd --example uhid_sim --example vm_check --example vm_gadget \
    --example vm_megatec

# --- The initramfs ---------------------------------------------------------
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,sbin,etc/nut,proc,sys,dev,tmp,run,fixtures,lib/modules}
cp "$busybox_bin" "$ROOT/bin/busybox"
cp target/release/hidupsd target/release/examples/uhid_sim \
    target/release/examples/vm_check target/release/examples/vm_gadget \
    target/release/examples/vm_megatec "$ROOT/bin/"
# The Megatec oracle: NUT 2.8.0's own nutdrv_qx (Debian nut-server).
NUTDRV_QX=${NUTDRV_QX:-/lib/nut/nutdrv_qx}
if [ -x "$NUTDRV_QX" ]; then
    mkdir -p "$ROOT/lib/nut"
    cp "$NUTDRV_QX" "$ROOT/lib/nut/nutdrv_qx"
elif [ "${CI:-}" = true ]; then
    die "$NUTDRV_QX missing (apt-get install nut-server): the Megatec pass needs it"
else
    note "$NUTDRV_QX missing: the Megatec pass will fail (apt-get install nut-server)"
fi
cp tests/vm/init.sh "$ROOT/init"
chmod 755 "$ROOT/init"
for fx in apc-back-ups-es-850g2 eaton-5sc-750 cps-cp1500avrlcda phoenixtec-06da-0003-megatec-over-hid; do
    cp -r "tests/fixtures/$fx" "$ROOT/fixtures/"
done
cp tests/vm/upsd.users "$ROOT/etc/nut/upsd.users"
printf 'LISTEN 127.0.0.1 3493\n' >"$ROOT/etc/nut/upsd.conf"
printf '# No sections: every UPS found is served.\n' >"$ROOT/etc/nut/ups.conf"
chmod 600 "$ROOT/etc/nut/upsd.users"

# Kernel modules and what they need, then depmod for busybox's modprobe.
MODS="uhid hid-generic usbhid dummy_hcd libcomposite usb_f_fs vhci-hcd"
MODROOT=$KDIR/lib/modules/$kver
mkdir -p "$ROOT/lib/modules/$kver"
cp "$MODROOT"/modules.order "$MODROOT"/modules.builtin* "$ROOT/lib/modules/$kver/"
want=""
for m in $MODS; do
    m_=${m//-/_}
    line=$(grep -E "(^|/)(${m}|${m_})\.ko(\.[a-z]+)?:" "$MODROOT/modules.dep") ||
        die "module $m not in $kpkg"
    want="$want ${line//:/}"
done
for rel in $want; do
    mkdir -p "$ROOT/lib/modules/$kver/$(dirname "$rel")"
    case $rel in
    *.ko.xz) xz -dc "$MODROOT/$rel" >"$ROOT/lib/modules/$kver/${rel%.xz}" ;;
    *.ko) cp "$MODROOT/$rel" "$ROOT/lib/modules/$kver/$rel" ;;
    *) die "unexpected module file $rel" ;;
    esac
done
depmod -b "$ROOT" "$kver"

# Shared libraries of the dynamically linked programs, at their paths.
copy_libs() { # copy_libs BINARY...: ldd each, copy what it names
    local b lib
    for b in "$@"; do
        ldd "$b" >/dev/null 2>&1 || continue # static: nothing to copy
        if ldd "$b" | grep -q 'not found'; then
            ldd "$b" >&2
            die "$b needs libraries this host does not have"
        fi
        for lib in $(ldd "$b" | grep -oE '/[^ ]+\.so[^ ]*'); do
            mkdir -p "$ROOT$(dirname "$lib")"
            [ -e "$ROOT$lib" ] || cp -L "$lib" "$ROOT$lib"
        done
    done
}
copy_libs "$ROOT"/bin/busybox "$ROOT"/bin/hidupsd "$ROOT"/bin/uhid_sim "$ROOT"/bin/vm_check "$ROOT"/bin/vm_gadget \
    "$ROOT"/bin/vm_megatec
[ ! -e "$ROOT/lib/nut/nutdrv_qx" ] || copy_libs "$ROOT/lib/nut/nutdrv_qx"
# udev: the daemon, its rules and configuration (no hwdb: not needed here).
mkdir -p "$ROOT/lib/udev" "$ROOT/etc/udev"
cp "$UDIR/bin/udevadm" "$ROOT/bin/udevadm"
ln -s udevadm "$ROOT/bin/systemd-udevd"
cp -r "$UDIR/lib/udev/rules.d" "$ROOT/lib/udev/"
cp "$UDIR/etc/udev/udev.conf" "$ROOT/etc/udev/"
# hidupsd's own rules (group nut for listed UPSes' nodes), and a local
# rule for the uhid devices, which have no USB ids in sysfs to match.
mkdir -p "$ROOT/etc/udev/rules.d"
cp rules/70-hidupsd.rules "$ROOT/lib/udev/rules.d/"
cp tests/vm/71-vm-uhid.rules "$ROOT/etc/udev/rules.d/"
copy_libs "$ROOT/bin/udevadm"
# glibc's lib64 loader path, as on the host.
[ -e "$ROOT/lib64" ] || [ ! -e /lib64 ] || { mkdir -p "$ROOT/lib64"; cp -L /lib64/ld-linux-x86-64.so.2 "$ROOT/lib64/"; }
printf 'root:x:0:0:root:/:/bin/sh\nnut:x:100:100:nut:/run:/bin/false\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\nnut:x:100:\n' >"$ROOT/etc/group"

INITRD=$VM_DIR/initrd.cpio
(cd "$ROOT" && find . | cpio -o -H newc --quiet) >"$INITRD"
note "initramfs: $(($(stat -c %s "$INITRD") / 1024)) KiB, kernel $kver"

# --- Boot ------------------------------------------------------------------
LOG=$VM_DIR/console.log
note "booting (QEMU TCG); console in $LOG"
t0=$(date +%s.%N)
set +e
timeout "$VM_TIMEOUT" qemu-system-x86_64 \
    -nodefaults -no-user-config -display none -no-reboot -M pc -cpu max -m 512 \
    -smp 2 -serial stdio -kernel "$VMLINUX" -initrd "$INITRD" \
    -append "console=ttyS0 quiet panic=-1 tsc=reliable mitigations=off no_timer_check cryptomgr.notests initcall_blacklist=crypto_kdf108_init,init_kprobe_trace ${VM_APPEND:-}" \
    </dev/null >"$LOG" 2>&1
rc=$?
set -e
t1=$(date +%s.%N)
tr -d '\r' <"$LOG" >"$LOG.txt"

if [ "${VM_KEEP_LOG:-0}" = 1 ]; then cat "$LOG.txt"; fi
grep -E '^(PASS|FAIL|INFO|KNOWN|SKIP) ' "$LOG.txt" || true
total=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
fails=$(grep -c '^FAIL ' "$LOG.txt" || true)
passes=$(grep -c '^PASS ' "$LOG.txt" || true)
# What the guest said last, without the kernel's own lines (a panic's
# stack trace would push the cause out of a short CI excerpt), then the
# kernel's panic line if there is one.
last_words() {
    grep -vE '^\[ *[0-9]+\.[0-9]+\] ' "$LOG.txt" | tail -n "$1"
    grep -m 1 'Kernel panic' "$LOG.txt" || true
}
if [ "$rc" = 124 ]; then
    last_words 40
    die "timed out after ${VM_TIMEOUT}s ($passes passed, $fails failed so far)"
fi
if ! grep -q '^VM-DONE' "$LOG.txt"; then
    last_words 30
    die "the guest did not finish (qemu exit $rc)"
fi
# A checker that died says so only through its exit status.
if grep -q '^VM-DONE failed=1' "$LOG.txt"; then
    fails=$((fails + 1))
    echo "vm-test: a checker in the guest exited with an error"
fi
if [ "$fails" != 0 ] || [ "$passes" = 0 ]; then
    echo "--- guest log excerpts:"
    grep -E '^(LOG|hidupsd)' "$LOG.txt" | tail -n 60 || true
    # Last, where a short excerpt of the output still shows them.
    echo "--- failed checks:"
    grep -E '^FAIL ' "$LOG.txt" || true
    die "$fails failed, $passes passed (whole run ${total}s)"
fi
known=$(grep -c '^KNOWN ' "$LOG.txt" || true)
if [ "$known" != 0 ]; then
    note "$known checks show known hidupsd bugs (KNOWN lines above; tests/vm/README.md)"
fi
note "all $passes checks passed (whole run ${total}s)"
