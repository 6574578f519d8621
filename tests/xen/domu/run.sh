#!/bin/busybox sh
# The fixture's PV domU program (run by vtasos-init under busybox sh): says it is up,
# asks vtasosd for CPUs through xenstore when the guest agent is in the image, then
# idles until dom0 destroys the domain.
echo "VTASOS-DOMU-UP"
if [ -x /vtasos/agent ]; then
    /bin/busybox mkdir -p /dev/xen
    # vtasosd may start after us and only sees writes made while it watches: ask again
    # (rewriting the request) until it answers (exit 0/1) or 10 tries have passed.
    try=0
    while :; do
        out=$(/vtasos/agent request --cpus 2 --coexist core --bandwidth high --gang --wait 15 2>&1)
        rc=$?
        try=$((try + 1))
        [ $rc != 2 ] || [ $try -ge 10 ] && break
    done
    echo "VTASOS-DOMU-AGENT exit=$rc tries=$try $(echo "$out" | /bin/busybox tr '\n' ' ')"
fi
while :; do /bin/busybox sleep 1000; done
