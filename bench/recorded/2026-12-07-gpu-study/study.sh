#!/bin/bash
# The study the DVC way, started once in its own process session (it outlives the call that starts it; each
# later call polls it with poll.sh):
#   setsid bash bench/recorded/2026-12-07-gpu-study/study.sh [base | NAME...] </dev/null >/tmp/keep/study.log 2>&1 &
# (`base`: only the base model's stages, for a session with too little device time left;
# NAMEs such as q15-rates-s1: the base model's stages, then those experiments alone (q15-AXIS-sSEED is
# profiles/study-AXIS.yaml with train.seed=SEED); none: every experiment of the study)
# One experiment after another in the workspace, each with the project's profile command (checked before DVC
# sees it; then `dvc exp run -n NAME -S ...`). params.yaml is reset to the commit's before each, so an
# experiment is exactly real-study + its axis profile + its seed. In the workspace DVC skips every stage
# whose inputs did not change (prepare, the base model's scores), which a queued experiment's fresh
# workspace repeated: there the run cache restored check_params and prepare only (tried on a CPU).
set -u
cd /tmp/repo && source bench/recorded/2026-12-07-gpu-study/env.sh
K=/tmp/keep; mkdir -p $K; echo $$ > $K/study.pid  # poll.sh stops waiting when this process is gone
stamp() { echo "$(date +%s) $*" >> $K/timeline.tsv; }
DATA="--set data.spider=/tmp/x/spider_data.zip --set data.mmlu=/tmp/x/mmlu"
experiment() {  # experiment NAME AXIS_PROFILE [--set ...]
  local name=$1 axis=$2; shift 2
  git checkout -q HEAD -- params.yaml
  stamp "start $name"
  python -m tradeoff.profile run profiles/real-study.yaml profiles/$axis.yaml $DATA "$@" -n $name \
    > $K/$name.log 2>&1
  local rc=$?; stamp "end $name rc=$rc"
  mkdir -p $K/$name && cp -r speed metrics reports params.yaml $K/$name/ 2>/dev/null  # speed/ is in no commit
}
base_first() {  # base_first STAGE...: the base model's stages alone, under the study's params: a session whose
  # budget ends inside the first experiment still brings them home (poll.sh), and the next session skips them
  git checkout -q HEAD -- params.yaml
  python -m tradeoff.profile profiles/real-study.yaml profiles/study-rates.yaml $DATA --write-params params.yaml \
    && stamp "start base $*" && python -m dvc repro "$@" >> $K/base.log 2>&1
  stamp "end base $* rc=$?"
}
while pgrep -f bench_mfu.sh >/dev/null; do sleep 5; done  # one GPU: never beside the MFU benchmark
nvidia-smi > $K/nvidia-smi.txt; git log --oneline -1 > $K/commit.txt
if [ "${1:-}" = base ]; then  # a session too short for an experiment: the base model's stages alone (session 3 ran
  base_first eval_sql_base   # bench/load_speed.py between them; its figures are in results/session2-base15/)
  base_first eval_mmlu_base
  stamp "study end"; exit 0
fi
base_first eval_sql_base eval_mmlu_base
[ $# -gt 0 ] || set -- q15-rates-s0 q15-rates-s1 q15-rates-s2 q15-ranks-s0 q15-full-s0
for name in "$@"; do  # q15-AXIS-sSEED
  axis=${name#q15-}; axis=${axis%-s*}
  experiment $name study-$axis --set train.seed=${name##*-s}
done
stamp "study end"
