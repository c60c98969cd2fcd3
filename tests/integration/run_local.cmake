# make run (tools/run-local.sh) on a pseudo-terminal, in both of its modes (issue 10): as
# root (its own network namespace, TAP) and without root (passt; the test makes the network
# namespace and drops to nobody); and as root with STORE=dovecot (issue 19: the relay's
# `spool lmtp` into a second Dovecot, read back over IMAPS). Story, console, Ctrl-D,
# nothing left behind.
foreach(mode root user store)
  add_test(NAME test_run_local_${mode}
    COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_run_local.py ${mode} ${CMAKE_SOURCE_DIR}
            $<TARGET_FILE:gateway> $<TARGET_FILE:relay>)
  set_tests_properties(test_run_local_${mode} PROPERTIES
    LABELS integration RUN_SERIAL ON TIMEOUT 300)
endforeach()
