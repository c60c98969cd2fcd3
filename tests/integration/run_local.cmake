# make run (tools/run-local.sh) on a pseudo-terminal, in both of its modes (issue 10): as
# root (its own network namespace, TAP) and without root (passt; the test makes the network
# namespace and drops to nobody). Story, console, Ctrl-D, nothing left behind.
foreach(mode root user)
  add_test(NAME test_run_local_${mode}
    COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_run_local.py ${mode} ${CMAKE_SOURCE_DIR}
            $<TARGET_FILE:gateway> $<TARGET_FILE:relay>)
  set_tests_properties(test_run_local_${mode} PROPERTIES
    LABELS integration RUN_SERIAL ON TIMEOUT 300)
endforeach()
