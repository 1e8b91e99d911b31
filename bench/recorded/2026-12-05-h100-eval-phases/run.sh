#!/bin/bash
# Issue 30 on one H100: where the evaluation stages' time goes (the phase log of tradeoff/timing.py),
# for the real-study profile on bundled-qwen (Qwen2.5-Coder-0.5B), MMLU letters, the settings of the
# issue's 44.0 s / 19.0 s; then the flex_attention arm whose loss curve goes beside the sdpa one of
# ../2026-11-29-h200x2-nan/loss_curves.json (same params, seed and data), with its EX and MMLU.
#   setsid bash bench/recorded/2026-12-05-h100-eval-phases/run.sh </dev/null >/tmp/keep/run.log 2>&1 &
# Expects /tmp/x/spider_data.zip, /tmp/x/mmlu/, the GGUF in $TRADEOFF_MODELS_DIR/downloads and the
# carried wheels in /tmp/site. Outputs under /tmp/keep (K).
set -u
K=/tmp/keep; mkdir -p $K/{predictions,metrics,adapters,logs,prof}
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 TRADEOFF_MODELS_DIR=/tmp/models
P="python3 -m tradeoff.profile profiles/real-study.yaml --set model.name=bundled-qwen"
P="$P --set data.spider=/tmp/x/spider_data.zip --set data.mmlu=/tmp/x/mmlu --set eval_mmlu.format=letters"
$P --write-params $K/p_base.yaml
$P --set eval_mmlu.batch_size=256 --write-params $K/p_b256.yaml
$P --set lr=2e-4 --set train.attn_implementation=flex_attention --write-params $K/p_flex.yaml

stamp() { echo "$(date +%s) $*" >> $K/timeline.tsv; }
step() { local name=$1; shift; stamp "start $name"; "$@" > $K/logs/$name.log 2>&1; local rc=$?; stamp "end $name rc=$rc"; return $rc; }
mmlu() {  # mmlu TAG ADAPTER PARAMS [python flags]
  step mmlu_$1 python3 $4 stages/eval_mmlu.py --data data/prepared --adapter $2 --out $K/predictions/mmlu_$1.jsonl \
    --metrics $K/metrics/mmlu_$1.json --params $K/$3; }
sql() {
  step sql_$1 python3 $4 stages/eval_sql.py --data data/prepared --adapter $2 --out $K/predictions/sql_$1.jsonl \
    --metrics $K/metrics/sql_$1.json --params $K/$3; }

nvidia-smi > $K/logs/nvidia-smi.txt; cp /tmp/x/commit.txt $K/ 2>/dev/null
step prepare python3 stages/prepare.py --out data/prepared --params $K/p_base.yaml
mmlu base none p_base.yaml ""
sql base none p_base.yaml ""
mmlu base_again none p_base.yaml ""
sql base_again none p_base.yaml ""
mmlu base_b256 none p_b256.yaml ""
mmlu base_prof none p_base.yaml "-m cProfile -o $K/prof/mmlu_base.prof"
sql base_prof none p_base.yaml "-m cProfile -o $K/prof/sql_base.prof"
step train_flex python3 stages/train.py --arm exp1 --data data/prepared --adapter $K/adapters/flex \
  --metrics $K/metrics/train_flex.json --speed $K/metrics/speed_train_flex.json --live $K/logs/live_flex \
  --curve $K/curves_flex --params $K/p_flex.yaml --no-curves
sql flex $K/adapters/flex p_flex.yaml ""
mmlu flex $K/adapters/flex p_flex.yaml ""
stamp "all done"
