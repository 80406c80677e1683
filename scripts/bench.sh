#!/usr/bin/env bash
# Runs the benchmark suite on this machine and writes Google Benchmark JSON (with context:
# machine, libraries, commit, date) to results/bench/<device>/ (console logs to the ignored
# results/tmp/bench-logs/<device>/), then renders
# results/bench/REPORT.md with scripts/report.py.
#
# Usage: scripts/bench.sh [quick|default|full] [suite ...]
#   suites: blas (bench_blas_ceiling), cpu (bench_cpu_rnn), gpu (bench_rnn_layer),
#           train (bench_train), gemm (bench_gemm_libraries), peer-cpu (PyTorch on the CPU,
#           bench/peer_pytorch.py, on the cell variants' batches), profile (the CPU epoch
#           profile, scripts/profile_cpu.py; PROFILE_BEFORE=<an older rnnbench> adds its
#           profile as "before"); default: blas cpu gpu train
#   env: BUILD=build-bench  RESULTS=results/bench (quick: results/tmp/bench)  RNNB_DATA=<IMDB archive>
#        REPETITIONS=5 (layer and ceiling benches, interleaved)  NO_REPORT=1  FILTER=<regex for every suite>
#        PEER_CPU_BATCHES=60 PEER_CPU_PACKED_BATCHES=6 (batches PyTorch times per configuration)
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
  *) echo "usage: scripts/bench.sh [quick|default|full] [blas|cpu|gpu|train|gemm|peer-cpu|profile ...] | gpu-bundle" >&2; exit 2 ;;
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
targets=(bench_blas_ceiling bench_cpu_rnn bench_train bench_gemm_libraries export_dataset rnnbench)
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

# PyTorch on the CPU, same threads, on the batches bench_train's cell variants train on.
peer_cpu() {
  echo "== peer_pytorch (CPU)"
  local export=results/tmp/bench-export
  rm -rf "$export"
  "$BUILD/export_dataset" --out "$export" --epochs 1 ${RNNB_DATA:+"--data=$RNNB_DATA"} > "$logs/export_dataset.log"
  local batches=${PEER_CPU_BATCHES:-60} packed=${PEER_CPU_PACKED_BATCHES:-6}
  [ "$mode" = quick ] && batches=2 packed=2
  python3 bench/peer_pytorch.py --export "$export" --device cpu --threads "$(nproc)" --also-padded --epochs 1 \
    --max-batches "$batches" --packed-batches "$packed" \
    --variants default,default/cell:lstm,default/cell:rnn-tanh,default/layers:2/bidirectional:true \
    --out "$out/peer_pytorch_cpu.json" 2>&1 | tee "$logs/peer_pytorch_cpu.log"
}

# The epoch profile, fp32 and bf16 (and an older build's as "before").
profile_cpu() {
  echo "== profile_cpu"
  # The whole training split by default: a subset's smaller vocabulary shrinks the
  # optimizer's share, and its first-touch page faults weigh more in a short epoch.
  local limit=0
  [ "$mode" = quick ] && limit=200
  local data=()
  [ -n "${RNNB_DATA:-}" ] && data=(--data "$RNNB_DATA")
  if [ -n "${PROFILE_BEFORE:-}" ]; then
    python3 scripts/profile_cpu.py --rnnbench "$PROFILE_BEFORE" --label before --math fp32 \
      --train-limit "$limit" --out "$out/cpu_profile.json" "${data[@]}"
  fi
  for math in fp32 bf16; do
    python3 scripts/profile_cpu.py --rnnbench "$BUILD/rnnbench" --label after --math "$math" \
      --train-limit "$limit" --out "$out/cpu_profile.json" "${data[@]}"
  done
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
    gemm) run_suite bench_gemm_libraries "${reps[@]}" --benchmark_min_time=0.2 ;;
    peer-cpu) peer_cpu ;;
    profile) profile_cpu ;;
    *) echo "bench: unknown suite '$suite' (blas, cpu, gpu, train, gemm, peer-cpu, profile)" >&2; exit 2 ;;
  esac
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ -z "${NO_REPORT:-}" ] && [ "$mode" != quick ]; then
  python3 scripts/report.py --results "$RESULTS"
fi
