# Extra checks for the clean-room MG and FT kernels (npb-mg, npb-ft), on top of the generic
# class-S / corrupt / bad-argument tests every kernel gets. Include from this folder's
# CMakeLists.txt: include(${CMAKE_CURRENT_SOURCE_DIR}/mg_ft_tests.cmake). Each test takes well
# under a second on one core.

if(TARGET npb-mg)
  # Class W (128^3, 4 V-cycles) verifies against the reference L2 norm at 2 threads.
  add_test(NAME npb_mg_W_t2 COMMAND npb-mg --class W --threads 2)
  set_tests_properties(npb_mg_W_t2 PROPERTIES
    PASS_REGULAR_EXPRESSION "Verification += +SUCCESSFUL"
    LABELS "nas;integration" TIMEOUT 120)
  # The MG-specific verification block precedes the report, NPB style.
  add_test(NAME npb_mg_S_norm_block COMMAND npb-mg --class S --threads 1)
  set_tests_properties(npb_mg_S_norm_block PROPERTIES
    PASS_REGULAR_EXPRESSION " VERIFICATION SUCCESSFUL \n L2 Norm is  +0\\.5307707005[0-9]+E-04\n"
    LABELS "nas;integration" TIMEOUT 60)
  # Odd thread count: planes split unevenly across threads must still verify.
  add_test(NAME npb_mg_S_t3 COMMAND npb-mg --class S --threads 3)
  set_tests_properties(npb_mg_S_t3 PROPERTIES
    PASS_REGULAR_EXPRESSION "Verification += +SUCCESSFUL"
    LABELS "nas;integration" TIMEOUT 60)
  # --corrupt-result shows up in the MG block too.
  add_test(NAME npb_mg_S_corrupt_block COMMAND npb-mg --class S --corrupt-result)
  set_tests_properties(npb_mg_S_corrupt_block PROPERTIES
    PASS_REGULAR_EXPRESSION " VERIFICATION FAILED\n"
    LABELS "nas;integration" TIMEOUT 60)
endif()

if(TARGET npb-ft)
  # Class W (128x128x32, 6 steps) verifies against the reference checksums at 2 threads.
  add_test(NAME npb_ft_W_t2 COMMAND npb-ft --class W --threads 2)
  set_tests_properties(npb_ft_W_t2 PROPERTIES
    PASS_REGULAR_EXPRESSION "Verification += +SUCCESSFUL"
    LABELS "nas;integration" TIMEOUT 120)
  # Every step prints its checksum in the NPB format; step 1 and 6 of class S, digit for digit
  # as far as the reference values go (last printed digit may differ by rounding).
  add_test(NAME npb_ft_S_checksums COMMAND npb-ft --class S --threads 1)
  set_tests_properties(npb_ft_S_checksums PROPERTIES
    PASS_REGULAR_EXPRESSION
      " T =    1     Checksum =    5\\.54608700496[0-9]D\\+02    4\\.84536333197[0-9]D\\+02\n.* T =    6     Checksum =    5\\.54268341190[0-9]D\\+02    4\\.93259724494[0-9]D\\+02\n Result verification successful\n"
    LABELS "nas;integration" TIMEOUT 60)
  add_test(NAME npb_ft_S_t3 COMMAND npb-ft --class S --threads 3)
  set_tests_properties(npb_ft_S_t3 PROPERTIES
    PASS_REGULAR_EXPRESSION "Verification += +SUCCESSFUL"
    LABELS "nas;integration" TIMEOUT 60)
  add_test(NAME npb_ft_S_corrupt_block COMMAND npb-ft --class S --corrupt-result)
  set_tests_properties(npb_ft_S_corrupt_block PROPERTIES
    PASS_REGULAR_EXPRESSION " Result verification failed\n"
    LABELS "nas;integration" TIMEOUT 60)
endif()
