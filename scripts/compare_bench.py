#!/usr/bin/env python3
"""Regression guard for Google Benchmark results: compares two JSON files benchmark by
benchmark and fails when one got slower than a threshold.

    scripts/compare_bench.py BASELINE.json CURRENT.json [--threshold 0.05] [--filter REGEX]

Each benchmark's time is the median of its repetitions: the "median" aggregate when the
file has one, else the median of its iteration runs, else its single run (real_time, which
is the CUDA-event time for manually timed benchmarks). It prints baseline, current and
current/baseline per benchmark and exits 1 when any ratio exceeds 1 + threshold, 2 when a
file cannot be read, 0 otherwise. Benchmarks present in only one file, or that failed, are
listed but do not fail the comparison.
"""
import argparse
import json
import re
import statistics
import sys

TO_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def load_times(path):
    """{run name: (seconds per iteration, error message or None)} from a benchmark JSON file."""
    with open(path) as f:
        report = json.load(f)
    medians, runs, errors = {}, {}, {}
    for bench in report.get("benchmarks", []):
        # Runs with and without --benchmark_repetitions compare under one name.
        name = re.sub(r"/repeats:\d+", "", bench.get("run_name", bench["name"]))
        if bench.get("error_occurred"):
            errors[name] = bench.get("error_message", "error")
            continue
        seconds = float(bench["real_time"]) * TO_SECONDS[bench.get("time_unit", "ns")]
        if bench.get("run_type") == "aggregate":
            if bench.get("aggregate_name") == "median":
                medians[name] = seconds
        else:
            runs.setdefault(name, []).append(seconds)
    times = {name: (statistics.median(values), None) for name, values in runs.items()}
    times.update({name: (seconds, None) for name, seconds in medians.items()})
    for name, message in errors.items():
        times.setdefault(name, (None, message))
    return times


def format_seconds(seconds):
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3f} {unit}"
    return f"{seconds / 1e-9:.1f} ns"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("baseline")
    parser.add_argument("current")
    parser.add_argument("--threshold", type=float, default=0.05,
                        help="fail when current/baseline time exceeds 1 + this (default 0.05)")
    parser.add_argument("--filter", default="", help="only benchmarks whose name matches this regex")
    args = parser.parse_args(argv)
    try:
        base = load_times(args.baseline)
        curr = load_times(args.current)
    except (OSError, ValueError, KeyError) as e:
        print(f"compare_bench: cannot read the results: {e}", file=sys.stderr)
        return 2

    pattern = re.compile(args.filter)
    names = [n for n in list(base) + [n for n in curr if n not in base] if pattern.search(n)]
    width = max([len(n) for n in names] + [9])
    print(f"{'benchmark':<{width}}  {'baseline':>12}  {'current':>12}  {'ratio':>7}  status")
    slower = []
    for name in names:
        b, b_err = base.get(name, (None, "missing"))
        c, c_err = curr.get(name, (None, "missing"))
        if b is None or c is None:
            why = f"baseline {b_err}" if b is None else f"current {c_err}"
            print(f"{name:<{width}}  {format_seconds(b):>12}  {format_seconds(c):>12}  {'-':>7}  not compared ({why})")
            continue
        ratio = c / b if b > 0 else float("inf")
        if ratio > 1.0 + args.threshold:
            status = f"SLOWER (+{100 * (ratio - 1):.1f}%)"
            slower.append((name, ratio))
        elif ratio < 1.0 - args.threshold:
            status = f"faster ({100 * (ratio - 1):.1f}%)"
        else:
            status = "ok"
        print(f"{name:<{width}}  {format_seconds(b):>12}  {format_seconds(c):>12}  {ratio:7.3f}  {status}")
    if slower:
        print(f"\n{len(slower)} benchmark(s) slower than the baseline by more than {100 * args.threshold:.0f}%:")
        for name, ratio in slower:
            print(f"  SLOWER {name}: {ratio:.3f}x the baseline time")
        return 1
    print(f"\nno benchmark slower than the baseline by more than {100 * args.threshold:.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
