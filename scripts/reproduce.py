#!/usr/bin/env python3
"""Reproducible accuracy: trains the accuracy matrix with rnnbench and writes the table.

The configurations: {rnn-tanh, gru, lstm} x {packed, post-padded} at the default shape, the
project's recipes (best-rnn, best-gru, best-lstm), every tutorial preset (tutorial-*,
keras-*), and with --trials the recipe trials (trial-*, one option changed at a time), each
with --seeds seeds. Every run goes to <out-dir>/accuracy/runs/<config>/seed<N>/, or with
--extra-args to <config>/<those options>/seed<N>/ (metrics.jsonl, train.log and command.json, which are committed; checkpoints, which are not).
The summary, <out-dir>/accuracy.json and accuracy.md, holds every configuration with
finished runs on disk, from this invocation or earlier ones, so the matrix can be built a
few runs at a time: per configuration the test accuracy (mean, min, max and standard
deviation over the seeds), the kept epochs, seconds per training epoch, training tokens/s,
the device and math, the reference the preset quotes, and a learning-curve PNG under
<out-dir>/accuracy/curves/ (with matplotlib). Every file is written to a temp file and renamed.

  scripts/reproduce.py                         # everything, 3 seeds, GPU when usable
  scripts/reproduce.py --only 'best-*' --seeds 3 --reuse
  scripts/reproduce.py --summary-only          # the table and plots from the runs on disk
  scripts/reproduce.py --quick --seeds 1 --only tutorial-gru --out-dir /tmp/acc   # smoke test
"""
import argparse
import datetime
import fnmatch
import glob
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
# Short runs that measure one recipe option at a time (docs/ACCURACY.md): a bidirectional
# GRU 128 for 4 epochs in bf16, kept by accuracy; each trial changes one thing from
# trial-base (spelled out, so that changing a preset does not change the trials).
TRIAL_BASE = ["--cell", "gru", "--hidden", "128", "--bidirectional", "--pool", "meanmax", "--embed-dropout", "0.25",
              "--head-dropout", "0.5", "--max-vocab", "30002", "--min-freq", "2", "--clip-norm", "1",
              "--lr-plateau", "1", "--epochs", "4", "--select", "acc", "--math", "bf16"]
TRIALS = [
    ("trial-base", []),
    ("trial-cosine", ["--lr-schedule", "cosine", "--lr-plateau", "0"]),
    ("trial-chop50", ["--chop", "50"]),
    ("trial-chop100", ["--chop", "100"]),
    ("trial-word-dropout", ["--word-dropout", "0.1"]),
    ("trial-weight-decay", ["--weight-decay", "1e-6"]),
    ("trial-embed256", ["--embed", "256"]),
    ("trial-pool-max", ["--pool", "max"]),
]
# Options whose values are paths: runs are matched on the rest of their command. The table
# also sets the device aside (each row names the device its runs used).
PATH_OPTIONS = {"--out", "--data"}
TABLE_IGNORES = PATH_OPTIONS | {"--device"}
GROUPS = [("default", "The default shape: packed against post-padded"), ("best", "The project's recipes"),
          ("tutorial", "The tutorial presets"), ("trial", "Recipe trials (one option at a time)")]


def parse_presets(binary):
    """{name: {"reference", "options"}} from `rnnbench presets`, in its order."""
    text = subprocess.run([binary, "presets"], check=True, capture_output=True, text=True).stdout
    presets, name = {}, None
    for line in text.splitlines():
        if line and not line.startswith(" "):
            name = line.strip()
            presets[name] = {"reference": "", "options": ""}
        elif name and line.strip().startswith("reference:"):
            presets[name]["reference"] = line.strip()[len("reference:"):].strip()
        elif name and line.strip().startswith("options:"):
            presets[name]["options"] = line.strip()[len("options:"):].strip()
    return presets


def configurations(presets, trials):
    """(config name, group, preset, extra options) for the matrix, the recipes and the
    tutorial presets, and with `trials` the recipe trials."""
    configs = []
    for cell in MATRIX_CELLS:
        configs.append((f"default-{cell}", "default", "default", ["--cell", cell]))
        configs.append((f"default-{cell}-padded", "default", "default", ["--cell", cell, "--padding", "post"]))
    for preset in BEST_PRESETS:
        if preset not in presets:
            sys.exit(f"reproduce.py: the build has no preset {preset}")
        configs.append((preset, "best", preset, []))
    for name in presets:
        if name.startswith("tutorial-") or name.startswith("keras-"):
            configs.append((name, "tutorial", name, []))
    if trials:
        for name, options in TRIALS:
            configs.append((name, "trial", "default", TRIAL_BASE + options))
    return configs


def run_key(command, ignored=PATH_OPTIONS):
    """A run's command without its paths, which differ between checkouts (and without the
    other `ignored` options)."""
    key, skip = [], False
    for arg in command:
        if skip:
            skip = False
        elif arg in ignored:
            skip = True
        else:
            key.append(arg)
    return key


def host_cpu():
    """The CPU this script (and so a CPU run) runs on: its model name and hardware threads."""
    name = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = re.sub(r"\s+", " ", line.split(":", 1)[1]).strip()
                    break
    except OSError:
        pass
    name = re.sub(r"\((R|TM)\)|\bCPU\b|\bProcessor\b|@.*", "", name)
    return f"{re.sub(r' +', ' ', name).strip()}, {os.cpu_count()} threads"


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


def train_command(binary, preset, options, seed, out, device, extra, data):
    command = [binary, "train", "--preset", preset, *options, "--seed", str(seed), "--device", device,
               "--out", out, "--progress", "off", *extra]
    return command + (["--data", data] if data else [])


def finished_command(out):
    """The recorded command of a finished run in `out`, or None."""
    record = os.path.join(out, "command.json")
    if not os.path.exists(record):
        return None
    with open(record) as f:
        previous = json.load(f)
    return previous if previous.get("finished") else None


def same_run(previous, command, preset_options):
    """Whether a recorded run is `command` (paths aside) with the preset as it is now
    (records from before presets were recorded are taken at their word)."""
    return (run_key(previous["command"]) == run_key(command[1:]) and
            previous.get("preset_options", preset_options) == preset_options)


def run_one(command, preset_options, out, log, reuse):
    """Trains one run into `out` unless --reuse finds it finished with the same command."""
    previous = finished_command(out)
    if reuse and previous and same_run(previous, command, preset_options):
        # A finished run of the same command is kept (a long matrix goes on where it stopped).
        print(f"reusing {out}", flush=True)
        return
    print("$ " + " ".join(shlex.quote(c) for c in command), flush=True)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "train.log"), "w") as captured:
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        device_name = None
        for line in process.stdout:
            captured.write(line)
            captured.flush()
            if log:
                sys.stdout.write("  " + line)
            match = re.match(r"training .* on (\S+): ", line)
            if match:
                device_name = match.group(1)
        if process.wait() != 0:
            raise RuntimeError(f"rnnbench exited with {process.returncode}; see {out}/train.log")
    read_metrics(os.path.join(out, "metrics.jsonl"))  # it finished: the test line is there
    device = device_name or "unknown"
    record = {"command": command[1:], "preset_options": preset_options, "finished": True, "device": device,
              "host": host_cpu() if device == "cpu" else ""}
    write_atomic(os.path.join(out, "command.json"), json.dumps(record, indent=2) + "\n")


def option_value(command, option, default):
    return command[command.index(option) + 1] if option in command[:-1] else default


def load_run(out, seed, previous):
    """One finished run as the table and the plots need it, from its metrics.jsonl."""
    epochs, test = read_metrics(os.path.join(out, "metrics.jsonl"))
    command = previous["command"]
    device = previous.get("device") or previous.get("result", {}).get("device", "unknown")
    host = previous.get("host") or (host_cpu() if device == "cpu" else "")
    return {
        "seed": seed,
        "device": f"{device} ({host})" if host else device,
        "math": option_value(command, "--math", "fp32"),
        "select": test.get("select", "loss"),
        "test_acc": test["test_acc"],
        "best_epoch": test["best_epoch"],
        "epochs_run": len(epochs),
        "epoch_seconds": test["mean_epoch_seconds"],
        "tokens_per_s": test["tokens_per_s"],
        "val_acc_best": max((e["val_acc"] for e in epochs), default=None),
        "curve": [{k: e[k] for k in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")} for e in epochs],
    }


def collect_runs(runs_dir, name, base, preset_options):
    """Every finished run of configuration `name` on disk, from this invocation or earlier
    ones (the table grows run by run), grouped by the options its command adds to `base(seed)`
    (the configuration's command without extra arguments; paths and device aside):
    {extra options: runs by seed}."""
    groups = {}
    for out in glob.glob(os.path.join(runs_dir, name, "seed*")) + glob.glob(os.path.join(runs_dir, name, "*", "seed*")):
        seed_text = os.path.basename(out)[len("seed"):]
        previous = finished_command(out)
        if not seed_text.isdigit() or not previous:
            continue
        if previous.get("preset_options", preset_options) != preset_options:
            continue  # the preset has changed since
        key = run_key(previous["command"], TABLE_IGNORES)
        expected = run_key(base(int(seed_text))[1:], TABLE_IGNORES)
        if key[:len(expected)] == expected:
            groups.setdefault(tuple(key[len(expected):]), []).append(load_run(out, int(seed_text), previous))
    return {extra: sorted(runs, key=lambda r: r["seed"]) for extra, runs in sorted(groups.items())}


def extra_slug(extra):
    """Extra options as a name: "--math bf16" -> "math-bf16"; empty without any."""
    return re.sub(r"[^a-z0-9]+", "-", " ".join(extra).lower()).strip("-")


def row_slug(name, extra):
    """The row's anchor and curve-file name: the configuration, then its extra options."""
    tail = extra_slug(extra)
    return f"{name}-{tail}" if tail else name


def run_folder(runs_dir, name, extra, seed):
    """<runs>/<config>/seed<N>, or <runs>/<config>/<extra options>/seed<N>, so that rows of one
    configuration with different extra options keep their own runs."""
    tail = extra_slug(extra)
    return os.path.join(runs_dir, name, *([tail] if tail else []), f"seed{seed}")


def summarize(name, group, preset, options, extra, reference, runs, curves):
    accs = [r["test_acc"] for r in runs]
    return {
        "name": name,
        "slug": row_slug(name, extra),
        "group": group,
        "preset": preset,
        "options": " ".join(options),
        "extra_args": " ".join(extra),
        "device": ", ".join(sorted({r["device"] for r in runs})),
        "math": ", ".join(sorted({r["math"] for r in runs})),
        "select": ", ".join(sorted({r["select"] for r in runs})),
        "seeds": len(runs),
        "test_acc_mean": statistics.fmean(accs),
        "test_acc_min": min(accs),
        "test_acc_max": max(accs),
        "test_acc_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
        "best_epochs": [r["best_epoch"] for r in runs],
        "epoch_seconds_mean": statistics.fmean(r["epoch_seconds"] for r in runs),
        "tokens_per_s_mean": statistics.fmean(r["tokens_per_s"] for r in runs),
        "reference": reference,
        "curves": curves,
        "runs": runs,
    }


def write_atomic(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if isinstance(text, bytes) else "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o644)  # mkstemp's 0600 is for the temp file, not the result
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def plot_curves(name, runs, path):
    """Training and validation loss and accuracy by epoch, one line per seed, the kept epoch
    marked, written as a PNG (temp file + rename). False without matplotlib."""
    try:
        import io
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, (loss_axes, acc_axes) = plt.subplots(1, 2, figsize=(9, 3.2), dpi=80)
    for i, run in enumerate(runs):
        epochs = [e["epoch"] for e in run["curve"]]
        alpha = 1.0 if i == 0 else 0.45
        label = i == 0
        for axes, key, scale in ((loss_axes, "loss", 1), (acc_axes, "acc", 100)):
            axes.plot(epochs, [scale * e["train_" + key] for e in run["curve"]], "-o", color="tab:blue", ms=3,
                      alpha=alpha, label="train" if label else None)
            axes.plot(epochs, [scale * e["val_" + key] for e in run["curve"]], "-o", color="tab:orange", ms=3,
                      alpha=alpha, label="validation" if label else None)
            kept = [e for e in run["curve"] if e["epoch"] == run["best_epoch"]]
            if kept:
                axes.plot([run["best_epoch"]], [scale * kept[0]["val_" + key]], "*", color="tab:red", ms=10,
                          alpha=alpha, label="kept epoch" if label else None)
        acc_axes.plot([run["best_epoch"]], [100 * run["test_acc"]], "D", color="tab:green", ms=5, alpha=alpha,
                      label="test (kept epoch)" if label else None)
    loss_axes.set(title=f"{name}: loss", xlabel="epoch", ylabel="cross-entropy")
    acc_axes.set(title=f"{name}: accuracy", xlabel="epoch", ylabel="%")
    for axes in (loss_axes, acc_axes):
        axes.grid(alpha=0.3)
        axes.xaxis.get_major_locator().set_params(integer=True)
    acc_axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    write_atomic(path, buffer.getvalue())
    return True


def markdown(summary):
    quick = summary["quick"]
    lines = [
        "# Accuracy",
        "",
        f"Generated by `scripts/reproduce.py` on {summary['generated']}"
        + (" in quick mode (a tiny subset: NOT comparable with the references)" if quick else "")
        + "; test accuracy on " + ("the test subset" if quick else "the 25,000 test reviews")
        + " from the kept epoch (by validation loss unless the row selects by accuracy). Rows with one seed say"
        " so; the others give the mean, range and standard deviation over their seeds. Seconds per epoch are the"
        " training part of an epoch on the device named; CPU runs share the machine with whatever else ran.",
    ]
    rows = summary["results"]
    for group, title in GROUPS:
        members = [r for r in rows if r["group"] == group]
        if not members:
            continue
        lines += ["", f"## {title}", "",
                  "| configuration | seeds | device | math | kept by | test accuracy | min – max | std |"
                  " kept epoch | s/epoch | tokens/s | reference |",
                  "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for row in members:
            seeds = "1 (one seed)" if row["seeds"] == 1 else str(row["seeds"])
            spread = (f"{100 * row['test_acc_min']:.2f}% – {100 * row['test_acc_max']:.2f}%" if row["seeds"] > 1
                      else "–")
            std = f"{100 * row['test_acc_std']:.2f}" if row["seeds"] > 1 else "–"
            name = row["name"] + (f" `{row['extra_args']}`" if row["extra_args"] else "")
            name = f"[{name}](#{row['slug']})" if row["curves"] else name
            lines.append(
                f"| {name} | {seeds} | {row['device']} | {row['math']} | {row['select']} | "
                f"{100 * row['test_acc_mean']:.2f}% | {spread} | {std} | "
                f"{', '.join(str(e) for e in row['best_epochs'])} | {row['epoch_seconds_mean']:.1f} | "
                f"{row['tokens_per_s_mean']:,.0f} | {row['reference'] or '–'} |")
    with_curves = [r for r in rows if r["curves"]]
    if with_curves:
        lines += ["", "## Learning curves", "",
                  "Per configuration: training and validation loss and accuracy by epoch (seed 1 solid, other seeds"
                  " faint), the kept epoch starred, the test accuracy of the kept epoch as a diamond."]
        for row in with_curves:
            options = " ".join(o for o in (row["options"], row["extra_args"]) if o)
            lines += ["", f'<a id="{row["slug"]}"></a>', "", f"### {row['slug']}", "",
                      f"`--preset {row['preset']}{' ' + options if options else ''}`", "",
                      f"![{row['slug']}]({row['curves']})"]
    if summary["failed"]:
        lines += ["", "Failed runs: " + "; ".join(summary["failed"]) + "."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build", help="build folder holding rnnbench (default: build)")
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per configuration (1..N)")
    parser.add_argument("--only", default="", help="comma-separated configuration names or patterns")
    parser.add_argument("--trials", action="store_true", help="include the recipe trials (trial-*)")
    parser.add_argument("--quick", action="store_true", help="tiny subset, one epoch: a smoke test of the script")
    parser.add_argument("--extra-args", default="", help="more rnnbench train options, e.g. '--epochs 2'")
    parser.add_argument("--data", default="", help="IMDB source (default: rnnbench's search)")
    parser.add_argument("--out-dir", default="results", help="where accuracy.json/.md and accuracy/ go")
    parser.add_argument("--list", action="store_true", help="print the configurations and exit")
    parser.add_argument("--summary-only", action="store_true",
                        help="train nothing: rewrite the table and plots from the finished runs on disk")
    parser.add_argument("--verbose", action="store_true", help="echo rnnbench's output")
    parser.add_argument("--reuse", action="store_true",
                        help="keep finished runs of the same command under <out-dir>/accuracy/runs instead of "
                             "training again")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")

    build = args.build if os.path.isabs(args.build) else os.path.join(REPO, args.build)
    binary = os.path.join(build, "rnnbench")
    if not os.access(binary, os.X_OK):
        sys.exit(f"reproduce.py: {binary} not found: build it first (cmake --build {args.build} --target rnnbench)")
    presets = parse_presets(binary)
    every = configurations(presets, trials=True)
    configs = configurations(presets, args.trials)
    if args.only:
        patterns = [p.strip() for p in args.only.split(",") if p.strip()]
        configs = [c for c in every if any(fnmatch.fnmatchcase(c[0], p) for p in patterns)]
        if not configs:
            sys.exit(f"reproduce.py: --only {args.only} matches no configuration (see --list)")
    if args.list:
        for name, _, preset, options in configs:
            print(f"{name}: --preset {preset} {' '.join(options)}".rstrip())
        return 0

    # "--opt=value" as "--opt value", so that both spellings name one row and one run folder.
    extra = (QUICK_ARGS if args.quick else []) + [part for arg in shlex.split(args.extra_args) for part in
                                                   (arg.split("=", 1) if arg.startswith("--") and "=" in arg
                                                    else [arg])]
    out_dir = os.path.abspath(args.out_dir)
    runs_dir = os.path.join(out_dir, "accuracy", "runs")
    failed = []
    for name, _, preset, options in configs if not args.summary_only else []:
        for seed in range(1, args.seeds + 1):
            out = run_folder(runs_dir, name, extra, seed)
            try:
                run_one(train_command(binary, preset, options, seed, out, args.device, extra, args.data),
                        presets[preset]["options"], out, args.verbose, args.reuse)
                print(f"{name} seed {seed}: test accuracy {100 * load_run(out, seed, finished_command(out))['test_acc']:.2f}%",
                      flush=True)
            except (RuntimeError, ValueError, OSError) as e:
                print(f"{name} seed {seed}: FAILED: {e}", file=sys.stderr, flush=True)
                failed.append(f"{name} seed {seed}")

    # The table holds every configuration with finished runs on disk, not only this invocation's.
    results = []
    for name, group, preset, options in every:
        groups = collect_runs(runs_dir, name, lambda seed, p=preset, o=options: train_command(
            binary, p, o, seed, "", args.device, [], ""), presets[preset]["options"])
        for config_extra, runs in groups.items():
            slug = row_slug(name, config_extra)
            curve_path = os.path.join(out_dir, "accuracy", "curves", f"{slug}.png")
            curves = os.path.relpath(curve_path, out_dir) if plot_curves(slug, runs, curve_path) else ""
            results.append(summarize(name, group, preset, options, config_extra, presets[preset]["reference"], runs,
                                     curves))

    summary = {
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "device_option": args.device,
        "extra_args": " ".join(extra),  # this invocation's; each row has its own
        "results": results,
        "failed": failed,
    }
    write_atomic(os.path.join(out_dir, "accuracy.json"), json.dumps(summary, indent=2) + "\n")
    write_atomic(os.path.join(out_dir, "accuracy.md"), markdown(summary))
    print(f"wrote {os.path.join(out_dir, 'accuracy.json')} and accuracy.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
