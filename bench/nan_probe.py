"""Find where a training run's first non-finite step comes from (issue 16: Qwen on the GPU).

Trains one arm exactly as `stages/train.py` does (same rows, trainer and params; logging every
step, no checkpoints), stops at the first optimizer step whose loss or gradient norm is not
finite (the library's guard), and then replays that step's batch from the weights just before it
under variants, one change each, reporting the loss, the gradient norm and the first decoder layer
whose forward output is not finite:

  as_trained       the same computation again (is it deterministic?)
  efficient_sdpa   sdpa restricted to the memory-efficient kernel
  cudnn_sdpa       sdpa restricted to cuDNN's kernel
  torch_lm_head    TRL's fused LM head without its Triton kernel (the torch fallback)
  full_logits      no fused head: the model's own cross-entropy on full logits
  float32          float32 weights and no autocast
  flex_attention   flex_attention instead of sdpa

    python bench/nan_probe.py --params real.yaml --arm exp1 --out probe.json

Needs the prepared data (stages/prepare.py) and a GPU.
"""

import argparse
import contextlib
import json
import logging
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tradeoff import atomic  # noqa: E402
from tradeoff.spider import data as spider_data  # noqa: E402
from tradeoff.config import load_params  # noqa: E402
from tradeoff.model.load import load_tokenizer, read_identity  # noqa: E402
from tradeoff.training import Diverged  # noqa: E402
from tradeoff.training.data import sft_rows  # noqa: E402
from tradeoff.training.trainer import build_trainer  # noqa: E402

log = logging.getLogger("nan_probe")


def plain(obj):
    """The record with non-finite numbers as strings ("nan", "inf"), which JSON can hold."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [plain(v) for v in obj]
    return obj


def finite(x) -> bool:
    return x is not None and math.isfinite(x)


def replay(trainer, inputs: dict, weights: dict, variant: str) -> dict:
    """Forward and backward of one batch from the saved weights, under one variant."""
    import torch
    import trl.trainer.utils as trl_utils
    from torch.nn.attention import SDPBackend, sdpa_kernel

    model = trainer.model
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in weights:
                p.copy_(weights[n])
    model.zero_grad(set_to_none=True)
    layers = model.base_model.model.model.layers
    first_bad, max_abs, hooks = [], [], []

    def watch(i):
        def hook(module, args, output):
            h = output[0] if isinstance(output, tuple) else output
            max_abs.append(float(h.detach().abs().float().max()))
            if not torch.isfinite(h).all() and not first_bad:
                first_bad.append(i)
        return hook

    for i, layer in enumerate(layers):
        hooks.append(layer.register_forward_hook(watch(i)))
    ctx = contextlib.ExitStack()
    saved_use_triton = trl_utils._use_triton
    saved_forward = model.forward
    out = {"variant": variant}
    try:
        if variant == "efficient_sdpa":
            ctx.enter_context(sdpa_kernel([SDPBackend.EFFICIENT_ATTENTION]))
        elif variant == "cudnn_sdpa":
            ctx.enter_context(sdpa_kernel([SDPBackend.CUDNN_ATTENTION]))
        elif variant == "torch_lm_head":
            trl_utils._use_triton = lambda device: False
        elif variant == "float32":
            model.float()
            if hasattr(model, "_original_forward"):  # accelerate's bf16 autocast wrapper
                model.forward = model._original_forward
        elif variant == "flex_attention":
            model.base_model.model.set_attn_implementation("flex_attention")
        t0 = time.monotonic()
        if variant == "full_logits":
            loss = model(**{k: v for k, v in inputs.items()}, use_cache=False).loss
        else:
            loss = trainer.compute_loss(model, dict(inputs))
        loss.backward()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
        norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads])))
        bad_layers = sorted({int(n.split("layers.")[1].split(".")[0]) for n, p in model.named_parameters()
                             if p.grad is not None and "layers." in n and not torch.isfinite(p.grad).all()})
        out.update(loss=float(loss.detach()), grad_norm=norm, finite=finite(float(loss.detach())) and finite(norm),
                   first_nonfinite_forward_layer=first_bad[0] if first_bad else None,
                   layers_with_nonfinite_grads=bad_layers, max_abs_hidden=max(max_abs) if max_abs else None,
                   seconds=round(time.monotonic() - t0, 2))
    except Exception as e:  # a variant the machine cannot run is a finding, not a crash
        out.update(error=f"{type(e).__name__}: {str(e)[:300]}")
    finally:
        ctx.close()
        trl_utils._use_triton = saved_use_triton
        for h in hooks:
            h.remove()
        if variant == "float32":
            model.forward = saved_forward
            model.to(torch.bfloat16)
            for n, p in model.named_parameters():
                if n in weights:
                    p.data = p.data.to(weights[n].dtype)
        if variant == "flex_attention":
            model.base_model.model.set_attn_implementation("sdpa")
        model.zero_grad(set_to_none=True)
    log.info("%s", out)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--arm", default="exp1", help="an arm of the params file's `arms`")
    p.add_argument("--max-steps", type=int, default=-1, help="stop after N steps (default: the params' epoch)")
    p.add_argument("--variants", nargs="*", default=["as_trained", "efficient_sdpa", "cudnn_sdpa", "torch_lm_head",
                                                     "full_logits", "float32", "flex_attention"])
    p.add_argument("--inject-nan-at", type=int, help="make a LoRA weight NaN before step N (checks this script on a CPU)")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    import torch
    import transformers
    import trl
    from transformers import TrainerCallback

    arm = load_params(args.params).arm(args.arm, args.params)  # its own fields over the shared sections
    params = arm.params
    params = replace(params, train=replace(params.train, logging_steps=1, save_steps=10**6, max_steps=args.max_steps))
    identity = read_identity("data/prepared/model.json")
    root = Path("data/prepared/spider")
    examples = spider_data.examples_with_database(root, "train")
    tokenizer = load_tokenizer(identity)
    rows = sft_rows(tokenizer, examples, root, params.prompt.sample_rows, params.prompt.max_prompt_tokens)
    transformers.set_seed(params.train.seed)
    captured: dict = {}

    class Snapshot(TrainerCallback):
        def on_step_begin(self, args_, state, control, model=None, **kw):
            if args.inject_nan_at == state.global_step + 1:
                with torch.no_grad():
                    next(q for q in model.parameters() if q.requires_grad)[0, 0] = float("nan")
            captured["weights"] = {n: q.detach().clone() for n, q in model.named_parameters() if q.requires_grad}

    lr = arm.lr
    trainer = build_trainer(identity, tokenizer, rows, params, lr, args.arm, Path("/tmp/probe_ckpt"), [Snapshot()],
                            arm.method)
    step_fn = trainer.training_step

    def capturing_step(model, inputs, *a, **kw):
        captured["inputs"] = {k: (v.detach().clone() if torch.is_tensor(v) else v) for k, v in inputs.items()}
        return step_fn(model, inputs, *a, **kw)

    trainer.training_step = capturing_step
    record = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                           "trl": trl.__version__}, "lr": lr,
              "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
              "params": params.to_dict()["train"], "examples": len(rows)}
    t0 = time.monotonic()
    try:
        trainer.train()
        record["diverged"] = None
    except Diverged as e:
        record["diverged"] = str(e)
    record["train_seconds"] = round(time.monotonic() - t0, 1)
    record["log"] = [{k: h[k] for k in ("step", "loss", "grad_norm", "learning_rate") if k in h}
                     for h in trainer.state.log_history if "loss" in h or "grad_norm" in h]
    log.info("diverged: %s", record["diverged"])
    if record["diverged"]:
        inputs = trainer._prepare_inputs(captured["inputs"])
        if "position_ids" in inputs:  # packed: one row, positions restart at each example
            pos = inputs["position_ids"][0]
            starts = torch.nonzero(pos == 0).flatten().tolist() + [pos.numel()]
            lengths = [b - a for a, b in zip(starts, starts[1:])]
        else:
            lengths = inputs["attention_mask"].sum(-1).tolist()
        record["batch"] = {"tokens": sum(lengths), "examples": len(lengths), "lengths": lengths,
                           "label_tokens": int((inputs["labels"] != -100).sum())}
        atomic.write_json(Path(args.out), plain(record))  # keep what is known if a variant kills the process
        record["replays"] = [replay(trainer, inputs, captured["weights"], v) for v in args.variants]
    atomic.write_json(Path(args.out), plain(record))
    print(json.dumps({k: v for k, v in record.items() if k not in ("log", "params")}, indent=1))


if __name__ == "__main__":
    main()
