#!/usr/bin/env python3
"""The PyTorch peer of bench_train: trains the same variants (every preset, and the default
GRU on random batches packed and post-padded) with torch.nn.RNN / GRU / LSTM on the same
device, GPU or CPU, from the data rnnbench exports (export_dataset: same tokenizer, vocabulary, split,
batches in the same order, same hyperparameters), and writes Google Benchmark JSON with the
same names and counters as bench_train, "torch" in place of the device:

    train_epoch/torch/<variant>       one epoch of the exported batches, then the validation split
    train_epoch/torch-cpu/<variant>   the same on the CPU (--device cpu --threads N)
    train_epoch/torch-cpu/<variant>/padding:post
                                      a packed variant's batches run padded (--also-padded):
                                      on the CPU, PyTorch's packed RNNs are far slower

Packed variants run pack_padded_sequence (the batches are already longest first); padded
ones run the padded tensor (post or pre, as the variant says) and classify from the final
state, i.e. the last padded position, as the tutorials and rnnbench's padded modes do.
Batches are assembled on the host before the clock starts and copied with non_blocking;
TF32 is off unless --tf32 (rnnbench's default math is strict fp32). --max-batches N times
only the epoch's first N batches (and as many validation batches) and scales the epoch's
time by tokens, for configurations too slow to run whole.

    export_dataset --out /tmp/export            # rnnbench's exporter (build dir)
    bench/peer_pytorch.py --export /tmp/export --out results/bench/<gpu>/peer_pytorch.json
    bench/peer_pytorch.py --export /tmp/export --device cpu --threads 2 --also-padded --out ...
    bench/peer_pytorch.py --check-export /tmp/export   # numpy only: validates an export

Importable without torch (torch is imported when training starts); the export is read
with numpy alone.
"""
import argparse
import datetime
import json
import os
import platform
import socket
import statistics
import sys
import time

SKIP = 77  # the exit status ctest reads as "skipped"


def _numpy():
    try:
        import numpy
    except ImportError:
        return None
    return numpy


# ---- The export ------------------------------------------------------------------------

class Split:
    """A numericalized split: CSR tokens, offsets, labels (as export_dataset writes them)."""

    def __init__(self, np, folder, name):
        self.tokens = np.load(os.path.join(folder, f"{name}_tokens.npy"))
        self.offsets = np.load(os.path.join(folder, f"{name}_offsets.npy"))
        self.labels = np.load(os.path.join(folder, f"{name}_labels.npy"))
        self.lengths = np.diff(self.offsets)

    def __len__(self):
        return len(self.labels)


def load_batches(np, prefix):
    """A list of index arrays, one per batch, longest review first."""
    reviews = np.load(prefix + "_reviews.npy")
    offsets = np.load(prefix + "_offsets.npy")
    return [reviews[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]


class Variant:
    def __init__(self, np, root, entry):
        self.entry = entry
        self.name = entry["name"]
        self.model = entry["model"]
        self.optim = entry["optim"]
        self.train_cfg = entry["train"]
        data = os.path.join(root, entry["data"])
        self.train = Split(np, data, "train")
        self.validation = Split(np, data, "validation")
        folder = os.path.join(root, entry["dir"])
        self.epochs = [load_batches(np, os.path.join(folder, f"train_epoch{e}"))
                       for e in range(1, entry["train"]["epochs_exported"] + 1)]
        self.validation_batches = load_batches(np, os.path.join(folder, "validation"))

    @property
    def packed(self):
        return self.train_cfg["padding"] == "packed"


def load_export(root, only=None):
    np = _numpy()
    if np is None:
        raise ImportError("numpy is needed to read the export")
    with open(os.path.join(root, "manifest.json")) as f:
        manifest = json.load(f)
    variants = []
    for entry in manifest["variants"]:
        if only and entry["name"] not in only:
            continue
        variants.append(Variant(np, root, entry))
    return manifest, variants


def check_export(root):
    """Validates an export: every epoch covers each training review once, batches are longest
    first and at most batch_size, validation batches cover the split, ids fit the vocabulary."""
    np = _numpy()
    if np is None:
        print("peer_pytorch: numpy is not installed; export check skipped")
        return SKIP
    manifest, variants = load_export(root)
    problems = []
    for v in variants:
        vocab = v.model["vocab_size"]
        for split_name, split in (("train", v.train), ("validation", v.validation)):
            if len(split.offsets) != len(split) + 1 or split.offsets[-1] != len(split.tokens):
                problems.append(f"{v.name}: {split_name} offsets do not match its tokens")
            if len(split.tokens) and (split.tokens.min() < 0 or split.tokens.max() >= vocab):
                problems.append(f"{v.name}: {split_name} token ids outside the vocabulary")
            if split.lengths.min(initial=1) < 1:
                problems.append(f"{v.name}: {split_name} has an empty review")
        for e, batches in enumerate(v.epochs, 1):
            seen = np.concatenate(batches) if batches else np.zeros(0, dtype=np.int32)
            if len(seen) != len(v.train) or len(np.unique(seen)) != len(v.train):
                problems.append(f"{v.name}: epoch {e} does not cover each training review once")
            for b in batches:
                lengths = v.train.lengths[b]
                if len(b) > v.train_cfg["batch_size"] or np.any(np.diff(lengths) > 0):
                    problems.append(f"{v.name}: epoch {e} has a batch too large or not longest first")
                    break
        seen = np.concatenate(v.validation_batches) if v.validation_batches else np.zeros(0)
        if sorted(seen.tolist()) != list(range(len(v.validation))):
            problems.append(f"{v.name}: validation batches do not cover the split")
        print(f"{v.name}: {len(v.train)} train / {len(v.validation)} validation reviews, "
              f"{len(v.epochs)} epoch(s) of {len(v.epochs[0])} batches, {v.train_cfg['padding']}, "
              f"{v.model['cell']} vocab {vocab}")
    for p in problems:
        print("PROBLEM", p)
    print(f"export {root}: {len(variants)} variants, {'ok' if not problems else f'{len(problems)} problems'}")
    return 0 if not problems else 1


# ---- Training ----------------------------------------------------------------------------

def assemble(np, split, batch, padding):
    """Time-major [steps x B] token ids (0 = <pad>), lengths and labels of one batch."""
    lengths = split.lengths[batch]
    steps = int(lengths[0])
    tokens = np.zeros((steps, len(batch)), dtype=np.int64)
    for column, (review, length) in enumerate(zip(batch, lengths)):
        ids = split.tokens[split.offsets[review]:split.offsets[review] + length]
        if padding == "pre":
            tokens[steps - length:, column] = ids
        else:
            tokens[:length, column] = ids
    return tokens, lengths.astype(np.int64), split.labels[batch].astype(np.int64)


def build_model(torch, cfg, padding):
    """rnnbench's classifier in torch: embedding (+ dropout) -> RNN -> features (the top
    layer's final states, or mean / max / both of its outputs over each review's real
    positions) -> dropout -> [ReLU hidden layer] -> linear."""
    nn = torch.nn

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = cfg["cell"]
            self.layers = cfg["layers"]
            self.dirs = 2 if cfg["bidirectional"] else 1
            self.hidden = cfg["hidden"]
            self.pool = cfg.get("pool", "last")
            self.embedding = nn.Embedding(cfg["vocab_size"], cfg["embed"])
            self.embed_dropout = nn.Dropout(cfg.get("embed_dropout", 0.0))
            kwargs = dict(num_layers=cfg["layers"], bidirectional=cfg["bidirectional"],
                          dropout=cfg["rnn_dropout"] if cfg["layers"] > 1 else 0.0)
            if self.cell == "gru":
                self.rnn = nn.GRU(cfg["embed"], cfg["hidden"], **kwargs)
            elif self.cell == "lstm":
                self.rnn = nn.LSTM(cfg["embed"], cfg["hidden"], **kwargs)
            else:
                self.rnn = nn.RNN(cfg["embed"], cfg["hidden"],
                                  nonlinearity="relu" if self.cell == "rnn-relu" else "tanh", **kwargs)
            features = (2 if self.pool == "meanmax" else 1) * self.dirs * cfg["hidden"]
            self.head_dropout = nn.Dropout(cfg["head_dropout"])
            head_hidden = cfg.get("head_hidden", 0)
            self.hidden_layer = nn.Sequential(nn.Linear(features, head_hidden), nn.ReLU()) if head_hidden else None
            self.head = nn.Linear(head_hidden or features, cfg["classes"])

        def forward(self, tokens, lengths, packed):
            x = self.embed_dropout(self.embedding(tokens))
            if packed:
                x = nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=True)
            outputs, state = self.rnn(x)
            if self.pool == "last":
                if self.cell == "lstm":
                    state = state[0]
                top = state.view(self.layers, self.dirs, -1, self.hidden)[-1]
                features = torch.cat([top[d] for d in range(self.dirs)], dim=1)
            else:
                if packed:
                    outputs, _ = nn.utils.rnn.pad_packed_sequence(outputs)
                steps = outputs.shape[0]
                t = torch.arange(steps, device=outputs.device).unsqueeze(1)
                real = lengths.to(outputs.device).unsqueeze(0)
                mask = (t >= steps - real) if (padding == "pre" and not packed) else (t < real)  # [steps x B]
                mask = mask.unsqueeze(2)
                parts = []
                if self.pool in ("mean", "meanmax"):
                    parts.append((outputs * mask).sum(0) / real.squeeze(0).unsqueeze(1).to(outputs.dtype))
                if self.pool in ("max", "meanmax"):
                    parts.append(outputs.masked_fill(~mask, float("-inf")).amax(0))
                features = torch.cat(parts, dim=1)
            features = self.head_dropout(features)
            if self.hidden_layer is not None:
                features = self.hidden_layer(features)
            return self.head(features)

    return Classifier()


def train_variant(torch, np, v, epochs, device, padding=None, max_batches=0):
    F = torch.nn.functional
    torch.manual_seed(v.train_cfg["seed"])
    padding = padding or v.train_cfg["padding"]
    packed = padding == "packed"
    model = build_model(torch, v.model, padding).to(device)
    o = v.optim
    opt = torch.optim.Adam(model.parameters(), lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"],
                           weight_decay=o["weight_decay"])
    gpu = device.type == "cuda"

    def synchronize():
        if gpu:
            torch.cuda.synchronize()

    def host_batches(split, batches):
        out = []
        pin = (lambda t: t.pin_memory()) if gpu else (lambda t: t)
        for b in batches[:max_batches] if max_batches else batches:
            tokens, lengths, labels = assemble(np, split, b, padding)
            out.append((pin(torch.from_numpy(tokens)), torch.from_numpy(lengths),
                        pin(torch.from_numpy(labels)), int(lengths.sum()), tokens.size))
        return out

    def step(batch):
        tokens, lengths, labels, _, _ = batch
        logits = model(tokens.to(device, non_blocking=True), lengths, packed)
        loss = F.cross_entropy(logits, labels.to(device, non_blocking=True))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if o["clip_norm"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), o["clip_norm"])
        opt.step()
        return loss.detach() * len(lengths)

    val_batches = host_batches(v.validation, v.validation_batches)
    # Warm-up as bench_train does: the two largest batches (cuDNN plans, allocator).
    first = host_batches(v.train, v.epochs[0])
    model.train()
    for batch in sorted(first, key=lambda b: -b[4])[:2]:
        step(batch)
    synchronize()
    # The share of the epoch's real tokens the timed batches hold (1 without --max-batches).
    epoch_tokens = sum(int(v.train.lengths[b].sum()) for b in v.epochs[0])

    runs = []
    for e in range(epochs):
        batches = first if e == 0 else host_batches(v.train, v.epochs[e % len(v.epochs)])
        model.train()
        synchronize()
        start = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        for batch in batches:
            loss_sum += step(batch)
        synchronize()
        train_seconds = time.perf_counter() - start

        model.eval()
        start = time.perf_counter()
        correct = torch.zeros((), device=device, dtype=torch.int64)
        with torch.no_grad():
            for tokens, lengths, labels, _, _ in val_batches:
                logits = model(tokens.to(device, non_blocking=True), lengths, packed)
                correct += (logits.argmax(1) == labels.to(device, non_blocking=True)).sum()
        synchronize()
        val_seconds = time.perf_counter() - start
        real = sum(b[3] for b in batches)
        computed = sum(b[4] for b in batches) if not packed else real
        reviews = sum(len(b[1]) for b in batches)
        tokens_per_second = real / train_seconds
        scale = epoch_tokens / real  # a partial epoch's times, scaled to the whole epoch
        train_seconds *= scale
        val_seconds *= scale
        runs.append({
            "seconds": train_seconds + val_seconds,
            "train_seconds": train_seconds,
            "validation_seconds": val_seconds,
            "tokens_per_second": tokens_per_second,
            "sequences_per_second": reviews / train_seconds * scale,
            "padding_overhead": computed / real,
            "train_loss": float(loss_sum) / reviews,
            "val_accuracy": float(correct) / max(1, sum(len(b[1]) for b in val_batches)),
            "train_reviews": reviews,
            "timed_batches": len(batches),
        })
        print(f"  {v.name} epoch {e + 1}: train {train_seconds:.2f} s ({tokens_per_second:,.0f} tok/s), "
              f"validation {val_seconds:.2f} s, val acc {100 * runs[-1]['val_accuracy']:.2f}%", flush=True)
    return runs


def benchmark_entries(name, runs, peer="torch"):
    """Google Benchmark JSON entries: one per epoch, and mean/median aggregates."""
    run_name = f"train_epoch/{peer}/{name}/iterations:1/repeats:{len(runs)}/real_time"
    entries = []
    for i, r in enumerate(runs):
        entry = {"name": run_name, "run_name": run_name, "run_type": "iteration", "repetitions": len(runs),
                 "repetition_index": i, "threads": 1, "iterations": 1, "real_time": r["seconds"],
                 "cpu_time": r["seconds"], "time_unit": "s"}
        entry.update({k: v for k, v in r.items() if k != "seconds"})
        entries.append(entry)
    for aggregate, fn in (("mean", statistics.mean), ("median", statistics.median)):
        entry = {"name": f"{run_name}_{aggregate}", "run_name": run_name, "run_type": "aggregate",
                 "repetitions": len(runs), "threads": 1, "aggregate_name": aggregate, "aggregate_unit": "time",
                 "iterations": len(runs), "real_time": fn([r["seconds"] for r in runs]),
                 "cpu_time": fn([r["seconds"] for r in runs]), "time_unit": "s"}
        for key in runs[0]:
            if key != "seconds":
                entry[key] = fn([r[key] for r in runs])
        entries.append(entry)
    return entries


def write_json_atomic(path, data):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def run_peer(args):
    import torch  # noqa: deferred so the module imports (and --check-export runs) without torch
    np = _numpy()
    gpu = args.device == "cuda"
    if gpu and not torch.cuda.is_available():
        print("peer_pytorch: no CUDA device visible to torch; nothing to compare", file=sys.stderr)
        return 1
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if not gpu:
        # As rnnbench's CPU backend does: denormal floats cost a microcode assist each on
        # x86, and on some cores that alone slows training several times.
        torch.set_flush_denormal(True)
    manifest, variants = load_export(args.export, set(args.variants.split(",")) if args.variants else None)
    device = torch.device(args.device)
    peer = "torch" if gpu else "torch-cpu"
    context = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host_name": socket.gethostname(), "executable": "bench/peer_pytorch.py",
        "num_cpus": os.cpu_count(), "library_build_type": "release",
        "torch": torch.__version__, "python": platform.python_version(),
        "tf32": str(args.tf32).lower(), "data": manifest.get("source", "?"),
        "commit": os.environ.get("RNNB_COMMIT", "unknown"), "device": args.device,
        "torch_threads": str(torch.get_num_threads()),
    }
    if gpu:
        props = torch.cuda.get_device_properties(device)
        context.update({"cuda_runtime": torch.version.cuda, "cudnn": str(torch.backends.cudnn.version()),
                        "gpu": props.name, "gpu_sm_count": str(props.multi_processor_count)})
    else:
        context["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    benchmarks = []
    for v in variants:
        print(f"{v.name}: {v.model['cell']} {v.model['layers']} layer(s){' bidirectional' if v.model['bidirectional'] else ''}, "
              f"{v.train_cfg['padding']}, {v.train_cfg['batching']} batches of {v.train_cfg['batch_size']}", flush=True)
        limit = (args.packed_batches or args.max_batches) if v.packed else args.max_batches
        benchmarks += benchmark_entries(v.name, train_variant(torch, np, v, args.epochs, device,
                                                              max_batches=limit), peer)
        if args.also_padded and v.packed:
            print(f"{v.name}: the same batches post-padded", flush=True)
            benchmarks += benchmark_entries(f"{v.name}/padding:post",
                                            train_variant(torch, np, v, args.epochs, device, "post",
                                                          args.max_batches), peer)
        write_json_atomic(args.out, {"context": context, "benchmarks": benchmarks})  # progress survives a timeout
    print(f"wrote {args.out}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--export", help="folder written by export_dataset --out")
    parser.add_argument("--out", default="peer_pytorch.json", help="Google Benchmark JSON to write")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per variant (default 3)")
    parser.add_argument("--variants", default="", help="comma-separated variant names (default: all)")
    parser.add_argument("--tf32", action="store_true", help="allow TF32 in cuDNN and matmul")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="where torch trains")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's)")
    parser.add_argument("--also-padded", action="store_true",
                        help="also run each packed variant's batches post-padded")
    parser.add_argument("--max-batches", type=int, default=0,
                        help="time only the first N batches of each epoch (times scaled by tokens)")
    parser.add_argument("--packed-batches", type=int, default=0,
                        help="the same for packed runs (default: --max-batches); on the CPU they are far slower")
    parser.add_argument("--check-export", metavar="DIR", help="validate an export with numpy and exit")
    args = parser.parse_args(argv)
    if args.check_export:
        return check_export(args.check_export)
    if not args.export:
        parser.error("give --export DIR (or --check-export DIR)")
    return run_peer(args)


if __name__ == "__main__":
    sys.exit(main())
