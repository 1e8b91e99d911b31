#!/bin/bash
# The Qwen study, part 2, on nvidia-h200-x2: lr 1e-5 (the sweep's fifth rate), a longer run at the highest
# stable rate (5e-4, two epochs) with its curve, and issue 17's bf16 check of the two generation engines
# (base and the lr 2e-4 arm of part 1). Two queues, one per GPU, started detached from a copy of the repo:
#   setsid bash bench/recorded/2026-11-29-h200x2-qwen-study-2/run.sh </dev/null >/tmp/keep/run.log 2>&1 &
# Expects /tmp/x/ to hold spider_data.zip, mmlu/, the assembled Qwen GGUF in models/downloads and the
# lr 2e-4 adapter in /tmp/x/adapters/lr2e-4; /tmp/site the carried wheels. Outputs under /tmp/keep (K).
set -u
cd /tmp/repo
K=/tmp/keep; mkdir -p $K/{predictions,metrics,adapters,curves,logs,reports}
export PYTHONPATH=/tmp/site:/tmp/repo PYTHONUNBUFFERED=1
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
P="python3 -m tradeoff.profile profiles/real-study.yaml --set model.name=bundled-qwen --set data.spider=/tmp/x/spider_data.zip --set data.mmlu=/tmp/x/mmlu"
$P --write-params $K/p_base.yaml
$P --set lr=1e-5 --write-params $K/p_lr1e-5.yaml
$P --set lr=5e-4 --set train.epochs=2 --set curve.checkpoints=3 --set curve.mmlu_limit_per_subject=10 \
   --write-params $K/p_lr5e-4x2.yaml
# part 1's base predictions (same model, data, params and prompts) for the curve's paired deltas
tar xzf bench/recorded/2026-11-29-h200x2-qwen-study/study.tgz -C $K predictions/sql_base.jsonl predictions/mmlu_base.jsonl

stamp() { echo "$(date +%s) $*" >> $K/timeline.tsv; }
step() {  # step NAME COMMAND...: run, time and log one step
  local name=$1; shift; stamp "start $name gpu=$CUDA_VISIBLE_DEVICES"
  "$@" > $K/logs/$name.log 2>&1; local rc=$?
  stamp "end $name rc=$rc"; touch $K/done.$name; return $rc
}
wait_for() { while [ ! -e $K/done.$1 ]; do sleep 2; done; }
train() {  # train TAG ARM PARAMS
  step train_$1 python3 stages/train.py --arm $2 --data data/prepared --adapter $K/adapters/$1 \
    --metrics $K/metrics/train_$1.json --speed $K/metrics/speed_train_$1.json --live $K/logs/live_$1 \
    --curve $K/curves/$1 --params $K/$3 --no-curves
}
evaluate() {  # evaluate TAG ADAPTER PARAMS: Spider EX and MMLU of one model
  step sql_$1 python3 stages/eval_sql.py --data data/prepared --adapter $2 --out $K/predictions/sql_$1.jsonl \
    --metrics $K/metrics/sql_$1.json --params $K/$3
  step mmlu_$1 python3 stages/eval_mmlu.py --data data/prepared --adapter $2 --out $K/predictions/mmlu_$1.jsonl \
    --metrics $K/metrics/mmlu_$1.json --params $K/$3
}

nvidia-smi > $K/logs/nvidia-smi.txt
CUDA_VISIBLE_DEVICES=0 step prepare python3 stages/prepare.py --out data/prepared --params $K/p_base.yaml
( export CUDA_VISIBLE_DEVICES=0
  train lr5e-4x2 exp1 p_lr5e-4x2.yaml
  evaluate lr5e-4x2 $K/adapters/lr5e-4x2 p_base.yaml
  step curve_lr5e-4x2 python3 stages/curve.py --arm exp1 --data data/prepared --curve $K/curves/lr5e-4x2 \
    --base-sql $K/predictions/sql_base.jsonl --base-mmlu $K/predictions/mmlu_base.jsonl \
    --out $K/reports/curve_lr5e-4x2.json --params $K/p_lr5e-4x2.yaml
) &
( export CUDA_VISIBLE_DEVICES=1
  train lr1e-5 exp1 p_lr1e-5.yaml
  evaluate lr1e-5 $K/adapters/lr1e-5 p_base.yaml
  step bench_qwen_base python3 bench/generation_speed.py --data data/prepared --params $K/p_base.yaml \
    --plain-batch 512 --cached-batch 1024 --out $K/metrics/bench_qwen_base.json
  step bench_qwen_lr2e-4 python3 bench/generation_speed.py --data data/prepared --params $K/p_base.yaml \
    --adapter /tmp/x/adapters/lr2e-4 --plain-batch 512 --cached-batch 1024 --out $K/metrics/bench_qwen_lr2e-4.json
) &
wait; stamp "all done"
