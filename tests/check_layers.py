#!/usr/bin/env python3
"""The layering of docs/ARCHITECTURE.md, checked: every #include "folder/..." in src/ and
kernels/ names a folder its own layer may use, and CUDA, cuDNN, cuBLAS and NVTX headers
appear only in src/cuda and kernels. Prints each violation (file:line) and exits 1 if any.

usage: check_layers.py [REPO_ROOT]
"""
import os
import re
import sys

# Each layer and the project folders it may include from (itself included).
ALLOWED = {
    "src/util": {"util"},
    "src/data": {"util", "data"},
    "src/model": {"util", "data", "model"},
    "src/train": {"util", "data", "model", "train"},
    "src/cpu": {"util", "data", "model", "train", "cpu"},
    "kernels": {"util", "data", "model", "cuda", "kernels"},
    "src/cuda": {"util", "data", "model", "train", "cuda", "kernels"},
    "src/cuda_unavailable": {"util", "train"},
    "src/cli": {"util", "data", "model", "train", "cli"},
}
GPU_LAYERS = {"kernels", "src/cuda"}
PROJECT_INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')
GPU_HEADER = re.compile(r'^\s*#\s*include\s+[<"](cuda|cudnn|cublas|nvtx|curand|cub/|thrust/)')


def violations(root):
    found = []
    for layer, allowed in ALLOWED.items():
        folder = os.path.join(root, layer)
        if not os.path.isdir(folder):
            found.append(f"{layer}: no such folder under {root} (a wrong root, or the table is stale)")
            continue
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if not os.path.isfile(path):
                continue
            for number, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
                where = f"{layer}/{name}:{number}"
                match = PROJECT_INCLUDE.match(line)
                if match and match.group(1) not in allowed:
                    found.append(f"{where}: {layer} may not include {match.group(1)}/ ({line.strip()})")
                if layer not in GPU_LAYERS and GPU_HEADER.match(line):
                    found.append(f"{where}: GPU headers belong in src/cuda or kernels ({line.strip()})")
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = violations(root)
    for v in found:
        print(v)
    print(f"layering: {len(found)} violation(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
