#!/bin/busybox sh
# PID 1 of the nested Xen host's dom0 (busybox sh, inside the fixture initramfs).
# Brings up the Xen toolstack, runs the checks in priority order and prints one
# machine-parsable line per check on the console (hvc0 -> Xen -> serial):
#   VTASOS-XEN-CHECK <name> PASS|FAIL|SKIP <detail>
#   VTASOS-XEN-INFO <tag> <key>=<value>... (facts and measurements)
#   VTASOS-XEN-LOG <tag>: <text>           (command output worth keeping)
#   VTASOS-XEN-DONE checks=<n> failed=<n>  (then power off)
# Expected shape and options come from /vtasos/expect (written by the builder).
/bin/busybox mkdir -p /proc /sys /dev /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/vtasos/bin:/usr/lib/xen-4.17/bin:/usr/bin:/bin:/usr/sbin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "VTASOS-XEN-INIT uptime=$(cut -d' ' -f1 /proc/uptime)"
mkdir -p /dev/pts /dev/shm /run /var/run /var/log/xen/console /var/lib/xen /tmp /run/xen
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mkdir -p /run/xen /run/xenstored /run/vtasos
mount -t tmpfs tmpfs /var/run
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /dev/shm
# cgroup v1 cpuset + freezer, as on the host, for the Linux-driver side of slice-bench.
mount -t tmpfs cgroup /sys/fs/cgroup
for c in cpuset freezer; do
    mkdir -p /sys/fs/cgroup/$c
    mount -t cgroup -o $c $c /sys/fs/cgroup/$c
done
mkdir -p /etc/xen
[ -f /etc/xen/xl.conf ] || echo 'autoballoon="off"' >/etc/xen/xl.conf
# Our lines share the console with the kernel: keep its messages off it.
echo 1 > /proc/sys/kernel/printk
. /vtasos/expect

CHECKS=0
FAILED=0
check() {  # check NAME PASS|FAIL|SKIP DETAIL...
    name=$1 verdict=$2
    shift 2
    CHECKS=$((CHECKS + 1))
    [ "$verdict" = FAIL ] && FAILED=$((FAILED + 1))
    echo "VTASOS-XEN-CHECK $name $verdict $*"
}
info() { echo "VTASOS-XEN-INFO $*"; }
logcmd() {  # logcmd TAG CMD...: run a command, prefix each output line
    tag=$1
    shift
    "$@" 2>&1 | while IFS= read -r l; do echo "VTASOS-XEN-LOG $tag: $l"; done
}
finish() {
    echo "VTASOS-XEN-DONE checks=$CHECKS failed=$FAILED"
    sync
    poweroff -f
    sleep 30
}
# Polls a command for up to N tenths of a second (by the clock: commands are slow here).
wait_for() {
    end=$(awk -v n="$1" '{print $1 + n / 10}' /proc/uptime)
    shift
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        awk -v e="$end" '{exit !($1 > e)}' /proc/uptime && return 1
        sleep 0.1
    done
}

# ------------------------------------------------------------------ modules, xenfs
mods_ok=1
for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs; do
    [ -f /vtasos/modules/$m.ko ] || continue
    insmod /vtasos/modules/$m.ko 2>/tmp/insmod.err || {
        grep -q 'File exists' /tmp/insmod.err || { mods_ok=0; logcmd insmod cat /tmp/insmod.err; }
    }
done
mount -t xenfs xenfs /proc/xen || mods_ok=0
if [ $mods_ok = 1 ] && [ -c /dev/xen/privcmd ] && grep -q control_d /proc/xen/capabilities; then
    check modules PASS "privcmd evtchn gntdev xenfs loaded; /proc/xen/capabilities=control_d"
else
    check modules FAIL "xen modules or xenfs missing: $(ls /dev/xen 2>&1 | tr '\n' ' ')"
    finish
fi

# ------------------------------------------------------------------ toolstack
xenstored --pid-file /run/xenstored.pid >/tmp/xenstored.log 2>&1
wait_for 100 xenstore-ls /  # xenstored answers; dom0's own keys come from xen-init-dom0
xen-init-dom0 >/tmp/init-dom0.log 2>&1
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console \
    >/tmp/xenconsoled.log 2>&1
if [ "$(xenstore-read /local/domain/0/name 2>/dev/null)" = Domain-0 ] && pidof xenconsoled >/dev/null; then
    check toolstack PASS "xenstored, xen-init-dom0, xenconsoled running"
else
    check toolstack FAIL "xenstored/xenconsoled did not come up"
    logcmd xenstored cat /tmp/xenstored.log /tmp/init-dom0.log /tmp/xenconsoled.log
    finish
fi

# ------------------------------------------------------------------ (a) topology
xl info >/tmp/xlinfo 2>&1
xi() { sed -n "s/^$1 *: *//p" /tmp/xlinfo; }
ncpu=$(xi nr_cpus)
cps=$(xi cores_per_socket)
tpc=$(xi threads_per_core)
nodes=$(xi nr_nodes)
sockets=0
[ -n "$ncpu" ] && [ -n "$cps" ] && [ -n "$tpc" ] && sockets=$((ncpu / (cps * tpc)))
info "xl_info nr_cpus=$ncpu cores_per_socket=$cps threads_per_core=$tpc nr_nodes=$nodes sockets=$sockets scheduler=$(xi xen_scheduler) xen_version=$(xi xen_version)"
# Per-CPU socket and node as Xen reports them (xc_cputopoinfo through libxl).
xl info -n 2>/dev/null | awk '/^cpu_topology/{t=1;next} /^numa_info/{t=0}
    t && $1 ~ /^[0-9]+:$/ {sub(":", "", $1); print $1, $2, $3, $4}' >/tmp/cputopo
dsock=$(awk '{print $3}' /tmp/cputopo | sort -u | wc -l)
dnode=$(awk '{print $4}' /tmp/cputopo | sort -u | wc -l)
info "cpu_topology $(awk '{printf "cpu%s:core%s/socket%s/node%s ", $1,$2,$3,$4}' /tmp/cputopo)"
if [ "$ncpu" = "$EXPECT_CPUS" ] && [ "$sockets" = "$EXPECT_SOCKETS" ] && [ "$cps" = "$EXPECT_CORES" ] \
    && [ "$nodes" = "$EXPECT_NODES" ] && [ "$dsock" = "$EXPECT_SOCKETS" ] && [ "$dnode" = "$EXPECT_NODES" ]; then
    check topology-xl PASS "sockets=$sockets cores_per_socket=$cps nodes=$nodes cpus=$ncpu"
else
    check topology-xl FAIL "want sockets=$EXPECT_SOCKETS cores=$EXPECT_CORES nodes=$EXPECT_NODES cpus=$EXPECT_CPUS, got sockets=$sockets/$dsock cores=$cps nodes=$nodes/$dnode cpus=$ncpu"
    logcmd xl-info cat /tmp/xlinfo
fi

# The xen driver's dom0 check program (tests/hv-backend/xen/xen_dom0_check.cpp): its
# "CHECK name PASS|FAIL detail" lines become ours, prefixed "dom0check-<tag>-".
run_dom0_check() {  # run_dom0_check TAG ARGS...
    tag=$1
    shift
    out=$(timeout 180 xen_dom0_check "$@" 2>&1)
    rc=$?
    while IFS= read -r l; do
        case "$l" in
        "CHECK "*)
            set -- $l
            n=$2 v=$3
            shift 3
            check "dom0check-$tag-$n" "$v" "$*"
            ;;
        *) echo "VTASOS-XEN-LOG xen_dom0_check: $l" ;;
        esac
    done <<EOF
$out
EOF
    if [ $rc = 0 ]; then v=PASS; else v=FAIL; fi
    check "program-xen_dom0_check-$tag" $v "exit=$rc"
}
[ -x /vtasos/bin/xen_dom0_check ] && run_dom0_check basic

# ------------------------------------------------------------------ (d) PV domU
# domU config: from vtasos-image xlcfg when it exists, else a hand-written one.
domu_cfg() {  # domu_cfg NAME VCPUS [CPUS [EXTRA]]
    if [ -x /vtasos/bin/vtasos-image ] && vtasos-image xlcfg --help >/dev/null 2>&1; then
        set -- "$1" "$2" "${3:+--cpus-list}" "$3" "${4:+--append}" "$4"
        # Unquoted: the optional words vanish when empty.
        vtasos-image xlcfg /vtasos/domu/initrd.img --name "$1" --cpus "$2" $3 $4 $5 $6 \
            --kernel /vtasos/domu/vmlinuz --memory 128 >/tmp/$1.cfg 2>/tmp/$1.cfgerr && return 0
        check xlcfg FAIL "vtasos-image xlcfg failed: $(head -c 200 /tmp/$1.cfgerr)"
        set -- "$1" "$2" "$4" "$6"
    fi
    {
        echo "name = \"$1\""
        echo 'type = "pv"'
        echo 'kernel = "/vtasos/domu/vmlinuz"'
        echo 'ramdisk = "/vtasos/domu/initrd.img"'
        echo "extra = \"console=hvc0 quiet panic=-1 $4\""
        echo 'memory = 128'
        echo "vcpus = $2"
        [ -n "$3" ] && echo "cpus = \"$3\""
        echo 'on_poweroff = "destroy"'
        echo 'on_crash = "destroy"'
    } >/tmp/$1.cfg
}
domu_state() { xl list "$1" 2>/dev/null | awk 'NR==2{print $5}'; }
domu_running() { s=$(domu_state "$1"); [ -n "$s" ] && [ "${s#*[rb]}" != "$s" ]; }
domu_marker() { grep -q VTASOS-DOMU-UP /var/log/xen/console/guest-"$1".log 2>/dev/null; }

domu_cfg vt-domu 2 2-3
logcmd xlcfg cat /tmp/vt-domu.cfg
t0=$(cut -d' ' -f1 /proc/uptime)
timeout 120 xl create /tmp/vt-domu.cfg >/tmp/xlcreate.log 2>&1
rc=$?
if [ $rc = 0 ] && wait_for 900 domu_marker vt-domu; then
    t1=$(cut -d' ' -f1 /proc/uptime)
    DOMID=$(xl domid vt-domu)
    check domu-create PASS "domid=$DOMID booted in $(awk "BEGIN{print $t1-$t0}") s (guest printed its marker)"
else
    DOMID=$(xl domid vt-domu 2>/dev/null)
    check domu-create FAIL "xl create exit=$rc state=$(domu_state vt-domu)"
    logcmd xl-create cat /tmp/xlcreate.log
    logcmd domu-console cat /var/log/xen/console/guest-vt-domu.log
fi

if [ -n "$DOMID" ]; then
    # Pin by hand and read back (the xl path; vtasosd's own pinning is checked below).
    xl vcpu-pin vt-domu 0 4 && xl vcpu-pin vt-domu 1 5
    aff=$(xl vcpu-list vt-domu | awk 'NR>1{printf "%s:%s ", $3, $7}')
    if [ "$aff" = "0:4 1:5 " ]; then
        check domu-pin PASS "hard affinity vcpu:cpus $aff"
    else
        check domu-pin FAIL "want 0:4 1:5, got $aff"
    fi
    xl pause vt-domu
    s1=$(domu_state vt-domu)
    xl unpause vt-domu
    s2=$(domu_state vt-domu)
    if [ "${s1#*p}" != "$s1" ] && [ "${s2#*p}" = "$s2" ]; then
        check domu-pause PASS "paused state=$s1, unpaused state=$s2"
    else
        check domu-pause FAIL "paused state=$s1, unpaused state=$s2"
    fi

    # ---------------------------------------------------------------- (c) cpupool
    pool_ok=1
    pdetail=""
    xl cpupool-cpu-remove Pool-0 6,7 >/tmp/pool.log 2>&1 || { pool_ok=0; pdetail="cpu-remove failed"; }
    cat >/tmp/pool.cfg <<EOF
name = "vt-pool"
sched = "credit2"
cpus = ["6", "7"]
EOF
    [ $pool_ok = 1 ] && { xl cpupool-create /tmp/pool.cfg >>/tmp/pool.log 2>&1 || { pool_ok=0; pdetail="create failed"; }; }
    [ $pool_ok = 1 ] && { xl cpupool-migrate vt-domu vt-pool >>/tmp/pool.log 2>&1 || { pool_ok=0; pdetail="migrate failed"; }; }
    inpool=$(xl list -c vt-domu 2>/dev/null | awk 'NR==2{print $NF}')
    [ "$inpool" = vt-pool ] || { pool_ok=0; pdetail="$pdetail domain in pool '$inpool'"; }
    logcmd cpupool xl cpupool-list -c
    xl cpupool-migrate vt-domu Pool-0 >>/tmp/pool.log 2>&1 || { pool_ok=0; pdetail="$pdetail migrate back failed"; }
    xl cpupool-destroy vt-pool >>/tmp/pool.log 2>&1 || { pool_ok=0; pdetail="$pdetail destroy failed"; }
    xl cpupool-cpu-add Pool-0 6,7 >>/tmp/pool.log 2>&1 || { pool_ok=0; pdetail="$pdetail cpu-add back failed"; }
    npool=$(xl cpupool-list | awk 'NR>1' | wc -l)
    [ "$npool" = 1 ] || { pool_ok=0; pdetail="$pdetail $npool pools left"; }
    if [ $pool_ok = 1 ]; then
        check cpupool PASS "created vt-pool (credit2, cpus 6-7), moved domain in and back, destroyed"
    else
        check cpupool FAIL "$pdetail"
        logcmd cpupool cat /tmp/pool.log
    fi

    # ---------------------------------------------------------------- slice cost
    if [ -x /vtasos/bin/vtasos-xen-slice-bench ]; then
        out=$(timeout 120 vtasos-xen-slice-bench --domid "$DOMID" --count "$BENCH_COUNT" 2>&1)
        rc=$?
        echo "$out" | while IFS= read -r l; do echo "VTASOS-XEN-LOG slice-bench: $l"; done
        echo "$out" | grep -E '^(slice|ratio) ' | while read -r l; do info "$l"; done
        if [ $rc = 0 ]; then
            check slice-bench PASS "$(echo "$out" | grep '^ratio' | head -1)"
        else
            check slice-bench FAIL "exit=$rc"
        fi
    fi

    # Hand pins off again: vtasosd places this domain when its agent asks.
    xl vcpu-pin vt-domu all all >/dev/null 2>&1
fi

# Two more domains for the bandwidth placement (created paused: placement needs the
# vCPUs, not a boot): the xen driver's own check first, then vtasosd's.
for d in vt-hi vt-lo; do
    domu_cfg $d 2
    timeout 120 xl create -p /tmp/$d.cfg >/tmp/$d.create 2>&1 || logcmd $d cat /tmp/$d.create
done
[ -x /vtasos/bin/xen_dom0_check ] && run_dom0_check domains --high vt-hi --low vt-lo \
    --switches "$BENCH_COUNT"

# ------------------------------------------------------------------ vtasosd --driver xen
DAEMON=0
VS=/run/vtasos/vtasosd.sock
ctl() { timeout 30 vtasosctl --socket $VS "$@"; }
# Sockets of a domain's vCPU hard affinities (each must be one CPU), e.g. "0 2".
vcpu_cpus() { xl vcpu-list "$1" 2>/dev/null | awk 'NR>1{print $7}' | tr '\n' ' '; }
socket_of() { awk -v c="$1" '$1==c{print $3}' /tmp/cputopo; }
distinct_sockets() {  # distinct_sockets "CPU CPU ..." -> count, or "x" when one is not a single CPU
    for c in $1; do
        case "$c" in *[!0-9]*) echo x; return ;; esac
        socket_of "$c"
    done | sort -u | wc -l
}
if [ -x /vtasos/bin/vtasosd ] && [ -x /vtasos/bin/vtasosctl ]; then
    vtasosd --foreground --no-state --driver xen --sched-policy gang --slice-ms 100 \
        --socket $VS >/tmp/vtasosd.log 2>&1 &
    VPID=$!
    if wait_for 150 test -S $VS; then
        DAEMON=1
        ctl topology --json >/tmp/topo.json 2>&1
        rc=$?
        npk=$(tr -d ' \n' </tmp/topo.json | grep -o '"num_packages":[0-9]*' | cut -d: -f2)
        nnode=$(tr -d ' \n' </tmp/topo.json | grep -o '"num_numa":[0-9]*' | cut -d: -f2)
        src=$(tr -d ' \n' </tmp/topo.json | grep -o '"source":"[^"]*"')
        if [ $rc = 0 ] && [ "$npk" = "$EXPECT_SOCKETS" ] && [ "$nnode" = "$EXPECT_NODES" ]; then
            check topology-vtasosd PASS "packages=$npk numa=$nnode $src"
        else
            check topology-vtasosd FAIL "exit=$rc packages=$npk numa=$nnode (want $EXPECT_SOCKETS, $EXPECT_NODES) $src"
            logcmd topology cat /tmp/topo.json
        fi
    else
        check topology-vtasosd FAIL "vtasosd --driver xen did not start"
        logcmd vtasosd cat /tmp/vtasosd.log
    fi
else
    check topology-vtasosd SKIP "vtasosd/vtasosctl not in the image (not built with the xen driver)"
fi

if [ $DAEMON = 1 ] && [ -n "$DOMID" ]; then
    # (d) the guest channel: the domU's agent asked through xenstore; vtasosd answers.
    if [ -f /vtasos/domu-has-agent ]; then
        if wait_for 600 xenstore-read /local/domain/$DOMID/data/vtasos/advice; then
            adv=$(xenstore-read /local/domain/$DOMID/data/vtasos/advice 2>&1 | tr -d '\n' | cut -c1-300)
            case "$adv" in
            *'"ok":true'* | *'"ok": true'*)
                check channel-advice PASS "advice for dom $DOMID: $adv"
                # The placement in the advice is what Xen must enforce on the domain.
                want=$(xenstore-read /local/domain/$DOMID/data/vtasos/advice | tr -d ' \n' \
                    | grep -o '"pus":\[[0-9,]*\]' | grep -o '[0-9]*' | tr '\n' ' ')
                got=$(vcpu_cpus vt-domu)
                if [ -n "$want" ] && [ "$want" = "$got" ]; then
                    check channel-pinned PASS "vCPU hard affinity [$got] = advised placement"
                else
                    check channel-pinned FAIL "vCPU hard affinity [$got], advised placement [$want]"
                fi
                ;;
            *) check channel-advice FAIL "advice for dom $DOMID: $adv" ;;
            esac
        else
            check channel-advice FAIL "no advice in /local/domain/$DOMID/data/vtasos/advice within 60 s"
            logcmd vtasosd cat /tmp/vtasosd.log
        fi
        wait_for 300 grep -q VTASOS-DOMU-AGENT /var/log/xen/console/guest-vt-domu.log
        logcmd domu-console grep VTASOS-DOMU /var/log/xen/console/guest-vt-domu.log
    fi

    # (b) bandwidth high -> one core per socket, low -> packed, as the solver decided;
    # read back from Xen (xl vcpu-list: xc_vcpu_getaffinity).
    ctl register --domain vt-hi --cpus 2 --coexist socket --bandwidth high --json >/tmp/reg-hi.json 2>&1
    rh=$?
    ctl register --domain vt-lo --cpus 2 --coexist socket --bandwidth low --json >/tmp/reg-lo.json 2>&1
    rl=$?
    hi=$(vcpu_cpus vt-hi)
    lo=$(vcpu_cpus vt-lo)
    shi=$(distinct_sockets "$hi")
    slo=$(distinct_sockets "$lo")
    phi=$(tr -d ' \n' </tmp/reg-hi.json | grep -o '"pus":\[[0-9,]*\]' | grep -o '[0-9]*' | tr '\n' ' ')
    plo=$(tr -d ' \n' </tmp/reg-lo.json | grep -o '"pus":\[[0-9,]*\]' | grep -o '[0-9]*' | tr '\n' ' ')
    detail="high: solver pus [$phi] xen hard affinity [$hi] sockets=$shi; low: solver pus [$plo] xen [$lo] sockets=$slo"
    if [ $rh = 0 ] && [ $rl = 0 ] && [ "$shi" = 2 ] && [ "$slo" = 1 ] && [ "$phi" = "$hi" ] \
        && [ "$plo" = "$lo" ]; then
        check placement-bandwidth PASS "$detail"
    else
        check placement-bandwidth FAIL "register exit $rh/$rl; $detail"
        logcmd register cat /tmp/reg-hi.json /tmp/reg-lo.json
    fi
    logcmd status ctl status
    ctl release xen-vt-hi >/dev/null 2>&1
    ctl release xen-vt-lo >/dev/null 2>&1
    xl destroy vt-hi >/dev/null 2>&1
    xl destroy vt-lo >/dev/null 2>&1

    # (d) gang: two domains sharing PUs, paused and unpaused in turns by vtasosd.
    gang_reg=0
    for d in vt-g1 vt-g2; do
        domu_cfg $d 4 "" "maxcpus=1"
        timeout 120 xl create /tmp/$d.cfg >/tmp/$d.create 2>&1 || logcmd $d cat /tmp/$d.create
        if ctl register --domain $d --cpus 4 --coexist pu --gang --json >/tmp/reg-$d.json 2>&1; then
            gang_reg=$((gang_reg + 1))
        else
            logcmd register cat /tmp/reg-$d.json
        fi
    done
    p1=0 p2=0 both=0 n=0
    while [ $n -lt 20 ]; do
        l=$(xl list 2>/dev/null)
        s1=$(echo "$l" | awk '$1=="vt-g1"{print $5}')
        s2=$(echo "$l" | awk '$1=="vt-g2"{print $5}')
        [ "${s1#*p}" != "$s1" ] && p1=$((p1 + 1))
        [ "${s2#*p}" != "$s2" ] && p2=$((p2 + 1))
        [ "${s1#*p}" != "$s1" ] && [ "${s2#*p}" != "$s2" ] && both=$((both + 1))
        n=$((n + 1))
    done
    ctl status >/tmp/status.txt 2>&1
    logcmd status cat /tmp/status.txt
    gdetail="of $n samples: vt-g1 paused $p1, vt-g2 paused $p2, both $both"
    if [ $p1 -gt 0 ] && [ $p1 -lt $n ] && [ $p2 -gt 0 ] && [ $p2 -lt $n ]; then
        check gang-pause PASS "$gdetail"
    else
        check gang-pause FAIL "$gdetail"
    fi
    for d in vt-g1 vt-g2; do ctl release xen-$d >/dev/null 2>&1; done
    sleep 0.5
    s1=$(domu_state vt-g1)
    s2=$(domu_state vt-g2)
    if [ $gang_reg != 2 ]; then
        check gang-release SKIP "the gang domains were not registered"
    elif [ "${s1#*p}" = "$s1" ] && [ "${s2#*p}" = "$s2" ]; then
        check gang-release PASS "released domains left running (states $s1 $s2)"
    else
        check gang-release FAIL "a released domain stayed paused (states $s1 $s2)"
    fi
    xl destroy vt-g1 >/dev/null 2>&1
    xl destroy vt-g2 >/dev/null 2>&1
fi

if [ -n "$DOMID" ]; then
    xl destroy vt-domu >/dev/null 2>&1
    if wait_for 100 sh -c '! xl domid vt-domu'; then
        check domu-destroy PASS "domain gone"
    else
        check domu-destroy FAIL "vt-domu still listed"
    fi
fi

if [ $DAEMON = 1 ]; then
    logcmd vtasosd cat /tmp/vtasosd.log
    kill $VPID 2>/dev/null
fi
logcmd xl-list xl list
finish
