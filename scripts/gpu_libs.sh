# Sourced by the GPU scripts: puts the carried build's lib/ and the machine's own cuDNN and
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
