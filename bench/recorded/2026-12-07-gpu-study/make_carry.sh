#!/bin/bash
# Here, once per machine (.carry/ ignores itself and does not outlive a new checkout): build the parts the
# GPU machine needs, each small enough for one call's carry (64 MiB with the working tree), and the list of
# calls, .carry/chunks.txt (line N = the files of call N; stage_chunk.sh N links them into .carry/cur).
#   p*  + base.sha   base.tar: wheels for the GPU image's Python 3.12 of every package of requirements.txt but
#                    torch (the image's CUDA build stays) and huggingface-hub (the image's stays), at our pins
#   g*               the Qwen2.5-Coder-1.5B-Instruct GGUF (setup.sh checks its published sha256)
#   data.tar         spider_data.zip and the MMLU CSVs from $TRADEOFF_SHARED/data (default ../shared)
#   git.tar          the .git of `git clone --depth 1` of this checkout's HEAD: commit first
#   liger_kernel-*.whl, tok.tar  for bench_mfu.sh only (issue 30's MFU bar): liger-kernel, installed apart from
#                    the study's packages, and SmolLM2's tokenizer (BENCHMARKS' table was made with it)
#   base.tgz         (where an earlier session brought it home) the base model's scores, for setup.sh
# Needs the project's .venv (make setup) for the GGUF: `tradeoff.model.obtain` fetches and checks it.
set -euo pipefail
ROOT=$(git rev-parse --show-toplevel); C=$ROOT/.carry; PART=56m
SHARED=${TRADEOFF_SHARED:-$ROOT/../shared}
mkdir -p $C && cd $C
echo '*' > .gitignore  # a new checkout has no exclude for .carry/; a carried working tree must not hold it
if [ ! -f base.sha ]; then
  rm -rf b && mkdir -p b/pkgs
  grep -E '^[a-z0-9]' $ROOT/requirements.txt | sed 's/ .*//' \
    | grep -vE '^(torch|huggingface-hub|hf-xet|pytest|iniconfig|pluggy|setuptools|nvidia-ml-py)==' > pins.txt
  python3 -m pip download -q --no-deps --python-version 3.12 --implementation cp \
    --abi cp312 --abi abi3 --abi none --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d b/pkgs -r pins.txt
  for s in b/pkgs/*.tar.gz; do  # a pin with no wheel (pure Python, e.g. antlr4-python3-runtime): build it here,
    python3 -m pip wheel -q --no-deps -w b/pkgs "$s" && rm "$s"  # the GPU machine cannot fetch build tools
  done
  tar cf base.tar b && sha256sum base.tar | cut -d' ' -f1 > base.sha
  split -b $PART -d base.tar p && rm -rf base.tar b
fi
if [ ! -f g00 ]; then
  GGUF=$($ROOT/.venv/bin/python -c "from tradeoff.model import obtain; print(obtain.bundled_gguf_path('bundled-qwen-1.5b'))")
  split -b $PART -d -a 2 "$GGUF" g
fi
ls liger_kernel-*.whl >/dev/null 2>&1 || python3 -m pip download -q --no-deps --only-binary=:all: -d . liger-kernel==0.8.5
TOK=$(ls -d ${TRADEOFF_MODELS_DIR:-$HOME/.cache/tradeoff/models}/smollm2-135m-instruct-*/ | head -1)  # after make repro
tar cf tok.tar -C $TOK --transform 's,^,tok/,' tokenizer.json tokenizer_config.json chat_template.jinja config.json
tar cf data.tar -C $SHARED/data spider_data.zip mmlu
rm -rf /tmp/shallow && git clone -q --depth 1 file://$ROOT /tmp/shallow && tar cf git.tar -C /tmp/shallow .git
# one call per part; the small files travel before the GGUF parts, so that `setup.sh env` and bench_mfu.sh can
# start while the model still travels
{ ls p[0-9]* | sed 's/$/ base.sha/' | head -1; ls p[0-9]* | tail -n +2
  echo "data.tar git.tar tok.tar $(ls liger_kernel-*.whl) $(ls base.tgz 2>/dev/null || true)"; ls g[0-9]*; } > chunks.txt
wc -l chunks.txt; du -sh $C
