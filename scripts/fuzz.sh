#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz (clang, -fsanitize=fuzzer,address,undefined)
# into build-fuzz/ and runs each for a bounded time on a seed corpus generated here.
#   scripts/fuzz.sh                 # every target, FUZZ_SECONDS (default 60) each
#   FUZZ_SECONDS=20 scripts/fuzz.sh tokenizer checkpoint
# Exits non-zero when a target finds a crash; the reproducer is left in build-fuzz/<target>/.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${FUZZ_SECONDS:-60}"
jobs="${FUZZ_JOBS:-2}"
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

flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
       -I"$root/src" -I/usr/include/x86_64-linux-gnu/openblas-pthread -DRNNB_VERSION=\"fuzz\")

# The library: data, util, model and train sources (what the targets can reach); an object
# is rebuilt when any source or header is newer.
mkdir -p "$build/obj"
sources=("$root"/src/util/*.cpp "$root"/src/data/*.cpp "$root"/src/model/*.cpp "$root"/src/train/*.cpp)
printf '%s\n' "${sources[@]}" | xargs -P "$jobs" -I{} sh -c '
  src="$1"; shift; obj="'"$build"'/obj/$(echo "$src" | sed "s|'"$root"'/||; s|/|_|g").o"
  if [ ! -f "$obj" ] || [ -n "$(find "'"$root"'/src" -name "*.[ch]*" -newer "$obj" -print -quit)" ]; then
    clang++ "$@" -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
  fi
' _ {} "${flags[@]}"
rm -f "$build/librnnb_fuzz.a"
ar rcs "$build/librnnb_fuzz.a" "$build"/obj/*.o

# Seed corpora: a small real-looking tar.gz and tar, review texts, real checkpoints.
seeds="$build/seeds"
mkdir -p "$seeds"/{tar_gzip,tokenizer,checkpoint}
tree="$(mktemp -d)"
mkdir -p "$tree/aclImdb/train/pos" "$tree/aclImdb/test/neg"
printf 'A great film!<br /><br />Really.' > "$tree/aclImdb/train/pos/1_9.txt"
printf 'Dull \xc3\xa9t\xc3\xa9, \xff bad.' > "$tree/aclImdb/test/neg/2_1.txt"
ln -sf 1_9.txt "$tree/aclImdb/train/pos/link.txt"
(cd "$tree" && tar --format=gnu -cf tar aclImdb && tar --format=pax -cf pax aclImdb)
{ printf '\x01'; gzip -c "$tree/tar"; } > "$seeds/tar_gzip/gnu.tar.gz"
{ printf '\x00'; cat "$tree/tar"; } > "$seeds/tar_gzip/gnu.tar"
{ printf '\x00'; cat "$tree/pax"; } > "$seeds/tar_gzip/pax.tar"
rm -rf "$tree"
printf 'This movie is GREAT!!! <br />Don'"'"'t miss it.' > "$seeds/tokenizer/plain.txt"
printf 'caf\xc3\xa9 \xff\xfe \x80 \xf0\x9f\x98\x80 a\0b <BR /> x' > "$seeds/tokenizer/bytes.txt"
# A checkpoint seed written by the engine itself (a tiny model), prefixed for both modes.
cat > "$build/make_seed.cpp" <<'CPP'
#include <cstdio>
#include "train/checkpoint.h"
#include "util/atomic_file.h"
int main(int, char** argv) {
  rnnb::Checkpoint c;
  c.model.vocab_size = 4; c.model.embed = 2; c.model.hidden = 2; c.model.layers = 2; c.model.bidirectional = true;
  c.vocab = {"<pad>", "<unk>", "a", "b"};
  c.state = rnnb::initial_state(c.model, 1);
  c.run_settings = "cell=gru\n";
  rnnb::save_checkpoint(argv[1], c);
}
CPP
clang++ "${flags[@]}" "$build/make_seed.cpp" "$build/librnnb_fuzz.a" -lz -o "$build/make_seed" \
  /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.a -lgfortran -lpthread 2>/dev/null ||
  clang++ "${flags[@]}" "$build/make_seed.cpp" "$build/librnnb_fuzz.a" -lz -lopenblas -lpthread -o "$build/make_seed"
"$build/make_seed" "$build/seed.ckpt"
{ printf '\x00'; cat "$build/seed.ckpt"; } > "$seeds/checkpoint/raw.ckpt"
{ printf '\x01'; tail -c +13 "$build/seed.ckpt" | head -c -4; } > "$seeds/checkpoint/payload.bin"

status=0
for target in "${targets[@]}"; do
  source="$root/tests/fuzz/fuzz_${target}.cpp"
  [ -f "$source" ] || { echo "fuzz.sh: no target $source" >&2; exit 2; }
  binary="$build/fuzz_${target}"
  clang++ "${flags[@]}" -fsanitize=fuzzer "$source" "$build/librnnb_fuzz.a" -lz -lpthread -o "$binary"
  mkdir -p "$build/$target/corpus"
  echo "== fuzz_${target}: ${seconds} s"
  if ! (cd "$build/$target" && "$binary" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
          -max_len=65536 -print_final_stats=1 corpus "$seeds/$target" 2>&1 | tail -n 12); then
    echo "fuzz.sh: fuzz_${target} FAILED (reproducer in $build/$target/)" >&2
    status=1
  fi
done
exit $status
