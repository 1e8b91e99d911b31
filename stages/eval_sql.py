"""Stage `eval_sql@<model>`: Spider dev execution accuracy of the base model or an arm.

Writes predictions/sql_<model>.jsonl (question, gold, raw reply, extracted SQL, verdict, error,
hardness, seconds) and metrics/sql_<model>.json (EX overall and per hardness, with counts).
"""

from pathlib import Path

from tradeoff import atomic, evaluation
from tradeoff.stage import parser, run


def main(args, params):
    adapter = None if args.model == "base" else Path("adapters") / args.model
    model, tokenizer = evaluation.load(params, adapter)
    records, summary = evaluation.score_sql(model, tokenizer, params)
    atomic.write_jsonl(f"predictions/sql_{args.model}.jsonl", records)
    atomic.write_json(f"metrics/sql_{args.model}.json", summary)


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, choices=["base", "exp1", "exp2"], help="which model to score")
    run(main, p.parse_args())
