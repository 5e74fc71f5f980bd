#!/usr/bin/env bash
# Reproduces SharpGPT's built-in default model from the public corpora in ../shared/data.
# Usage: models/sharpgpt-default/recipe/train.sh [SHARED_DATA_DIR] [WORK_DIR]
# Steps: 1) normalise the corpora to UTF-8 plain text, 2) tokenize them once (sharpgpt prepare),
# 3) pretrain with the GPT-3 recipe (sharpgpt train), 4) export fp16 weights into models/sharpgpt-default.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
shared=${1:-$repo/../shared/data}
work=${2:-/tmp/sharpgpt-default}
# A private copy of the binaries, so rebuilding the repository cannot disturb a long run.
dotnet publish "$repo/src/SharpGpt.Cli" -c Release --nologo -v quiet -o "$work/bin"
sharpgpt() { dotnet "$work/bin/sharpgpt.dll" "$@"; }

# 1. Corpora: Gutenberg (two books are Latin-1, converted to UTF-8), tiny-shakespeare, the TinyStories
#    subset, and the Brown corpus with its part-of-speech tags removed.
rm -rf "$work/corpus"
mkdir -p "$work/corpus/gutenberg"
for f in "$shared"/gutenberg_nltk/*.txt; do
  if iconv -f utf-8 -t utf-8 "$f" >/dev/null 2>&1; then cp "$f" "$work/corpus/gutenberg/"
  else iconv -f latin1 -t utf-8 "$f" > "$work/corpus/gutenberg/$(basename "$f")"; fi
done
"$here/brown-to-text.sh" "$shared/brown/files" "$work/corpus/brown"
cp "$shared/tinyshakespeare/input.txt" "$work/corpus/tinyshakespeare.txt"
cp "$shared/tinystories_subset/tinystories_first_197k.txt" "$work/corpus/tinystories.txt"

# 2. Tokenize once: 5% of 8192-token blocks held out for validation.
sharpgpt prepare --input "$work/corpus" --out "$work/data" --val-fraction 0.05 --seed 1234

# 3. Pretrain: 16 × 512 tokens per step, 900 steps (≈7.4M tokens, ≈2.4 epochs), peak lr 1.5e-3,
#    50 warm-up steps then cosine decay to 10%, AdamW β2 0.95, weight decay 0.1, clip 1.0.
sharpgpt train --config "$here/config.json" --data "$work/data" --out "$work/run" \
  --steps 900 --batch 16 --seq 512 --lr 1.5e-3 --warmup 50 \
  --eval-interval 100 --eval-sequences 64 --checkpoint-interval 100 --seed 1 ${RESUME:+--resume}

# 4. Export the final weights in fp16 (Hugging Face layout) as the built-in model.
sharpgpt export --checkpoint "$work/run" --out "$repo/models/sharpgpt-default" --dtype f16
cp "$work/run/metrics.jsonl" "$work/run/loss.png" "$here/"
