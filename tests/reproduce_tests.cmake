# The accuracy tooling's smoke test (label "cpu"), included from the Tests section of
# CMakeLists.txt: scripts/reproduce.py --quick on one preset writes its JSON and Markdown.
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  add_test(NAME reproduce_quick
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/reproduce_smoke.py ${CMAKE_BINARY_DIR}
      ${CMAKE_BINARY_DIR}/reproduce-quick)
  set_tests_properties(reproduce_quick PROPERTIES LABELS cpu SKIP_RETURN_CODE 77 TIMEOUT 120)
endif()
