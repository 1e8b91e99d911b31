"""Stage `eval_mmlu@<model>`: MMLU accuracy of the base model or an arm (lm-eval's format).

Writes predictions/mmlu_<model>.jsonl (subject, index, gold, predicted letter, four
log-likelihoods) and metrics/mmlu_<model>.json (accuracy per category and subject, with counts).
"""

from pathlib import Path

from tradeoff import atomic, evaluation
from tradeoff.stage import parser, run


def main(args, params):
    adapter = None if args.model == "base" else Path("adapters") / args.model
    model, tokenizer = evaluation.load(params, adapter)
    records, summary = evaluation.score_mmlu(model, tokenizer, params)
    atomic.write_jsonl(f"predictions/mmlu_{args.model}.jsonl", records)
    atomic.write_json(f"metrics/mmlu_{args.model}.json", summary)


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, choices=["base", "exp1", "exp2"], help="which model to score")
    run(main, p.parse_args())
