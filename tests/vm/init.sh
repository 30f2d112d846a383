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
passes="kernel late helper udev megatec"
read -r cmdline </proc/cmdline
for a in $cmdline; do
    case $a in
    vm.only=*) only=${a#vm.only=} ;;
    vm.passes=*) passes=$(echo "${a#vm.passes=}" | tr , ' ') ;;
    esac
done

for m in uhid hid-generic usbhid dummy_hcd libcomposite usb_f_fs vhci-hcd; do
    modprobe "$m" || echo "FAIL [vm] 0 modprobe $m"
done
mount -t configfs none /sys/kernel/config

failed=0
start_udevd() {
    mkdir -p /run/udev
    # Not holding the FIFO's writing end (fd 3): uhid_sim must see EOF.
    systemd-udevd --daemon 2>/tmp/udevd.log 3>&-
    n=0
    while [ ! -e /run/udev/control ] && [ $n -lt 100 ]; do
        sleep 0.05
        n=$((n + 1))
    done
    if [ -e /run/udev/control ]; then
        read -r up _ </proc/uptime
        echo "INFO [$1] systemd-udevd running (uptime ${up} s)"
    else
        echo "FAIL [$1] 0 systemd-udevd did not start: $(cat /tmp/udevd.log)"
        failed=1
    fi
}

# run_pass NAME CHECKS SKIP [HIDUPSD ARGS...]: plug in a UPS (scenario
# 0: found by the scan at start), start hidupsd, run the checks (CHECKS:
# all if empty; vm.only= overrides), stop both. In pass "late", udevd
# starts just after hidupsd.
run_pass() {
    name=$1
    checks=${only:-$2}
    skip=$3
    shift 3
    log=/tmp/hidupsd-$name.log
    fifo=/tmp/cold-$name.fifo
    mkfifo "$fifo"
    # Opened read-write, which never blocks on Linux: a blocking open
    # for writing waits for the reader, and a SIGCHLD from an orphan
    # (which init inherits) interrupts it, which kills the shell (EINTR
    # from a redirection of exec). Closing fd 3 later is the FIFO's EOF.
    exec 3<>"$fifo"
    # The same UPS as COLD in vm_check.rs.
    uhid_sim /fixtures/eaton-5sc-750 --uniq COLD0 --phys usb-vm-0/input0 \
        <"$fifo" >"/tmp/cold-$name.out" 2>&1 3>&- &
    sim=$!
    n=0
    until grep -q created "/tmp/cold-$name.out" || [ $n -ge 100 ]; do
        sleep 0.02
        n=$((n + 1))
    done
    sleep 0.2 # its hidraw node
    hidupsd -c /etc/nut "$@" >"$log" 2>&1 3>&- &
    pid=$!
    [ "$name" != late ] || start_udevd late
    if [ -n "$checks" ]; then
        vm_check --pass "$name" --pid "$pid" --log "$log" --cold-fifo "$fifo" --skip "$skip" --only "$checks" || failed=1
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

# The passes run in a subshell: an error that ends a shell (a failed
# redirection of exec, say) then ends the subshell, and init still
# reports it and powers off, instead of the kernel panicking on init's
# exit with only a stack trace to show.
rm -f /tmp/passes.done
(
    for p in $passes; do
        case $p in
        kernel)
            # Root, no udev daemon: kernel uevents. The long check (4b,
            # 30 s) runs in this pass only.
            run_pass kernel "" none
            ;;
        late)
            # As user nut, started before udevd: hidupsd listens to kernel
            # uevents, which come before udevd's rules give the nodes to
            # group nut, so its first open of a new node may be refused.
            echo "INFO [late] hidupsd as user nut, udevd started after it"
            run_pass late 1,3 none -u nut
            udevadm control --exit 2>/dev/null
            rm -f /run/udev/control
            ;;
        helper)
            # As user nut with no udev daemon ever and no rule: new nodes stay
            # as devtmpfs makes them (root:root 0600), which user nut cannot
            # open; the root helper opens them for hidupsd (SCM_RIGHTS).
            echo "INFO [helper] hidupsd as user nut, no udevd: new nodes stay root-only"
            run_pass helper 1,3 none -u nut -D
            # The UPS plugged in after start was opened through the helper
            # (its own open refused: EACCES), not by luck of a node's mode.
            if grep -q 'opened by the privileged helper' /tmp/hidupsd-helper.log; then
                echo "PASS [helper] 0 a node hidupsd (user nut) could not open was opened by the privileged helper"
            else
                echo "FAIL [helper] 0 no node was opened by the privileged helper"
                failed=1
            fi
            ;;
        megatec)
            # Megatec/Q1 units on a USB gadget: hidupsd against NUT 2.8.0's
            # nutdrv_qx on the same simulated unit (examples/vm_megatec.rs).
            vm_megatec /lib/nut/nutdrv_qx 2>/tmp/vm_megatec.err || failed=1
            sed "s/^/LOG [megatec] /" /tmp/vm_megatec.err
            ;;
        udev)
            # As user nut with udevd running: hidupsd listens to udevd's
            # broadcasts, sent after the rules gave the nodes to group nut.
            start_udevd udev
            echo "INFO [udev] hidupsd as user nut (-u nut): udev rules give it the nodes"
            run_pass udev "" 4b -u nut
            ;;
        esac
    done
    echo "$failed" >/tmp/passes.done
)
st=$?
if [ -f /tmp/passes.done ]; then
    read -r failed </tmp/passes.done
else
    echo "FAIL [vm] 0 the test shell ended (status $st) before the passes did: its last words are above"
    failed=1
fi

read -r up _ </proc/uptime
echo "VM-DONE failed=$failed uptime=${up}"
poweroff -f
