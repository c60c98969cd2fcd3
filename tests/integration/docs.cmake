# Operator documentation (issue 10): none of these needs root or a network, so they are
# `unit` tests (x86_64 tree only: they run the built binaries), labelled `docs` too.
#   test_docs_man       every option and command of each --help, every console form and
#                       relay directive is in its man page; man and groff render without warnings
#   test_docs_install   tools/install.sh (make install) into a DESTDIR: layout, man by name,
#                       systemd-analyze verify of the unit, the example relay.conf is valid
#   test_docs_verdicts  tools/check_verdicts.py: every verdict string is in docs/troubleshooting.md
add_test(NAME test_docs_man
  COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_docs_man.py ${CMAKE_SOURCE_DIR}
          $<TARGET_FILE:gateway> $<TARGET_FILE:relay> $<TARGET_FILE:flashtool>)
add_test(NAME test_docs_install
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_docs_install.sh ${CMAKE_SOURCE_DIR}
          $<TARGET_FILE:gateway> $<TARGET_FILE:relay> $<TARGET_FILE:flashtool>)
add_test(NAME test_docs_verdicts
  COMMAND python3 ${CMAKE_SOURCE_DIR}/tools/check_verdicts.py --root ${CMAKE_SOURCE_DIR})
set_tests_properties(test_docs_man test_docs_install test_docs_verdicts
  PROPERTIES LABELS "unit;docs" TIMEOUT 120)
# The operator guide replayed (needs root: a network namespace and TAP), like the other
# integration tests: docs/operator-guide.md's steps, checked line by line.
add_test(NAME test_docs_guide
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_docs_guide.sh $<TARGET_FILE:gateway>
          $<TARGET_FILE:relay> $<TARGET_FILE:flashtool> ${CMAKE_SOURCE_DIR}/tests/unit/make_pki.sh)
set_tests_properties(test_docs_guide PROPERTIES LABELS "integration;docs" RUN_SERIAL ON TIMEOUT 300)
