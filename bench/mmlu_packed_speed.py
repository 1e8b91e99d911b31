"""MMLU scoring speed: the padded scorers (tradeoff/mmlu/padded.py, the GPU's path) against the
packed scorers (tradeoff/model/packing.py, the CPU's path) on the same questions and model,
in one run: forward seconds of each, their ratio, and how far the scores moved (questions whose
letter or cloze answers differ, the largest |Δ log-likelihood|).

    python bench/mmlu_packed_speed.py --model bundled-qwen --data ../shared/data/mmlu --format both
    python bench/mmlu_packed_speed.py --model bundled --data ../shared/data/mmlu --subjects 3 --limit 40
"""

import argparse
import contextlib
import logging
import time

import torch

from tradeoff.mmlu import data as mmlu_data, question as mmlu_question, task as mmlu_task
from tradeoff.model import load, obtain, packing
from tradeoff.timing import seconds

log = logging.getLogger("mmlu_packed_speed")


@contextlib.contextmanager
def scorers(packed: bool):
    """Score through the packed (True) or the padded (False) path, whatever the device."""
    saved = packing.wanted
    packing.wanted = lambda device: packed
    try:
        yield
    finally:
        packing.wanted = saved


def timed(model, tokenizer, questions, shots, args) -> tuple[list[dict], dict]:
    """Records and this run's phase seconds (forward, tokenize, ...)."""
    before = seconds()
    t = time.perf_counter()
    records = mmlu_task.score_questions(model, tokenizer, questions, shots, 5, args.batch_size, fmt=args.format,
                                        max_tokens=getattr(model.config, "max_position_embeddings", None),
                                        add_bos=mmlu_task.wants_bos(model.config))
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    after = seconds()
    phases = {k: after[k] - before.get(k, 0.0) for k in after}
    phases["total"] = time.perf_counter() - t
    return records, phases


def compare(old: list[dict], new: list[dict]) -> dict:
    """Questions whose answers differ, and the largest |Δ log-likelihood|, per scored field."""
    out = {}
    for preds, lls in (("pred", "loglik"), ("cloze_pred", "cloze_loglik")):
        if lls not in old[0]:
            continue
        keys = [preds, "cloze_norm_pred"] if preds == "cloze_pred" else [preds]
        out[preds] = sum(any(a[k] != b[k] for k in keys) for a, b in zip(old, new))
        out[lls] = max(abs(x - y) for a, b in zip(old, new) for x, y in zip(a[lls], b[lls]))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--model", default="bundled", help="bundled | bundled-qwen | bundled-qwen-1.5b | checkpoint folder")
    p.add_argument("--data", required=True, help="folder of MMLU CSVs (dev/, test/)")
    p.add_argument("--format", default="letters", choices=["letters", "cloze", "both"])
    p.add_argument("--subjects", type=int, help="first N subjects (default: all 57)")
    p.add_argument("--limit", type=int, help="first N test questions of each subject (default: all)")
    p.add_argument("--batch-size", type=int, default=256, help="the padded path's batch (default: 256)")
    p.add_argument("--dtype", default="auto", help="auto (the pipeline's) | float32 | bfloat16 ...")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    model, tokenizer = load.load_for_eval(obtain.resolve(args.model), args.dtype)
    param = next(model.parameters())
    questions, shots = mmlu_data.load_csv_dir(args.data, "test")
    keep = dict(list(questions.items())[:args.subjects]) if args.subjects else questions
    keep = mmlu_data.select(keep, mmlu_question.category_map("original"), None, args.limit)
    n = sum(len(v) for v in keep.values())
    warm = dict(list(keep.items())[:1])  # first calls pay for compilation and allocation, in both paths
    with scorers(packed=False):
        timed(model, tokenizer, warm, shots, args)
        old, old_t = timed(model, tokenizer, keep, shots, args)
    with scorers(packed=True):
        timed(model, tokenizer, warm, shots, args)
        new, new_t = timed(model, tokenizer, keep, shots, args)
    print(f"\n{args.model} on {param.device} ({param.dtype}), {n} questions of {len(keep)} subjects, "
          f"format {args.format}")
    for name, t in (("padded", old_t), ("packed", new_t)):
        print(f"  {name:16s} forward {t.get('forward', 0):8.2f} s, total {t['total']:8.2f} s ("
              + ", ".join(f"{k} {v:.2f}" for k, v in t.items() if k not in ("forward", "total")) + ")")
    print(f"  speed-up (forward): {old_t.get('forward', 0) / max(new_t.get('forward', 0), 1e-9):.2f}x")
    for k, v in compare(old, new).items():
        print(f"  {k:13s}: " + (f"{v} questions differ" if "pred" in k else f"max |Δ| {v:.2e}"))


if __name__ == "__main__":
    main()
