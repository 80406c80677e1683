#!/usr/bin/env bash
# The GPU check, one command on a GPU machine with a copied build-gpu/ (scripts/build_gpu.sh):
#  1. unpacks the bundle and points LD_LIBRARY_PATH at the machine's own cuDNN and cuBLAS
#     (PyTorch's nvidia wheels; any cuDNN 9.x);
#  2. checks that the carried executables run there; if not, says why and builds on that
#     machine from the carried GoogleTest sources and static OpenBLAS (deps.tar.xz);
#  3. runs the GPU tests (kernels, cuDNN parity, gradients, backends), the persistent-
#     algorithm tests in a process of their own (a sticky CUDA error stays there);
#  4. trains the default GRU for one epoch on full IMDB;
#  5. a short cuDNN layer benchmark (RNN/GRU/LSTM x packed/padded at batch 64, hidden 256),
#     every kernel's bytes/s against peak bandwidth, and the default GRU's training epoch
#     against the PyTorch peer on the same batches;
#  6. writes results/gpu/<gpu>/check-<stamp>.{json,md} and the raw benchmark JSON.
# Sized for about 6 minutes on an H100/H200.
#
# Usage: scripts/gpu_check.sh [IMDB archive]     (or env RNNB_DATA)
#   env: BUILD=build-gpu  EPOCHS=1  SKIP_TRAIN=1  SKIP_BENCH=1  TEST_FILTER=<gtest filter>
#        RESULTS_DIR=results/gpu  LOGS_TAR=<file.tar.gz for every log>
#        FORCE_BUILD_HERE=1 (build here as if the bundle could not run; CUDNN_ROOT=<include/, lib/>)
#        DRY_RUN=1 (no GPU needed: everything up to the first CUDA
#        work, i.e. bundle, carry size, library search, the executables' start and the
#        result writers, with the GPU tests reporting SKIPPED; results go to results/tmp/)
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

BUILD=${BUILD:-build-gpu}
DATA=${1:-${RNNB_DATA:-}}  # else found below, as datasets/fetch_imdb.sh does, when needed
EPOCHS=${EPOCHS:-1}
DRY_RUN=${DRY_RUN:-}
if [ -n "$DRY_RUN" ]; then
  SKIP_TRAIN=1 SKIP_BENCH=1 RESULTS_DIR=${RESULTS_DIR:-results/tmp/gpu-dry-run}
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/rnnb-gpu-check.XXXXXX")
notes=()

if [ ! -f "$BUILD/bundle.tar.xz" ] && [ ! -x "$BUILD/rnnb_gpu_tests" ]; then
  echo "gpu_check: $BUILD/ holds no GPU bundle: run scripts/build_gpu.sh where the toolchain is and carry $BUILD/" >&2
  exit 2
fi
if [ -z "$DATA" ] && { [ -z "${SKIP_TRAIN:-}" ] || [ -z "${SKIP_BENCH:-}" ]; }; then
  DATA=$(imdb_data) || { echo "gpu_check: give the IMDB archive (aclImdb_v1 .tar.gz) as the argument" >&2; exit 2; }
fi
if [ -n "$DATA" ] && [ -f "$BUILD/bundle.tar.xz" ]; then
  carried=$(du -scm "$BUILD" "$DATA" 2>/dev/null | tail -1 | cut -f1)
  echo "gpu_check: $BUILD/ and the dataset take $carried MiB (the budget is 64 MiB)"
  [ "$carried" -lt 64 ] || notes+=("warning: $BUILD/ and the dataset take $carried MiB, over the 64 MiB budget")
fi
if ! BIN=$(unpack_gpu_bundle "$BUILD"); then
  echo "gpu_check: $BUILD/bundle.tar.xz is damaged; rebuild it with scripts/build_gpu.sh" >&2
  exit 2
fi

nvidia-smi -L 2>/dev/null || echo "gpu_check: nvidia-smi sees no GPU"
use_gpu_libraries "$BIN"

# On the GPU machine a GPU test that finds no GPU fails instead of skipping, so a driver too
# old for this build's CUDA cannot pass as a green run.
[ -n "$DRY_RUN" ] || export RNNB_REQUIRE_GPU=1

# Do the carried executables start here (libraries, glibc), and can they use the GPU (the
# driver must support the CUDA they were built with)? The dry run checks only the start.
carried_runs() {
  "$BIN/rnnb_gpu_tests" --gtest_list_tests >/dev/null 2>"$work/probe.log" &&
    "$BIN/rnnbench" version >/dev/null 2>>"$work/probe.log" || return 1
  [ -n "$DRY_RUN" ] && return 0
  "$BIN/rnnb_gpu_tests" --gtest_filter='CudnnRnnWeights.CanonicalRoundTripIsExact' >>"$work/probe.log" 2>&1 || {
    grep -E 'no GPU found|Failure|error' "$work/probe.log" | head -3 >"$work/probe.reason"
    mv "$work/probe.reason" "$work/probe.log"
    return 1
  }
}
built_here=false
if [ -n "${FORCE_BUILD_HERE:-}" ]; then
  echo "FORCE_BUILD_HERE is set" >"$work/probe.log"
fi
if [ -n "${FORCE_BUILD_HERE:-}" ] || ! carried_runs; then
  reason=$(cat "$work/probe.log"; ldd "$BIN/rnnb_gpu_tests" 2>/dev/null | grep 'not found')
  echo "gpu_check: the carried executables do not run here:"
  echo "$reason" | head -5 | sed 's/^/  /'
  echo "gpu_check: building on this machine instead"
  notes+=("The carried executables did not run: $(echo "$reason" | head -1); built on the GPU machine.")
  mkdir -p "$work/deps"
  tar -C "$work/deps" -xJf "$BUILD/deps.tar.xz" || { echo "gpu_check: no usable $BUILD/deps.tar.xz" >&2; exit 2; }
  cudnn_root=${CUDNN_ROOT:-$(python3 -c 'import nvidia.cudnn as c; print(list(c.__path__)[0])' 2>/dev/null)}
  [ -d "$cudnn_root/include" ] || { echo "gpu_check: cuDNN headers not found (nvidia.cudnn wheel)" >&2; exit 2; }
  command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
  local_build=build-gpu-local
  generator=(); command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S . -B "$local_build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DRNNB_BENCH=OFF \
    -DRNNB_OPENBLAS_ROOT="$work/deps/openblas" -DRNNB_GTEST_SOURCE="$work/deps/googletest" \
    -DCUDNN_INCLUDE_DIR="$cudnn_root/include" -DCUDNN_LIBRARY="$(ls "$cudnn_root"/lib/libcudnn.so* | head -1)" \
    -DRNNB_CUDA_ARCHITECTURES=90 -DCMAKE_CUDA_ARCHITECTURES=90 >"$work/build.log" 2>&1 &&
    cmake --build "$local_build" -j"$(nproc)" --target rnnbench rnnb_gpu_tests >>"$work/build.log" 2>&1 ||
    { tail -30 "$work/build.log"; echo "gpu_check: the build on this machine failed" >&2; exit 1; }
  mkdir -p "$local_build/lib"
  BIN=$local_build
  built_here=true
  use_gpu_libraries "$BIN"
fi

# Library versions as the loaded libraries report them.
python3 - "$work/versions.json" <<'PY'
import ctypes, json, sys
out = {}
def load(names):
    for n in names:
        try:
            return ctypes.CDLL(n), n
        except OSError:
            pass
    return None, None
cudnn, name = load(["libcudnn.so.9", "libcudnn.so"])
if cudnn:
    cudnn.cudnnGetVersion.restype = ctypes.c_size_t
    v = cudnn.cudnnGetVersion()
    out["cudnn"] = f"{v // 10000}.{(v % 10000) // 100}.{v % 100}"
cublas, name = load(["libcublas.so.13", "libcublas.so"])
if cublas:
    parts = []
    for prop in range(3):  # MAJOR_VERSION, MINOR_VERSION, PATCH_LEVEL
        value = ctypes.c_int(0)
        cublas.cublasGetProperty(prop, ctypes.byref(value))
        parts.append(str(value.value))
    out["cublas"] = ".".join(parts)
cuda, _ = load(["libcuda.so.1"])
if cuda:
    value = ctypes.c_int(0)
    if cuda.cuDriverGetVersion(ctypes.byref(value)) == 0:
        out["driver_cuda"] = f"{value.value // 1000}.{(value.value % 1000) // 10}"
json.dump(out, open(sys.argv[1], "w"))
print("libraries:", out)
PY

run_tests() {  # label, gtest filter: one process, its JSON report in the work folder
  echo "== GPU tests: $1"
  local start=$SECONDS
  "$BIN/rnnb_gpu_tests" --gtest_filter="$2" --gtest_output="json:$work/gtest-$1.json" >"$work/gtest-$1.log" 2>&1
  local rc=$?
  grep -E '^\[  (PASSED|SKIPPED) +\] [0-9]+ test|^\[  FAILED  \]' "$work/gtest-$1.log" | head -40
  echo "($1: exit $rc, $((SECONDS - start)) s)"
  return $rc
}
tests_rc=0
if [ -n "${TEST_FILTER:-}" ]; then
  run_tests filtered "$TEST_FILTER" || tests_rc=1
else
  run_tests main '-CudnnRnnAlgo.*' || tests_rc=1
  run_tests persistent 'CudnnRnnAlgo.*' || tests_rc=1
fi

train_rc=skipped
if [ -z "${SKIP_TRAIN:-}" ]; then
  echo "== $EPOCHS epoch(s) of the default GRU on full IMDB"
  start=$SECONDS
  "$BIN/rnnbench" train --device cuda --epochs "$EPOCHS" --data "$DATA" --out "$work/train" --progress off \
    --cache-dir "$work/cache" 2>&1 | tee "$work/train.log"
  train_rc=${PIPESTATUS[0]}
  echo "(training: exit $train_rc, $((SECONDS - start)) s)"
fi

bench_rc=0
if [ -z "${SKIP_BENCH:-}" ]; then
  if [ -x "$BIN/bench_rnn_layer" ]; then
    echo "== cuDNN layer: cells x packed/padded, batch 64, hidden 256, IMDB lengths"
    "$BIN/bench_rnn_layer" "--data=$DATA" --benchmark_repetitions=3 --benchmark_min_time=0.05 \
      --benchmark_filter='batch:64/hidden:256/layers:1/dirs:1/lengths:imdb/algo:standard/math:fp32' \
      --benchmark_out="$work/layer.json" --benchmark_out_format=json >"$work/layer.log" 2>&1 || bench_rc=1
    tail -3 "$work/layer.log"
    if [ -x "$BIN/bench_kernels" ]; then
      echo "== kernels: bytes moved against the device's peak bandwidth"
      "$BIN/bench_kernels" --benchmark_repetitions=3 --benchmark_min_time=0.05 \
        --benchmark_out="$work/kernels.json" --benchmark_out_format=json >"$work/kernels.log" 2>&1 || bench_rc=1
      tail -3 "$work/kernels.log"
    fi
    variants='^train_epoch/cuda/default(/batching:random(/padding:post)?)?/iterations'
    echo "== training epochs: rnnbench (cuDNN) and PyTorch on the same batches"
    "$BIN/bench_train" "--data=$DATA" --benchmark_filter="$variants" \
      --benchmark_out="$work/train_bench.json" --benchmark_out_format=json >"$work/train_bench.log" 2>&1 || bench_rc=1
    tail -4 "$work/train_bench.log"
    if python3 -c "import torch, numpy; assert torch.cuda.is_available()" 2>/dev/null; then
      "$BIN/export_dataset" --out "$work/export" --epochs 1 "--data=$DATA" >"$work/export.log" 2>&1 &&
        python3 bench/peer_pytorch.py --export "$work/export" --epochs 1 \
          --variants default,default/batching:random,default/batching:random/padding:post --out "$work/peer.json" \
          >"$work/peer.log" 2>&1 || bench_rc=1
      tail -4 "$work/peer.log"
    else
      notes+=("PyTorch with CUDA is not importable: no peer comparison.")
    fi
  else
    notes+=("No benchmark executables in $BIN/ (a build on the GPU machine has none): benchmarks skipped.")
  fi
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
results_dir=${RESULTS_DIR:-results/gpu}/$(gpu_slug)
mkdir -p "$results_dir"
for f in layer kernels train_bench peer; do
  [ -s "$work/$f.json" ] && cp "$work/$f.json" "$results_dir/$f-$stamp.json"
done
python3 - "$work/info.json" "$stamp" "$BUILD" "$built_here" "$train_rc" "$tests_rc" "$bench_rc" "${DRY_RUN:+dry run}" \
  "${notes[@]}" <<'PY'
import json, subprocess, sys
path, stamp, build, built_here, train_rc, tests_rc, bench_rc, dry_run, *notes = sys.argv[1:]
def smi(query):
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"],
                             capture_output=True, text=True).stdout.strip().splitlines()
        return out[0] if out else None
    except OSError:
        return None
def read(name, default="unknown"):
    try:
        return open(f"{build}/{name}").read().strip()
    except OSError:
        return default
info = {"gpu": smi("name") or "no GPU", "driver": smi("driver_version"), "stamp": stamp,
        "cuda_runtime": read("BUILD_INFO"), "commit": read("COMMIT"), "built_here": built_here == "true",
        "train_exit": train_rc, "tests_exit": int(tests_rc), "bench_exit": int(bench_rc),
        "notes": ([f"Dry run: no GPU work was done."] if dry_run else []) + notes}
json.dump(info, open(path, "w"))
PY
summary_rc=0
python3 scripts/gpu_summary.py "$work" "$results_dir/check-$stamp" || summary_rc=1
if [ -n "${LOGS_TAR:-}" ]; then
  case "$LOGS_TAR" in /*) ;; *) LOGS_TAR=$PWD/$LOGS_TAR ;; esac
  (cd "$work" && tar -czf "$LOGS_TAR" --ignore-failed-read ./*.log ./*.json) ||
    echo "gpu_check: could not write $LOGS_TAR" >&2
fi
echo "gpu_check: results in $results_dir/ (work files in $work)"
[ "$tests_rc" = 0 ] && { [ "$train_rc" = 0 ] || [ "$train_rc" = skipped ]; } && [ "$bench_rc" = 0 ] &&
  [ "$summary_rc" = 0 ]
