#!/bin/bash
# Issue 17's bf16 fidelity bar on one H200: each engine at three batch sizes on all 972 scorable Spider
# dev questions, real-study profile (bf16, 256 new tokens), Qwen2.5-Coder-0.5B base and its lr 2e-4 arm
# (exp1's recipe). Started detached from a copy of the repo at /tmp/repo:
#   setsid bash bench/recorded/2026-11-30-h200-agreement/run.sh </dev/null >/tmp/keep/run.log 2>&1 &
# Expects /tmp/x/spider_data.zip, the Qwen GGUF in $TRADEOFF_MODELS_DIR/downloads, the lr 2e-4 Qwen
# adapter in /tmp/x/adapters/lr2e-4, /tmp/site the carried wheels.
set -u
cd /tmp/repo
K=/tmp/keep; mkdir -p $K/logs $K/metrics
export PYTHONPATH=/tmp/site:/tmp/repo PYTHONUNBUFFERED=1 TRADEOFF_MODELS_DIR=/tmp/models
python3 -m tradeoff.profile profiles/real-study.yaml --set data.spider=/tmp/x/spider_data.zip \
  --set data.mmlu=sample --set model.name=bundled-qwen --write-params $K/p_qwen.yaml

stamp() { echo "$(date +%s) $*" >> $K/timeline.tsv; }
step() {  # step NAME COMMAND...: run, time and log one step
  local name=$1; shift; stamp "start $name"
  "$@" > $K/logs/$name.log 2>&1; local rc=$?
  stamp "end $name rc=$rc"; return $rc
}
agree() {  # agree TAG [ARGS...]: plain and cached, each at batch 256, 512 and 1024
  local tag=$1; shift
  step agree_$tag python3 bench/engine_agreement.py --data data/prepared_qwen --params $K/p_qwen.yaml \
    --plain 256 512 1024 --cached 256 512 1024 --out $K/metrics/agree_$tag.json "$@"
}

nvidia-smi > $K/logs/nvidia-smi.txt
step prepare_qwen python3 stages/prepare.py --out data/prepared_qwen --params $K/p_qwen.yaml
agree qwen_lr2e-4 --adapter /tmp/x/adapters/lr2e-4
agree qwen_base
stamp "all done"
