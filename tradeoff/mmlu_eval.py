"""Score any model or adapter on MMLU outside the pipeline, the way the eval_mmlu stage does.

    python -m tradeoff.mmlu_eval --model bundled --data /data/mmlu --shots 5 --limit 20 --out mmlu.json

MODEL is `bundled`, `bundled-qwen`, `bundled-qwen-1.5b`, a hub id or a local checkpoint folder; DATA is `sample`,
hf:cais/mmlu or a folder of MMLU CSVs (dev/, test/). The JSON holds the summary (accuracy per
category, per subject, macro average, overall, counts) and one record per question: subject,
index in the subject's test file, gold, predicted letter, the four log-likelihoods.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from . import TradeoffError, atomic, cli
from .config import CATEGORIES, MMLU_FORMATS
from .mmlu import data, question, score, task
from .model import load, obtain
from .numerics import pin_cpu_numerics


def build_parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(prog="python -m tradeoff.mmlu_eval", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--model", required=True, help="bundled | bundled-qwen | bundled-qwen-1.5b | hub id | checkpoint folder")
    p.add_argument("--adapter", help="a LoRA adapter folder to apply to the model")
    p.add_argument("--data", default="sample", help="sample | hf:cais/mmlu | folder of MMLU CSVs (default: sample)")
    p.add_argument("--shots", type=int, default=5, help="few-shot examples from the dev split, 0-5 (default: 5)")
    p.add_argument("--limit", type=cli.positive_int, help="first N test questions of each subject")
    p.add_argument("--categories", nargs="+", choices=CATEGORIES, default=["STEM", "humanities", "social sciences"],
                   help="categories to score (default: STEM, humanities, social sciences, as the pipeline's "
                        "eval_mmlu.categories; add `other` for all 57 subjects)")
    p.add_argument("--category-map", choices=["original", "lm_eval"], default="original")
    p.add_argument("--batch-size", type=cli.positive_int, default=16)
    p.add_argument("--dtype", default="auto", choices=["auto", "bfloat16", "float16", "float32"],
                   help="float32 on a CPU whatever is asked (default: auto)")
    p.add_argument("--format", choices=MMLU_FORMATS, default="letters",
                   help="letters (lm-eval mmlu) | cloze (lm-eval mmlu_continuation: acc, acc_norm) | both "
                        "(default: letters)")
    p.add_argument("--chat-template", action="store_true", help="wrap each prompt in the model's chat template")
    p.add_argument("--models-dir", default=None,
                   help="where bundled models are converted (default: $TRADEOFF_MODELS_DIR or ~/.cache/tradeoff/models)")
    p.add_argument("--out", help="write the summary and per-question records to this JSON file")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cli.setup_logging()
    pin_cpu_numerics()  # the eval_mmlu stage's arithmetic (cli.run does it there)
    return cli.exit_status(lambda: _score(args))


def _score(args) -> None:
    if not 0 <= args.shots <= 5:
        raise TradeoffError(f"--shots {args.shots}: MMLU's dev split has 5 examples per subject; use 0-5")
    if args.out:  # before the scoring, not after it
        atomic.check_writable(args.out)
    start = time.perf_counter()
    categories = question.category_map(args.category_map)
    questions, shots = data.load_source(args.data, setting="--data")
    questions = data.select(questions, categories, args.categories, args.limit)
    score.check_shots(questions, shots, args.shots)  # before the model is loaded
    if args.models_dir:  # the models cache is one setting for the whole process, as for the stages
        os.environ["TRADEOFF_MODELS_DIR"] = str(Path(args.models_dir).resolve())
    identity = obtain.resolve(args.model, setting="--model")
    model, tokenizer = load.load_for_eval(identity, args.dtype, args.adapter)
    records, summary = task.score_model(model, tokenizer, questions, shots, args.shots, categories,
                                        args.batch_size, args.chat_template, args.format)
    summary["seconds"] = round(time.perf_counter() - start, 2)
    summary["model"] = {k: identity[k] for k in ("name", "kind", "sha256", "revision") if k in identity}
    summary["adapter"] = args.adapter
    logging.info("MMLU %d-shot: overall %.4f on %d questions; %s", args.shots, summary["acc"], summary["n"],
                 ", ".join(f"{c} {v['acc']:.4f}" for c, v in summary["categories"].items()))
    if args.out:
        atomic.write_json(args.out, {"summary": summary, "records": records})


if __name__ == "__main__":
    sys.exit(main())
