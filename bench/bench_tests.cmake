# Tests of the benchmark tooling, included from the Benchmarks section of CMakeLists.txt
# (label "bench"): the regression guard on two fixture pairs, and the dataset export read
# back by the PyTorch peer's loader (skipped where numpy is missing).
set(_fixtures ${CMAKE_SOURCE_DIR}/bench/fixtures)
add_test(NAME compare_bench_steady
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/scripts/compare_bench.py ${_fixtures}/baseline.json ${_fixtures}/steady.json)
# A 12% slower median must fail the comparison (exit 1) and be named.
add_test(NAME compare_bench_regressed
  COMMAND sh -c "out=$(\"$0\" \"$1\" \"$2\" \"$3\"); rc=$?; printf '%s\\n' \"$out\"; [ $rc -eq 1 ] && printf '%s\\n' \"$out\" | grep -q 'SLOWER cpu_layer/cell:gru/layout:packed'"
    ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/scripts/compare_bench.py ${_fixtures}/baseline.json ${_fixtures}/regressed.json)
set_tests_properties(compare_bench_steady compare_bench_regressed PROPERTIES LABELS bench)

if(TARGET export_dataset)
  add_test(NAME export_dataset_quick
    COMMAND sh -c "rm -rf \"$2\" && \"$0\" --quick --epochs 2 --out \"$2\" && \"$1\" \"$3\" --check-export \"$2\""
      $<TARGET_FILE:export_dataset> ${Python3_EXECUTABLE} ${CMAKE_BINARY_DIR}/bench-export-quick
      ${CMAKE_SOURCE_DIR}/bench/peer_pytorch.py)
  set_tests_properties(export_dataset_quick PROPERTIES LABELS bench SKIP_RETURN_CODE 77 TIMEOUT 120)
endif()

# The report renders every section from a fixture GPU result (synthetic numbers), tables only.
add_test(NAME report_fixture
  COMMAND sh -c "\"$0\" \"$1\" --results \"$2\" --out \"$3\" --accuracy /nonexistent --no-install && grep -q 'Packed over padded on random IMDB batches (GRU layer, forward+backward): \\*\\*3.80×' \"$3\" && grep -q 'vs PyTorch' \"$3\""
    ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/scripts/report.py ${_fixtures}/results ${CMAKE_BINARY_DIR}/REPORT-fixture.md)
set_tests_properties(report_fixture PROPERTIES LABELS bench)
