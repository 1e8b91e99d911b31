"""Stage `eval_sql@<model>`: Spider dev execution accuracy of the base model or an arm.

Writes predictions/sql_<model>.jsonl (question, gold, raw reply, extracted SQL, verdict, error,
hardness, seconds) and metrics/sql_<model>.json (EX overall and per hardness, with counts).
"""

import json
from pathlib import Path

from tradeoff import atomic, spider_data, text_to_sql
from tradeoff.models import load_for_eval
from tradeoff.stage import parser, run


def main(args, params):
    identity = json.loads(Path("data/prepared/model.json").read_text())
    root = Path("data/prepared/spider")
    examples = spider_data.load_split(root, "dev")
    p = params["eval_sql"]
    if p["limit"]:
        examples = examples[: p["limit"]]
    adapter = None if args.model == "base" else Path("adapters") / args.model
    model, tokenizer = load_for_eval(identity, params["model"]["dtype"], adapter)
    records, summary = text_to_sql.evaluate(
        model, tokenizer, examples, root, params["prompt"]["sample_rows"], params["prompt"]["max_prompt_tokens"],
        p["batch_size"], p["max_new_tokens"], p["timeout_s"], p["keep_distinct"], p["workers"])
    atomic.write_jsonl(f"predictions/sql_{args.model}.jsonl", records)
    atomic.write_json(f"metrics/sql_{args.model}.json", summary)


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, choices=["base", "exp1", "exp2"], help="which model to score")
    run(main, p.parse_args())
