#!/bin/bash
# Issue 33 on one H200: the bundled Qwen2.5-Coder-1.5B-Instruct through the project's stages with the
# real-study profile, MMLU in both formats: the base model, then the lr 2e-4 and lr 1e-3 arms (exp1's
# recipe), the two arm chains side by side on the one GPU. Started detached from a copy of the repo:
#   setsid bash bench/recorded/2026-12-04-h200-qwen15/run.sh </dev/null >/tmp/keep/run.log 2>&1 &
# Expects /tmp/x/spider_data.zip, /tmp/x/mmlu/, the assembled GGUF in $TRADEOFF_MODELS_DIR/downloads
# (sha256-checked by the product on use) and /tmp/site the carried wheels. Outputs under /tmp/keep (K).
set -u
cd /tmp/repo
K=/tmp/keep; mkdir -p $K/{predictions,metrics,adapters,logs}
export PYTHONPATH=/tmp/site:/tmp/repo PYTHONUNBUFFERED=1 TRADEOFF_MODELS_DIR=/tmp/models
# flex_attention: the profile's comment says it trains as sdpa does at 3.2x (SmolLM2); two 1.5B arms
# with sdpa do not fit one session's device time
P="python3 -m tradeoff.profile profiles/real-study.yaml --set model.name=bundled-qwen-1.5b \
  --set data.spider=/tmp/x/spider_data.zip --set data.mmlu=/tmp/x/mmlu --set eval_mmlu.format=both \
  --set train.attn_implementation=flex_attention"
$P --write-params $K/p_base.yaml
for lr in 2e-4 1e-3; do $P --set lr=$lr --write-params $K/p_lr$lr.yaml; done

stamp() { echo "$(date +%s) $*" >> $K/timeline.tsv; }
step() {  # step NAME COMMAND...: run, time and log one step
  local name=$1; shift; stamp "start $name"
  "$@" > $K/logs/$name.log 2>&1; local rc=$?
  stamp "end $name rc=$rc"; return $rc
}
evaluate() {  # evaluate TAG ADAPTER PARAMS: Spider EX and MMLU (both formats) of one model
  step sql_$1 python3 stages/eval_sql.py --data data/prepared --adapter $2 --out $K/predictions/sql_$1.jsonl \
    --metrics $K/metrics/sql_$1.json --params $K/$3
  step mmlu_$1 python3 stages/eval_mmlu.py --data data/prepared --adapter $2 --out $K/predictions/mmlu_$1.jsonl \
    --metrics $K/metrics/mmlu_$1.json --params $K/$3
}
arm() {  # arm LR: train exp1's recipe at rate LR in its own copy of the repo (checkpoints/ is per folder), then score it
  rm -rf /tmp/repo_$1 && cp -r /tmp/repo /tmp/repo_$1 && cd /tmp/repo_$1 || return 1
  step train_lr$1 python3 stages/train.py --arm exp1 --data data/prepared --adapter $K/adapters/lr$1 \
    --metrics $K/metrics/train_lr$1.json --speed $K/metrics/speed_train_lr$1.json --live $K/logs/live_lr$1 \
    --curve $K/curves_lr$1 --params $K/p_lr$1.yaml --no-curves && evaluate lr$1 $K/adapters/lr$1 p_lr$1.yaml
}

nvidia-smi > $K/logs/nvidia-smi.txt; cp /tmp/repo/commit.txt $K/ 2>/dev/null
step prepare python3 stages/prepare.py --out data/prepared --params $K/p_base.yaml
cp data/prepared/model.json $K/metrics/model.json
evaluate base none p_base.yaml
(arm 2e-4) & (arm 1e-3) &
wait
stamp "all done"
