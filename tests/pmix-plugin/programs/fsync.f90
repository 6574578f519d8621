! Fortran (use mpi) test program for libvtasos-pmpi: a known number of
! collectives, point-to-point calls and waits, then "result ok" from rank 0.
program fsync
  use mpi
  implicit none
  integer :: ierr, rank, size, i, req, peer
  integer :: status(MPI_STATUS_SIZE)
  double precision :: x, s
  integer :: n

  call MPI_Init(ierr)
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)
  call MPI_Comm_size(MPI_COMM_WORLD, size, ierr)
  n = 0
  s = 0.0d0
  do i = 1, 50
     x = dble(rank + i)
     call MPI_Allreduce(x, s, 1, MPI_DOUBLE_PRECISION, MPI_SUM, MPI_COMM_WORLD, ierr)
     call MPI_Barrier(MPI_COMM_WORLD, ierr)
     n = n + 1
  end do
  call MPI_Bcast(n, 1, MPI_INTEGER, 0, MPI_COMM_WORLD, ierr)
  if (size > 1) then
     peer = mod(rank + 1, size)
     call MPI_Isend(n, 1, MPI_INTEGER, peer, 7, MPI_COMM_WORLD, req, ierr)
     call MPI_Recv(i, 1, MPI_INTEGER, MPI_ANY_SOURCE, 7, MPI_COMM_WORLD, status, ierr)
     call MPI_Wait(req, status, ierr)
  end if
  if (rank == 0) then
     if (abs(s - dble(size * 50 + size * (size - 1) / 2)) < 1.0d-9 .and. n == 50) then
        print '(a)', 'result ok'
     else
        print '(a, f12.3)', 'result WRONG ', s
     end if
  end if
  call MPI_Finalize(ierr)
end program fsync
