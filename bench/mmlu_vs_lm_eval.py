"""MMLU: ours against lm-evaluation-harness on the same model, data, shots, dtype and batch size.

Prints accuracy per category from both (parity), the per-question agreement, and questions per
second end to end (data, model load, prompts, tokenizing, forward passes) for each, measured in
this one run. lm-eval is a development-only dependency: pip install -r requirements-dev.txt.

    python bench/mmlu_vs_lm_eval.py --data /data/mmlu --limit 10            # CPU subset
    python bench/mmlu_vs_lm_eval.py --data /data/mmlu --dtype bfloat16 --batch-size 64  # GPU, full
    python bench/mmlu_vs_lm_eval.py --data /data/mmlu --limit 5 --format cloze  # mmlu_continuation
"""

import argparse
import logging
import time

import torch

import lm_eval_reference  # beside this script
from tradeoff import atomic
from tradeoff.mmlu import data as mmlu_data, question as mmlu_question
from tradeoff.mmlu import score as mmlu_score, task as mmlu_task
from tradeoff.model import load, obtain

log = logging.getLogger("mmlu_vs_lm_eval")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--model", default="bundled", help="bundled | bundled-qwen | checkpoint folder (default: bundled)")
    p.add_argument("--data", required=True, help="folder of MMLU CSVs (dev/, test/)")
    p.add_argument("--shots", type=int, default=5)
    p.add_argument("--limit", type=int, help="first N test questions of each subject (default: all)")
    p.add_argument("--dtype", default="float32", help="float32 | bfloat16 (default: float32)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--format", choices=["letters", "cloze"], default="letters",
                   help="letters (lm-eval mmlu) or cloze (lm-eval mmlu_continuation; default: letters)")
    p.add_argument("--out", help="also write the figures to this JSON file")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.zeros(1, device=device)  # CUDA start-up outside both timings
    identity = obtain.resolve(args.model)
    categories = mmlu_question.category_map("original")

    start = time.perf_counter()
    questions, shots = mmlu_data.load_source(args.data)
    questions = mmlu_data.select(questions, categories, None, args.limit)
    model, tokenizer = load.load_for_eval(identity, args.dtype)
    ours, _ = mmlu_task.score_model(model, tokenizer, questions, shots, args.shots, categories, args.batch_size,
                                     fmt=args.format)
    ours_s = time.perf_counter() - start
    del model
    if device == "cuda":
        torch.cuda.empty_cache()

    start = time.perf_counter()
    ref = lm_eval_reference.evaluate(str(obtain.model_path(identity)), args.data, sorted(questions), args.shots, args.limit,
                                     args.batch_size, args.dtype, device, fmt=args.format)
    ref_s = time.perf_counter() - start

    key = lambda r: (r["subject"], r["index"])  # noqa: E731
    ref_by_key = {key(r): r for r in ref}
    pred, ll = ("pred", "loglik") if args.format == "letters" else ("cloze_pred", "cloze_loglik")
    if args.format == "cloze":  # lm-eval's acc_norm verdict beside ours, as a letter right or wrong
        for r in ours:
            r["norm_same"] = (r["cloze_norm_pred"] == r["gold"]) == ref_by_key[key(r)]["cloze_norm_correct"]
        ours_norm = sum(r["cloze_norm_pred"] == r["gold"] for r in ours) / len(ours)
        ref_norm = sum(r["cloze_norm_correct"] for r in ref) / len(ref)
    for r in (*ours, *ref):
        r["pred"] = r[pred]  # summarize() reads the letter it is given
    ref = [{k: v for k, v in r.items() if not k.startswith("cloze")} for r in ref]
    a, b = mmlu_score.summarize(ours, categories), mmlu_score.summarize(ref, categories)
    same = sum(r["pred"] == ref_by_key[key(r)]["pred"] for r in ours)
    max_ll = max(abs(x - y) for r in ours for x, y in zip(r[ll], ref_by_key[key(r)][ll]))
    n = len(ours)
    hw = torch.cuda.get_device_name() if device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    rows = [(c, a["categories"][c], b["categories"][c]) for c in a["categories"]] + [("overall", a, b)]
    lines = [f"MMLU {args.format} {args.shots}-shot, {args.model}, {args.dtype}, batch {args.batch_size}, {n} questions, "
             f"{len(questions)} subjects, on {hw}",
             "| category | n | ours % | lm-eval % | diff (points) |", "|---|---|---|---|---|"]
    lines += [f"| {c} | {x['n']} | {100 * x['acc']:.2f} | {100 * y['acc']:.2f} | {100 * (x['acc'] - y['acc']):+.2f} |"
              for c, x, y in rows]
    lines += ["", f"same predicted letter on {same}/{n} questions ({100 * same / n:.2f}%); "
              f"largest log-likelihood difference {max_ll:.2e}"]
    if args.format == "cloze":
        lines += [f"acc_norm: ours {100 * ours_norm:.2f}%, lm-eval {100 * ref_norm:.2f}%; same verdict on "
                  f"{sum(r['norm_same'] for r in ours)}/{n} questions"]
    lines += ["",
              "| | seconds | questions/s |", "|---|---|---|",
              f"| ours | {ours_s:.1f} | {n / ours_s:.1f} |", f"| lm-eval | {ref_s:.1f} | {n / ref_s:.1f} |",
              f"| ratio | | **{ref_s / ours_s:.2f}x** |"]
    print("\n".join(lines))
    if args.out:
        atomic.write_json(args.out, {
            "hardware": hw, "model": args.model, "dtype": args.dtype, "batch_size": args.batch_size,
            "format": args.format, "shots": args.shots, "limit": args.limit, "n": n, "agreement": same / n,
            "max_loglik_diff": max_ll,
            **({"acc_norm": {"ours": ours_norm, "lm_eval": ref_norm,
                             "same_verdict": sum(r["norm_same"] for r in ours) / n}} if args.format == "cloze" else {}),
            "ours": {"seconds": ours_s, "acc": a["acc"], "categories": a["categories"]},
            "lm_eval": {"seconds": ref_s, "acc": b["acc"], "categories": b["categories"]},
            "speedup": ref_s / ours_s})


if __name__ == "__main__":
    main()
