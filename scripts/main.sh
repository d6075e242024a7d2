#!/usr/bin/env bash
# The main job: MyAnimeList files → workspace → pair labels → fine-tuned embedder → evaluation of
# every recommender on held-out users. Usage: scripts/main.sh DATA_DIR [WORKSPACE]
# Uses the bootstrap's .venv when there is one, else `animerec` on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:?usage: scripts/main.sh DATA_DIR [WORKSPACE]}"
WS="${2:-${ANIMEREC_WORKSPACE:-animerec-workspace}}"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" TRANSFORMERS_OFFLINE="${TRANSFORMERS_OFFLINE:-1}"
A=animerec
[ -x .venv/bin/animerec ] && A=.venv/bin/animerec

set -x
"$A" ingest --data "$DATA" -w "$WS"
"$A" describe --stats --tokenizer minilm -w "$WS"
"$A" labels --users train -w "$WS"
# The recipe that won the study (docs/experiments.md): an adapter over frozen MiniLM, trained
# with MNRL on EASE-teacher neighbours of the training users, rarely-rated anime as hard
# negatives (what makes it beat base MiniLM on new anime); content then uses it. finetune's
# defaults are that recipe (animerec.finetune.RECOMMENDED: --method adapter --recipe ease
# --neighbours 10 --loss mnrl --max-seq-length 384 --hard-negatives rare), so no flag repeats it.
"$A" finetune --out anime-minilm --users train -w "$WS"
"$A" evaluate --models popularity,itemknn,userknn,ease,als,content,hybrid --explore 0,0.3,0.6 -w "$WS"
# The same protocol with each batch of lists spread over the catalog (coverage for a little NDCG).
"$A" evaluate --models ease,hybrid --spread -w "$WS"
