"""Stage `curve@<arm>`: the learning-forgetting curve, EX and MMLU at evenly spaced checkpoints.

Reads the adapters that training saved under curves/<arm>/ (curve.checkpoints in params.yaml; none
when 0) and the base model's predictions, and writes reports/plots/curve_<arm>.json: the arm's
points (ΔMMLU, ΔEX, with 95% intervals) from step 0 to the last step.
"""

import json
from pathlib import Path

from tradeoff import atomic, curve, mmlu, spider_data, text_to_sql
from tradeoff.models import load_for_eval
from tradeoff.stage import parser, read_jsonl, run


def main(args, params):
    arm, lr = args.arm, None  # the arm's rate is in dvc exp show; the curve stage need not rerun for it
    steps = curve.saved_steps(Path("curves") / arm)
    points = [curve.origin(arm, lr)] if steps else []
    if steps:
        identity = json.loads(Path("data/prepared/model.json").read_text())
        root = Path("data/prepared/spider")
        ps, pm = params["eval_sql"], params["eval_mmlu"]
        examples = spider_data.load_split(root, "dev")[: ps["limit"] or None]
        categories = mmlu.category_map(pm["category_map"])
        questions, shots = mmlu.load_csv_dir(Path("data/prepared/mmlu"), "test")
        questions = mmlu.select(questions, categories, pm["categories"], pm["limit_per_subject"])
        base_sql, base_mmlu = read_jsonl("predictions/sql_base.jsonl"), read_jsonl("predictions/mmlu_base.jsonl")
        for step, adapter in steps:
            model, tokenizer = load_for_eval(identity, params["model"]["dtype"], adapter)
            sql, _ = text_to_sql.evaluate(
                model, tokenizer, examples, root, params["prompt"]["sample_rows"],
                params["prompt"]["max_prompt_tokens"], ps["batch_size"], ps["max_new_tokens"], ps["timeout_s"],
                ps["keep_distinct"], ps["workers"])
            mm, _ = mmlu.score(model, tokenizer, questions, shots, pm["shots"], categories, pm["batch_size"],
                               pm["chat_template"])
            points.append(curve.point(arm, step, base_sql, sql, base_mmlu, mm, categories, lr))
    atomic.write_json(f"reports/plots/curve_{arm}.json", points)


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--arm", required=True, choices=["exp1", "exp2"], help="which arm's curve")
    run(main, p.parse_args())
