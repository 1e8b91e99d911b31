#!/bin/bash
# Third loan: the lr 2e-4 arm in float32, plain generate at batch 512 beside the cached engine at batch
# 1024 with the adapter kept apart (`--cached-apart`: for_decoding would merge it in float32).
# Any differing SQL would be a fault of the engine, not rounding.
#   setsid bash bench/recorded/2026-11-30-h200-agreement/run3.sh </dev/null >/tmp/keep/run3.log 2>&1 &
set -u
cd /tmp/repo
K=/tmp/keep; mkdir -p $K/logs $K/metrics
export PYTHONPATH=/tmp/site:/tmp/repo PYTHONUNBUFFERED=1 TRADEOFF_MODELS_DIR=/tmp/models
python3 -m tradeoff.profile profiles/real-study.yaml --set data.spider=/tmp/x/spider_data.zip \
  --set data.mmlu=sample --set model.name=bundled-qwen --set model.dtype=float32 --write-params $K/p_qwen32.yaml
stamp() { echo "$(date +%s) $*" >> $K/timeline.tsv; }
stamp "start prepare_qwen"
python3 stages/prepare.py --out data/prepared_qwen --params $K/p_qwen32.yaml > $K/logs/prepare_qwen3.log 2>&1
stamp "end prepare_qwen rc=$?"
stamp "start agree3_qwen_lr2e-4_fp32"
python3 bench/engine_agreement.py --data data/prepared_qwen --params $K/p_qwen32.yaml --adapter /tmp/x/adapters/lr2e-4 \
  --plain 512 --cached-apart 1024 --out $K/metrics/agree3_qwen_lr2e-4_fp32.json > $K/logs/agree3_qwen_lr2e-4_fp32.log 2>&1
stamp "end agree3_qwen_lr2e-4_fp32 rc=$?"
stamp "all done"
