"""Stage `curve@<arm>`: the learning-forgetting curve, EX and MMLU at evenly spaced checkpoints.

Reads the adapters that training saved (--curve; curve.checkpoints in params.yaml, none when 0),
the prepared data (--data) and the base model's predictions (--base-sql, --base-mmlu), and writes
the arm's points (--out: ΔMMLU, ΔEX, with 95% intervals) from step 0 to the last step. MMLU at the
checkpoints may use a fixed subset (curve.mmlu_limit_per_subject); each delta is paired with the
base model on the same questions.
"""

from dataclasses import replace
from pathlib import Path

from tradeoff import atomic
from tradeoff.cli import parser, read_jsonl, run
from tradeoff.mmlu import task as mmlu_task
from tradeoff.mmlu.question import category_map
from tradeoff.model.load import load_prepared
from tradeoff.report import curve
from tradeoff.spider import task as spider_task
from tradeoff.curve_steps import saved_steps


def main(args, params):
    arm = args.arm  # the arm's rate is in dvc exp show; the curve stage need not rerun for it
    steps = saved_steps(args.curve)
    axis = params.report.forgetting_axis
    points = [curve.origin(arm, axis=axis)] if steps else []
    if steps:
        categories = category_map(params.eval_mmlu.category_map)
        base_sql, base_mmlu = read_jsonl(args.base_sql), read_jsonl(args.base_mmlu)
        limit = params.curve.mmlu_limit_per_subject or params.eval_mmlu.limit_per_subject
        mmlu_params = replace(params, eval_mmlu=replace(params.eval_mmlu, limit_per_subject=limit))
        for step, adapter in steps:
            model, tokenizer = load_prepared(args.data / "model.json", params.model.dtype, adapter)
            sql, _ = spider_task.evaluate(model, tokenizer, args.data / "spider", params)
            mm, _ = mmlu_task.evaluate(model, tokenizer, args.data / "mmlu", mmlu_params)
            points.append(curve.point(arm, step, base_sql, sql, base_mmlu, mm, categories, axis=axis))
    atomic.write_json(args.out, points)


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--arm", required=True, choices=["exp1", "exp2"], help="which arm's curve")
    for name, what in (("data", "the prepared-data folder"), ("curve", "the arm's folder of curve adapters"),
                       ("base-sql", "the base model's Spider predictions"),
                       ("base-mmlu", "the base model's MMLU records"), ("out", "the curve points file to write")):
        p.add_argument(f"--{name}", type=Path, required=True, help=what)
    run(main, p.parse_args())
