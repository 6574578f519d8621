#!/bin/sh
# Stand-in for a NAS kernel binary in vtasos-bench tests: link or copy it as ep, is, cg, mg or ft.
# Accepts --class X --threads N like our kernels and prints an NPB 3.4 style report.
# Behaviour per kernel: FAKE_NPB_<KERNEL>=ok|crash|hang|unverified|truncated|garbage|fail
# (e.g. FAKE_NPB_CG=hang), else FAKE_NPB_MODE, else ok. FAKE_NPB_SLEEP: seconds to "compute".
name=$(basename "$0")
cls=S; threads=${OMP_NUM_THREADS:-1}
case "$name" in *.x) cls=$(echo "$name" | cut -d. -f2); name=${name%%.*} ;; esac  # NPB's cg.A.x
while [ $# -gt 0 ]; do
  case "$1" in
    --class) cls=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) shift ;;
  esac
done
upper=$(echo "$name" | tr 'a-z' 'A-Z')
eval "mode=\${FAKE_NPB_$upper:-\${FAKE_NPB_MODE:-ok}}"
sleep "${FAKE_NPB_SLEEP:-0.05}"
case "$mode" in
  crash) echo "fake $name: aborting" >&2; kill -ABRT $$ ;;
  hang) exec sleep 100000 ;;
  fail) echo "fake $name: cannot allocate memory" >&2; exit 3 ;;
  garbage) echo "this is not an NPB report"; exit 0 ;;
esac
# Under mpirun only rank 0 reports, like NPB's MPI programs.
[ "${OMPI_COMM_WORLD_RANK:-0}" = 0 ] || exit 0
procs=${OMPI_COMM_WORLD_SIZE:-}
verif=SUCCESSFUL
[ "$mode" = unverified ] && verif=UNSUCCESSFUL
# A little jitter so that statistics have something to work on.
jit=$(( ($$ * 7919) % 97 ))
printf '\n\n %s Benchmark Completed.\n' "$upper"
printf ' Class           =                        %s\n' "$cls"
printf ' Size            =                     1400\n'
printf ' Iterations      =                       15\n'
printf ' Time in seconds =                     0.%02d\n' $(( 40 + jit % 10 ))
if [ "$mode" = truncated ]; then exit 0; fi
if [ -n "$procs" ]; then
  printf ' Total processes =             %12d\n' "$procs"
  printf ' Active processes=             %12d\n' "$procs"
else
  printf ' Total threads   =             %12d\n' "$threads"
  printf ' Avail threads   =             %12d\n' "$threads"
fi
printf ' Mop/s total     =                  %d.%02d\n' $(( 1000 + jit )) $(( jit % 100 ))
printf ' Mop/s/thread    =                   500.00\n'
printf ' Operation type  =           floating point\n'
printf ' Verification    =             %12s\n' "$verif"
printf ' Version         =                    3.4.2\n'
printf ' Compile date    =              01 Jan 2026\n'
[ "$verif" = SUCCESSFUL ] || exit 1
exit 0
