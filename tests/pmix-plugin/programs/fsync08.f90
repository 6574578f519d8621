! The same as fsync.f90 through the mpi_f08 module.
program fsync08
  use mpi_f08
  implicit none
  integer :: rank, size, i, n
  double precision :: x, s

  call MPI_Init()
  call MPI_Comm_rank(MPI_COMM_WORLD, rank)
  call MPI_Comm_size(MPI_COMM_WORLD, size)
  n = 0
  do i = 1, 30
     x = dble(rank + i)
     call MPI_Allreduce(x, s, 1, MPI_DOUBLE_PRECISION, MPI_SUM, MPI_COMM_WORLD)
     call MPI_Barrier(MPI_COMM_WORLD)
     n = n + 1
  end do
  if (rank == 0) then
     if (abs(s - dble(size * 30 + size * (size - 1) / 2)) < 1.0d-9 .and. n == 30) then
        print '(a)', 'result ok'
     else
        print '(a, f12.3)', 'result WRONG ', s
     end if
  end if
  call MPI_Finalize()
end program fsync08
