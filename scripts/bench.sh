#!/usr/bin/env bash
# Runs the benchmark suite on this machine and writes Google Benchmark JSON (with context:
# machine, libraries, commit, date) to results/bench/<device>/ (console logs to the ignored
# results/tmp/bench-logs/<device>/), then renders
# results/bench/REPORT.md with scripts/report.py.
#
# Usage: scripts/bench.sh [quick|default|full] [suite ...]
#   suites: blas (bench_blas_ceiling), cpu (bench_cpu_rnn), gpu (bench_rnn_layer),
#           train (bench_train); default: all of them (gpu only does anything with a GPU)
#   env: BUILD=build-bench  RESULTS=results/bench (quick: results/tmp/bench)  RNNB_DATA=<IMDB archive>
#        REPETITIONS=5 (layer and ceiling benches, interleaved)  NO_REPORT=1  FILTER=<regex for every suite>
#
#        scripts/bench.sh gpu-bundle
#   the same as scripts/build_gpu.sh (the benches travel in build-gpu/bundle.tar.xz).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-default}
[ $# -gt 0 ] && shift

[ "$mode" = gpu-bundle ] && exec scripts/build_gpu.sh

case "$mode" in
  quick|default|full) ;;
  *) echo "usage: scripts/bench.sh [quick|default|full] [blas|cpu|gpu|train ...] | gpu-bundle" >&2; exit 2 ;;
esac
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(blas cpu gpu train)

BUILD=${BUILD:-build-bench}
# Quick results only show that everything runs: they go to the ignored results/tmp/.
if [ "$mode" = quick ]; then RESULTS=${RESULTS:-results/tmp/bench}; else RESULTS=${RESULTS:-results/bench}; fi
REPETITIONS=${REPETITIONS:-5}
. scripts/common.sh
cmake --preset bench -B "$BUILD" > /dev/null
# bench_rnn_layer (cuDNN) exists only in a build with CUDA: without it the gpu suite says so.
targets=(bench_blas_ceiling bench_cpu_rnn bench_train)
has_gpu_bench=0
if grep -q '^RNNB_HAVE_CUDA:INTERNAL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  targets+=(bench_rnn_layer)
  has_gpu_bench=1
fi
cmake --build "$BUILD" -j"${JOBS:-2}" --target "${targets[@]}"

# The device the results belong to: the GPU's name, else the CPU model and core count.
device=$(device_name)
slug=$(echo "$device" | slugify)
[ "$mode" = quick ] && slug="$slug-quick"
out="$RESULTS/$slug"
logs="results/tmp/bench-logs/$slug"  # ignored; the JSON holds the results
mkdir -p "$out" "$logs"
export RNNB_COMMIT=${RNNB_COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
echo "bench: $mode mode, device '$device', results in $out/, load average $(cut -d' ' -f1-3 /proc/loadavg)"

mode_flags=()
[ "$mode" = quick ] && mode_flags+=(--quick)
[ "$mode" = full ] && mode_flags+=(--full)
[ -n "${RNNB_DATA:-}" ] && mode_flags+=("--data=$RNNB_DATA")

run_suite() {  # exe, extra flags...
  local exe=$1
  shift
  local json="$out/$exe.json"
  echo "== $exe"
  local start=$SECONDS
  # Written to a temp name and renamed, so an interrupted run leaves the last good file.
  local rc=0
  "$BUILD/$exe" "${mode_flags[@]}" --benchmark_out="$json.tmp" --benchmark_out_format=json \
    ${FILTER:+--benchmark_filter="$FILTER"} "$@" 2>&1 | tee "$logs/$exe.log" || rc=${PIPESTATUS[0]}
  if [ "$rc" -ne 0 ]; then
    echo "bench: $exe failed (exit $rc); see $logs/$exe.log" >&2
    rm -f "$json.tmp"
    return "$rc"
  fi
  if [ -s "$json.tmp" ]; then
    mv "$json.tmp" "$json"
  else
    rm -f "$json.tmp"  # nothing ran (e.g. no GPU)
  fi
  echo "($exe: $((SECONDS - start)) s)"
}

# Repetitions of the layer and ceiling cases run in a random interleaved order, so a burst
# of load from elsewhere on a shared machine spreads over many cases instead of ruining one.
reps=()
[ "$mode" != quick ] && reps=(--benchmark_repetitions="$REPETITIONS" --benchmark_enable_random_interleaving=true)
for suite in "${suites[@]}"; do
  case "$suite" in
    blas) run_suite bench_blas_ceiling "${reps[@]}" ;;
    cpu) run_suite bench_cpu_rnn "${reps[@]}" ;;
    gpu)
      if [ "$has_gpu_bench" = 1 ]; then run_suite bench_rnn_layer "${reps[@]}"
      else echo "== bench_rnn_layer: not built (a CPU-only build has no cuDNN layer bench)"; fi ;;
    train) run_suite bench_train ;;
    *) echo "bench: unknown suite '$suite' (blas, cpu, gpu, train)" >&2; exit 2 ;;
  esac
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ -z "${NO_REPORT:-}" ] && [ "$mode" != quick ]; then
  python3 scripts/report.py --results "$RESULTS"
fi
