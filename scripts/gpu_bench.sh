#!/usr/bin/env bash
# The GPU benchmarks, run on a GPU machine with a carried build-gpu/ (scripts/build_gpu.sh;
# nothing is compiled here): the cuDNN layer sweep, the
# end-to-end training benches on the GPU, the dataset export and the PyTorch peer on the
# same batches. Writes results/bench/<gpu>/{bench_rnn_layer,bench_train,peer_pytorch}.json
# (+ logs). Sized to finish within about 9 minutes on an H100.
#
# Usage: scripts/gpu_bench.sh [IMDB data path]     (or env RNNB_DATA)
#   env: BUILD=build-gpu  RESULTS=results/bench  REPETITIONS=3  PEER_EPOCHS=2
#        SKIP_LAYER=1  SKIP_TRAIN=1  SKIP_PEER=1  LAYER_FILTER=<regex>  FULL=1 (the big sweep)
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

BUILD=${BUILD:-build-gpu}
DATA=${1:-${RNNB_DATA:-}}  # else found below, as datasets/fetch_imdb.sh does, when needed
RESULTS=${RESULTS:-results/bench}
BIN=$(unpack_gpu_bundle "$BUILD") || exit 2
for exe in bench_rnn_layer bench_train export_dataset; do
  if [ ! -x "$BIN/$exe" ]; then
    echo "gpu_bench: $BUILD/$exe is missing: run scripts/build_gpu.sh where the toolchain is, and carry $BUILD/" >&2
    exit 2
  fi
done
if [ -z "$DATA" ] && { [ -z "${SKIP_TRAIN:-}" ] || [ -z "${SKIP_PEER:-}" ]; }; then
  DATA=$(imdb_data) || { echo "gpu_bench: give the IMDB archive (aclImdb_v1 .tar.gz) as the argument" >&2; exit 2; }
fi

use_gpu_libraries "$BIN"

gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
out="$RESULTS/$(gpu_slug)"
mkdir -p "$out"
export RNNB_COMMIT=$(cat "$BUILD/COMMIT" 2>/dev/null || git rev-parse HEAD 2>/dev/null || echo unknown)
work=$(mktemp -d "${TMPDIR:-/tmp}/rnnb-gpu-bench.XXXXXX")
echo "gpu_bench: $gpu_name, commit $RNNB_COMMIT, results in $out/"
status=0

run() {  # name, command...: JSON to $out/<name>.json via a temp file, log beside it
  local name=$1
  shift
  local start=$SECONDS
  echo "== $name"
  "$@" 2>&1 | tee "$out/$name.log"
  local rc=${PIPESTATUS[0]}
  if [ "$rc" -eq 0 ] && [ -s "$work/$name.json" ]; then
    mv "$work/$name.json" "$out/$name.json"
  else
    echo "gpu_bench: $name exit $rc (no result written)" >&2
    status=1
  fi
  echo "($name: $((SECONDS - start)) s)"
}

if [ -z "${SKIP_LAYER:-}" ]; then
  run bench_rnn_layer "$BIN/bench_rnn_layer" ${FULL:+--full} --benchmark_repetitions="${REPETITIONS:-3}" \
    --benchmark_min_time=0.05 ${LAYER_FILTER:+--benchmark_filter="$LAYER_FILTER"} \
    --benchmark_out="$work/bench_rnn_layer.json" --benchmark_out_format=json
fi
if [ -z "${SKIP_TRAIN:-}" ]; then
  # GPU variants only: the CPU's numbers come from the CPU machines (scripts/bench.sh).
  run bench_train "$BIN/bench_train" "--data=$DATA" --benchmark_filter=/cuda/ \
    --benchmark_out="$work/bench_train.json" --benchmark_out_format=json
fi
if [ -z "${SKIP_PEER:-}" ]; then
  if python3 -c "import torch, numpy; assert torch.cuda.is_available()" 2>/dev/null; then
    echo "== export_dataset"
    "$BIN/export_dataset" --out "$work/export" --epochs "${PEER_EPOCHS:-2}" "--data=$DATA" || status=1
    run peer_pytorch python3 bench/peer_pytorch.py --export "$work/export" --epochs "${PEER_EPOCHS:-2}" \
      --out "$work/peer_pytorch.json"
  else
    echo "gpu_bench: torch with CUDA (and numpy) not importable: PyTorch peer skipped" >&2
  fi
fi

if python3 -c "import matplotlib" 2>/dev/null; then
  python3 scripts/report.py --results "$RESULTS" --no-install || true
fi
rm -rf "$work"
echo "gpu_bench: results in $out/ (render the report with scripts/report.py)"
exit $status
