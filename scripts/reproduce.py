#!/usr/bin/env python3
"""Reproducible accuracy: trains the accuracy matrix with rnnbench and writes the table.

The matrix is {rnn-tanh, gru, lstm} x {packed, padded} from the best-* presets (padded is the
same preset with --padding post), plus every tutorial preset (tutorial-*, keras-*), each with
--seeds seeds. Every run goes to <out-dir>/runs/<config>/seed<N>/ (metrics.jsonl, checkpoints);
the summary goes to <out-dir>/accuracy.json and <out-dir>/accuracy.md, each written to a temp
file and renamed. Per configuration: test accuracy mean, min, max and standard deviation over
the seeds, best epoch, seconds per training epoch, training tokens/s, the device, and the
reference accuracy the preset quotes.

  scripts/reproduce.py                         # everything, 3 seeds, GPU when usable
  scripts/reproduce.py --only best-gru,best-gru-padded --seeds 5
  scripts/reproduce.py --quick --seeds 1 --only tutorial-gru --out-dir /tmp/acc   # smoke test
"""
import argparse
import datetime
import fnmatch
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK_ARGS = ["--train-limit", "2000", "--test-limit", "500", "--max-len", "100", "--epochs", "1"]
MATRIX_CELLS = ["rnn-tanh", "gru", "lstm"]
BEST_PRESETS = ["best-rnn", "best-gru", "best-lstm"]


def parse_presets(binary):
    """{name: reference} from `rnnbench presets`, in its order."""
    text = subprocess.run([binary, "presets"], check=True, capture_output=True, text=True).stdout
    presets, name = {}, None
    for line in text.splitlines():
        if line and not line.startswith(" "):
            name = line.strip()
            presets[name] = ""
        elif name and line.strip().startswith("reference:"):
            presets[name] = line.strip()[len("reference:"):].strip()
    return presets


def configurations(presets):
    """(config name, preset, extra options) for the matrix and the tutorial presets."""
    configs = []
    for cell in MATRIX_CELLS:
        configs.append((f"default-{cell}", "default", ["--cell", cell]))
        configs.append((f"default-{cell}-padded", "default", ["--cell", cell, "--padding", "post"]))
    for preset in BEST_PRESETS:
        if preset not in presets:
            sys.exit(f"reproduce.py: the build has no preset {preset}")
        configs.append((preset, preset, []))
    for name in presets:
        if name.startswith("tutorial-") or name.startswith("keras-"):
            configs.append((name, name, []))
    return configs


def read_metrics(path):
    epochs, test = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            record = json.loads(line)
            if record.get("event") == "epoch":
                epochs.append(record)
            elif record.get("event") == "test":
                test = record
    if test is None:
        raise ValueError(f"{path} has no test line (the run did not finish)")
    return epochs, test


def run_one(binary, preset, options, seed, out, device, extra, data, log, reuse):
    command = [binary, "train", "--preset", preset, *options, "--seed", str(seed), "--device", device,
               "--out", out, "--progress", "off", *extra]
    if data:
        command += ["--data", data]
    record = os.path.join(out, "command.json")
    if reuse and os.path.exists(record):
        # A finished run of the very same command is kept (a long matrix can go on where it stopped).
        with open(record) as f:
            previous = json.load(f)
        if previous.get("command") == command[1:] and previous.get("finished"):
            print(f"reusing {out}", flush=True)
            return previous["result"]
    print("$ " + " ".join(shlex.quote(c) for c in command), flush=True)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "train.log"), "w") as captured:
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        device_name = None
        for line in process.stdout:
            captured.write(line)
            if log:
                sys.stdout.write("  " + line)
            match = re.match(r"training .* on (\S+): ", line)
            if match:
                device_name = match.group(1)
        if process.wait() != 0:
            raise RuntimeError(f"rnnbench exited with {process.returncode}; see {out}/train.log")
    epochs, test = read_metrics(os.path.join(out, "metrics.jsonl"))
    result = {
        "seed": seed,
        "device": device_name or "unknown",
        "test_acc": test["test_acc"],
        "best_epoch": test["best_epoch"],
        "epochs_run": len(epochs),
        "epoch_seconds": test["mean_epoch_seconds"],
        "tokens_per_s": test["tokens_per_s"],
        "val_acc_best": max((e["val_acc"] for e in epochs), default=None),
    }
    write_atomic(record, json.dumps({"command": command[1:], "finished": True, "result": result}, indent=2) + "\n")
    return result


def summarize(name, preset, options, reference, runs):
    accs = [r["test_acc"] for r in runs]
    devices = sorted({r["device"] for r in runs})
    return {
        "name": name,
        "preset": preset,
        "options": " ".join(options),
        "device": ", ".join(devices),
        "seeds": len(runs),
        "test_acc_mean": statistics.fmean(accs),
        "test_acc_min": min(accs),
        "test_acc_max": max(accs),
        "test_acc_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
        "best_epoch_mean": statistics.fmean(r["best_epoch"] for r in runs),
        "epoch_seconds_mean": statistics.fmean(r["epoch_seconds"] for r in runs),
        "tokens_per_s_mean": statistics.fmean(r["tokens_per_s"] for r in runs),
        "reference": reference,
        "runs": runs,
    }


def write_atomic(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def markdown(summary):
    lines = [
        "# Accuracy",
        "",
        f"Generated by `scripts/reproduce.py` on {summary['generated']}"
        + (" in quick mode (a tiny subset: NOT comparable with the references)" if summary["quick"] else "")
        + f"; {summary['seeds']} seed(s) per configuration; test accuracy on "
        + ("the test subset" if summary["quick"] else "the 25,000 test reviews")
        + " from the checkpoint with the lowest validation loss.",
        "",
        "| configuration | device | test accuracy (mean) | min – max | std | best epoch | s/epoch | tokens/s | reference |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in summary["results"]:
        lines.append(
            f"| {row['name']} | {row['device']} | {100 * row['test_acc_mean']:.2f}% | "
            f"{100 * row['test_acc_min']:.2f}% – {100 * row['test_acc_max']:.2f}% | {100 * row['test_acc_std']:.2f} | "
            f"{row['best_epoch_mean']:.1f} | {row['epoch_seconds_mean']:.1f} | {row['tokens_per_s_mean']:,.0f} | "
            f"{row['reference'] or '–'} |")
    if summary["extra_args"]:
        lines += ["", f"Extra arguments: `{summary['extra_args']}`."]
    if summary["failed"]:
        lines += ["", "Failed runs: " + "; ".join(summary["failed"]) + "."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build", help="build folder holding rnnbench (default: build)")
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per configuration (1..N)")
    parser.add_argument("--only", default="", help="comma-separated configuration names or patterns")
    parser.add_argument("--quick", action="store_true", help="tiny subset, one epoch: a smoke test of the script")
    parser.add_argument("--extra-args", default="", help="more rnnbench train options, e.g. '--epochs 2'")
    parser.add_argument("--data", default="", help="IMDB source (default: rnnbench's search)")
    parser.add_argument("--out-dir", default="results", help="where accuracy.json/.md and runs/ go")
    parser.add_argument("--list", action="store_true", help="print the configurations and exit")
    parser.add_argument("--verbose", action="store_true", help="echo rnnbench's output")
    parser.add_argument("--reuse", action="store_true",
                        help="keep finished runs of the same command under <out-dir>/runs instead of training again")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")

    build = args.build if os.path.isabs(args.build) else os.path.join(REPO, args.build)
    binary = os.path.join(build, "rnnbench")
    if not os.access(binary, os.X_OK):
        sys.exit(f"reproduce.py: {binary} not found: build it first (cmake --build {args.build} --target rnnbench)")
    presets = parse_presets(binary)
    configs = configurations(presets)
    if args.only:
        patterns = [p.strip() for p in args.only.split(",") if p.strip()]
        configs = [c for c in configs if any(fnmatch.fnmatchcase(c[0], p) for p in patterns)]
        if not configs:
            sys.exit(f"reproduce.py: --only {args.only} matches no configuration (see --list)")
    if args.list:
        for name, preset, options in configs:
            print(f"{name}: --preset {preset} {' '.join(options)}".rstrip())
        return 0

    extra = (QUICK_ARGS if args.quick else []) + shlex.split(args.extra_args)
    out_dir = os.path.abspath(args.out_dir)
    results, failed = [], []
    for name, preset, options in configs:
        runs = []
        for seed in range(1, args.seeds + 1):
            out = os.path.join(out_dir, "accuracy", "runs", name, f"seed{seed}")
            try:
                runs.append(run_one(binary, preset, options, seed, out, args.device, extra, args.data, args.verbose,
                                    args.reuse))
                print(f"{name} seed {seed}: test accuracy {100 * runs[-1]['test_acc']:.2f}% on {runs[-1]['device']}",
                      flush=True)
            except (RuntimeError, ValueError, OSError) as e:
                print(f"{name} seed {seed}: FAILED: {e}", file=sys.stderr, flush=True)
                failed.append(f"{name} seed {seed}")
        if runs:
            results.append(summarize(name, preset, options, presets.get(preset, ""), runs))

    summary = {
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "seeds": args.seeds,
        "device_option": args.device,
        "extra_args": " ".join(extra),
        "results": results,
        "failed": failed,
    }
    write_atomic(os.path.join(out_dir, "accuracy.json"), json.dumps(summary, indent=2) + "\n")
    write_atomic(os.path.join(out_dir, "accuracy.md"), markdown(summary))
    print(f"wrote {os.path.join(out_dir, 'accuracy.json')} and accuracy.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
