#!/usr/bin/env bash
# The test suite: set up, build, run every test with ctest. GPU tests report SKIPPED (with
# the reason) on machines without a usable GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/common.sh
ctest --test-dir "$(rnnb_build_dir)" --output-on-failure -j"$(nproc)" --timeout 900 "$@"
