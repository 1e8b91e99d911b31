#!/bin/bash
# Run after run.sh on the same machine (same session): the fp32 check and the plain engine's own
# bf16 noise floor (batch 256 instead of 512), both on the lr 2e-4 Qwen arm. p_qwen32.yaml is
# p_qwen.yaml with --set model.dtype=float32.
cd /tmp/repo; K=/tmp/keep
echo "$(date +%s) start bench_qwen_lr2e-4_fp32" >> $K/timeline.tsv
python3 bench/generation_speed.py --data data/prepared_qwen --params $K/p_qwen32.yaml --adapter /tmp/x/adapters/lr2e-4 --plain-batch 512 --cached-batch 1024 --out $K/metrics/bench_qwen_lr2e-4_fp32.json > $K/logs/bench_qwen_lr2e-4_fp32.log 2>&1
echo "$(date +%s) end bench_qwen_lr2e-4_fp32 rc=$?" >> $K/timeline.tsv
echo "$(date +%s) start bench_qwen_lr2e-4_plain256" >> $K/timeline.tsv
python3 bench/generation_speed.py --data data/prepared_qwen --params $K/p_qwen.yaml --adapter /tmp/x/adapters/lr2e-4 --plain-batch 256 --cached-batch 1024 --out $K/metrics/bench_qwen_lr2e-4_plain256.json > $K/logs/bench_qwen_lr2e-4_plain256.log 2>&1
echo "$(date +%s) end bench_qwen_lr2e-4_plain256 rc=$?" >> $K/timeline.tsv
