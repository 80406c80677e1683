#!/usr/bin/env python3
"""Summarizes one scripts/gpu_check.sh run: reads the work folder it filled (gtest-*.json,
versions.json, train/metrics.jsonl, layer.json, kernels.json, train_bench.json, peer.json,
info.json) and
writes results/gpu/<gpu>/check-<stamp>.json and a short check-<stamp>.md beside it, each
through a temp file and a rename. Prints the markdown.

usage: gpu_summary.py WORK_DIR RESULT_STEM     (RESULT_STEM.json and RESULT_STEM.md)
"""
import json
import os
import sys

STANDARD_KEYS = {"name", "status", "result", "timestamp", "time", "classname", "failures", "file", "line",
                 "value_param", "type_param", "skipped"}


def load_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def gtest_results(work):
    """Every test of every gtest JSON report in WORK, with its recorded errors."""
    tests = []
    # A process that crashed leaves its log but no report: its tests must not vanish.
    for log in sorted(n for n in os.listdir(work) if n.startswith("gtest-") and n.endswith(".log")):
        if not os.path.exists(os.path.join(work, log[:-4] + ".json")):
            tail = open(os.path.join(work, log), errors="replace").read().strip().splitlines()[-3:]
            tests.append({"name": log[len("gtest-"):-4], "result": "missing",
                          "failure": "the test process wrote no report (crashed?): " + " | ".join(tail)})
    reports = sorted(n for n in os.listdir(work) if n.startswith("gtest-") and n.endswith(".json"))
    for name in reports:
        report = load_json(os.path.join(work, name))
        if report is None:
            tests.append({"name": name, "result": "missing", "failure": "no readable gtest report"})
            continue
        for suite in report.get("testsuites", []):
            for case in suite.get("testsuite", []):
                failures = case.get("failures", [])
                outcome = "failed" if failures else ("skipped" if case.get("result") == "SKIPPED" else "passed")
                entry = {"name": f"{suite['name']}.{case['name']}", "result": outcome}
                properties = {k: v for k, v in case.items() if k not in STANDARD_KEYS}
                if properties:
                    entry["properties"] = properties
                if failures:
                    entry["failure"] = failures[0].get("failure", "")[:600]
                tests.append(entry)
    return tests


def training_results(work):
    training = {}
    metrics = os.path.join(work, "train", "metrics.jsonl")
    if not os.path.exists(metrics):
        return training
    for line in open(metrics):
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if row.get("event") == "epoch":
            training.setdefault("epochs", []).append(
                {k: row.get(k) for k in ("epoch", "train_seconds", "val_seconds", "train_loss", "train_acc",
                                         "val_loss", "val_acc", "tokens_per_s")})
        elif row.get("event") == "test":
            training.update({k: row.get(k) for k in ("test_acc", "mean_epoch_seconds", "tokens_per_s")})
    return training


def benchmark_rows(path):
    """Google Benchmark JSON -> [{name, seconds, tokens_per_s}] (medians where aggregated)."""
    report = load_json(path)
    if not report:
        return []
    rows = {}
    for b in report.get("benchmarks", []):
        if b.get("error_occurred"):
            rows[b["run_name"] if "run_name" in b else b["name"]] = {"error": b.get("error_message", "error")}
            continue
        name = b.get("run_name", b["name"])
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        if b.get("run_type") == "iteration" and name in rows:
            continue  # a median comes later, or the first repetition stands
        unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b.get("time_unit", "ns")]
        rows[name] = {"seconds": b.get("real_time", 0.0) * unit,
                      "tokens_per_s": b.get("real_tokens_per_s", b.get("tokens_per_s"))}
        for counter in ("bytes_per_second", "peak_fraction"):
            if counter in b:
                rows[name][counter] = b[counter]
    return [dict(name=k, **v) for k, v in rows.items()]


def field(name, key):
    for part in name.split("/"):
        if part.startswith(key + ":"):
            return part[len(key) + 1:]
    return ""


def markdown(record):
    lines = [f"# GPU check: {record.get('gpu')} ({record.get('stamp')})", ""]
    lines.append(f"driver {record.get('driver')}, CUDA runtime {record.get('cuda_runtime')}, cuDNN "
                 f"{record.get('cudnn')}, cuBLAS {record.get('cublas')}, commit {record.get('commit')}"
                 + (", built on the GPU machine" if record.get("built_here") else ", carried build"))
    lines.append("")
    counts = {}
    for t in record["tests"]:
        counts[t["result"]] = counts.get(t["result"], 0) + 1
    lines.append("**Tests:** " + (", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "none ran")
                 + f" (exit {record.get('tests_exit')}; training exit {record.get('train_exit')}, benchmarks exit "
                 f"{record.get('bench_exit')})")
    worst = {}
    for t in record["tests"]:
        for k, v in t.get("properties", {}).items():
            try:
                value = float(v)
            except (TypeError, ValueError):
                continue
            suite = t["name"].split(".")[0].split("/")[0]
            key = (suite, k)
            if value > worst.get(key, (-1.0, ""))[0]:
                worst[key] = (value, t["name"])
    if worst:
        lines += ["", "| suite | error | worst | in |", "| --- | --- | --- | --- |"]
        for (suite, k), (value, name) in sorted(worst.items()):
            lines.append(f"| {suite} | {k} | {value:.3g} | {name.split('.', 1)[1]} |")
    failed = [t for t in record["tests"] if t["result"] in ("failed", "missing")]
    for t in failed:
        lines.append(f"- FAILED `{t['name']}`: {t.get('failure', '').splitlines()[0] if t.get('failure') else ''}")
    training = record.get("training", {})
    if training.get("epochs"):
        lines += ["", "**Default GRU on full IMDB (cuDNN):**", ""]
        for e in training["epochs"]:
            lines.append(f"- epoch {e['epoch']}: {e['train_seconds']:.1f} s training "
                         f"({e['tokens_per_s']:,.0f} tokens/s), val acc {100 * (e['val_acc'] or 0):.2f}%")
        if "test_acc" in training:
            lines.append(f"- test accuracy {100 * training['test_acc']:.2f}%")
    elif training.get("exit") not in (None, "skipped"):
        lines.append(f"\n**Training:** exit {training.get('exit')}, no metrics")
    layer = record.get("layer_bench", [])
    if layer:
        lines += ["", "**cuDNN layer, batch 64, hidden 256, IMDB lengths (real tokens/s, median):**", "",
                  "| cell | pass | packed | padded | packed / padded |", "| --- | --- | --- | --- | --- |"]
        table = {}
        for r in layer:
            key = (field(r["name"], "cell"), field(r["name"], "pass"))
            table.setdefault(key, {})[field(r["name"], "layout")] = r.get("tokens_per_s")
        for (cell, p), v in sorted(table.items()):
            packed, padded = v.get("packed"), v.get("padded")
            ratio = f"{packed / padded:.2f}x" if packed and padded else ""
            fmt = lambda x: f"{x / 1e6:.2f} M" if x else "-"
            lines.append(f"| {cell} | {p} | {fmt(packed)} | {fmt(padded)} | {ratio} |")
    kernels = record.get("kernel_bench", [])
    if kernels:
        lines += ["", "**Kernels (median time, bytes moved per second, share of peak DRAM bandwidth):**", "",
                  "| kernel | µs | GB/s | of peak |", "| --- | --- | --- | --- |"]
        for r in kernels:
            if "error" in r:
                lines.append(f"| {r['name']} | error: {r['error']} | | |")
                continue
            lines.append(f"| {r['name'].split('/')[1]} | {1e6 * r['seconds']:.1f} | "
                         f"{r.get('bytes_per_second', 0) / 1e9:.0f} | {100 * r.get('peak_fraction', 0):.0f}% |")
    ours = {r["name"].split("/", 2)[2].split("/iterations")[0]: r for r in record.get("train_bench", [])
            if r["name"].startswith("train_epoch/")}
    peer = {r["name"].split("/", 2)[2].split("/iterations")[0]: r for r in record.get("peer", [])
            if r["name"].startswith("train_epoch/")}
    if ours or peer:
        lines += ["", "**Training epoch, rnnbench (cuDNN) vs PyTorch, same batches:**", "",
                  "| variant | rnnbench s | PyTorch s | speed-up |", "| --- | --- | --- | --- |"]
        for variant in sorted(set(ours) | set(peer)):
            a, b = ours.get(variant, {}).get("seconds"), peer.get(variant, {}).get("seconds")
            ratio = f"{b / a:.2f}x" if a and b else ""
            seconds = lambda x: f"{x:.2f}" if x else "-"
            lines.append(f"| {variant} | {seconds(a)} | {seconds(b)} | {ratio} |")
    for note in record.get("notes", []):
        lines.append(f"\n{note}")
    return "\n".join(lines) + "\n"


def main():
    work, stem = sys.argv[1], sys.argv[2]
    info = load_json(os.path.join(work, "info.json"), {})
    versions = load_json(os.path.join(work, "versions.json"), {})
    record = dict(info)
    record.update({k: versions.get(k) for k in ("cudnn", "cublas", "driver_cuda")})
    record["tests"] = gtest_results(work)
    record["training"] = training_results(work)
    record["training"]["exit"] = info.get("train_exit", "skipped")
    record["layer_bench"] = benchmark_rows(os.path.join(work, "layer.json"))
    record["kernel_bench"] = benchmark_rows(os.path.join(work, "kernels.json"))
    record["train_bench"] = benchmark_rows(os.path.join(work, "train_bench.json"))
    record["peer"] = benchmark_rows(os.path.join(work, "peer.json"))
    os.makedirs(os.path.dirname(stem) or ".", exist_ok=True)
    write_atomic(stem + ".json", json.dumps(record, indent=2) + "\n")
    text = markdown(record)
    write_atomic(stem + ".md", text)
    print(text)
    print(f"written {stem}.json and {stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
