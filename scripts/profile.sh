#!/usr/bin/env bash
# Profiles a short cuDNN training run with Nsight Systems (timeline of the NVTX phases,
# kernels, cuDNN and cuBLAS calls) and Nsight Compute (per-kernel metrics), using the
# carried `build-gpu/` like scripts/gpu_check.sh. Only training steps STEPS=A:B are
# captured (rnnbench --profile-steps brackets them with cudaProfilerStart/Stop).
#
# Usage: scripts/profile.sh [IMDB data path]     (else found as datasets/fetch_imdb.sh does)
#   env: BUILD=build-gpu  STEPS=20:40  NCU_STEP=30  NCU_KERNELS=60  NCU_SET=basic
#        TRAIN_LIMIT=4000  OUT=results/profile/<gpu>-<date>  EXTRA="--cell lstm ..."
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

BUILD=${BUILD:-build-gpu}
STEPS=${STEPS:-20:40}
NCU_STEP=${NCU_STEP:-30}
DATA=$(imdb_data "${1:-}") || exit 2
BIN=$(unpack_gpu_bundle "$BUILD") || exit 2
[ -x "$BIN/rnnbench" ] || { echo "profile: $BIN/rnnbench is missing: run scripts/build_gpu.sh" >&2; exit 2; }
use_gpu_libraries "$BIN"

OUT=${OUT:-results/profile/$(gpu_slug)-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
# A short run: a subset of the training reviews, one epoch.
run=("$BIN/rnnbench" train --device cuda --epochs 1 --train-limit "${TRAIN_LIMIT:-4000}" --test-limit 200
     --data "$DATA" --progress off ${EXTRA:-})

if command -v nsys > /dev/null; then
  echo "== Nsight Systems, steps $STEPS"
  nsys profile --trace=cuda,nvtx,cudnn,cublas --capture-range=cudaProfilerApi --capture-range-end=stop \
    --force-overwrite=true -o "$OUT/timeline" "${run[@]}" --out "$OUT/run-nsys" --profile-steps "$STEPS"
  nsys stats --force-export=true --report nvtx_sum,cuda_gpu_kern_sum,cuda_api_sum \
    "$OUT/timeline.nsys-rep" > "$OUT/nsys-summary.txt" || true
  head -60 "$OUT/nsys-summary.txt" || true
else
  echo "profile: nsys not found, Nsight Systems skipped" >&2
fi

if command -v ncu > /dev/null; then
  echo "== Nsight Compute, step $NCU_STEP"
  ncu --profile-from-start off --nvtx --set "${NCU_SET:-basic}" --launch-count "${NCU_KERNELS:-60}" \
    --force-overwrite -o "$OUT/kernels" "${run[@]}" --out "$OUT/run-ncu" --profile-steps "$NCU_STEP:$NCU_STEP"
  ncu --import "$OUT/kernels.ncu-rep" --print-summary per-kernel > "$OUT/ncu-summary.txt" || true
  head -60 "$OUT/ncu-summary.txt" || true
else
  echo "profile: ncu not found, Nsight Compute skipped" >&2
fi
echo "profiles in $OUT"
