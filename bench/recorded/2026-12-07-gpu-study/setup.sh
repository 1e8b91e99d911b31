#!/bin/bash
# After the carry calls: the pinned wheels (base.tar in p00-p02, its sha256 in base.sha), the two GGUF files
# (g*: Qwen2.5-Coder-1.5B-Instruct, q*: 0.5B; each checked against its published sha256), the data
# (data.tar: spider_data.zip, mmlu/), and a git clone of main at the commit of this session (git.tar: the
# .git of `git clone --depth 1`), in /tmp/repo, where DVC runs the experiments on that commit.
set -euo pipefail
P=/tmp/parts
cat $P/p0* > /tmp/base.tar && echo "$(cat $P/base.sha)  /tmp/base.tar" | sha256sum -c - && tar xf /tmp/base.tar -C /tmp
python3 -m pip install -q --no-deps --no-compile --target /tmp/site /tmp/b/pkgs/*.whl
mkdir -p /tmp/bin /tmp/models/downloads /tmp/x
printf '#!/bin/sh\nexec %s "$@"\n' "$(command -v python3)" > /tmp/bin/python && chmod +x /tmp/bin/python
printf '#!/bin/sh\nexec python -m dvc "$@"\n' > /tmp/bin/dvc && chmod +x /tmp/bin/dvc  # the profile command calls `dvc`
cat $P/g[0-9]* > /tmp/models/downloads/Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf
echo "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046  /tmp/models/downloads/Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf" | sha256sum -c -
if ls $P/q[0-9]* >/dev/null 2>&1; then  # the 0.5B travels only for base05.sh (issue 30's bars)
  cat $P/q[0-9]* > /tmp/models/downloads/Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf
  echo "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32  /tmp/models/downloads/Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf" | sha256sum -c -
fi
tar xf $P/data.tar -C /tmp/x
rm -rf /tmp/repo && mkdir /tmp/repo && tar xf $P/git.tar -C /tmp/repo
cd /tmp/repo && git checkout -q -f HEAD && git config user.email study@tradeoff && git config user.name study
# the base model's scores from an earlier session (poll.sh keeps them as base.tgz: dvc.lock, metrics/*_base.json,
# predictions/*_base.jsonl, their DVC cache files and the run cache), so that DVC finds those stages up to date
# (or in its run cache) and skips them
[ -f $P/base.tgz ] && tar xzf $P/base.tgz -C /tmp/repo && echo "restored the base model's scores: $(tar tzf $P/base.tgz | wc -l) files"
git log --oneline -1 && git status --short | head -3
source bench/recorded/2026-12-07-gpu-study/env.sh
python -m compileall -q -j 16 /tmp/site /tmp/repo/tradeoff >/dev/null 2>&1 || true
python -m dvc --version && python -c "import torch, transformers, peft, trl; print(torch.__version__, transformers.__version__, peft.__version__, trl.__version__, torch.cuda.get_device_name())"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
