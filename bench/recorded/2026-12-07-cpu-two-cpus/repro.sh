#!/bin/bash
# dvc repro of the embedded default on two cores of the GPU machine's CPU (taskset), torch 2.13.0;
# each line of DVC's output prefixed with the seconds since the start. Run again if a call's time
# ran out: DVC skips the stages already done.
set -uo pipefail
cd /tmp/repo && source bench/recorded/2026-12-07-cpu-two-cpus/env.sh
ts="taskset -c 0,1"; $ts true || ts=""  # two cores, like the 2-core machine, where allowed
start=$(date +%s)
$ts python -m dvc repro 2>&1 | while IFS= read -r l; do echo "$(( $(date +%s) - start )) $l"; done \
  | grep -vE "it/s\]|s/it\]" | tee -a /tmp/repro.log | grep -E "Running stage|time by phase|ERROR|error" 
echo "TOTAL $(( $(date +%s) - start )) s" | tee -a /tmp/repro.log
cp /tmp/repro.log $OUT/ 2>/dev/null; tar czf $OUT/results.tgz metrics dvc.lock speed 2>/dev/null
python -m dvc status 2>&1 | tail -3
