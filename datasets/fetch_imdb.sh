#!/usr/bin/env bash
# Makes the IMDB dataset available and prints where it is. Online: downloads the official
# aclImdb_v1.tar.gz into datasets/ and checks its MD5. Offline: settles for the labeled
# copy in a shared/datasets/ folder beside the repository, checked against its SHA256SUMS.
# RNNB_DATA, when set, wins. Exit status 0 with the path on stdout, non-zero with a message
# on stderr.
set -euo pipefail

URL="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
MD5="7c2ac02c03563afcf9b574c7e56c153a"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
TARGET="$HERE/aclImdb_v1.tar.gz"
SHARED_NAME="aclImdb_v1_labeled.tar.gz"

say() { echo "fetch_imdb: $*" >&2; }

md5_ok() { [ "$(md5sum "$1" | cut -d' ' -f1)" = "$MD5" ]; }

if [ -n "${RNNB_DATA:-}" ]; then
  [ -e "$RNNB_DATA" ] || { say "RNNB_DATA=$RNNB_DATA does not exist"; exit 1; }
  echo "$RNNB_DATA"
  exit 0
fi

if [ -f "$TARGET" ]; then
  echo "$TARGET"
  exit 0
fi

TEMP="$TARGET.part.$$"
trap 'rm -f "$TEMP"' EXIT

download() {
  local temp="$TEMP"
  if command -v curl > /dev/null; then
    curl -fsSL --connect-timeout 15 --max-time 900 -o "$temp" "$URL" || return 1
  elif command -v wget > /dev/null; then
    wget -q --timeout=15 -O "$temp" "$URL" || return 1
  else
    say "neither curl nor wget is installed"
    return 1
  fi
  if ! md5_ok "$temp"; then
    say "downloaded file has the wrong MD5; deleted it"
    rm -f "$temp"
    return 1
  fi
  mv "$temp" "$TARGET"
}

say "downloading $URL"
if download; then
  echo "$TARGET"
  exit 0
fi
say "download failed; looking for a shared copy"

for dir in "$REPO/../shared/datasets" "$REPO/../../shared/datasets" "$PWD/../shared/datasets"; do
  candidate="$dir/$SHARED_NAME"
  [ -f "$candidate" ] || continue
  dir="$(cd "$dir" && pwd)"
  if [ -f "$dir/SHA256SUMS" ]; then
    if (cd "$dir" && grep " $SHARED_NAME\$" SHA256SUMS | sha256sum -c --status -); then
      echo "$dir/$SHARED_NAME"
      exit 0
    fi
    say "$dir/$SHARED_NAME does not match $dir/SHA256SUMS; skipped"
  else
    say "$dir has no SHA256SUMS to check $SHARED_NAME against; skipped"
  fi
done

say "no IMDB dataset found: download $URL into datasets/ by hand, or pass --data PATH"
exit 1
