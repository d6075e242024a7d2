#!/usr/bin/env bash
# The main job: MyAnimeList files → workspace → pair labels → fine-tuned embedder → evaluation of
# every recommender on held-out users. Usage: scripts/main.sh DATA_DIR [WORKSPACE]
# Uses the bootstrap's .venv when there is one, else `animerec` on PATH.
# The catalog is encoded with the ONNX int8 backend when onnxruntime is installed (2.6-2.9x faster
# than torch fp32 on a CPU, content NDCG within fp32's CI: docs/experiments.md §7), torch fp32
# otherwise; ANIMEREC_BACKEND=torch (or onnx) asks for another one.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:?usage: scripts/main.sh DATA_DIR [WORKSPACE]}"
WS="${2:-${ANIMEREC_WORKSPACE:-animerec-workspace}}"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" TRANSFORMERS_OFFLINE="${TRANSFORMERS_OFFLINE:-1}"
A=animerec PY=python3
[ -x .venv/bin/animerec ] && A=.venv/bin/animerec PY=.venv/bin/python
BACKEND="${ANIMEREC_BACKEND:-auto}"
if [ "$BACKEND" = auto ]; then
  BACKEND=torch
  "$PY" -c "import onnxruntime" 2>/dev/null && BACKEND=onnx-int8
fi
START=$SECONDS

step() {  # run one command, then say how long it took
  local t0=$SECONDS
  echo "+ $*" >&2
  "$@"
  echo "  ($(( SECONDS - t0 )) s)" >&2
}

echo "main job: data $DATA, workspace $WS, embedder backend $BACKEND" >&2
step "$A" ingest --data "$DATA" -w "$WS"
step "$A" describe --stats --tokenizer minilm -w "$WS"
step "$A" labels --users train -w "$WS"
# The recipe that won the study (docs/experiments.md): an adapter over frozen MiniLM, trained
# with MNRL on EASE-teacher neighbours of the training users, rarely-rated anime as hard
# negatives (what makes it beat base MiniLM on new anime); content then uses it. finetune's
# defaults are that recipe (animerec.finetune.RECOMMENDED: --method adapter --recipe ease
# --neighbours 10 --loss mnrl --max-seq-length 384 --hard-negatives rare), so no flag repeats it.
# The catalog's base vectors (and from them the adapter's) are encoded here, once, with $BACKEND.
step "$A" finetune --out anime-minilm --users train --backend "$BACKEND" -w "$WS"
step "$A" evaluate --models popularity,itemknn,userknn,ease,als,content,hybrid --explore 0,0.3,0.6 \
  --backend "$BACKEND" -w "$WS"
# The same protocol with each batch of lists spread over the catalog (coverage for a little NDCG).
step "$A" evaluate --models ease,hybrid --spread --backend "$BACKEND" -w "$WS"
T=$(( SECONDS - START ))
printf 'main job done in %d min %02d s (embedder backend %s); report in %s/reports/\n' \
  $(( T / 60 )) $(( T % 60 )) "$BACKEND" "$WS"
