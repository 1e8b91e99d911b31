#!/bin/bash
# One poll of run.sh: wait up to $1 s (less if it has finished), then pack everything it has
# written except the adapters into $OUT/keep.tgz, so each call brings home what is done.
K=/tmp/keep
end=$(( $(date +%s) + ${1:-270} ))
while [ "$(date +%s)" -lt "$end" ] && ! grep -q "all done" $K/timeline.tsv 2>/dev/null; do sleep 5; done
tar czf $OUT/keep.tgz --exclude=adapters --exclude='*.safetensors' -C /tmp keep
cat $K/timeline.tsv; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
for f in $K/logs/*.log; do echo "== $f"; tail -c 400 "$f" | tr '\r' '\n' | tail -2; done
