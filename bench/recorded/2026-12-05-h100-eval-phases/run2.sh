#!/bin/bash
# Second loan of this record: the evaluation stages before (code of the first loan, carried in
# .carry/base) and after loading the model straight onto the GPU and MMLU batch 256, side by side on
# one machine; a cProfile of the new eval_mmlu; 40 training steps with sdpa and with flex_attention
# (tokens/s on the same GPU); last, the full flex_attention arm (its loss curve) and its EX and MMLU.
#   setsid bash bench/recorded/2026-12-05-h100-eval-phases/run2.sh </dev/null >/tmp/keep/run.log 2>&1 &
set -u
K=/tmp/keep; mkdir -p $K/{predictions,metrics,logs,prof}
export PYTHONUNBUFFERED=1 TRADEOFF_MODELS_DIR=/tmp/models
NEW=/tmp/site:$PWD; OLD=/tmp/site:$PWD/.carry/base
P="python3 -m tradeoff.profile profiles/real-study.yaml --set model.name=bundled-qwen"
P="$P --set data.spider=/tmp/x/spider_data.zip --set data.mmlu=/tmp/x/mmlu --set eval_mmlu.format=letters --set lr=2e-4"
export PYTHONPATH=$NEW
$P --set eval_mmlu.batch_size=64 --write-params $K/p_b64.yaml
$P --write-params $K/p_new.yaml
for a in sdpa flex_attention; do $P --set train.max_steps=40 --set train.attn_implementation=$a --write-params $K/p_40_$a.yaml; done
$P --set train.attn_implementation=flex_attention --write-params $K/p_flex.yaml

stamp() { echo "$(date +%s) $*" >> $K/timeline.tsv; }
step() { local name=$1; shift; stamp "start $name"; "$@" > $K/logs/$name.log 2>&1; local rc=$?; stamp "end $name rc=$rc"; return $rc; }
stage() {  # stage CODE(old|new) TASK(mmlu|sql) TAG ADAPTER PARAMS [python flags]
  local root=$PWD; [ $1 = old ] && root=$PWD/.carry/base
  local py=$NEW; [ $1 = old ] && py=$OLD
  PYTHONPATH=$py step $2_$3 python3 $6 $root/stages/eval_$2.py --data data/prepared --adapter $4 \
    --out $K/predictions/$2_$3.jsonl --metrics $K/metrics/$2_$3.json --params $K/$5; }
train() {
  step train_$1 python3 stages/train.py --arm exp1 --data data/prepared --adapter /tmp/ad_$1 --metrics $K/metrics/train_$1.json \
    --speed $K/metrics/speed_train_$1.json --live $K/logs/live_$1 --curve /tmp/cv_$1 --params $K/$2 --no-curves; }

nvidia-smi > $K/logs/nvidia-smi.txt; cp /tmp/x/commit.txt $K/ 2>/dev/null
step prepare python3 stages/prepare.py --out data/prepared --params $K/p_new.yaml
stage old mmlu old_b64 none p_b64.yaml ""
stage new mmlu new_b64 none p_b64.yaml ""
stage new mmlu new_b256 none p_new.yaml ""
stage old mmlu old_b64_again none p_b64.yaml ""
stage new mmlu new_b256_again none p_new.yaml ""
stage old sql old none p_new.yaml ""
stage new sql new none p_new.yaml ""
stage old sql old_again none p_new.yaml ""
stage new sql new_again none p_new.yaml ""
stage new mmlu prof none p_new.yaml "-m cProfile -o $K/prof/mmlu_new.prof"
train 40_sdpa p_40_sdpa.yaml
train 40_flex p_40_flex_attention.yaml
stamp "short done"
train flex p_flex.yaml
stage new sql flex /tmp/ad_flex p_flex.yaml ""
stage new mmlu flex /tmp/ad_flex p_flex.yaml ""
stamp "all done"
