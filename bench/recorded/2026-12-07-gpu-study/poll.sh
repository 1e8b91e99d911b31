#!/bin/bash
# A poll call: waits up to $1 seconds (default 540) while the study runs, printing the finished experiments, the stages DVC
# started and the GPU's use; then brings home (into $OUT) what is done: the experiments pushed with
# `dvc exp push` to a bare git repository (remote.git, tarred) and the driver's logs.
cd /tmp/repo && source bench/recorded/2026-12-07-gpu-study/env.sh
K=/tmp/keep; end=$(( $(date +%s) + ${1:-540} ))
alive() { [ -f $K/study.pid ] && kill -0 "$(cat $K/study.pid)" 2>/dev/null; }  # a study that never started or died
while [ $(date +%s) -lt $end ] && alive && ! grep -q "study end" $K/timeline.tsv 2>/dev/null; do sleep 20; done
alive || echo "study.sh is not running"
grep -h "failed\|^| ours" $K/mfu-*.txt 2>/dev/null  # train_speed.py exits 0 when a config fails: its table says
git for-each-ref refs/exps --format='%(refname)' | grep -v /exec/
tail -q -n 200 $K/base.log $K/q15-*.log 2>/dev/null | grep -hE "Running stage|is cached|Ran experiment|ERROR|error:|Traceback|time by phase" | tail -14
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
[ -d /tmp/remote.git ] || git clone -q --bare /tmp/repo /tmp/remote.git
# while an experiment runs DVC holds the workspace's lock (`dvc exp push` exits 255): then the finished ones go
# with plain git, which is all `--no-cache` sends
if ! out=$(python -m dvc exp push /tmp/remote.git --no-cache 2>&1); then
  echo "$out" | tail -1
  for r in $(git for-each-ref refs/exps --format='%(refname)' | grep -v /exec/); do git push -q -f /tmp/remote.git $r:$r; done
fi
tar czf $OUT/remote.tgz -C /tmp remote.git
tar czf $OUT/keep.tgz -C /tmp keep
# the base model's scores once its stages are done: the next session's setup.sh restores them with their DVC cache
# files and the run cache (the base metrics are cached outputs since 2026-12-07), so DVC skips those stages
if grep -q "end base.*eval_mmlu_base rc=0" $K/timeline.tsv 2>/dev/null; then
  objs=$(python -c "
import yaml
lock = yaml.safe_load(open('dvc.lock'))['stages']
for stage in ('eval_sql_base', 'eval_mmlu_base'):
    for out in lock[stage]['outs']:
        print('.dvc/cache/files/md5/%s/%s' % (out['md5'][:2], out['md5'][2:]))")
  tar czf $OUT/base.tgz dvc.lock metrics/*_base.json predictions/*_base.jsonl $objs .dvc/cache/runs
fi
du -h $OUT/*
cat $K/timeline.tsv
