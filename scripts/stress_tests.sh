#!/usr/bin/env bash
# Proves the test suite does not depend on how fast or how loaded the machine is: the whole
# suite IDLE_RUNS times in a row on an idle machine, then LOADED_RUNS times with every core
# kept busy by background spinners (started here and stopped by their process ids), and
# the resume, crash-safety and CLI tests under `ctest --repeat until-fail:REPEATS`, idle and
# loaded. Stops at the first failure with a non-zero exit; the last line gives the counts.
#
#   scripts/stress_tests.sh            # IDLE_RUNS=5 LOADED_RUNS=3 REPEATS=3 by default
set -euo pipefail
cd "$(dirname "$0")/.."

IDLE_RUNS=${IDLE_RUNS:-5}
LOADED_RUNS=${LOADED_RUNS:-3}
REPEATS=${REPEATS:-3}
. scripts/common.sh
build=$(rnnb_build_dir)
jobs=$(nproc)
# The tests that start, signal, kill and resume processes, and the CLI's own tests.
process_tests='^(SignalResume|ToyRuns|CrashSafety|RnnbenchCommands|HostileData|NumericalFaults|AccuracyOptionsRnnbench|TrainingLoop)\.'

scripts/setup.sh

spinners=()
stop_spinners() {
  ((${#spinners[@]})) || return 0
  kill "${spinners[@]}" 2>/dev/null || true
  wait "${spinners[@]}" 2>/dev/null || true
  spinners=()
}
trap stop_spinners EXIT
start_spinners() {
  for ((i = 0; i < jobs; ++i)); do
    (while :; do :; done) &
    spinners+=($!)
  done
  echo "stress: $jobs busy processes started (pids ${spinners[*]})"
}

suite() {  # label, ctest arguments...
  local label=$1
  shift
  local log
  log=$(mktemp)
  if ctest --test-dir "$build" -j"$jobs" --timeout 900 "$@" >"$log" 2>&1; then
    echo "stress: $label: $(grep -E 'tests passed' "$log")"
    rm -f "$log"
  else
    cat "$log"
    echo "stress: $label FAILED (log above)" >&2
    rm -f "$log"
    exit 1
  fi
}

for ((run = 1; run <= IDLE_RUNS; ++run)); do suite "idle run $run/$IDLE_RUNS" ; done
suite "idle, process tests, repeat until-fail:$REPEATS" -R "$process_tests" --repeat until-fail:"$REPEATS"

start_spinners
for ((run = 1; run <= LOADED_RUNS; ++run)); do suite "loaded run $run/$LOADED_RUNS"; done
suite "loaded, process tests, repeat until-fail:$REPEATS" -R "$process_tests" --repeat until-fail:"$REPEATS"
stop_spinners

echo "stress: all green: $IDLE_RUNS idle and $LOADED_RUNS loaded runs of the whole suite, and the process tests" \
  "$REPEATS times each idle and loaded"
