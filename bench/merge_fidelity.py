"""Benchmark: how close a LoRA arm evaluated in half precision stays to the same arm in float32,
with the adapter kept apart (what transformers' `generate` runs) and merged into the weights (one
matrix per layer, what the cached engine decodes with). Each dev prompt is followed by its gold
SQL (teacher forcing); at every token of the gold SQL the next-token logits of each variant are
compared with float32's: mean and largest absolute difference, and how often the top token differs.
First, on the weights alone: how much of the adapter's update a merge into half-precision weights
rounds away (the share of updated elements left unchanged, and the relative error of the update).

    python bench/merge_fidelity.py --data data/prepared --adapter adapters/exp1
        [--params params.yaml] [--dtype bfloat16] [--limit 64] [--weights-only] [--out F]
"""

import argparse
import json
import logging
import os
from pathlib import Path

import torch

from tradeoff.config import load_params
from peft import PeftModel
from transformers import AutoModelForCausalLM

from tradeoff.model.load import load_model, load_tokenizer, merged_copy, model_source, read_identity
from tradeoff.spider import task
from tradeoff.spider.data import examples_with_database

log = logging.getLogger("merge_fidelity")


def reply_logits(model, tokenizer, texts: list[str], replies: list[str]) -> list[torch.Tensor]:
    """For each prompt + reply, float32 logits at the positions that predict the reply's tokens."""
    out = []
    with torch.inference_mode():
        for text, reply in zip(texts, replies):
            p = tokenizer(text, add_special_tokens=False)["input_ids"]
            r = tokenizer(reply, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([p + r], device=model.device)
            out.append(model(ids).logits[0, len(p) - 1:-1].float().cpu())
    return out


def update_lost_in_merge(model, half) -> dict:
    """Over every LoRA layer of a float32 PEFT model: merging into the weights rounded to `half`
    (PEFT's merge: weight += delta in the weight's dtype), how much of delta survives."""
    unchanged = changed = err2 = delta2 = 0.0
    with torch.no_grad():
        for module in model.modules():
            if not hasattr(module, "get_delta_weight") or not getattr(module, "lora_A", None):
                continue
            delta = module.get_delta_weight("default").float()
            w = module.get_base_layer().weight.to(half).float()
            got = (w + delta).to(half).float() - w
            unchanged += float(((got == 0) & (delta != 0)).sum())
            changed += float((delta != 0).sum())
            err2 += float(((got - delta) ** 2).sum())
            delta2 += float((delta ** 2).sum())
    return {"update_elements_rounded_away": unchanged / changed, "update_relative_error": (err2 / delta2) ** 0.5}


def compare(ref: list[torch.Tensor], other: list[torch.Tensor]) -> dict:
    diff = torch.cat([(a - b).abs() for a, b in zip(ref, other)])
    top_differs = sum(int((a.argmax(-1) != b.argmax(-1)).sum()) for a, b in zip(ref, other))
    return {"mean_abs_diff": float(diff.mean()), "max_abs_diff": float(diff.max()),
            "top_token_differs": top_differs, "positions": sum(len(a) for a in ref)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--data", type=Path, required=True, help="the prepared-data folder (model.json, spider/)")
    ap.add_argument("--adapter", required=True, help="the arm's LoRA adapter folder")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"), help="prompt settings")
    ap.add_argument("--dtype", default="bfloat16", help="the half precision to test (bfloat16 | float16)")
    ap.add_argument("--limit", type=int, default=64, help="first N dev questions with a database")
    ap.add_argument("--weights-only", action="store_true", help="the weights' figure only, no logits")
    ap.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    params = load_params(args.params)
    half = getattr(torch, args.dtype)
    identity = read_identity(args.data / "model.json")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_model(identity, "float32", args.adapter, device)
    lost = update_lost_in_merge(model, half)
    print(f"{args.adapter}: a merge into {args.dtype} weights leaves {100 * lost['update_elements_rounded_away']:.1f}% "
          f"of the updated elements unchanged; relative error of the merged update {lost['update_relative_error']:.2f}")
    if args.weights_only:
        return
    root = args.data / "spider"
    examples = examples_with_database(root, "dev")[: args.limit]
    tokenizer = load_tokenizer(identity)
    texts = task.prompts(tokenizer, examples, root, params.prompt.sample_rows, params.prompt.max_prompt_tokens)
    replies = [e["query"] for e in examples]
    ref = reply_logits(model, tokenizer, texts, replies)
    variants = {"merged, float32": merged_copy(model),
                f"merged in float32, then cast to {args.dtype}": merged_copy(model).to(half)}
    del model
    # as `load_model` loads an arm on a GPU (it keeps a CPU in float32): the base in half precision, the
    # adapter applied by PEFT (which keeps LoRA's own weights in float32)
    src, kw = model_source(identity)
    base = AutoModelForCausalLM.from_pretrained(src, dtype=half, **kw).to(device)
    apart = PeftModel.from_pretrained(base, str(args.adapter)).to(device).eval()
    variants[f"adapter apart, {args.dtype}"] = apart
    variants[f"merged into {args.dtype} (PEFT's merge)"] = merged_copy(apart)
    figures = {"hardware": torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU, {os.cpu_count()} cores",
               "model": json.loads((args.data / "model.json").read_text())["name"], "adapter": args.adapter,
               "questions": len(examples), "against": "adapter apart, float32", "merge_into_half": lost, "variants": {}}
    for name, m in variants.items():
        figures["variants"][name] = compare(ref, reply_logits(m, tokenizer, texts, replies))
    print(f"{figures['model']} {args.adapter} on {figures['hardware']}: next-token logits over the gold SQL of "
          f"{len(examples)} dev questions, against the adapter kept apart in float32")
    for name, f in figures["variants"].items():
        print(f"  {name:40} mean |Δ| {f['mean_abs_diff']:.4f}  max |Δ| {f['max_abs_diff']:.3f}  "
              f"top token differs {f['top_token_differs']} of {f['positions']}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
