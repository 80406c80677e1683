#!/usr/bin/env python3
"""Where a CPU training epoch's time goes: runs `rnnbench train` for one epoch under
`perf record`, groups perf's per-symbol samples into the step's parts (matrix products,
cell math, copies, bf16 conversion, optimizer, ...), and adds the result under its label to
a JSON file that scripts/report.py renders as the epoch profile.

    scripts/profile_cpu.py --rnnbench build/rnnbench --label after --math fp32 \\
        --out results/bench/<device>/cpu_profile.json [--data PATH] [--train-limit 0]

Several labels (a build before a change and after it, fp32 and bf16) go into one file; a
label run again replaces its entry. The file is written to a temporary name and renamed.
Needs perf (Debian's linux-perf) with access to CPU samples.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# (part, dso pattern, symbol pattern): the first that matches names a sample's part.
PARTS = [
    # JIT code (libxsmm's and oneDNN's kernels) has no symbols: perf names its mapping.
    ("matrix products", r"^\[JIT\]|^\[unknown\]|//anon|libxsmm_jit|perf-\d+\.map|\(deleted\)|libdnnl|libopenblas", r""),
    ("matrix products", r"", r"gemm|libxsmm|dnnl|brg|jit_|sgemm|dgemm"),
    ("bf16 conversion", r"", r"convert_row|to_bf16"),
    ("cell math", r"", r"rnn_cells|rnn_math"),
    ("copies and fills", r"", r"memmove|memcpy|memset|transpose"),
    ("gradient chunks (bias sums, scatter)", r"", r"flush_chunk"),
    ("optimizer and gradient norm", r"", r"adam|sum_of_squares"),
    ("embedding, pooling, head, loss", r"", r"embedding|head_|softmax|gather|scatter|pool_|dropout|relu"),
    ("data loading", r"libz", r"tokeni|inflate|crc32|Dataset|TokenizedSplit|\btar_|TarReader"),
    ("operating system (page faults, scheduling)", r"kernel", r""),
    ("thread team (waiting)", r"", r"ThreadTeam|sched_yield|futex"),
]


def part_of(dso, symbol):
    for name, dso_pattern, symbol_pattern in PARTS:
        if dso_pattern and not re.search(dso_pattern, dso):
            continue
        if symbol_pattern and not re.search(symbol_pattern, symbol):
            continue
        return name
    return "other"


def parse_report(text):
    """(percent, dso, symbol) per line of `perf report --sort dso,sym --stdio`."""
    rows = []
    for line in text.splitlines():
        m = re.match(r"\s*([0-9.]+)%\s+(.+?)\s+\[[.k]\]\s+(.*)$", line)
        if m:
            rows.append((float(m.group(1)), m.group(2).strip(), m.group(3).strip()))
    return rows


def write_atomic(path, data):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rnnbench", required=True, help="the rnnbench executable to profile")
    parser.add_argument("--label", required=True, help="this build's name in the file (e.g. before, after)")
    parser.add_argument("--math", default="fp32", help="--math for the run (fp32 or bf16)")
    parser.add_argument("--out", required=True, help="JSON file to add the profile to")
    parser.add_argument("--data", default="", help="IMDB source (default: rnnbench's lookup)")
    parser.add_argument("--train-limit", type=int, default=0,
                        help="training reviews of the epoch (0: the whole training split, as bench_train's epoch)")
    parser.add_argument("--extra", default="", help="more rnnbench options, space-separated")
    args = parser.parse_args(argv)
    if not shutil.which("perf"):
        print("profile_cpu: perf is not installed (Debian: linux-perf)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as work:
        run = [args.rnnbench, "train", "--device", "cpu", "--epochs", "1", "--train-limit", str(args.train_limit),
               "--test-limit", "100", "--progress", "off", "--out", os.path.join(work, "run")]
        if args.math != "fp32":
            run += ["--math", args.math]
        if args.data:
            run += ["--data", args.data]
        run += args.extra.split()
        data = os.path.join(work, "perf.data")
        done = subprocess.run(["perf", "record", "-F", "999", "-o", data, "--"] + run, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"profile_cpu: the profiled run failed:\n{done.stderr[-2000:]}", file=sys.stderr)
            return 1
        epoch = re.search(r"epoch 1/1 .*?([0-9]+) tok/s\s+([0-9.]+) s", done.stdout)
        report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,sym", "--stdio"],
                                capture_output=True, text=True, check=True).stdout
    rows = parse_report(report)
    if not rows:
        print("profile_cpu: perf recorded no samples", file=sys.stderr)
        return 1
    parts = {}
    for percent, dso, symbol in rows:
        name = part_of(dso, symbol)
        parts[name] = parts.get(name, 0.0) + percent
    top = [{"percent": p, "dso": d, "symbol": s[:120]} for p, d, s in rows
           if part_of(d, s) != "matrix products" or not s.startswith("0x")][:12]
    entry = {
        "label": args.label, "math": args.math, "command": " ".join(run[1:]),
        "tokens_per_second": float(epoch.group(1)) if epoch else None,
        "epoch_seconds": float(epoch.group(2)) if epoch else None,
        "parts": dict(sorted(parts.items(), key=lambda kv: -kv[1])), "top_symbols": top,
    }
    profiles = []
    if os.path.exists(args.out):
        with open(args.out) as f:
            profiles = [p for p in json.load(f).get("profiles", []) if (p["label"], p["math"]) != (args.label, args.math)]
    profiles.append(entry)
    write_atomic(args.out, {"profiles": profiles})
    if parts.get("other", 0.0) > 10.0:
        print(f"profile_cpu: warning: {parts['other']:.1f}% of the samples fall in no part", file=sys.stderr)
    print(f"profile_cpu: {args.label} ({args.math}): " +
          ", ".join(f"{k} {v:.1f}%" for k, v in list(entry["parts"].items())[:6]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
