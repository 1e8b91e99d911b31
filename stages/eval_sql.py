"""Stage `eval_sql@<model>`: Spider dev execution accuracy of the base model or an arm.

Reads the prepared data (--data) and the arm's adapter (--adapter; `none` for the base model);
writes the prediction records (--out: question, gold, raw reply, extracted SQL, verdict, error,
hardness, seconds) and the summary (--metrics: EX overall and per hardness, with counts).
"""

from pathlib import Path

from tradeoff import atomic
from tradeoff.cli import parser, run
from tradeoff.model.load import load_prepared
from tradeoff.spider.task import score_with_params


def main(args, params):
    adapter = None if args.adapter == "none" else args.adapter
    model, tokenizer = load_prepared(args.data / "model.json", params["model"]["dtype"], adapter)
    records, summary = score_with_params(model, tokenizer, args.data / "spider", params)
    atomic.write_jsonl(args.out, records)
    atomic.write_json(args.metrics, summary)


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="the prepared-data folder")
    p.add_argument("--adapter", required=True, help="the LoRA adapter folder, or `none` for the base model")
    p.add_argument("--out", type=Path, required=True, help="the predictions file to write (JSON lines)")
    p.add_argument("--metrics", type=Path, required=True, help="the summary file to write")
    run(main, p.parse_args())
