# Shared by the scripts (sourced): the build folder, the dataset, device names for result
# folders, and on a GPU machine the carried bundle and its libraries.

# The build folder of scripts/setup.sh: RNNB_BUILD_DIR, else build-cpu with RNNB_CPU_ONLY=1,
# else build (the CMake presets' folders).
rnnb_build_dir() {
  if [ -n "${RNNB_BUILD_DIR:-}" ]; then echo "$RNNB_BUILD_DIR"
  elif [ "${RNNB_CPU_ONLY:-0}" = 1 ]; then echo build-cpu
  else echo build; fi
}

# The IMDB archive or folder: the argument, else what datasets/fetch_imdb.sh finds
# (RNNB_DATA, datasets/, ../shared/datasets/, a download). Fails with its message.
#   data=$(imdb_data "${1:-}") || exit 2
imdb_data() {
  if [ -n "${1:-}" ]; then
    [ -e "$1" ] || { echo "no dataset at $1" >&2; return 1; }
    echo "$1"
    return 0
  fi
  datasets/fetch_imdb.sh | tail -n 1
}

# Names for result folders. gpu_name: the GPU's, or empty. device_name: the GPU's, else
# "cpu <model> f<family>m<model number> <cores>c" (the name alone, "AMD EPYC", covers
# several generations). gpu_slug: the GPU's as a folder name ("nvidia-h200"), or
# unknown-gpu. slugify: any name as a folder name.
slugify() { tr '[:upper:]' '[:lower:]' | sed -E 's/[^a-z0-9]+/-/g; s/^-+|-+$//g'; }
gpu_name() { nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || true; }
gpu_slug() {
  local name
  name=$(gpu_name)
  echo "${name:-unknown-gpu}" | slugify
}
cpuinfo_field() { sed -n "s/^$1[[:space:]]*: //p" /proc/cpuinfo | head -1; }
device_name() {
  local name
  name=$(gpu_name)
  if [ -z "$name" ]; then
    local family model
    family=$(cpuinfo_field 'cpu family')
    model=$(cpuinfo_field model)
    name="cpu $(cpuinfo_field 'model name')${family:+${model:+ f${family}m${model}}} $(nproc)c"
  fi
  echo "$name"
}

# GPU machines: puts the carried build's lib/ and the machine's own cuDNN and cuBLAS (from
# PyTorch's nvidia wheels, or wherever site-packages holds them) first on LD_LIBRARY_PATH.
# No exact cuDNN version is required: any libcudnn.so.9 will do.
#   use_gpu_libraries BIN_DIR
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
