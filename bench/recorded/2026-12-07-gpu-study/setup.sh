#!/bin/bash
# After the carry calls: `setup.sh env` once the first four calls are in (the pinned wheels: base.tar in p00-p02,
# its sha256 in base.sha; data.tar: spider_data.zip, mmlu/; git.tar: the .git of `git clone --depth 1` of main at
# this session's commit, checked out in /tmp/repo, where DVC runs the experiments; tok.tar: SmolLM2's tokenizer
# for bench_mfu.sh; base.tgz where an earlier session brought it home), `setup.sh model` once the GGUF parts are
# in (g*: Qwen2.5-Coder-1.5B-Instruct, checked against its published sha256). No argument: both.
set -euo pipefail
P=/tmp/parts
env_setup() {
  cat $P/p[0-9]* > /tmp/base.tar && echo "$(cat $P/base.sha)  /tmp/base.tar" | sha256sum -c - && tar xf /tmp/base.tar -C /tmp
  python3 -m pip install -q --no-deps --no-compile --target /tmp/site-packages /tmp/b/pkgs/*.whl
  mkdir -p /tmp/bin /tmp/models/downloads /tmp/x /tmp/keep  # keep: the logs the next commands redirect to
  printf '#!/bin/sh\nexec %s "$@"\n' "$(command -v python3)" > /tmp/bin/python && chmod +x /tmp/bin/python
  printf '#!/bin/sh\nexec python -m dvc "$@"\n' > /tmp/bin/dvc && chmod +x /tmp/bin/dvc  # the profile command calls `dvc`
  tar xf $P/data.tar -C /tmp/x && tar xf $P/tok.tar -C /tmp
  rm -rf /tmp/repo && mkdir /tmp/repo && tar xf $P/git.tar -C /tmp/repo
  cd /tmp/repo && git checkout -q -f HEAD && git config user.email study@tradeoff && git config user.name study
  # the base model's scores from an earlier session (poll.sh keeps them as base.tgz: dvc.lock, metrics/*_base.json,
  # predictions/*_base.jsonl, their DVC cache files and the run cache), so that DVC finds those stages up to date
  # (or in its run cache) and skips them
  if [ -f $P/base.tgz ]; then
    tar xzf $P/base.tgz -C /tmp/repo && echo "restored the base model's scores: $(tar tzf $P/base.tgz | wc -l) files"
  fi
  git log --oneline -1 && git status --short | head -3
  source bench/recorded/2026-12-07-gpu-study/env.sh
  python -m compileall -q -j 16 /tmp/site-packages /tmp/repo/tradeoff >/dev/null 2>&1 || true
  python -m dvc --version && python -c "import torch, transformers, peft, trl; print(torch.__version__, transformers.__version__, peft.__version__, trl.__version__, torch.cuda.get_device_name())"
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
}
model_setup() {
  cat $P/g[0-9]* > /tmp/models/downloads/Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf
  echo "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046  /tmp/models/downloads/Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf" | sha256sum -c -
}
case "${1:-all}" in
  env) env_setup ;;
  model) model_setup ;;
  *) env_setup && model_setup ;;
esac
