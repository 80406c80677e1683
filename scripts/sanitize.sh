#!/usr/bin/env bash
# The CPU test suite under AddressSanitizer + UndefinedBehaviorSanitizer: the asan preset
# (build-asan/, no CUDA, no benchmarks). The tests that train on the real IMDB archive
# (RealImdb*, TrainPredictEvalAndMismatchedCheckpoint) are slow under the sanitizers and left
# out by the preset; SANITIZE_REAL_DATA=1 runs them too.
#   scripts/sanitize.sh                  # the preset's tests
#   scripts/sanitize.sh -R Checkpoint    # extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset asan >/dev/null
cmake --build --preset asan
# OpenBLAS's worker threads keep their buffers until exit, which LeakSanitizer would report:
# the preset runs BLAS single-threaded.
if [ "${SANITIZE_REAL_DATA:-0}" = 1 ]; then
  ctest --preset asan -E '^$' "$@"
else
  ctest --preset asan "$@"
fi
