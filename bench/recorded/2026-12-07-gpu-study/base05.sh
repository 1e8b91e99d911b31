#!/bin/bash
# Issue 30's evaluation bars on the base Qwen2.5-Coder-0.5B (real-study profile, MMLU letters), on a quiet GPU
# before the study starts: the MMLU scorers before (padded, bench/mmlu_padded_reference.py) and now (packed)
# side by side with their per-question letters compared, then each evaluation stage timed as a user waits
# for it (`dvc repro <stage>`, model load and DVC included) in a throwaway copy of the repository.
# Session 1 only: it needs the 0.5B GGUF in /tmp/models/downloads, which today's make_carry.sh and setup.sh no
# longer carry or place (add its parts and the sha256 check of setup.sh at 12ab336 to run it again).
set -uo pipefail
cd /tmp/repo && source bench/recorded/2026-12-07-gpu-study/env.sh
K=/tmp/keep; mkdir -p $K
python bench/mmlu_packed_speed.py --model bundled-qwen --data /tmp/x/mmlu --format letters 2>&1 \
  | grep -v "it/s\|q/s" | tail -8 | tee $K/base05-mmlu-bench.txt
rm -rf /tmp/repo05 && cp -r /tmp/repo /tmp/repo05 && cd /tmp/repo05
python -m tradeoff.profile profiles/real-study.yaml --set model.name=bundled-qwen --set eval_mmlu.format=letters \
  --set data.spider=/tmp/x/spider_data.zip --set data.mmlu=/tmp/x/mmlu --write-params params.yaml
python -m dvc repro -q prepare 2>&1 | tail -2
for s in eval_sql_base eval_mmlu_base; do
  t=$EPOCHREALTIME; python -m dvc repro -q $s > $K/base05-$s.log 2>&1; rc=$?
  echo "$s rc=$rc wall $(python -c "print(round($EPOCHREALTIME - $t, 1))") s" | tee -a $K/base05-stages.txt
done
cat metrics/sql_base.json | head -c 400; echo; python -c "import json;d=json.load(open('metrics/mmlu_base.json'));print({k:v for k,v in d.items() if not isinstance(v,(dict,list))})"
# added after the first session: where "load model" goes (15.2 s of eval_sql_base's 29.6 s) and whether loading
# straight onto the GPU saves it; the cloze scorers padded vs packed on ten subjects (the study scores both formats)
cd /tmp/repo && python bench/load_speed.py --data /tmp/repo05/data/prepared --repeats 2 2>&1 | grep -v INFO \
  | tee $K/base05-load-speed.txt
python bench/mmlu_packed_speed.py --model bundled-qwen --data /tmp/x/mmlu --format cloze --subjects 10 2>&1 \
  | grep -v "it/s\|q/s" | tail -8 | tee $K/base05-cloze-bench.txt
