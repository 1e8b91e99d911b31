#!/bin/bash
# Issue 30, second loan of the day (the first lost its files when the machine went back between
# calls): one synchronous call, results written straight to $OUT. Stage wall times as a user runs
# them (bytecode compiled once, as pip does), then where MMLU's forward time goes on 12 subjects.
#   bash bench/recorded/2026-12-05-gpu-eval-speed/run_short.sh   (from the repo root, OUT set)
set -u
K=$OUT/keep; mkdir -p $K/{predictions,metrics,logs}
export PYTHONUNBUFFERED=1 TRADEOFF_MODELS_DIR=/tmp/models PYTHONPATH=/tmp/site:$PWD PYTHONPYCACHEPREFIX=/tmp/pyc
P="python3 -m tradeoff.profile profiles/real-study.yaml --set model.name=bundled-qwen"
P="$P --set data.spider=/tmp/x/spider_data.zip --set data.mmlu=/tmp/x/mmlu --set eval_mmlu.format=letters --set lr=2e-4"
$P --write-params $K/p.yaml
stamp() { echo "$(date +%s) $*" >> $K/timeline.tsv; }
step() { local name=$1; shift; stamp "start $name"; "$@" > $K/logs/$name.log 2>&1; local rc=$?; stamp "end $name rc=$rc"; return $rc; }
stage() {  # stage TASK(mmlu|sql) TAG ADAPTER
  step $1_$2 python3 stages/eval_$1.py --data data/prepared --adapter $3 \
    --out $K/predictions/$1_$2.jsonl --metrics $K/metrics/$1_$2.json --params $K/p.yaml; }
nvidia-smi > $K/logs/nvidia-smi.txt; git rev-parse HEAD > $K/commit.txt 2>/dev/null || cp commit.txt $K/
step compileall python3 -m compileall -q -j 16 /tmp/site $(python3 -c "import site; print(' '.join(site.getsitepackages()))") $PWD/tradeoff
step prepare python3 stages/prepare.py --out data/prepared --params $K/p.yaml
stage mmlu base none
stage sql base none
step profile_attn python3 bench/mmlu_forward_profile.py --model bundled-qwen --data /tmp/x/mmlu --subjects 12 --batch-size 256 --attn sdpa flex_attention
stage sql base_again none
stamp "all done"
