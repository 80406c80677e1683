#!/usr/bin/env bash
# Builds the CPU test suite with AddressSanitizer + UndefinedBehaviorSanitizer
# (-DRNNB_SANITIZE=ON, no CUDA, no benchmarks) into build-asan/ and runs it with ctest.
#   scripts/sanitize.sh                  # all CPU tests
#   scripts/sanitize.sh -R Checkpoint    # extra arguments go to ctest
# The tests that train on the real IMDB archive are slow under the sanitizers; set
# SANITIZE_REAL_DATA=1 to include them (they are excluded by default to stay within minutes).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${SANITIZE_BUILD_DIR:-$root/build-asan}"
jobs="${SANITIZE_JOBS:-$(nproc)}"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRNNB_SANITIZE=ON -DRNNB_CUDA=OFF \
  -DRNNB_BENCH=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target rnnb_tests rnnbench

# halt_on_error: the first report fails the test. OpenBLAS's worker threads keep their
# buffers until exit, which LeakSanitizer would report, so BLAS runs single-threaded here.
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export OPENBLAS_NUM_THREADS=1
exclude=()
[ "${SANITIZE_REAL_DATA:-0}" = 1 ] || exclude=(-E 'RealImdb|TrainPredictEvalAndMismatchedCheckpoint')
cd "$build"
ctest -L cpu --output-on-failure -j "$jobs" --timeout 600 "${exclude[@]}" "$@"
