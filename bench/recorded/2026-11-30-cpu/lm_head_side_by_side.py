"""Side by side on this CPU: 12 steps of exp1 (embedded default) with the frozen LM head in its own bf16 copy
(head-bf16, tradeoff/training.py now) and without it (before: the tied float32 weight, cast by TRL's fused head
chunk by chunk). Arguments name the runs in order; the last run of each kind gives the compared losses.
    python bench/recorded/2026-11-30-cpu/lm_head_side_by_side.py before head-bf16 before head-bf16
"""
import tempfile, time, sys, torch
from pathlib import Path
from tradeoff import training
from tradeoff.config import load_params
from tradeoff.model.load import load_tokenizer, read_identity
from tradeoff.spider.data import load_split
identity = read_identity("data/prepared/model.json"); tokenizer = load_tokenizer(identity)
root = Path("data/prepared/spider")
new = training.store_frozen_linears_in_bf16
def old(model):
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and not module.weight.requires_grad and "lm_head" not in name:
            module.weight.data = module.weight.data.to(torch.bfloat16)
def run(which, steps=12):
    training.store_frozen_linears_in_bf16 = new if which == "head-bf16" else old
    params = load_params(Path("params.yaml"))
    params["train"].update(max_steps=steps, save_steps=10_000, logging_steps=1)
    rows = training.sft_rows(tokenizer, load_split(root, "train"), root, 0, 1024)
    with tempfile.TemporaryDirectory() as tmp:
        tr = training.build_trainer(identity, tokenizer, rows, params, params["lr"], "exp1", Path(tmp), [])
        t0 = time.monotonic(); tr.train(); s = time.monotonic() - t0
    return s, [h["loss"] for h in tr.state.log_history if "loss" in h]
res = {}
for which in sys.argv[1:]:
    s, l = run(which); res.setdefault(which, []).append((s, l)); print(which, f"{s:.1f} s", flush=True)
a, b = res["before"][-1][1], res["head-bf16"][-1][1]
print("losses identical:", a == b, a[:3], b[:3])
