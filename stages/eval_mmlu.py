"""Stage `eval_mmlu@<model>`: MMLU accuracy of the base model or an arm (lm-eval's format).

Writes predictions/mmlu_<model>.jsonl (subject, index, gold, predicted letter, four
log-likelihoods) and metrics/mmlu_<model>.json (accuracy per category and subject, with counts).
"""

import json
from pathlib import Path

from tradeoff import atomic, mmlu
from tradeoff.models import load_for_eval
from tradeoff.stage import parser, run


def main(args, params):
    identity = json.loads(Path("data/prepared/model.json").read_text())
    p = params["eval_mmlu"]
    categories = mmlu.category_map(p["category_map"])
    questions, shots = mmlu.load_csv_dir(Path("data/prepared/mmlu"), "test")
    questions = mmlu.select(questions, categories, p["categories"], p["limit_per_subject"])
    adapter = None if args.model == "base" else Path("adapters") / args.model
    model, tokenizer = load_for_eval(identity, params["model"]["dtype"], adapter)
    records, summary = mmlu.score(model, tokenizer, questions, shots, p["shots"], categories, p["batch_size"],
                                  p["chat_template"])
    atomic.write_jsonl(f"predictions/mmlu_{args.model}.jsonl", records)
    atomic.write_json(f"metrics/mmlu_{args.model}.json", summary)


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, choices=["base", "exp1", "exp2"], help="which model to score")
    run(main, p.parse_args())
