#!/usr/bin/env bash
# The GPU acceptance check, run on a GPU machine with a carried `build-gpu/` (made by
# scripts/build_gpu.sh; nothing is compiled here): finds cuDNN and cuBLAS from the
# machine's Python nvidia wheels, runs the GPU tests (CPU-twin parity), trains the default
# GRU for one epoch on full IMDB, and writes results/gpu/<gpu>/check-<date>.json with the
# machine, library versions, each test's result and errors, the epoch time and accuracy.
#
# Usage: scripts/gpu_check.sh [IMDB data path]     (or env RNNB_DATA)
#   env: BUILD=build-gpu  EPOCHS=1  SKIP_TRAIN=1 (tests only)  TEST_FILTER=<gtest filter>
#        RESULTS_DIR=results/gpu (where check-<date>.json goes, under <gpu-name-slug>/)
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build-gpu}
DATA=${1:-${RNNB_DATA:-}}
EPOCHS=${EPOCHS:-1}
for exe in rnnbench rnnb_gpu_tests; do
  if [ ! -x "$BUILD/$exe" ]; then
    echo "gpu_check: $BUILD/$exe is missing: run scripts/build_gpu.sh where the toolchain is and carry $BUILD/" >&2
    exit 2
  fi
done
if [ -z "${SKIP_TRAIN:-}" ] && [ -z "$DATA" ]; then
  echo "gpu_check: give the IMDB archive (aclImdb_v1 .tar.gz) as the argument or in RNNB_DATA" >&2
  exit 2
fi

. scripts/gpu_libs.sh
use_gpu_libraries "$BUILD"

nvidia-smi || true
gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
slug=$(echo "${gpu_name:-unknown-gpu}" | tr '[:upper:]' '[:lower:]' | sed -E 's/[^a-z0-9]+/-/g; s/^-+|-+$//g')
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=$(mktemp -d "${TMPDIR:-/tmp}/rnnb-gpu-check.XXXXXX")

# Library versions as the loaded libraries report them.
versions_json="$work/versions.json"
python3 - "$versions_json" <<'EOF'
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
    out["cudnn_library"] = name
cublas, name = load(["libcublas.so.13", "libcublas.so"])
if cublas:
    parts = []
    for prop in range(3):  # MAJOR_VERSION, MINOR_VERSION, PATCH_LEVEL
        value = ctypes.c_int(0)
        cublas.cublasGetProperty(prop, ctypes.byref(value))
        parts.append(str(value.value))
    out["cublas"] = ".".join(parts)
    out["cublas_library"] = name
cuda, _ = load(["libcuda.so.1"])
if cuda:
    value = ctypes.c_int(0)
    if cuda.cuDriverGetVersion(ctypes.byref(value)) == 0:
        out["driver_cuda"] = f"{value.value // 1000}.{(value.value % 1000) // 10}"
json.dump(out, open(sys.argv[1], "w"))
print("libraries:", out)
EOF

echo "== GPU tests"
"$BUILD/rnnb_gpu_tests" --gtest_output="json:$work/gtest.json" ${TEST_FILTER:+--gtest_filter="$TEST_FILTER"} \
  2>&1 | tee "$work/gtest.log" | grep -E '^\[  (PASSED|SKIPPED) +\] [0-9]+ test|^\[  FAILED  \]|Failure' | head -100
tests_rc=${PIPESTATUS[0]}

train_rc=skipped
if [ -z "${SKIP_TRAIN:-}" ]; then
  echo "== one epoch of the default GRU on IMDB"
  "$BUILD/rnnbench" train --device cuda --epochs "$EPOCHS" --data "$DATA" --out "$work/train" --progress off \
    2>&1 | tee "$work/train.log"
  train_rc=${PIPESTATUS[0]}
fi

commit=$(cat "$BUILD/COMMIT" 2>/dev/null || git rev-parse HEAD 2>/dev/null || echo unknown)
build_info=$(cat "$BUILD/BUILD_INFO" 2>/dev/null || echo unknown)
results_dir=${RESULTS_DIR:-results/gpu}
mkdir -p "$results_dir/$slug"
result="$results_dir/$slug/check-$stamp.json"
python3 - "$work" "$result" "$gpu_name" "$driver" "$commit" "$build_info" "$tests_rc" "$train_rc" <<'EOF'
import json, os, sys
work, result, gpu, driver, commit, build_info, tests_rc, train_rc = sys.argv[1:]
versions = json.load(open(os.path.join(work, "versions.json")))
standard = {"name", "status", "result", "timestamp", "time", "classname", "failures", "file", "line",
            "value_param", "type_param", "skipped"}
tests = []
try:
    report = json.load(open(os.path.join(work, "gtest.json")))
    for suite in report.get("testsuites", []):
        for case in suite.get("testsuite", []):
            failures = case.get("failures", [])
            outcome = "failed" if failures else ("skipped" if case.get("result") == "SKIPPED" else "passed")
            entry = {"name": f"{suite['name']}.{case['name']}", "result": outcome}
            errors = {k: v for k, v in case.items() if k not in standard}
            if errors:
                entry["errors"] = errors
            if failures:
                entry["failure"] = failures[0].get("failure", "")[:400]
            tests.append(entry)
except (OSError, ValueError) as e:
    tests.append({"name": "gtest report", "result": "missing", "failure": str(e)})
training = {"exit": train_rc}
metrics = os.path.join(work, "train", "metrics.jsonl")
if os.path.exists(metrics):
    for line in open(metrics):
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if row.get("event") == "epoch":
            training.setdefault("epochs", []).append(
                {k: row.get(k) for k in ("epoch", "train_seconds", "train_loss", "train_acc", "val_acc",
                                         "tokens_per_s")})
        elif row.get("event") == "test":
            training.update({k: row.get(k) for k in ("test_acc", "mean_epoch_seconds", "tokens_per_s")})
record = {
    "gpu": gpu, "driver": driver, "cuda_runtime": build_info, "driver_cuda": versions.get("driver_cuda"),
    "cudnn": versions.get("cudnn"), "cublas": versions.get("cublas"), "commit": commit,
    "tests_exit": int(tests_rc), "tests": tests, "training": training,
}
tmp = result + ".tmp"
with open(tmp, "w") as f:
    json.dump(record, f, indent=2)
    f.flush()
    os.fsync(f.fileno())
os.replace(tmp, result)

counts = {}
for t in tests:
    counts[t["result"]] = counts.get(t["result"], 0) + 1
print(f"\n{'GPU':<14} {gpu}  (driver {driver}, cuDNN {versions.get('cudnn')}, cuBLAS {versions.get('cublas')})")
print(f"{'commit':<14} {commit}")
print(f"{'tests':<14} " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
worst = {}
for t in tests:
    for k, v in t.get("errors", {}).items():
        try:
            worst[k] = max(worst.get(k, 0.0), float(v))
        except ValueError:
            pass
for k in sorted(worst):
    print(f"  max {k:<24} {worst[k]:.3g}")
for t in tests:
    if t["result"] == "failed":
        print(f"  FAILED {t['name']}")
for e in training.get("epochs", []):
    print(f"{'epoch':<14} {e['epoch']}: {e['train_seconds']:.1f} s, val acc {100 * (e['val_acc'] or 0):.2f}%,"
          f" {e['tokens_per_s']:.0f} tok/s")
if "test_acc" in training:
    print(f"{'test acc':<14} {100 * training['test_acc']:.2f}%")
print(f"{'written':<14} {result}")
EOF
echo "(work files in $work)"
[ "$tests_rc" = 0 ] && { [ "$train_rc" = 0 ] || [ "$train_rc" = skipped ]; }
