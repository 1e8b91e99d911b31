#!/bin/bash
# Third loan (session 12): the work of the second loan's driver (../2026-12-04-h200-qwen15/run2.sh), unchanged;
# each poll (poll.sh) brings home what has finished, so a lost machine loses little.
#   A: train lr 1e-3, then train lr 2e-4 (one training at a time: two at once ran out of memory)
#   B: base EX and MMLU, then each arm's EX and MMLU as soon as its training has ended
# Stage times of this loan are under that sharing; the first loan's unshared ones are in README.md.
#   setsid bash bench/recorded/2026-12-05-h200-qwen15/run.sh </dev/null >/tmp/keep/run.log 2>&1 &
set -u
cd /tmp/repo
K=/tmp/keep; mkdir -p $K/{predictions,metrics,adapters,logs}
export PYTHONPATH=/tmp/site:/tmp/repo PYTHONUNBUFFERED=1 TRADEOFF_MODELS_DIR=/tmp/models
P="python3 -m tradeoff.profile profiles/real-study.yaml --set model.name=bundled-qwen-1.5b"
P="$P --set data.spider=/tmp/x/spider_data.zip --set data.mmlu=/tmp/x/mmlu --set eval_mmlu.format=both"
P="$P --set train.attn_implementation=flex_attention"
$P --write-params $K/p_base.yaml
$P --set lr=1e-3 --write-params $K/p_lr1e-3.yaml
$P --set lr=2e-4 --write-params $K/p_lr2e-4.yaml

stamp() { echo "$(date +%s) $*" >> $K/timeline.tsv; }
step() { local name=$1; shift; stamp "start $name"; "$@" > $K/logs/$name.log 2>&1; local rc=$?; stamp "end $name rc=$rc"; return $rc; }
train() { step train_lr$1 python3 stages/train.py --arm exp1 --data data/prepared --adapter $K/adapters/lr$1 \
  --metrics $K/metrics/train_lr$1.json --speed $K/metrics/speed_train_lr$1.json --live $K/logs/live_lr$1 \
  --curve $K/curves_lr$1 --params $K/p_lr$1.yaml --no-curves; }
evaluate() {  # evaluate TAG ADAPTER PARAMS
  step sql_$1 python3 stages/eval_sql.py --data data/prepared --adapter $2 --out $K/predictions/sql_$1.jsonl \
    --metrics $K/metrics/sql_$1.json --params $K/$3
  step mmlu_$1 python3 stages/eval_mmlu.py --data data/prepared --adapter $2 --out $K/predictions/mmlu_$1.jsonl \
    --metrics $K/metrics/mmlu_$1.json --params $K/$3
}
after() { while ! grep -q "end train_lr$1" $K/timeline.tsv; do sleep 2; done; }

nvidia-smi > $K/logs/nvidia-smi.txt; cp /tmp/repo/commit.txt $K/ 2>/dev/null
step prepare python3 stages/prepare.py --out data/prepared --params $K/p_base.yaml
cp data/prepared/model.json $K/metrics/model.json
(train 1e-3; train 2e-4) &
(evaluate base none p_base.yaml; after 1e-3; evaluate lr1e-3 $K/adapters/lr1e-3 p_lr1e-3.yaml;
 after 2e-4; evaluate lr2e-4 $K/adapters/lr2e-4 p_lr2e-4.yaml) &
wait
stamp "all done"
