"""Stage `eval_sql@<model>`: Spider dev execution accuracy of the base model or an arm.

Reads the prepared data (--data) and the arm's adapter (--adapter; `none` for the base model);
writes the prediction records (--out: question, gold, raw reply, extracted SQL, verdict, error,
hardness, seconds) and the summary (--metrics: EX overall and per hardness, with counts).
"""

from pathlib import Path

from tradeoff.cli import parser, run
from tradeoff.evaluation import evaluate_and_write
from tradeoff.spider.task import evaluate


def main(args, params):
    evaluate_and_write(evaluate, args.data, "spider", args.adapter, args.out, args.metrics, params)


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="the prepared-data folder")
    p.add_argument("--adapter", required=True, help="the LoRA adapter folder, or `none` for the base model")
    p.add_argument("--out", type=Path, required=True, help="the records file to write (JSON lines)")
    p.add_argument("--metrics", type=Path, required=True, help="the summary file to write")
    run(main, p.parse_args())
