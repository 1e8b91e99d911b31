# the environment of every command on the GPU machine's CPU: no GPU for torch, our packages first
export CUDA_VISIBLE_DEVICES= TRADEOFF_MODELS_DIR=/tmp/models PATH=/tmp/bin:$PATH HF_HUB_OFFLINE=1
export PYTHONPATH=/tmp/repo:$(test -d /tmp/t213 && echo /tmp/t213:)/tmp/site
