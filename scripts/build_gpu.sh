#!/usr/bin/env bash
# Builds the GPU bundle `build-gpu/` to carry to a GPU machine that has the NVIDIA driver,
# cuDNN and cuBLAS (e.g. from PyTorch's nvidia wheels) but no compiler toolchain extras:
# Release, sm_90 (H100/H200), gtest and cudart linked statically (libstdc++ stays shared: a
# static one pulls in symbols of the newest glibc), and Netlib's small reference BLAS instead
# of OpenBLAS: on the GPU machine the CPU twin only runs small parity checks, and the
# carried folder (with the 28 MB dataset beside it) must stay under 64 MiB. The objects stay in
# build-gpu-obj/; build-gpu/ receives only the stripped executables, plus in lib/ any
# directly needed shared library outside the base system and the GPU machine's CUDA
# libraries.
#
# Usage: scripts/build_gpu.sh            (env: JOBS=2, ARCH=90, BENCH=OFF)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! dpkg -s libblas-dev >/dev/null 2>&1; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get install -y -qq libblas-dev >/dev/null
fi

OBJ=build-gpu-obj
OUT=build-gpu
ARCH=${ARCH:-90}

cmake -S . -B "$OBJ" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRNNB_REFERENCE_BLAS=ON \
  -DRNNB_CUDA_ARCHITECTURES="$ARCH" -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DRNNB_BENCH="${BENCH:-OFF}" \
  -DCMAKE_EXE_LINKER_FLAGS=""
cmake --build "$OBJ" -j"${JOBS:-2}" --target rnnbench rnnb_gpu_tests

rm -rf "$OUT"
mkdir -p "$OUT/lib"
for exe in rnnbench rnnb_gpu_tests; do
  cp "$OBJ/$exe" "$OUT/$exe"
  strip --strip-unneeded "$OUT/$exe"
done
if [ "${BENCH:-OFF}" = "ON" ]; then
  for exe in "$OBJ"/bench_*; do
    [ -x "$exe" ] || continue
    cp "$exe" "$OUT/" && strip --strip-unneeded "$OUT/$(basename "$exe")"
  done
fi

# Directly needed shared libraries that are not part of the base system, nor the CUDA
# libraries the GPU machine provides (driver, cuDNN, cuBLAS): copied into lib/.
for exe in "$OUT"/*; do
  [ -f "$exe" ] && [ -x "$exe" ] || continue
  for name in $(readelf -d "$exe" | sed -nE 's/.*NEEDED.*\[(.*)\]/\1/p'); do
    case "$name" in
      libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|ld-linux*|libstdc++.so*|libgcc_s.so*) continue ;;
      libcuda.so*|libcudnn*|libcublas*) continue ;;
    esac
    path=$(ldd "$exe" | awk -v n="$name" '$1 == n {print $3}')
    [ -n "$path" ] && cp -L "$path" "$OUT/lib/$name"
  done
done

git rev-parse HEAD > "$OUT/COMMIT" 2>/dev/null || true
echo "CUDA $(nvcc --version | sed -nE 's/.*release ([0-9.]+).*/\1/p') (cudart linked statically)" > "$OUT/BUILD_INFO"
echo "built $OUT ($(du -sh "$OUT" | cut -f1)):"
ls -l "$OUT" "$OUT/lib"
echo "newest symbol versions needed: $(objdump -T "$OUT/rnnbench" "$OUT/rnnb_gpu_tests" |
  grep -oE '(GLIBC|GLIBCXX|CXXABI)_[0-9.]+' | sort -uV | awk -F_ '{v[$1]=$0} END {for (k in v) printf "%s ", v[k]}')"
