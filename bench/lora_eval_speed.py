"""An arm's MMLU forward in half precision, adapter kept apart: PEFT's LoRA layers against the same
update added in place (tradeoff/model/inplace_lora.py), side by side in one run on the same questions,
with the base model's forward for scale. The two alternate twice after a warm-up and the faster of
each pair counts. Fidelity: the questions whose letter differs between the two and the largest
|Δ log-likelihood| (expected: none and 0), beside the reference engine's own spread (PEFT at the batch
size and at half of it). Every run uses the padded scorers (the GPU's path), so that the batch size
means the same on a CPU; a CPU shows the mechanism only, since the pipeline evaluates in float32 there.

    python bench/lora_eval_speed.py --data data/prepared --adapter adapters/exp1 --mmlu ../shared/data/mmlu
        [--subjects N] [--limit 20] [--batch-size 256] [--dtype bfloat16] [--out F]
"""

import argparse
import json
import logging
from pathlib import Path

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from mmlu_packed_speed import compare, scorers, timed  # bench/ is on sys.path when run as a script
from tradeoff.mmlu import data as mmlu_data, question as mmlu_question
from tradeoff.model.inplace_lora import use_inplace_lora
from tradeoff.model.load import load_tokenizer, model_source, read_identity

log = logging.getLogger("lora_eval_speed")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--data", type=Path, required=True, help="the prepared-data folder (its model.json)")
    p.add_argument("--adapter", required=True, help="the arm's LoRA adapter folder")
    p.add_argument("--mmlu", required=True, help="folder of MMLU CSVs (dev/, test/)")
    p.add_argument("--subjects", type=int, help="first N subjects (default: all 57)")
    p.add_argument("--limit", type=int, default=20, help="first N test questions of each subject (default: 20)")
    p.add_argument("--batch-size", type=int, default=256, help="the padded scorers' batch (the study's: 256)")
    p.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16"])
    p.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = p.parse_args()
    args.format = "letters"  # what `timed` scores
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    half = getattr(torch, args.dtype)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    identity = read_identity(args.data / "model.json")
    src, kw = model_source(identity)
    tokenizer = load_tokenizer(identity)
    questions, shots = mmlu_data.load_csv_dir(args.mmlu, "test")
    questions = dict(list(questions.items())[:args.subjects]) if args.subjects else questions
    questions = mmlu_data.select(questions, mmlu_question.category_map("original"), None, args.limit)
    warm = dict(list(questions.items())[:1])  # first calls pay for allocation and kernel choice

    # as load_model loads an arm on a GPU: the base in half precision, PEFT's adapter (float32 LoRA weights)
    model = AutoModelForCausalLM.from_pretrained(src, dtype=half, **kw).to(device).eval()
    runs = {}
    with scorers(packed=False):
        timed(model, tokenizer, warm, shots, args)
        runs["base"] = timed(model, tokenizer, questions, shots, args)
        model = PeftModel.from_pretrained(model, str(args.adapter)).to(device).eval()
        replaced = use_inplace_lora(model)
        timed(model, tokenizer, warm, shots, args)
        for _ in range(2):  # alternating, so that neither gets the warmer machine; the faster of each counts
            for name, enable in (("PEFT", False), ("in place", True)):
                use_inplace_lora(model, enable=enable)
                run = timed(model, tokenizer, questions, shots, args)
                if name not in runs or run[1].get("forward", 0) < runs[name][1].get("forward", 0):
                    runs[name] = run
        use_inplace_lora(model, enable=False)
        half_batch = argparse.Namespace(**{**vars(args), "batch_size": max(1, args.batch_size // 2)})
        spread = timed(model, tokenizer, questions, shots, half_batch)[0]

    n = sum(len(v) for v in questions.values())
    hardware = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    figures = {"hardware": hardware, "model": identity.get("model", identity.get("name")), "adapter": str(args.adapter),
               "dtype": args.dtype, "questions": n, "batch_size": args.batch_size, "lora_layers_in_place": replaced,
               "forward_s": {k: t.get("forward", 0.0) for k, (_, t) in runs.items()},
               "spread_peft_half_batch": compare(runs["PEFT"][0], spread),
               "in_place_vs_peft": compare(runs["PEFT"][0], runs["in place"][0])}
    print(f"\n{figures['model']} + {args.adapter} on {hardware} ({args.dtype}), {n} MMLU questions 5-shot, "
          f"batch {args.batch_size}, {replaced} LoRA layers added in place")
    for name, (_, t) in runs.items():
        print(f"  {name:22s} forward {t.get('forward', 0):8.2f} s, total {t['total']:8.2f} s")
    f = figures["forward_s"]
    print(f"  in place vs PEFT (forward): {f['PEFT'] / max(f['in place'], 1e-9):.2f}x; arm over base: "
          f"PEFT {f['PEFT'] / max(f['base'], 1e-9):.2f}x, in place {f['in place'] / max(f['base'], 1e-9):.2f}x")
    for name in ("spread_peft_half_batch", "in_place_vs_peft"):
        c = figures[name]
        print(f"  {name:22s} letters differ on {c['pred']} of {n}; max |Δ loglik| {c['loglik']:.2e}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
