"""Stage `eval_mmlu@<model>`: MMLU accuracy of the base model or an arm (lm-eval's format).

Writes predictions/mmlu_<model>.jsonl (subject, index, gold, predicted letter, four
log-likelihoods) and metrics/mmlu_<model>.json (accuracy per category and subject, with counts).
"""

import json
from pathlib import Path

from tradeoff import atomic, mmlu
from tradeoff.models import load_model, load_tokenizer
from tradeoff.stage import parser, run


def main(args, params):
    identity = json.loads(Path("data/prepared/model.json").read_text())
    p = params["eval_mmlu"]
    categories = mmlu.category_map(p["category_map"])
    questions, shots = mmlu.load_csv_dir(Path("data/prepared/mmlu"), "test")
    questions = {s: qs[: p["limit_per_subject"]] if p["limit_per_subject"] else qs
                 for s, qs in questions.items() if categories.get(s, "other") in p["categories"]}
    adapter = None if args.model == "base" else Path("adapters") / args.model
    model = load_model(identity, params["model"]["dtype"], adapter)
    tokenizer = load_tokenizer(identity)
    records = mmlu.evaluate(model, tokenizer, questions, shots, p["shots"], p["batch_size"], p["chat_template"],
                            max_tokens=getattr(model.config, "max_position_embeddings", None),
                            add_bos=mmlu.wants_bos(model.config))
    atomic.write_jsonl(f"predictions/mmlu_{args.model}.jsonl", records)
    summary = mmlu.summarize(records, categories)
    summary["shots"] = p["shots"]
    atomic.write_json(f"metrics/mmlu_{args.model}.json", summary)


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, choices=["base", "exp1", "exp2"], help="which model to score")
    run(main, p.parse_args())
