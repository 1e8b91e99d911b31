#!/bin/bash
# A second, shorter loan the same day: the two engines' peak GPU memory on Qwen base (bench
# generation_speed.py now reports it), plain at batch 512 and cached at batch 1024 as in run.sh.
# Expects what run.sh expects (without the adapter); writes under /tmp/keep2.
set -u
cd /tmp/repo
K=/tmp/keep2; mkdir -p $K/logs $K/metrics
export PYTHONPATH=/tmp/site:/tmp/repo PYTHONUNBUFFERED=1 TRADEOFF_MODELS_DIR=/tmp/models
python3 -m tradeoff.profile profiles/real-study.yaml --set data.spider=/tmp/x/spider_data.zip --set data.mmlu=sample \
  --set model.name=bundled-qwen --write-params $K/p_qwen.yaml
python3 stages/prepare.py --out data/prepared_qwen --params $K/p_qwen.yaml > $K/logs/prepare_qwen.log 2>&1 || exit 1
python3 bench/generation_speed.py --data data/prepared_qwen --params $K/p_qwen.yaml --plain-batch 512 \
  --cached-batch 1024 --out $K/metrics/bench_qwen_base_memory.json > $K/logs/bench_qwen_base_memory.log 2>&1
