#!/usr/bin/env bash
# Turns the tagged Brown corpus ("The/at jury/nn said/vbd ./.") into plain text, one .txt document per
# Brown file: strip the part-of-speech tags, then undo the tokenised spacing around punctuation and quotes.
# Usage: brown-to-text.sh BROWN_FILES_DIR OUT_DIR
set -euo pipefail
src=$1
out=$2
mkdir -p "$out"
for f in "$src"/c[a-r][0-9][0-9]; do
  sed -E 's#([^ \t]+)/[^ \t/]+#\1#g' "$f" \
    | tr -s ' \t' ' ' \
    | sed -E "s/^ //; s/ ([,.;:?!])/\1/g; s/\`\` ?/\"/g; s/ ?''/\"/g; s/ \( /(/g; s/ \)/)/g" \
    | awk 'NF' > "$out/$(basename "$f").txt"
done
