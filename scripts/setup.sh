#!/usr/bin/env bash
# Installs what the build needs and is missing (Debian packages), then configures and
# builds into build/ (or $RNNB_BUILD_DIR; RNNB_CPU_ONLY=1 for a build without CUDA). Safe to
# run again: it only adds what is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ zlib1g-dev libopenblas-pthread-dev libxsmm-dev libdnnl-dev libgtest-dev libbenchmark-dev python3)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

. scripts/common.sh
# The default preset, or cpu-only with RNNB_CPU_ONLY=1 (as on a machine without the toolkit).
preset=default
if [ "${RNNB_CPU_ONLY:-0}" = 1 ]; then
  preset=cpu-only
elif ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH  # nvcc is often installed but not on PATH
fi

build_dir=$(rnnb_build_dir)
configure_log=$(mktemp)
if ! cmake --preset "$preset" -B "$build_dir" ${RNNB_CMAKE_ARGS:-} >"$configure_log" 2>&1; then
  cat "$configure_log"
  rm -f "$configure_log"
  exit 1
fi
grep '^-- rnnbench:' "$configure_log" | sed 's/^-- //' || true  # which backends are built
rm -f "$configure_log"
cmake --build "$build_dir" -j"$(nproc)"
