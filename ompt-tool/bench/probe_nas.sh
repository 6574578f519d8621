#!/bin/sh
# Bandwidth probe on the NAS kernels: each kernel runs with 1 thread on 1 PU
# as a tenant of a private vtasosd (vtasosctl run; the OMPT tool joins that
# tenant), and `vtasosctl probe` streams on the other PUs. Prints one Markdown
# row per kernel: drop (median of the on windows), class, windows used, and
# the reason. Needs >= 2 PUs and a quiet machine. PROBE_DELAY (s, default 2):
# when the probe starts (after a kernel's serial initialisation).
#   probe_nas.sh BUILD_DIR [CLASS] [DURATION_MS] [KERNEL[.CLASS]...]
# Defaults: class B, 8000 ms, ep is cg mg ft. A kernel must outlive its probe
# (start-up + 2 s + DURATION_MS): e.g. `mg.C is.C` where class B is too short.
set -eu
build=${1:?usage: probe_nas.sh BUILD_DIR [CLASS] [DURATION_MS] [KERNELS...]}
class=${2:-B}
duration=${3:-8000}
shift $(($# < 3 ? $# : 3))
kernels=${*:-ep is cg mg ft}
kdir=$build/nas-harness/bin
dir=$(mktemp -d /tmp/vtasos-probe-nas.XXXXXX)
sock=$dir/vtasosd.sock
"$build/bin/vtasosd" --socket "$sock" --state "$dir/state.json" --foreground \
  --topology live --log-level info 2>"$dir/vtasosd.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
i=0
while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
ctl="$build/bin/vtasosctl --socket $sock"
echo "| kernel | drop | class | windows used / skipped | reason |"
echo "|---|---|---|---|---|"
for spec in $kernels; do
  kernel=${spec%%.*}
  kclass=$class
  [ "$spec" != "$kernel" ] && kclass=${spec#*.}
  k=$kernel.$kclass
  tenant=probe-$kernel
  OMP_NUM_THREADS=1 OMP_TOOL_LIBRARIES=$build/lib/libvtasos-ompt.so \
    $ctl run --tenant "$tenant" --cpus 1 -- "$kdir/$kernel" --class "$kclass" --threads 1 \
    >"$dir/$k.out" 2>&1 &
  app=$!
  sleep "${PROBE_DELAY:-2}"  # past start-up (PROBE_DELAY s) and the tool's first observations
  # vtasosctl probe waits for the end of the probe and prints the report.
  $ctl probe --tenant "$tenant" --duration-ms "$duration" --json >"$dir/r.json" 2>"$dir/err" || true
  python3 - "$k" "$dir/r.json" "$dir/err" <<'EOF'
import json, sys
name, path, err = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    r = json.load(open(path))
except Exception:
    print(f"| {name} | - | - | - | {open(err).read().strip()} |")
    sys.exit(0)
used = len(r.get("drops", []))
print(f"| {name} | {100 * r.get('drop', 0):.1f} % | {r.get('bandwidth', '?')} | "
      f"{used} / {r.get('skipped_windows', 0)} | {r.get('reason', r.get('error', ''))} |")
EOF
  kill "$app" 2>/dev/null || true
  wait "$app" 2>/dev/null || true
done
