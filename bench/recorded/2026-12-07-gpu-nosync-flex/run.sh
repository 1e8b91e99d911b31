#!/bin/bash
# Issue 30, one synchronous call (results tarred into $OUT): the MMLU letters stage of the base
# model with the code before 6a74f45 (b1cc8e0, in .carry/before) and after it (the working tree: letter
# log-probs kept on the device, pinned non-blocking input copies, the shared prefix's cache expanded
# as views), side by side on one machine; eval_sql of the base model; then the real study's flex_attention arm (Qwen 0.5B,
# lr 2e-4, all of Spider train, one epoch) with its EX and MMLU, for the sdpa arm's figures beside.
#   timeout 480 bash bench/recorded/2026-12-07-gpu-nosync-flex/run.sh; tar czf $OUT/keep.tgz -C /tmp keep
# Expects the carried wheels in /tmp/site, /tmp/x/{spider_data.zip,mmlu}, the GGUF in
# /tmp/models/downloads, and b1cc8e0's code (git archive) in .carry/before.
set -u
K=/tmp/keep; mkdir -p $K/{predictions,metrics,logs,params}
export PYTHONUNBUFFERED=1 TRADEOFF_MODELS_DIR=/tmp/models PYTHONPYCACHEPREFIX=/tmp/pyc
MAIN=$PWD; BEFORE=$PWD/.carry/before; D=/tmp/prepared
P="python3 -m tradeoff.profile profiles/real-study.yaml --set model.name=bundled-qwen --set lr=2e-4"
P="$P --set data.spider=/tmp/x/spider_data.zip --set data.mmlu=/tmp/x/mmlu --set eval_mmlu.format=letters"
stamp() { echo "$(date +%s) $*" >> $K/timeline.tsv; }
step() { local name=$1; shift; stamp "start $name"; "$@" > $K/logs/$name.log 2>&1; local rc=$?; stamp "end $name rc=$rc"; return $rc; }
stage() {  # stage CODE_DIR TASK(mmlu|sql) TAG ADAPTER
  (cd $1 && export PYTHONPATH=/tmp/site:$1 && step $2_$3 python3 stages/eval_$2.py --data $D --adapter $4 \
    --out $K/predictions/$2_$3.jsonl --metrics $K/metrics/$2_$3.json --params $K/params/p.yaml); }
export PYTHONPATH=/tmp/site:$MAIN
$P --write-params $K/params/p.yaml
nvidia-smi > $K/logs/nvidia-smi.txt; lscpu > $K/logs/lscpu.txt
cp .carry/head.txt $K/commit_after.txt; cp $BEFORE/commit.txt $K/commit_before.txt
step compileall python3 -m compileall -q -j 16 /tmp/site $(python3 -c "import site; print(' '.join(site.getsitepackages()))") $MAIN/tradeoff $BEFORE/tradeoff
step prepare python3 stages/prepare.py --out $D --params $K/params/p.yaml
stage $BEFORE mmlu base_before none
stage $MAIN mmlu base_after none
stage $MAIN sql base none
step train_flex python3 stages/train.py --arm exp1 --data $D --adapter /tmp/adapters/flex \
  --metrics $K/metrics/train_flex.json --speed $K/metrics/speed_train_flex.json --live $K/live_flex \
  --curve /tmp/curves_flex --params $K/params/p.yaml --no-curves
stage $MAIN sql flex /tmp/adapters/flex
stage $MAIN mmlu flex /tmp/adapters/flex
stage $BEFORE mmlu base_before_again none  # last: the repeats run only if time is left
stage $MAIN mmlu base_after_again none
stamp "all done"
