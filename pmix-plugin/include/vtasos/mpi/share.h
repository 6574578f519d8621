/* The rank's share, as the vtasos Open MPI hook publishes it.
 *
 * After MPI_Init placed a rank, the hook sets these variables in the rank's
 * own environment (setenv, before MPI_Init returns), so that other vtasos
 * pieces in the same process find the share without registering again:
 * the OMPT tool binds OpenMP thread n to the n-th CPU of the share, and the
 * PMPI library sends its MPI synchronisation profile to the job tenant.
 * They are unset when the rank is not placed (daemon absent, timeout, hook
 * disabled, hook_vtasos_binding=respect with mpirun binding).
 *
 *   VTASOS_MPI_TENANT   tenant holding the share ("mpi-<nspace>-n<node>", or
 *                       "<that>.r<local rank>" with a daemon without "join")
 *   VTASOS_MPI_SHARE    the share as Placement JSON: {"tenant":..,"cpus":[{"cpu":0,"pus":[..]},..],
 *                       "mem_nodes":[..]} - one entry per thread of the rank
 *   VTASOS_MPI_PUS      the union of the share's PUs, kernel cpulist format ("2-3")
 *   VTASOS_MPI_SOCKET   the daemon socket the hook used
 *   VTASOS_MPI_RANK     "<rank> <local rank> <local size>"
 */
#ifndef VTASOS_MPI_SHARE_H
#define VTASOS_MPI_SHARE_H

#define VTASOS_MPI_ENV_TENANT "VTASOS_MPI_TENANT"
#define VTASOS_MPI_ENV_SHARE "VTASOS_MPI_SHARE"
#define VTASOS_MPI_ENV_PUS "VTASOS_MPI_PUS"
#define VTASOS_MPI_ENV_SOCKET "VTASOS_MPI_SOCKET"
#define VTASOS_MPI_ENV_RANK "VTASOS_MPI_RANK"

#endif /* VTASOS_MPI_SHARE_H */
