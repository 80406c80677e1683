#!/usr/bin/env python3
"""Renders results/bench/REPORT.md (markdown tables and PNG plots) from the benchmark JSON
under results/bench/<device>/: packed vs padded against the ideal token ratio, RNN vs GRU
vs LSTM at equal sizes, the shape sweeps, cuDNN algorithms and math modes, the CPU's
fraction of the OpenBLAS ceiling, end-to-end training with the PyTorch peer side by side
(GPU and CPU), the CPU engine's epochs per cell in fp32 and bf16 against the machine's
large-GEMM rate, the GEMM libraries on the stack's products, the CPU epoch profile
(cpu_profile.json from scripts/profile_cpu.py), and the accuracy table from
results/accuracy.json when present.

    scripts/report.py [--results results/bench] [--out results/bench/REPORT.md] [--no-install]

matplotlib is installed with pip when missing (unless --no-install); without it the report
has tables only.
"""
import argparse
import glob
import json
import os
import re
import statistics
import subprocess
import sys

TO_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
SUFFIX = re.compile(r"/(real_time|manual_time|iterations:\d+|repeats:\d+)")
TARGETS = {"gpu_epoch_s": 1.5, "gpu_vs_torch": 2.0, "gpu_packed_speedup": 3.0, "cpu_epoch_s": 60.0,
           "cpu_ceiling": 0.70, "cpu_vs_torch": 2.5, "cpu_of_large_gemm": 0.65, "cpu_bf16_speedup": 1.8}
PROFILE_FILE = "cpu_profile.json"  # not Google Benchmark JSON: read by cpu_profile()
DEFAULT = {"cell": "gru", "batch": "64", "hidden": "256", "layers": "1", "dirs": "1", "lengths": "imdb",
           "algo": "standard", "math": "fp32"}


# ---- Loading ------------------------------------------------------------------------------

class Result:
    """One benchmark: its parsed name, median seconds per iteration and median counters."""

    def __init__(self, run_name, runs, median_aggregate):
        self.name = SUFFIX.sub("", run_name)
        parts = self.name.split("/")
        self.family = parts[0]
        self.fields = {}
        self.positional = []
        for part in parts[1:]:
            if ":" in part:
                key, value = part.split(":", 1)
                self.fields[key] = value
            else:
                self.positional.append(part)
        source = runs or ([median_aggregate] if median_aggregate else [])
        self.seconds = (median_aggregate or {}).get("_seconds") or statistics.median(r["_seconds"] for r in source)
        self.counters = {}
        keys = {k for r in source for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        for key in keys - {"real_time", "cpu_time", "iterations", "repetitions", "repetition_index", "threads",
                           "family_index", "per_family_instance_index", "_seconds"}:
            values = [r[key] for r in source if key in r]
            if values:
                self.counters[key] = statistics.median(values)
        self.repetitions = len(runs)

    def get(self, key, default=None):
        return self.fields.get(key, default)

    def c(self, key):
        return self.counters.get(key)


def load_file(path):
    with open(path) as f:
        report = json.load(f)
    runs, medians, errors = {}, {}, {}
    for b in report.get("benchmarks", []):
        name = b.get("run_name", b["name"])
        if b.get("error_occurred"):
            errors[SUFFIX.sub("", name)] = b.get("error_message", "error")
            continue
        b = dict(b)
        b["_seconds"] = float(b["real_time"]) * TO_SECONDS[b.get("time_unit", "ns")]
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[name] = b
        else:
            runs.setdefault(name, []).append(b)
    results = {}
    for name in dict.fromkeys(list(runs) + list(medians)):  # in the file's order
        r = Result(name, runs.get(name, []), medians.get(name))
        results[r.name] = r
    return report.get("context", {}), results, errors


class Device:
    def __init__(self, folder):
        self.folder = folder
        self.slug = os.path.basename(folder.rstrip("/"))
        self.context = {}
        self.results = {}
        self.errors = {}
        self.files = []
        self.loads = []  # (suite, 1-minute load average when it started)
        for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
            if os.path.basename(path) == PROFILE_FILE:
                continue
            try:
                context, results, errors = load_file(path)
            except (OSError, ValueError, KeyError) as e:
                print(f"report: skipping {path}: {e}", file=sys.stderr)
                continue
            self.files.append(os.path.basename(path))
            for k, v in context.items():
                self.context.setdefault(k, v)
            # The quietest start among the suites tells how shared the machine was (later
            # suites start right after this run's own load).
            load = context.get("load_average_at_start")
            if load:
                self.loads.append((os.path.splitext(os.path.basename(path))[0], load.split()[0]))
            self.results.update(results)
            self.errors.update(errors)

    def family(self, family, **fixed):
        out = []
        for r in self.results.values():
            if r.family != family:
                continue
            if all(r.get(k, DEFAULT.get(k)) == str(v) for k, v in fixed.items()):
                out.append(r)
        return out

    def one(self, family, **fixed):
        hits = self.family(family, **fixed)
        return hits[0] if hits else None

    @property
    def is_gpu(self):
        return any(r.family in ("gpu_layer",) or "/cuda/" in r.name for r in self.results.values())

    @property
    def title(self):
        if "gpu" in self.context:
            return f"{self.context['gpu']} ({self.context.get('gpu_sm_count', '?')} SMs)"
        generation = self.context.get("cpu_family_model")
        if not generation:  # results from before the context recorded it: the folder name's f<F>m<M>
            match = re.search(r"-f(\d+)m(\d+)-", self.slug)
            generation = f"family {match.group(1)} model {match.group(2)}" if match else None
        name = self.context.get("cpu_model", self.slug) + (f" ({generation})" if generation else "")
        return f"{name}, {self.context.get('hardware_threads', '?')} hardware threads"


def default_case(**overrides):
    case = dict(DEFAULT)
    case.update({k: str(v) for k, v in overrides.items()})
    return case


def matches(result, case, gpu):
    for key, value in case.items():
        if key == "algo" and not gpu:  # the CPU has no algorithms; its math is fp32 or bf16
            continue
        if result.get(key, DEFAULT.get(key)) != value:
            return False
    return True


def layer(device, family, gpu, **case):
    """The layer result with these fields (defaults elsewhere), or None."""
    want = default_case(**case)
    for r in device.results.values():
        if r.family == family and r.get("embed", "128") == "128" and matches(r, want, gpu):
            return r
    return None


# ---- Formatting ---------------------------------------------------------------------------

def si(value, unit=""):
    if value is None:
        return "–"
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}".strip()
    return f"{value:.3g} {unit}".strip()


def fmt_time(seconds):
    if seconds is None:
        return "–"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def ratio(value):
    return "–" if value is None else f"{value:.2f}×"


def pct(value):
    return "–" if value is None else f"{100 * value:.0f}%"


def table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def verdict(ok):
    return "met" if ok else "**not met**"


# ---- Plots --------------------------------------------------------------------------------

def get_pyplot(install):
    try:
        import matplotlib
    except ImportError:
        if not install:
            return None
        print("report: installing matplotlib with pip", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "matplotlib"], check=False)
        try:
            import matplotlib
        except ImportError:
            return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


class Plots:
    def __init__(self, plt, folder):
        self.plt = plt
        self.folder = folder

    def save(self, fig, name):
        os.makedirs(self.folder, exist_ok=True)
        path = os.path.join(self.folder, name + ".png")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        self.plt.close(fig)
        return f"![{name}](plots/{name}.png)\n"

    def bars(self, name, title, labels, series, ylabel, reference=None):
        """Grouped bars: series is [(legend, values)]."""
        if not self.plt or not labels:
            return ""
        fig, ax = self.plt.subplots(figsize=(max(5.0, 1.1 * len(labels) + 2), 3.6))
        width = 0.8 / max(1, len(series))
        for i, (legend, values) in enumerate(series):
            xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))]
            ax.bar(xs, [v if v is not None else 0 for v in values], width, label=legend)
        if reference is not None:
            ax.axhline(reference, color="grey", linestyle="--", linewidth=1)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=0 if len(labels) < 6 else 30, ha="center" if len(labels) < 6 else "right")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        if len(series) > 1:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(axis="y", alpha=0.3)
        return self.save(fig, name)

    def lines(self, name, title, xlabel, ylabel, series, logx=True):
        if not self.plt or not series:
            return ""
        fig, ax = self.plt.subplots(figsize=(6.5, 3.6))
        for legend, xs, ys in series:
            ax.plot(xs, ys, marker="o", label=legend)
        if logx:
            ax.set_xscale("log", base=2)
        ticks = sorted({x for _, xs, _ in series for x in xs})
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(alpha=0.3)
        return self.save(fig, name)


# ---- Sections -----------------------------------------------------------------------------

def section_context(d):
    keys = ["gpu", "gpu_sm_count", "gpu_driver", "cuda_runtime", "cudnn", "cublas", "torch", "cpu_model",
            "hardware_threads", "blas", "blas_threads", "compiler", "commit", "date", "host_name",
            "load_average_at_start", "lengths_source", "bench_mode"]
    rows = [(k, str(d.context[k]).replace("|", "/")) for k in keys if k in d.context]
    return table(["", ""], rows) + f"\nFiles: {', '.join(d.files)}.\n"


def packed_padded(d, family, gpu, plots):
    out = []
    rows, labels, actual, ideal = [], [], [], []
    for cell in ("rnn-tanh", "rnn-relu", "gru", "lstm"):
        for lengths in ("fixed", "uniform", "imdb", "imdb-bucket"):
            if cell != "gru" and lengths != "imdb":
                continue
            for pass_ in ("fwd", "fwdbwd"):
                p = layer(d, family, gpu, cell=cell, lengths=lengths, layout="packed", **{"pass": pass_})
                q = layer(d, family, gpu, cell=cell, lengths=lengths, layout="padded", **{"pass": pass_})
                if not p or not q:
                    continue
                speedup = q.seconds / p.seconds
                overhead = q.c("padding_overhead")
                rows.append((cell, lengths, pass_, fmt_time(p.seconds), fmt_time(q.seconds), ratio(speedup),
                             ratio(overhead), pct(speedup / overhead if overhead else None)))
                if pass_ == "fwdbwd":
                    labels.append(f"{cell}\n{lengths}")
                    actual.append(speedup)
                    ideal.append(overhead)
    if not rows:
        return ""
    out.append("Same batches both ways (batch 64, embed 128, hidden 256, one layer). *Ideal* is the padded "
               "run's computed tokens over real tokens: the speedup packing would give if time were "
               "proportional to computed tokens. On IMDB a random batch of 64 pads to about 3.8× its real "
               "tokens; length-bucketed batches to about 1.01×.\n")
    out.append(table(["cell", "lengths", "pass", "packed", "padded", "speedup", "ideal", "of ideal"], rows))
    if plots:
        out.append(plots.bars(f"{d.slug}-{family}-packed-vs-padded", "packed speedup over padded (forward+backward)",
                              labels, [("measured", actual), ("ideal (computed/real tokens)", ideal)], "speedup ×",
                              reference=1.0))
    return "\n".join(out)


def cells(d, family, gpu, plots):
    rows, series = [], {}
    names = ("rnn-tanh", "rnn-relu", "gru", "lstm")
    for layout in ("packed", "padded"):
        for pass_ in ("fwd", "fwdbwd"):
            found = [layer(d, family, gpu, cell=c, layout=layout, **{"pass": pass_}) for c in names]
            if not any(found):
                continue
            rows.append([layout, pass_] + [f"{si(r.c('tokens_per_second'))} tok/s, {r.c('GFLOP_per_second'):.0f} GFLOP/s"
                                           if r else "–" for r in found])
            series[f"{layout} {pass_}"] = [r.c("tokens_per_second") if r else None for r in found]
    if not rows:
        return ""
    text = ("Equal sizes (embed 128, hidden 256, batch 64, IMDB-length random batches). GRU does 3× and LSTM 4× "
            "the matrix work of a plain RNN per token, which GFLOP/s accounts for.\n\n")
    text += table(["layout", "pass"] + list(names), rows)
    if plots:
        text += plots.bars(f"{d.slug}-{family}-cells", "real tokens/s by cell", list(names),
                           list(series.items()), "tokens/s")
    return text


def sweeps(d, family, gpu, plots):
    """One table per swept dimension: a row per value, a column per layout and pass."""
    text = ""
    for key, label in (("batch", "batch size"), ("hidden", "hidden size"), ("layers", "layers"), ("dirs", "directions")):
        columns, series, points_by_value = [], [], {}
        for layout in ("packed", "padded"):
            for pass_ in ("fwd", "fwdbwd"):
                others = default_case(layout=layout, **{"pass": pass_})
                others.pop(key)
                points = sorted((int(r.get(key)), r) for r in d.family(family)
                                if key in r.fields and r.get("embed", "128") == "128" and matches(r, others, gpu))
                if len(points) < 2:
                    continue
                columns.append(f"{layout} {pass_}")
                for value, r in points:
                    points_by_value.setdefault(value, {})[columns[-1]] = r
                series.append((columns[-1], [p[0] for p in points], [p[1].c("GFLOP_per_second") for p in points]))
        if not columns:
            continue
        rows = []
        for value in sorted(points_by_value):
            row = [value]
            for column in columns:
                r = points_by_value[value].get(column)
                row.append(f"{r.c('GFLOP_per_second'):.1f} GFLOP/s, {si(r.c('tokens_per_second'))} tok/s" if r else "–")
            rows.append(row)
        text += f"\n**{label}** (everything else at the default GRU)\n\n" + table([key] + columns, rows)
        if plots:
            text += plots.lines(f"{d.slug}-{family}-{key}", f"useful GFLOP/s by {label}", label, "GFLOP/s", series,
                                logx=key in ("batch", "hidden"))
    return text


def algos_math(d, plots):
    text = ""
    for key, values in (("algo", ("standard", "persist-static", "persist-dynamic", "persist-static-small-h")),
                        ("math", ("fp32", "tf32", "fp16"))):
        rows = []
        for layout in ("packed", "padded"):
            for pass_ in ("fwd", "fwdbwd"):
                row = [layout, pass_]
                for v in values:
                    r = layer(d, "gpu_layer", True, layout=layout, **{"pass": pass_, key: v})
                    name_err = [e for n, e in d.errors.items() if f"/{key}:{v}" in n and f"layout:{layout}" in n
                                and f"pass:{pass_}/" in n]
                    row.append(f"{fmt_time(r.seconds)} ({si(r.c('tokens_per_second'))} tok/s)" if r
                               else ("refused" if name_err else "–"))
                rows.append(row)
        text += f"\n**{key}** (default GRU)\n\n" + table(["layout", "pass"] + list(values), rows)
        if plots:
            series = []
            for layout in ("packed", "padded"):
                found = [layer(d, "gpu_layer", True, layout=layout, **{"pass": "fwdbwd", key: v}) for v in values]
                series.append((f"{layout} fwdbwd", [r.c("tokens_per_second") if r else None for r in found]))
            text += plots.bars(f"{d.slug}-gpu-{key}", f"real tokens/s by cuDNN {key} (forward+backward)",
                               list(values), series, "tokens/s")
    return text


def stack_for(d, ceiling_result):
    """CpuRnn's result on a ceiling case: from the same run (cpu_stack) when there is one,
    else from bench_cpu_rnn (cpu_layer, a different run)."""
    for family in ("cpu_stack", "cpu_layer"):
        for cand in d.family(family):
            if cand.fields == ceiling_result.fields:
                return cand
    return None


def ceiling(d, plots):
    rows, labels, fractions = [], [], []
    for c in sorted(d.family("blas_ceiling"), key=lambda r: (r.get("pass"), r.get("lengths"), r.get("cell"))):
        want = {k: v for k, v in c.fields.items()}
        r = stack_for(d, c)
        if not r:
            continue
        frac = r.c("GFLOP_per_second") / c.c("GFLOP_per_second")
        rows.append((c.get("cell"), c.get("pass"), c.get("lengths"), f"{r.c('GFLOP_per_second'):.1f}",
                     f"{c.c('GFLOP_per_second'):.1f}", pct(frac)))
        labels.append(f"{c.get('cell')}\n{c.get('pass')}\n{c.get('lengths')}")
        fractions.append(frac)
    if not rows:
        return ""
    text = ("The ceiling is raw OpenBLAS sgemm on exactly the products CpuRnn issues for the same batches "
            "(bench_blas_ceiling, which also runs CpuRnn on the same cases in the same process, repetitions "
            "interleaved); the fraction is the stack's useful GFLOP/s over the ceiling's, i.e. the ceiling's "
            f"time over the stack's. Target: ≥ {pct(TARGETS['cpu_ceiling'])}.\n\n")
    text += table(["cell", "pass", "lengths", "CpuRnn GFLOP/s", "OpenBLAS GFLOP/s", "fraction"], rows)
    if plots:
        text += plots.bars(f"{d.slug}-ceiling", "fraction of the OpenBLAS ceiling", labels,
                           [("fraction", fractions)], "fraction", reference=TARGETS["cpu_ceiling"])
    shapes = sorted(d.family("blas_shape"), key=lambda r: r.name)
    if shapes:
        text += "\nThe default GRU's products one by one:\n\n"
        text += table(["product", "m × n × k", "time", "GFLOP/s"],
                      [(r.positional[0] if r.positional else r.name, f"{r.get('m')} × {r.get('n')} × {r.get('k')}",
                        fmt_time(r.seconds), f"{r.c('GFLOP_per_second'):.1f}") for r in shapes])
    return text


def training(d, peer):
    rows = []
    variants = []
    for r in d.results.values():
        if r.family in ("train_step", "train_epoch"):
            device, variant = r.positional[0], "/".join([r.positional[1]] + [f"{k}:{v}" for k, v in r.fields.items()])
            if not device.startswith("torch") and (device, variant) not in variants:
                variants.append((device, variant))
    for device, variant in variants:
        step = d.results.get(f"train_step/{device}/{variant}")
        epoch = d.results.get(f"train_epoch/{device}/{variant}")
        torch_epoch = peer.get(f"train_epoch/torch/{variant}") if device == "cuda" else torch_cpu_fastest(peer, variant)[1]
        rows.append((device, variant, fmt_time(step.seconds) if step else "–",
                     si(step.c("tokens_per_second")) if step else "–",
                     fmt_time(epoch.c("train_seconds")) if epoch else "–",
                     si(epoch.c("tokens_per_second")) if epoch else "–",
                     ratio(epoch.c("padding_overhead")) if epoch else "–",
                     pct(epoch.c("val_accuracy")) if epoch else "–",
                     fmt_time(torch_epoch.c("train_seconds")) if torch_epoch else "–",
                     ratio(torch_epoch.c("train_seconds") / epoch.c("train_seconds")) if torch_epoch and epoch else "–"))
    if not rows:
        return ""
    text = ("A step is one training step on the epoch's median batch, waited for; an epoch is the training "
            "split in the trainer's batch order (then validation, timed separately). *vs PyTorch* is the "
            "PyTorch peer's epoch time over rnnbench's on the same batches.\n\n")
    return text + table(["device", "variant", "step", "step tokens/s", "epoch (train)", "epoch tokens/s",
                         "padding", "val acc", "PyTorch epoch", "vs PyTorch"], rows)


def torch_cpu_fastest(peer, variant):
    """PyTorch CPU's fastest epoch for a variant's batches (as exported, or post-padded):\n    (configuration, result), or (None, None). A bf16 variant is compared with fp32 PyTorch."""
    base = variant.replace("/math:bf16", "")
    configs = [("as exported", "")] + ([] if "padding:" in base else [("post-padded", "/padding:post")])
    found = [(name, peer.get(f"train_epoch/torch-cpu/{base}{suffix}")) for name, suffix in configs]
    found = [(n, r) for n, r in found if r]
    if not found:
        return None, None
    return min(found, key=lambda nr: nr[1].c("train_seconds"))


def large_gemm_rate(d):
    """The machine's best fp32 large-GEMM rate (bench_gemm_libraries' large/*): (GFLOP/s, name)."""
    best = None
    for r in d.family("large"):
        rate = r.c("GFLOP_per_second")
        if rate and (best is None or rate > best[0]):
            best = (rate, f"{r.positional[0]}, {r.get('size')}³, {r.get('lib_threads')} threads")
    return best


CPU_CELLS = [("default", "GRU"), ("default/cell:lstm", "LSTM"), ("default/cell:rnn-tanh", "tanh RNN"),
             ("default/layers:2/bidirectional:true", "GRU, 2 layers, bidirectional")]


def cpu_engine(d, peer):
    """Headline lines and the per-cell table of the CPU engine's epochs (fp32, bf16) against\n    PyTorch CPU's fastest configuration and the machine's large-GEMM rate."""
    large = large_gemm_rate(d)
    lines, rows = [], []
    for variant, name in CPU_CELLS:
        fp32 = d.results.get(f"train_epoch/cpu/{variant}")
        bf16 = d.results.get(f"train_epoch/cpu/{variant}/math:bf16")
        config, torch_epoch = torch_cpu_fastest(peer, variant)
        if not fp32:
            continue
        s32 = fp32.c("train_seconds")
        s16 = bf16.c("train_seconds") if bf16 else None
        ts = torch_epoch.c("train_seconds") if torch_epoch else None
        of_large = fp32.c("GFLOP_per_second") / large[0] if large else None
        rows.append((name, fmt_time(s32), si(fp32.c("tokens_per_second")), f"{fp32.c('GFLOP_per_second'):.0f}",
                     pct(of_large) if of_large else "–", fmt_time(s16) if s16 else "–",
                     ratio(s32 / s16) if s16 else "–", fmt_time(ts) if ts else "–", config or "–",
                     ratio(ts / s32) if ts else "–", ratio(ts / s16) if ts and s16 else "–",
                     pct(fp32.c("val_accuracy")), pct(bf16.c("val_accuracy")) if bf16 else "–"))
        if variant != "default":
            continue
        if large:
            lines.append(f"- Default GRU epoch on the CPU, fp32: **{fmt_time(s32)}** ({si(fp32.c('tokens_per_second'))} "
                         f"tokens/s, {fp32.c('GFLOP_per_second'):.0f} GFLOP/s) = **{pct(of_large)}** of this machine's "
                         f"best fp32 large GEMM ({large[0]:.0f} GFLOP/s, {large[1]}); target ≥ "
                         f"{pct(TARGETS['cpu_of_large_gemm'])}: {verdict(of_large >= TARGETS['cpu_of_large_gemm'])}.")
        if ts:
            rel = ts / s32
            lines.append(f"- Against PyTorch CPU's fastest configuration ({config}, {fmt_time(ts)}, same batches and "
                         f"threads): **{ratio(rel)}**; target ≥ {TARGETS['cpu_vs_torch']}×: "
                         f"{verdict(rel >= TARGETS['cpu_vs_torch'])}.")
        if s16:
            rel = s32 / s16
            lines.append(f"- bf16 epoch: **{fmt_time(s16)}**, {ratio(rel)} the fp32 epoch; target ≥ "
                         f"{TARGETS['cpu_bf16_speedup']}×: {verdict(rel >= TARGETS['cpu_bf16_speedup'])}.")
    if not rows:
        return "", ""
    text = ("One training epoch of each cell at the default shape (embed 128, hidden 256, batch 64, bucketed, "
            "packed), in fp32 and with `--math bf16`, on the same batches as the PyTorch CPU peer "
            "(bench/peer_pytorch.py --device cpu, same thread count, denormals flushed as rnnbench does; its "
            "fastest of packed and post-padded). *of large GEMM*: the epoch's useful GFLOP/s over the machine's best "
            "fp32 large-GEMM rate. Validation accuracy after one epoch, for the two maths side by side.\n\n")
    text += table(["cell", "fp32 epoch", "tokens/s", "GFLOP/s", "of large GEMM", "bf16 epoch", "bf16 speedup",
                   "PyTorch CPU", "PyTorch config", "fp32 vs PyTorch", "bf16 vs PyTorch", "val acc fp32",
                   "val acc bf16"], rows)
    return "\n".join(lines) + "\n", text


def gemm_libraries(d):
    """bench_gemm_libraries: GFLOP/s per product and library, both cores (one per thread)."""
    results = d.family("gemm")
    if not results:
        return ""
    libraries = list(dict.fromkeys(r.positional[0] for r in results))
    products = list(dict.fromkeys((r.positional[1], r.get("cell"), r.get("m"), r.get("n"), r.get("k")) for r in results))
    rows = []
    for product, cell, m, n, k in products:
        row = [product, cell, f"{m} × {n} × {k}"]
        for lib in libraries:
            cells = []
            for threads in ("1", str(d.context.get("hardware_threads", "2"))):
                hit = [r for r in results if r.positional == [lib, product] and r.get("cell") == cell
                       and r.get("threads", "1") == threads]
                cells.append(f"{hit[0].c('GFLOP_per_second'):.0f}" if hit and hit[0].c("GFLOP_per_second") else "–")
            row.append(" / ".join(cells))
        rows.append(row)
    text = ("The stack's products (bench_gemm_libraries; m × n × k of C = A B, of C = A^T B for d_w and d_r), "
            "each library single-threaded per thread as the stack's lanes run them: GFLOP/s on one core / on all "
            "cores at once (the machine's total). "
            f"The stack runs fp32 on {d.context.get('cpu_float_products', '?')} and bf16 on "
            f"{d.context.get('cpu_bf16_products', '?')}.\n\n")
    text += table(["product", "cell", "m × n × k"] + libraries, rows)
    large = sorted(d.family("large"), key=lambda r: -(r.c("GFLOP_per_second") or 0))
    if large:
        text += "\nLarge fp32 products with each library's own threads (the reference rate):\n\n"
        text += table(["library", "size", "threads", "GFLOP/s"],
                      [(r.positional[0], f"{r.get('size')}³", r.get("lib_threads"), f"{r.c('GFLOP_per_second'):.0f}")
                       for r in large])
    return text


def read_run(path):
    """(epoch lines, test line) of an rnnbench metrics.jsonl; ([], None) if unreadable."""
    epochs, test = [], None
    try:
        with open(path) as f:
            for line in f:
                event = json.loads(line)
                if event.get("event") == "epoch":
                    epochs.append(event)
                elif event.get("event") == "test":
                    test = event
    except (OSError, ValueError):
        return [], None
    return epochs, test


def bf16_accuracy(d):
    """The default GRU trained for the same epochs in fp32 and bf16, one run per math and seed
    (accuracy-<math>-seed<N>.metrics.jsonl in the device folder): (headline line, table)."""
    runs = {}  # seed -> {math: (epochs, test)}
    for name in sorted(os.listdir(d.folder)):
        m = re.fullmatch(r"accuracy-(fp32|bf16)-seed(\d+)\.metrics\.jsonl", name)
        if m:
            epochs, test = read_run(os.path.join(d.folder, name))
            if test:
                runs.setdefault(int(m.group(2)), {})[m.group(1)] = (epochs, test)
    pairs = {seed: r for seed, r in sorted(runs.items()) if len(r) == 2}
    if not pairs:
        return "", ""
    rows, gaps = [], []
    for seed, r in pairs.items():
        gaps.append(100 * (r["bf16"][1]["test_acc"] - r["fp32"][1]["test_acc"]))
        rows += [(seed, math, len(epochs), test["best_epoch"], f"{100 * test['test_acc']:.2f}%",
                  fmt_time(test["mean_epoch_seconds"]), si(test["tokens_per_s"]))
                 for math, (epochs, test) in ((m, r[m]) for m in ("fp32", "bf16"))]
    mean = {math: 100 * sum(r[math][1]["test_acc"] for r in pairs.values()) / len(pairs) for math in ("fp32", "bf16")}
    gap = mean["bf16"] - mean["fp32"]
    seeds = ", ".join(str(s) for s in pairs)
    line = (f"- bf16 against fp32, default GRU, {len(next(iter(pairs.values()))['fp32'][0])} epochs, seeds {seeds}: "
            f"mean test accuracy {mean['bf16']:.2f}% against {mean['fp32']:.2f}% (**{gap:+.2f} points**; per seed "
            + ", ".join(f"{g:+.2f}" for g in gaps) + f"); target within 0.3 points: {verdict(abs(gap) <= 0.3)}.")
    text = ("`rnnbench train --device cpu --epochs 5 --seed N [--math bf16]`, default GRU, test accuracy of the "
            "kept checkpoint on the 25,000 test reviews. Seeds move either math by about half a point, so the "
            "target is judged on the mean over seeds. The times are not a speed measurement: "
            "these runs shared the machine with other work (bench_train measures speed):\n\n")
    return line, text + table(["seed", "math", "epochs", "kept epoch", "test accuracy", "s/epoch", "tokens/s"], rows)


def cpu_profile(d):
    path = os.path.join(d.folder, PROFILE_FILE)
    if not os.path.exists(path):
        return ""
    try:
        with open(path) as f:
            profiles = json.load(f).get("profiles", [])
    except (OSError, ValueError) as e:
        return f"{path} could not be read: {e}\n"
    if not profiles:
        return ""
    parts = list(dict.fromkeys(k for p in profiles for k in p["parts"]))
    headers = ["part"] + [f"{p['label']} ({p['math']})" for p in profiles]
    rows = [[part] + [f"{p['parts'].get(part, 0.0):.1f}%" for p in profiles] for part in parts]
    rows.append(["epoch tokens/s"] + [si(p["tokens_per_second"]) if p.get("tokens_per_second") else "–"
                                      for p in profiles])
    text = ("Share of CPU samples (`perf record`, both threads) by part of the training step, for one epoch of "
            "`rnnbench train " + profiles[0].get("command", "").replace("train ", "", 1).split(" --out")[0] +
            "` (scripts/profile_cpu.py)." +
            (" *before* is an older engine's (`PROFILE_BEFORE`)." if any(p["label"] == "before" for p in profiles)
             else "") + "\n\n")
    return text + table(headers, rows)


def headline(d, peer):
    lines = []
    if d.is_gpu:
        e = d.results.get("train_epoch/cuda/default")
        if e:
            s = e.c("train_seconds")
            lines.append(f"- Default GRU epoch on the GPU: **{fmt_time(s)}** "
                         f"({si(e.c('tokens_per_second'))} tokens/s); target < {TARGETS['gpu_epoch_s']} s: "
                         f"{verdict(s < TARGETS['gpu_epoch_s'])}.")
            t = peer.get("train_epoch/torch/default")
            if t:
                rel = t.c("train_seconds") / s
                lines.append(f"- Against PyTorch on the same batches: **{ratio(rel)}** faster; target ≥ "
                             f"{TARGETS['gpu_vs_torch']}×: {verdict(rel >= TARGETS['gpu_vs_torch'])}.")
        p = layer(d, "gpu_layer", True, layout="packed", **{"pass": "fwdbwd"})
        q = layer(d, "gpu_layer", True, layout="padded", **{"pass": "fwdbwd"})
        if p and q:
            sp = q.seconds / p.seconds
            lines.append(f"- Packed over padded on random IMDB batches (GRU layer, forward+backward): "
                         f"**{ratio(sp)}** (ideal {ratio(q.c('padding_overhead'))}); target ≥ "
                         f"{TARGETS['gpu_packed_speedup']}×: {verdict(sp >= TARGETS['gpu_packed_speedup'])}.")
        a = d.results.get("train_epoch/cuda/default/batching:random")
        b = d.results.get("train_epoch/cuda/default/batching:random/padding:post")
        if a and b:
            lines.append(f"- End to end on random batches, packed over post-padded: "
                         f"**{ratio(b.c('train_seconds') / a.c('train_seconds'))}**.")
    a = d.results.get("train_step/cpu/default/batching:random")
    b = d.results.get("train_step/cpu/default/batching:random/padding:post")
    if a and b:
        lines.append(f"- CPU training step on random batches, packed over post-padded (real tokens/s of each's median "
                     f"batch): **{ratio(a.c('tokens_per_second') / b.c('tokens_per_second'))}** "
                     f"(padding {ratio(b.c('padding_overhead'))}).")
    engine_lines, _ = cpu_engine(d, peer)
    if engine_lines:
        lines.append(engine_lines.rstrip("\n"))
    accuracy_line, _ = bf16_accuracy(d)
    if accuracy_line:
        lines.append(accuracy_line)
    e = d.results.get("train_epoch/cpu/default")
    if e:
        s = e.c("train_seconds")
        lines.append(f"- Default GRU epoch on the CPU: **{fmt_time(s)}** training + "
                     f"{fmt_time(e.c('validation_seconds'))} validation ({si(e.c('tokens_per_second'))} tokens/s, "
                     f"{e.c('GFLOP_per_second'):.1f} GFLOP/s); target < {TARGETS['cpu_epoch_s']:.0f} s: "
                     f"{verdict(s < TARGETS['cpu_epoch_s'])}.")
    c = layer(d, "blas_ceiling", False, layout="packed", **{"pass": "fwdbwd"})
    r = stack_for(d, c) if c else None
    if r and c:
        frac = r.c("GFLOP_per_second") / c.c("GFLOP_per_second")
        lines.append(f"- CPU GRU layer forward+backward at **{pct(frac)}** of the OpenBLAS ceiling on the same "
                     f"products ({r.c('GFLOP_per_second'):.1f} of {c.c('GFLOP_per_second'):.1f} GFLOP/s); target ≥ "
                     f"{pct(TARGETS['cpu_ceiling'])}: {verdict(frac >= TARGETS['cpu_ceiling'])}.")
    threads = d.context.get("hardware_threads")
    if d.loads and threads and not d.is_gpu:
        try:
            if max(float(load) for _, load in d.loads) > float(threads):
                lines.append("- The machine was shared while measuring (1-minute load average when each suite started, "
                             f"on {threads} hardware threads: " + ", ".join(f"{s} {l}" for s, l in d.loads) +
                             "): CPU numbers are pessimistic and noisy.")
        except ValueError:
            pass
    return "\n".join(lines) + "\n" if lines else ""


def accuracy_section(path):
    if not os.path.exists(path):
        return ""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        return f"\n## Accuracy\n\n{path} could not be read: {e}\n"
    rows = data if isinstance(data, list) else data.get("runs") or data.get("results") or \
        [dict(v, name=k) if isinstance(v, dict) else {"name": k, "value": v} for k, v in data.items()]
    rows = [r for r in rows if isinstance(r, dict)]
    if not rows:
        return ""
    keys = []
    for r in rows:
        for k in r:
            if k not in keys and not isinstance(r[k], (dict, list)):
                keys.append(k)

    def cell(v):
        if isinstance(v, float):
            return f"{100 * v:.2f}%" if 0 <= v <= 1 else f"{v:.4g}"
        return str(v)
    return f"\n## Accuracy\n\nFrom {path}.\n\n" + table(keys, [[cell(r.get(k, "")) for k in keys] for r in rows])


def render(devices, plots, accuracy_path):
    out = ["# rnnbench benchmark report\n",
           "Generated by `scripts/report.py` from the Google Benchmark JSON under `results/bench/<device>/` "
           "(`scripts/bench.sh`, `scripts/gpu_bench.sh`; see docs/BENCHMARKS.md). Times are medians of the "
           "repetitions; tokens are real (unpadded) tokens; GFLOP/s count 2·G·H·(I+H) per real token, layer and "
           "direction (backward as twice forward), so padding never counts as useful work.\n"]
    for d in devices:
        peer = {r.name: r for r in d.results.values() if "/torch/" in r.name or "/torch-cpu/" in r.name}
        out.append(f"\n## {d.title}\n")
        out.append(headline(d, peer))
        out.append("\n<details><summary>machine and libraries</summary>\n\n" + section_context(d) + "\n</details>\n")
        text = training(d, peer)
        if text:
            out.append("\n### End-to-end training\n\n" + text)
        _, text = cpu_engine(d, peer)
        if text:
            out.append("\n### CPU engine: fp32 and bf16 epochs per cell, against PyTorch CPU\n\n" + text)
        _, text = bf16_accuracy(d)
        if text:
            out.append("\n### CPU bf16 against fp32: accuracy\n\n" + text)
        text = gemm_libraries(d)
        if text:
            out.append("\n### CPU GEMM libraries on the stack's products\n\n" + text)
        text = cpu_profile(d)
        if text:
            out.append("\n### CPU epoch profile\n\n" + text)
        for family, gpu, name in (("gpu_layer", True, "cuDNN"), ("cpu_layer", False, "CPU")):
            if not d.family(family):
                continue
            text = packed_padded(d, family, gpu, plots)
            if text:
                out.append(f"\n### {name} layer: packed vs padded\n\n" + text)
            text = cells(d, family, gpu, plots)
            if text:
                out.append(f"\n### {name} layer: RNN vs GRU vs LSTM\n\n" + text)
            text = sweeps(d, family, gpu, plots)
            if text:
                out.append(f"\n### {name} layer: shapes\n" + text)
            if gpu:
                out.append("\n### cuDNN algorithms and math modes\n" + algos_math(d, plots))
        text = ceiling(d, plots)
        if text:
            out.append("\n### CPU: fraction of the OpenBLAS ceiling\n\n" + text)
        if d.errors:
            out.append("\n<details><summary>benchmarks that did not run</summary>\n\n" +
                       table(["benchmark", "reason"], [(n, e.replace("|", "/")[:160]) for n, e in sorted(d.errors.items())])
                       + "\n</details>\n")
    out.append(accuracy_section(accuracy_path))
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default="results/bench")
    parser.add_argument("--out", default=None, help="default: <results>/REPORT.md")
    parser.add_argument("--accuracy", default="results/accuracy.json")
    parser.add_argument("--include-quick", action="store_true", help="also report *-quick result folders")
    parser.add_argument("--no-install", action="store_true", help="never pip-install matplotlib")
    args = parser.parse_args(argv)
    out = args.out or os.path.join(args.results, "REPORT.md")
    folders = [f for f in sorted(glob.glob(os.path.join(args.results, "*"))) if os.path.isdir(f)
               and glob.glob(os.path.join(f, "*.json")) and (args.include_quick or not f.endswith("-quick"))]
    devices = [Device(f) for f in folders]
    devices = [d for d in devices if d.results]
    if not devices:
        print(f"report: no benchmark results under {args.results}/<device>/", file=sys.stderr)
        return 1
    plt = get_pyplot(not args.no_install)
    plots = Plots(plt, os.path.join(os.path.dirname(out) or ".", "plots")) if plt else None
    text = render(devices, plots, args.accuracy)
    if not plt:
        text += "\n_(matplotlib unavailable: plots omitted)_\n"
    tmp = f"{out}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
    print(f"report: wrote {out} ({len(devices)} device(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
