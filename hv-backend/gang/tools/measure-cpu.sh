#!/usr/bin/env bash
# Measures vtasosd's own CPU use (utime+stime from /proc) while two spinning
# tenants are gang-scheduled on the same PUs, per slice length.
#   hv-backend/gang/tools/measure-cpu.sh BUILD_DIR [SECONDS] [SLICES...]
#   e.g. hv-backend/gang/tools/measure-cpu.sh build 60 10 20 50
# Needs root and a v1 freezer (or v2) hierarchy. Prints one line per slice:
#   slice_ms=10 seconds=60 vtasosd_cpu_s=0.41 pct_of_one_core=0.68 switches=5987 ...
set -euo pipefail
build=${1:?build dir}; secs=${2:-60}; shift 2 || true
slices=("$@"); [ ${#slices[@]} -gt 0 ] || slices=(10 20 50)
vtasosd=$build/bin/vtasosd; ctl=$build/bin/vtasosctl
hz=$(getconf CLK_TCK); npus=$(nproc)
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
for slice in "${slices[@]}"; do
  dir=$(mktemp -d /tmp/vtasos-cpu.XXXXXX); parent="vtasos-cpu-$$-$slice"
  "$vtasosd" --foreground --socket "$dir/s" --state "$dir/state.json" --cgroup-parent "$parent" \
    --sched-policy gang --slice-ms "$slice" >"$dir/log" 2>&1 & d=$!
  for _ in $(seq 100); do [ -S "$dir/s" ] && "$ctl" --socket "$dir/s" status >/dev/null 2>&1 && break; sleep 0.1; done
  ( while :; do :; done ) & a=$!
  ( while :; do :; done ) & b=$!
  "$ctl" --socket "$dir/s" register --detached --tenant spin-a --cpus "$npus" --coexist pu --gang --pid $a >/dev/null
  "$ctl" --socket "$dir/s" register --detached --tenant spin-b --cpus "$npus" --coexist pu --gang --pid $b >/dev/null
  sleep 1
  t0=$(ticks $d); a0=$(ticks $a); b0=$(ticks $b)
  sleep "$secs"
  t1=$(ticks $d); a1=$(ticks $a); b1=$(ticks $b)
  kill -TERM $d; wait $d || true
  kill -KILL $a $b; wait $a $b 2>/dev/null || true
  stats=$(grep -o 'event=sched_stats.*' "$dir/log" | tail -1)
  awk -v s="$slice" -v n="$secs" -v t=$((t1 - t0)) -v hz="$hz" -v ta=$((a1 - a0)) -v tb=$((b1 - b0)) -v st="$stats" \
    'BEGIN { printf "slice_ms=%s seconds=%s vtasosd_cpu_s=%.2f pct_of_one_core=%.2f tenant_cpu_s=%.1f/%.1f %s\n", s, n, t/hz, 100*t/hz/n, ta/hz, tb/hz, st }'
  rm -rf "$dir"
  for c in cpuset freezer ""; do rmdir "/sys/fs/cgroup/${c:+$c/}$parent" 2>/dev/null || true; done
done
