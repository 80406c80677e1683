#!/usr/bin/env python3
"""ctest smoke test of scripts/reproduce.py: one quick tutorial-gru run on a tiny subset must
write accuracy.json and accuracy.md with that row (and its learning-curve PNG when matplotlib
is installed), a second pass with --reuse must keep it without training, and --summary-only
must rebuild the same table from the run on disk, and a row with other extra arguments must
keep its runs apart from the first. Exits 77 (skipped) without the dataset.

usage: reproduce_smoke.py BUILD_DIR OUT_DIR
"""
import glob
import json
import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_dataset():
    candidates = [os.environ.get("RNNB_DATA", "")]
    candidates += sorted(glob.glob(os.path.join(REPO, "datasets", "aclImdb_v1*.tar.gz")))
    candidates += [os.path.join(REPO, "datasets", "aclImdb"),
                   os.path.join(REPO, "..", "shared", "datasets", "aclImdb_v1_labeled.tar.gz")]
    return next((c for c in candidates if c and os.path.exists(c)), None)


def main():
    build, out = sys.argv[1], sys.argv[2]
    data = find_dataset()
    if not data:
        print("SKIPPED: IMDB dataset not found (run datasets/fetch_imdb.sh or set RNNB_DATA)")
        return 77
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, os.path.join(REPO, "scripts", "reproduce.py"), "--build", build, "--quick",
               "--seeds", "1", "--only", "tutorial-gru", "--device", "cpu", "--data", data, "--out-dir", out,
               "--reuse"]
    subprocess.run(command, check=True)
    with open(os.path.join(out, "accuracy.json")) as f:
        summary = json.load(f)
    rows = summary["results"]
    assert summary["quick"] is True and summary["failed"] == [], summary
    assert [r["name"] for r in rows] == ["tutorial-gru"], rows
    row = rows[0]
    assert row["seeds"] == 1 and row["device"].startswith("cpu ("), row
    assert 0.0 <= row["test_acc_mean"] <= 1.0 and row["test_acc_min"] == row["test_acc_max"], row
    assert row["tokens_per_s_mean"] > 0 and row["epoch_seconds_mean"] > 0, row
    assert row["reference"].startswith("85.68%"), row
    assert row["group"] == "tutorial" and row["best_epochs"] == [1] and row["select"] == "loss", row
    # The quick options are the row's extra arguments: they name its run folder and curve file.
    quick_slug = "train-limit-2000-test-limit-500-max-len-100-epochs-1"
    assert os.path.exists(os.path.join(out, "accuracy", "runs", "tutorial-gru", quick_slug, "seed1", "metrics.jsonl"))
    try:
        import matplotlib  # noqa: F401
        assert row["curves"] == f"accuracy/curves/tutorial-gru-{quick_slug}.png", row
        with open(os.path.join(out, row["curves"]), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    except ImportError:
        assert row["curves"] == "", row
    with open(os.path.join(out, "accuracy.md")) as f:
        table = f.read()
    assert "| 1 (one seed) | cpu (" in table and "85.68% test" in table, table
    assert not glob.glob(os.path.join(out, "**", "*.tmp"), recursive=True), "temp files left behind"
    # A second pass keeps the finished run instead of training again, with the same row.
    again = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    assert "reusing" in again and "$ " not in again, again
    with open(os.path.join(out, "accuracy.json")) as f:
        assert json.load(f)["results"][0]["test_acc_mean"] == row["test_acc_mean"]
    summary_only = command[:command.index("--reuse")] + ["--summary-only"]
    again = subprocess.run(summary_only, check=True, capture_output=True, text=True).stdout
    assert "$ " not in again, again
    with open(os.path.join(out, "accuracy.json")) as f:
        assert [r["test_acc_mean"] for r in json.load(f)["results"]] == [row["test_acc_mean"]]
    # A row with other extra arguments trains into its own folder and leaves the first row's run.
    subprocess.run(summary_only[:summary_only.index("--summary-only")] + ["--extra-args", "--hidden 16"], check=True)
    with open(os.path.join(out, "accuracy.json")) as f:
        means = {r["slug"]: r["test_acc_mean"] for r in json.load(f)["results"]}
    assert means.get(f"tutorial-gru-{quick_slug}") == row["test_acc_mean"], means
    assert f"tutorial-gru-{quick_slug}-hidden-16" in means, means
    shutil.rmtree(out, ignore_errors=True)
    print("reproduce.py smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
