#!/usr/bin/env bash
# Seed corpora for the fuzz targets: a small real-looking tar.gz and tar (GNU and pax
# headers, a symlink), review texts with awkward bytes, and a real checkpoint, each with the
# mode byte its target reads first.
#   tests/fuzz/make_seeds.sh SEED_DIR FUZZ_MAKE_SEED_EXECUTABLE
set -euo pipefail
seeds=$1
make_seed=$2
rm -rf "$seeds"
mkdir -p "$seeds"/{tar_gzip,tokenizer,checkpoint}
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/aclImdb/train/pos" "$tree/aclImdb/test/neg"
printf 'A great film!<br /><br />Really.' > "$tree/aclImdb/train/pos/1_9.txt"
printf 'Dull \xc3\xa9t\xc3\xa9, \xff bad.' > "$tree/aclImdb/test/neg/2_1.txt"
ln -sf 1_9.txt "$tree/aclImdb/train/pos/link.txt"
(cd "$tree" && tar --format=gnu -cf tar aclImdb && tar --format=pax -cf pax aclImdb)
{ printf '\x01'; gzip -c "$tree/tar"; } > "$seeds/tar_gzip/gnu.tar.gz"
{ printf '\x00'; cat "$tree/tar"; } > "$seeds/tar_gzip/gnu.tar"
{ printf '\x00'; cat "$tree/pax"; } > "$seeds/tar_gzip/pax.tar"
printf 'This movie is GREAT!!! <br />Don'"'"'t miss it.' > "$seeds/tokenizer/plain.txt"
printf 'caf\xc3\xa9 \xff\xfe \x80 \xf0\x9f\x98\x80 a\0b <BR /> x' > "$seeds/tokenizer/bytes.txt"
"$make_seed" "$tree/seed.ckpt"
{ printf '\x00'; cat "$tree/seed.ckpt"; } > "$seeds/checkpoint/raw.ckpt"
{ printf '\x01'; tail -c +13 "$tree/seed.ckpt" | head -c -4; } > "$seeds/checkpoint/payload.bin"
