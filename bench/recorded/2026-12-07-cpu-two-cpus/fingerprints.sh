#!/bin/bash
# prepare (the SmolLM2 conversion), then the fingerprint of float32 work under each setting, with
# torch 2.13.0 (this repo's) and the image's torch 2.11.0
set -uo pipefail
cd /tmp/repo && source bench/recorded/2026-12-07-cpu-two-cpus/env.sh
python -c "import torch; print('torch', torch.__version__, torch.__file__)"
time python -m dvc repro prepare 2>&1 | tail -3
for site in $(test -d /tmp/t213 && echo /tmp/t213) ""; do
  export PYTHONPATH=/tmp/repo:${site:+$site:}/tmp/site
  for t in 2 16; do
    python bench/cpu_fingerprint.py --data data/prepared --threads $t 2>/dev/null | tail -1
    python bench/cpu_fingerprint.py --data data/prepared --threads $t --unpinned 2>/dev/null | tail -1
  done
done | tee $OUT/fingerprints.jsonl
