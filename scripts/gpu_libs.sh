# Sourced by the GPU scripts. use_gpu_libraries puts the carried build's lib/ and the machine's own cuDNN and
# cuBLAS (from PyTorch's nvidia wheels, or wherever site-packages holds them) first on
# LD_LIBRARY_PATH. No exact cuDNN version is required: any libcudnn.so.9 will do.
#   use_gpu_libraries BUILD_DIR
use_gpu_libraries() {
  local build=$1
  local dirs
  dirs=$(python3 - <<'PY'
import glob, os, site, sys
roots = []
try:
    import nvidia
    roots += list(nvidia.__path__)
except Exception:
    pass
roots += site.getsitepackages() + [site.getusersitepackages()]
found = []
for lib in ("libcudnn.so.9", "libcublas.so.13", "libcublasLt.so.13"):
    for root in roots:
        hits = glob.glob(os.path.join(root, "**", lib), recursive=True) if os.path.isdir(root) else []
        if hits:
            found.append(os.path.dirname(hits[0]))
            break
    else:
        print(f"{lib} not found in the Python packages; relying on the system library path", file=sys.stderr)
print(":".join(dict.fromkeys(found)))
PY
)
  export LD_LIBRARY_PATH="$(cd "$build" && pwd)/lib${dirs:+:$dirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
}

# The GPU's name as a folder name ("nvidia-h200"), or unknown-gpu.
gpu_slug() {
  local name
  name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
  echo "${name:-unknown-gpu}" | tr '[:upper:]' '[:lower:]' | sed -E 's/[^a-z0-9]+/-/g; s/^-+|-+$//g'
}

# Prints the folder that holds the executables: BUILD_DIR itself (a plain build), or
# BUILD_DIR.run/, where BUILD_DIR/bundle.tar.xz (scripts/build_gpu.sh) is unpacked when it
# is newer than the last unpacking. Outside BUILD_DIR, so the carried folder stays small.
#   bin=$(unpack_gpu_bundle BUILD_DIR)
unpack_gpu_bundle() {
  local build=${1%/}
  if [ ! -f "$build/bundle.tar.xz" ]; then
    echo "$build"
    return 0
  fi
  local run="$build.run"
  if [ ! -f "$run/.unpacked" ] || [ "$build/bundle.tar.xz" -nt "$run/.unpacked" ]; then
    rm -rf "$run" && mkdir -p "$run" && tar -C "$run" -xJf "$build/bundle.tar.xz" && touch "$run/.unpacked" ||
      return 1
  fi
  echo "$run"
}
