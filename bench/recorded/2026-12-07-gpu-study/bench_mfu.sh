#!/bin/bash
# Issue 30's MFU bar at gemma-2b shape, before the study (study.sh waits for it: one GPU): bench/train_speed.py,
# ours-flex against ours-flex-liger (Liger's Triton kernels for norms, RoPE and the gated MLP), same run, rows of 1,024
# tokens (BENCHMARKS' table) and of 2,304 (the real study's rows), 8 rows a step, 30 timed steps after 5 warm-up.
# liger-kernel (a pure-Python wheel; Triton comes with the image's torch) goes to its own folder, so the study's
# environment never sees it; the prompts are built with SmolLM2's tokenizer (tok.tar), as BENCHMARKS' table was.
# Needs `setup.sh env` only, so it runs while the GGUF parts still travel; study.sh waits for it.
# Writes /tmp/keep/mfu-*.{txt,json}.
cd /tmp/repo && source bench/recorded/2026-12-07-gpu-study/env.sh
mkdir -p /tmp/keep /tmp/bench/site-packages
echo $$ > /tmp/keep/mfu.pid  # setsid made this shell a process group, and timeout --foreground keeps python in it:
# `kill -- -$(cat /tmp/keep/mfu.pid)` stops both when the study should start (never `pkill -f NAME` in a call's
# command line: the pattern matches that command line too and kills the call's own shell)
python3 -m pip install -q --no-deps --no-compile --target /tmp/bench/site-packages /tmp/parts/liger_kernel-*.whl
export PYTHONPATH=$PYTHONPATH:/tmp/bench/site-packages
echo "$(date +%s) start mfu $*" >> /tmp/keep/timeline.tsv
for len in ${@:-1024 2304}; do  # row lengths, as arguments
  timeout --foreground 420 python bench/train_speed.py --spider /tmp/x/spider_data.zip --tokenizer /tmp/tok --max-length $len \
    --configs ours-flex ours-flex-liger --out /tmp/keep/mfu-$len.json > /tmp/keep/mfu-$len.txt 2>&1
  echo "$(date +%s) mfu $len rc=$?" >> /tmp/keep/timeline.tsv
done
