#!/bin/busybox sh
# shellcheck shell=dash
# /init of the VM test initramfs (tests/vm/run.sh builds it): mount the
# usual file systems, load the HID modules, then run the checks twice
# against hidupsd: first with kernel uevents only (no udev daemon), then
# with systemd-udevd running. Prints PASS/FAIL lines (from vm_check) and
# VM-DONE, then powers off.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mkdir -p /dev/pts /dev/shm
ip link set lo up
read -r up _ </proc/uptime
echo "INFO [vm] kernel $(uname -r): init after ${up} s"

# Scenario lists per pass; the kernel command line may narrow them
# (vm.only=1,2 vm.passes=kernel).
only=""
passes="kernel udev"
read -r cmdline </proc/cmdline
for a in $cmdline; do
    case $a in
    vm.only=*) only=${a#vm.only=} ;;
    vm.passes=*) passes=$(echo "${a#vm.passes=}" | tr , ' ') ;;
    esac
done

for m in uhid hid-generic usbhid dummy_hcd libcomposite usb_f_fs; do
    modprobe "$m" || echo "FAIL [vm] 0 modprobe $m"
done
mount -t configfs none /sys/kernel/config

failed=0
# run_pass NAME [HIDUPSD ARGS...]: plug in a UPS (scenario 0: found by
# the scan at start), start hidupsd, run the checks, stop both.
run_pass() {
    name=$1
    shift
    log=/tmp/hidupsd-$name.log
    fifo=/tmp/cold-$name.fifo
    mkfifo "$fifo"
    # The same UPS as COLD in vm_check.rs.
    uhid_sim /fixtures/eaton-5sc-750 --uniq COLD0 --phys usb-vm-0/input0 \
        <"$fifo" >"/tmp/cold-$name.out" 2>&1 &
    sim=$!
    exec 3>"$fifo"
    n=0
    until grep -q created "/tmp/cold-$name.out" || [ $n -ge 100 ]; do
        sleep 0.02
        n=$((n + 1))
    done
    sleep 0.2 # its hidraw node
    hidupsd -c /etc/nut "$@" >"$log" 2>&1 &
    pid=$!
    # The long check (4b, 30 s) runs in the first pass only.
    skip=none
    [ "$name" = kernel ] || skip=4b
    if [ -n "$only" ]; then
        vm_check --pass "$name" --pid "$pid" --log "$log" --cold-fifo "$fifo" --skip "$skip" --only "$only" || failed=1
    else
        vm_check --pass "$name" --pid "$pid" --log "$log" --cold-fifo "$fifo" --skip "$skip" || failed=1
    fi
    exec 3>&-
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    wait "$sim" 2>/dev/null
    sed "s/^/LOG [$name] /" "$log"
    sed "s/^/LOG [$name] uhid_sim: /" "/tmp/cold-$name.out"
}

for p in $passes; do
    case $p in
    kernel)
        run_pass kernel
        ;;
    udev)
        mkdir -p /run/udev
        systemd-udevd --daemon 2>/tmp/udevd.log
        n=0
        while [ ! -e /run/udev/control ] && [ $n -lt 100 ]; do
            sleep 0.05
            n=$((n + 1))
        done
        if [ -e /run/udev/control ]; then
            read -r up _ </proc/uptime
            echo "INFO [udev] systemd-udevd running (uptime ${up} s); hidupsd runs as user nut (-u nut): udev rules give it the nodes"
            run_pass udev -u nut
        else
            echo "FAIL [udev] 0 systemd-udevd did not start: $(cat /tmp/udevd.log)"
        fi
        ;;
    esac
done

read -r up _ </proc/uptime
echo "VM-DONE failed=$failed uptime=${up}"
poweroff -f
