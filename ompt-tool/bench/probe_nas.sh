#!/bin/sh
# Bandwidth probe on the NAS kernels: each kernel runs with 1 thread on 1 PU
# as a tenant of a private vtasosd (vtasosctl run; the OMPT tool joins that
# tenant), and `vtasosctl probe` streams on the other PUs. Prints one Markdown
# row per kernel: drop (median of the on windows), class, windows used, and
# the reason. Needs >= 2 PUs and a quiet machine.
#   probe_nas.sh BUILD_DIR [CLASS] [DURATION_MS] [KERNELS...]
# Defaults: class B, 8000 ms, ep is cg mg ft.
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
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$dir"' EXIT
i=0
while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
ctl="$build/bin/vtasosctl --socket $sock"
echo "| kernel | drop | class | windows used / skipped | reason |"
echo "|---|---|---|---|---|"
for k in $kernels; do
  tenant=probe-$k
  OMP_NUM_THREADS=1 OMP_TOOL_LIBRARIES=$build/lib/libvtasos-ompt.so \
    $ctl run --tenant "$tenant" --cpus 1 -- "$kdir/$k" --class "$class" --threads 1 \
    >"$dir/$k.out" 2>&1 &
  app=$!
  sleep 2  # past start-up and the tool's first observations
  if $ctl probe --tenant "$tenant" --duration-ms "$duration" >/dev/null 2>"$dir/err"; then
    sleep $((duration / 1000 + 1))
    i=0
    while :; do
      $ctl probe --tenant "$tenant" --result --json >"$dir/r.json" 2>/dev/null || true
      if ! grep -q '"state": *"running"' "$dir/r.json" || [ $i -ge 30 ]; then break; fi
      sleep 0.5
      i=$((i + 1))
    done
    python3 - "$k.$class" "$dir/r.json" <<'EOF'
import json, sys
name, path = sys.argv[1], sys.argv[2]
try:
    r = json.load(open(path))
    r = r.get("probe", r)
except Exception as e:
    print(f"| {name} | - | - | - | no report: {e} |")
    sys.exit(0)
used = len(r.get("drops", []))
print(f"| {name} | {100 * r.get('drop', 0):.1f} % | {r.get('bandwidth', '?')} | "
      f"{used} / {r.get('skipped_windows', 0)} | {r.get('reason', r.get('error', ''))} |")
EOF
  else
    echo "| $k.$class | - | - | - | probe refused: $(cat "$dir/err") |"
  fi
  kill "$app" 2>/dev/null || true
  wait "$app" 2>/dev/null || true
done
