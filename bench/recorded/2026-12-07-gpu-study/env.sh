# The environment of every command on the GPU machine: the carried packages first (our pinned transformers,
# peft, trl, datasets, gguf, sqlglot, DVC), the image's torch 2.11; `python` a wrapper (DVC's stage commands
# call `python`), the models cache and the carried GGUF files in /tmp/models, no hub.
export TRADEOFF_MODELS_DIR=/tmp/models PATH=/tmp/bin:$PATH HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
export PYTHONPATH=/tmp/repo:/tmp/site-packages PYTHONPYCACHEPREFIX=/tmp/pyc
# The carried packages live in a folder named site-packages: dill (which `datasets` fingerprints every Dataset with)
# pickles a module by value unless its path is under sys.prefix or contains "site-packages", and pickling pyarrow 26
# by value fails ("Can't pickle MonthDayNano"; unsloth PR 9791): with /tmp/site every Dataset.from_list failed
