"""Side by side on this CPU: 12 training steps of the embedded default (exp1) with TRL as it ships
(every token position scored in the fused LM head, frozen weights cast by autocast at each use)
and with the project's two CPU changes (tradeoff/training.py). Run from a repo whose `make repro` has
written data/prepared:

    python bench/recorded/2026-11-29-cpu-make-repro/train_steps_cpu.py [--steps 12] [--ours-first]
"""

import argparse
import tempfile
import time
from pathlib import Path

from tradeoff import training
from tradeoff.config import load_params
from tradeoff.model.load import load_tokenizer, read_identity
from tradeoff.spider.data import load_split


def run(steps: int, ours: bool) -> tuple[float, list[float]]:
    from trl.kernels import chunked_logprob
    from trl.trainer import utils as trl_utils

    params = load_params(Path("params.yaml"))
    params["train"].update(max_steps=steps, save_steps=10_000, logging_steps=1)
    identity = read_identity("data/prepared/model.json")
    tokenizer = load_tokenizer(identity)
    root = Path("data/prepared/spider")
    rows = training.sft_rows(tokenizer, load_split(root, "train"), root, params["prompt"]["sample_rows"],
                             params["prompt"]["max_prompt_tokens"])
    trl_utils._use_triton = chunked_logprob._use_triton  # TRL as shipped ...
    keep = training.score_only_completions_on_cpu, training.store_frozen_linears_in_bf16
    if not ours:  # ... unless ours
        training.score_only_completions_on_cpu, training.store_frozen_linears_in_bf16 = (lambda: None), (lambda m: None)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = training.build_trainer(identity, tokenizer, rows, params, params["lr"], "exp1", Path(tmp), [])
        t0 = time.monotonic()
        trainer.train()
        seconds = time.monotonic() - t0
    training.score_only_completions_on_cpu, training.store_frozen_linears_in_bf16 = keep
    return seconds, [round(h["loss"], 4) for h in trainer.state.log_history if "loss" in h]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--ours-first", action="store_true", help="run ours first (the first run pays warm-ups)")
    args = ap.parse_args()
    if args.ours_first:
        ours, our_losses = run(args.steps, ours=True)
        shipped, shipped_losses = run(args.steps, ours=False)
    else:
        shipped, shipped_losses = run(args.steps, ours=False)
        ours, our_losses = run(args.steps, ours=True)
    print(f"TRL as shipped: {shipped:.1f} s for {args.steps} steps; losses {shipped_losses}")
    print(f"ours:           {ours:.1f} s; losses {our_losses}")
    print(f"ours vs shipped: {shipped / ours:.2f}x")


if __name__ == "__main__":
    main()
