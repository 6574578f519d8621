#!/bin/sh
# Overhead of libvtasos-ompt on the NAS kernels and the barrier microbenchmark,
# as one Markdown table (until `vtasos-bench overhead` is the reference).
#   run_overhead.sh BUILD_DIR [KERNEL_DIR] [CLASS] [THREADS] [REPS]
# BUILD_DIR holds bin/vtasos-ompt-overhead, bin/barrier_bench, lib/libvtasos-ompt.so;
# KERNEL_DIR holds the NAS kernels ep is cg mg ft (default BUILD_DIR/nas-harness/bin;
# kernels not found are skipped). Defaults: class A, 2 threads, 7 repetitions.
set -eu
build=${1:?usage: run_overhead.sh BUILD_DIR [KERNEL_DIR] [CLASS] [THREADS] [REPS]}
kdir=${2:-$build/nas-harness/bin}
class=${3:-A}
threads=${4:-2}
reps=${5:-7}
runner=$build/bin/vtasos-ompt-overhead
tool=$build/lib/libvtasos-ompt.so
# No daemon during the measurement: learning only, as most runs of a new code.
common="--reps $reps --tool $tool --env OMP_NUM_THREADS=$threads --tool-env VTASOS_SOCKET=/nonexistent/vtasos.sock"

"$runner" --header
for k in ep is cg mg ft; do
  if [ -x "$kdir/$k" ]; then
    # shellcheck disable=SC2086
    "$runner" $common --name "$k.$class x$threads" --metric 'Time in seconds = *([0-9.]+)' \
      -- "$kdir/$k" --class "$class" --threads "$threads"
  else
    echo "| $k.$class x$threads | - | not built ($kdir/$k) | | | | | |"
  fi
done
# shellcheck disable=SC2086
"$runner" $common --name "barrier_bench 1e5 x$threads" --metric 'time_s=([0-9.]+)' \
  -- "$build/bin/barrier_bench" --barriers 100000
