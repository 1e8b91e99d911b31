#!/bin/bash
# Second loan: after run.sh showed the cached engine scoring the lr 2e-4 arm 0.4-0.8 points below plain
# (never the base model), the adapter is kept apart in bf16 (for_decoding). The same agreement matrix
# on the arm with the new engine, the old merged one beside it, the logit distance from float32 of
# each way to run the adapter, the eval_sql stage as dvc runs it, and the GPU-only graph tests.
#   setsid bash bench/recorded/2026-11-30-h200-agreement/run2.sh </dev/null >/tmp/keep/run2.log 2>&1 &
set -u
cd /tmp/repo
K=/tmp/keep; mkdir -p $K/logs $K/metrics $K/predictions
export PYTHONPATH=/tmp/site:/tmp/repo PYTHONUNBUFFERED=1 TRADEOFF_MODELS_DIR=/tmp/models
python3 -m tradeoff.profile profiles/real-study.yaml --set data.spider=/tmp/x/spider_data.zip \
  --set data.mmlu=sample --set model.name=bundled-qwen --write-params $K/p_qwen.yaml
A=/tmp/x/adapters/lr2e-4
stamp() { echo "$(date +%s) $*" >> $K/timeline.tsv; }
step() {  # step NAME COMMAND...: run, time and log one step
  local name=$1; shift; stamp "start $name"
  "$@" > $K/logs/$name.log 2>&1; local rc=$?
  stamp "end $name rc=$rc"; return $rc
}
nvidia-smi > $K/logs/nvidia-smi.txt
step prepare_qwen python3 stages/prepare.py --out data/prepared_qwen --params $K/p_qwen.yaml
step agree2_qwen_lr2e-4 python3 bench/engine_agreement.py --data data/prepared_qwen --params $K/p_qwen.yaml \
  --adapter $A --plain 256 512 1024 --cached 256 512 1024 --cached-merged 1024 --out $K/metrics/agree2_qwen_lr2e-4.json
step merge_fidelity_qwen_lr2e-4 python3 bench/merge_fidelity.py --data data/prepared_qwen --params $K/p_qwen.yaml \
  --adapter $A --limit 200 --out $K/metrics/merge_fidelity_qwen_lr2e-4.json
step stage_qwen_lr2e-4 python3 stages/eval_sql.py --data data/prepared_qwen --params $K/p_qwen.yaml --adapter $A \
  --out $K/predictions/sql_qwen_lr2e-4.jsonl --metrics $K/metrics/sql_qwen_lr2e-4.json
step pytest_graphs python3 -m pytest -q -p no:cacheprovider tests/test_generation.py -k "graph or replies_of_generate"
stamp "all done"
