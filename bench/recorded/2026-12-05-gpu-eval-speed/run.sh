#!/bin/bash
# Issue 30, one GPU loan: the evaluation stages' wall time as a user runs them (bytecode cached),
# where MMLU's forward time goes (torch.profiler, by attention kernel and batch), and the full
# flex_attention arm with its EX and MMLU. Real-study profile on bundled-qwen (Qwen2.5-Coder-0.5B),
# MMLU letters, all 14,042 test questions 5-shot, all scorable Spider dev questions.
#   setsid bash bench/recorded/2026-12-05-gpu-eval-speed/run.sh </dev/null >/tmp/keep/run.log 2>&1 &
set -u
K=/tmp/keep; mkdir -p $K/{predictions,metrics,logs}
export PYTHONUNBUFFERED=1 TRADEOFF_MODELS_DIR=/tmp/models PYTHONPATH=/tmp/site:$PWD
P="python3 -m tradeoff.profile profiles/real-study.yaml --set model.name=bundled-qwen"
P="$P --set data.spider=/tmp/x/spider_data.zip --set data.mmlu=/tmp/x/mmlu --set eval_mmlu.format=letters --set lr=2e-4"
$P --write-params $K/p.yaml

stamp() { echo "$(date +%s) $*" >> $K/timeline.tsv; }
step() { local name=$1; shift; stamp "start $name"; "$@" > $K/logs/$name.log 2>&1; local rc=$?; stamp "end $name rc=$rc"; return $rc; }
stage() {  # stage TASK(mmlu|sql) TAG ADAPTER
  step $1_$2 python3 stages/eval_$1.py --data data/prepared --adapter $3 \
    --out $K/predictions/$1_$2.jsonl --metrics $K/metrics/$1_$2.json --params $K/p.yaml; }
IMPORTS="import torch, transformers, peft, sqlglot; from transformers import AutoModelForCausalLM, AutoTokenizer; import tradeoff.scoring_stage, tradeoff.mmlu.score, tradeoff.spider.task, tradeoff.model.load"

nvidia-smi > $K/logs/nvidia-smi.txt; lscpu > $K/logs/lscpu.txt; cp /tmp/x/commit.txt $K/ 2>/dev/null
step prepare python3 stages/prepare.py --out data/prepared --params $K/p.yaml
step import_no_pyc python3 -c "import time; t=time.time(); $IMPORTS; print('imports', round(time.time()-t, 2), 's')"
# a user's pip install compiles bytecode; the image's packages have none: compile once, as pip would
export PYTHONPYCACHEPREFIX=/tmp/pyc
step compileall python3 -m compileall -q -j 16 /tmp/site $(python3 -c "import site; print(' '.join(site.getsitepackages()))") $PWD/tradeoff
step import_pyc python3 -c "import time; t=time.time(); $IMPORTS; print('imports', round(time.time()-t, 2), 's')"
step profile_all python3 bench/mmlu_forward_profile.py --model bundled-qwen --data /tmp/x/mmlu --subjects 57 --batch-size 256
stage mmlu base none
stage mmlu base_again none
stage sql base none
stage sql base_again none
step profile_attn python3 bench/mmlu_forward_profile.py --model bundled-qwen --data /tmp/x/mmlu --subjects 12 --batch-size 256 --attn sdpa eager flex_attention
stamp "short done"
step train_flex python3 stages/train.py --arm exp1 --data data/prepared --adapter /tmp/ad_flex --metrics $K/metrics/train_flex.json \
    --speed $K/metrics/speed_train_flex.json --live $K/logs/live_flex --curve /tmp/cv_flex --params $K/p.yaml --no-curves
stage sql flex /tmp/ad_flex
stage mmlu flex /tmp/ad_flex
stamp "all done"
