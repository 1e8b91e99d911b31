"""Stage `curve@<arm>`: the learning-forgetting curve, EX and MMLU at evenly spaced checkpoints.

Reads the adapters that training saved under curves/<arm>/ (curve.checkpoints in params.yaml; none
when 0) and the base model's predictions, and writes reports/plots/curve_<arm>.json: the arm's
points (ΔMMLU, ΔEX, with 95% intervals) from step 0 to the last step.
"""

from pathlib import Path

from tradeoff import atomic, curve, evaluation, mmlu
from tradeoff.stage import parser, read_jsonl, run


def main(args, params):
    arm = args.arm  # the arm's rate is in dvc exp show; the curve stage need not rerun for it
    steps = curve.saved_steps(Path("curves") / arm)
    points = [curve.origin(arm)] if steps else []
    if steps:
        categories = mmlu.category_map(params["eval_mmlu"]["category_map"])
        base_sql, base_mmlu = read_jsonl("predictions/sql_base.jsonl"), read_jsonl("predictions/mmlu_base.jsonl")
        for step, adapter in steps:
            model, tokenizer = evaluation.load(params, adapter)
            sql, _ = evaluation.score_sql(model, tokenizer, params)
            mm, _ = evaluation.score_mmlu(model, tokenizer, params)
            points.append(curve.point(arm, step, base_sql, sql, base_mmlu, mm, categories))
    atomic.write_json(f"reports/plots/curve_{arm}.json", points)


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--arm", required=True, choices=["exp1", "exp2"], help="which arm's curve")
    run(main, p.parse_args())
