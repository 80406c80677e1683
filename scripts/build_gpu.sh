#!/usr/bin/env bash
# Builds the GPU bundle `build-gpu/` to copy to a GPU machine that has the NVIDIA driver,
# cuDNN and cuBLAS (e.g. PyTorch's nvidia wheels) but no GoogleTest, Google Benchmark,
# OpenBLAS or network. Release, sm_90 (H100/H200) plus sm_80; cudart, GoogleTest and
# OpenBLAS linked statically (libstdc++ stays shared: a static one pulls in symbols of the
# newest glibc). The objects stay in build-gpu-obj/; build-gpu/ receives:
#   bundle.tar.xz  rnnbench, rnnb_gpu_tests, bench_rnn_layer, bench_kernels, bench_train, export_dataset
#                  (stripped, ~2 MB each compressed) and lib/ (shared libraries the GPU
#                  machine lacks, e.g. libbenchmark)
#   deps.tar.xz    GoogleTest's sources and the static OpenBLAS with its headers, so
#                  scripts/gpu_check.sh can build on the GPU machine when the carried
#                  executables cannot run there
#   COMMIT, BUILD_INFO
# The bundle and the 28 MB dataset together stay well under 64 MiB.
#
# Usage: scripts/build_gpu.sh            (env: JOBS=2, ARCH="80;90")
set -euo pipefail
cd "$(dirname "$0")/.."

OBJ=build-gpu-obj
OUT=build-gpu
ARCH=${ARCH:-80;90}
executables=(rnnbench rnnb_gpu_tests bench_rnn_layer bench_kernels bench_train export_dataset)  # the preset's targets

command -v nvcc >/dev/null 2>&1 || export PATH=/usr/local/cuda/bin:$PATH
cmake --preset gpu-bundle -DRNNB_CUDA_ARCHITECTURES="$ARCH" -DCMAKE_CUDA_ARCHITECTURES="$ARCH" >/dev/null
grep -q '^RNNB_HAVE_CUDA:INTERNAL=ON' "$OBJ/CMakeCache.txt" ||
  { echo "build_gpu: CUDA or cuDNN not found here: the GPU bundle needs the CUDA toolkit" >&2; exit 2; }
cmake --build --preset gpu-bundle -j"${JOBS:-2}"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bundle/lib" "$stage/deps"
for exe in "${executables[@]}"; do
  cp "$OBJ/$exe" "$stage/bundle/$exe"
  strip --strip-unneeded "$stage/bundle/$exe"
  # Directly needed shared libraries outside the base system and the CUDA libraries the
  # GPU machine provides (driver, cuDNN, cuBLAS): into lib/.
  for name in $(readelf -d "$stage/bundle/$exe" | sed -nE 's/.*NEEDED.*\[(.*)\]/\1/p'); do
    case "$name" in
      libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|ld-linux*|libstdc++.so*|libgcc_s.so*) continue ;;
      libcuda.so*|libcudnn*|libcublas*) continue ;;
    esac
    path=$(ldd "$stage/bundle/$exe" | awk -v n="$name" '$1 == n {print $3}')
    [ -n "$path" ] && cp -L "$path" "$stage/bundle/lib/$name"
  done
done

# What a build on the GPU machine needs and cannot fetch there.
openblas_lib=$(sed -n 's/^OPENBLAS_LIBRARY:FILEPATH=//p' "$OBJ/CMakeCache.txt")
openblas_include=$(sed -n 's/^OPENBLAS_INCLUDE_DIR:PATH=//p' "$OBJ/CMakeCache.txt")
mkdir -p "$stage/deps/openblas/lib" "$stage/deps/openblas/include"
cp -L "$openblas_lib" "$stage/deps/openblas/lib/libopenblas.a"
cp -L "$openblas_include"/*.h "$stage/deps/openblas/include/"
cp -r /usr/src/googletest "$stage/deps/googletest"

rm -rf "$OUT"
mkdir -p "$OUT"
tar -C "$stage/bundle" -cJf "$OUT/bundle.tar.xz" .
tar -C "$stage/deps" -cf - . | xz -T"${JOBS:-2}" -3 > "$OUT/deps.tar.xz"
git rev-parse HEAD > "$OUT/COMMIT" 2>/dev/null || true
echo "CUDA $(nvcc --version | sed -nE 's/.*release ([0-9.]+).*/\1/p') (cudart linked statically), architectures $ARCH" \
  > "$OUT/BUILD_INFO"
echo "built $OUT ($(du -sh "$OUT" | cut -f1)):"
ls -l "$OUT"
echo "newest symbol versions needed: $(objdump -T "$stage"/bundle/rnnbench "$stage"/bundle/rnnb_gpu_tests |
  grep -oE '(GLIBC|GLIBCXX|CXXABI)_[0-9.]+' | sort -uV | awk -F_ '{v[$1]=$0} END {for (k in v) printf "%s ", v[k]}')"
