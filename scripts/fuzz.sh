#!/usr/bin/env bash
# Installs clang and its libFuzzer runtime when missing, then builds the fuzz preset
# (tests/fuzz, build-fuzz/) and runs each target for a bounded time on its seed corpus.
#   scripts/fuzz.sh                 # every target, FUZZ_SECONDS (default 60) each
#   FUZZ_SECONDS=20 scripts/fuzz.sh tokenizer checkpoint
# Exits non-zero when a target finds a crash; the reproducer is left in
# build-fuzz/tests/fuzz/<target>/.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(tar_gzip tokenizer checkpoint)

# clang and its fuzzer runtime (Debian 12: clang 14, runtime in libclang-rt-14-dev).
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' > "$probe/p.cpp"
if ! command -v clang++ >/dev/null || ! clang++ -fsanitize=fuzzer "$probe/p.cpp" -o "$probe/p" 2>/dev/null; then
  echo "fuzz.sh: installing clang and its fuzzer runtime"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  version="$(apt-cache policy clang | sed -n 's/.*Candidate: 1:\([0-9]*\).*/\1/p')"
  $sudo_cmd apt-get install -y -qq clang "libclang-rt-${version}-dev" || $sudo_cmd apt-get install -y -qq clang
fi

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
# Each target runs for FUZZ_SECONDS after the fuzz_seeds fixture wrote its corpus.
filter=$(IFS='|'; echo "${targets[*]}")
FUZZ_SECONDS=$seconds ctest --preset fuzz -R "^fuzz_(seeds|($filter))\$"
