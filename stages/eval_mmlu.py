"""Stage `eval_mmlu@<model>`: MMLU accuracy of the base model or an arm (lm-eval's format).

Reads the prepared data (--data) and the arm's adapter (--adapter; `none` for the base model);
writes the per-question records (--out: subject, index, gold, predicted letter, four
log-likelihoods) and the summary (--metrics: accuracy per category and subject, with counts).
"""

from pathlib import Path

from tradeoff import atomic
from tradeoff.cli import parser, run
from tradeoff.mmlu.score import score_with_params
from tradeoff.model.load import load_prepared


def main(args, params):
    adapter = None if args.adapter == "none" else args.adapter
    model, tokenizer = load_prepared(args.data / "model.json", params["model"]["dtype"], adapter)
    records, summary = score_with_params(model, tokenizer, args.data / "mmlu", params)
    atomic.write_jsonl(args.out, records)
    atomic.write_json(args.metrics, summary)


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="the prepared-data folder")
    p.add_argument("--adapter", required=True, help="the LoRA adapter folder, or `none` for the base model")
    p.add_argument("--out", type=Path, required=True, help="the records file to write (JSON lines)")
    p.add_argument("--metrics", type=Path, required=True, help="the summary file to write")
    run(main, p.parse_args())
