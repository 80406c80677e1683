#!/usr/bin/env bash
# The main job: set up, build, then train and evaluate the default classifier (1-layer GRU,
# packed, bucketed) on IMDB, on the GPU when one is usable and otherwise on the CPU.
# Extra arguments go to `rnnbench train` (e.g. --epochs 10 --device cpu).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/common.sh
data=$(imdb_data)
exec "$(rnnb_build_dir)/rnnbench" train --data "$data" "$@"
