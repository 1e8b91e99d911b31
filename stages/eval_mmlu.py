"""Stage `eval_mmlu@<model>`: MMLU accuracy of the base model or an arm (lm-eval's format).

Reads the prepared data (--data) and the arm's adapter (--adapter; `none` for the base model);
writes the per-question records (--out: subject, index, gold, predicted letter, four
log-likelihoods) and the summary (--metrics: accuracy per category and subject, with counts).
"""

from pathlib import Path

from tradeoff.cli import parser, run
from tradeoff.evaluation import evaluate_and_write
from tradeoff.mmlu.task import evaluate


def main(args, params):
    evaluate_and_write(evaluate, args.data, "mmlu", args.adapter, args.out, args.metrics, params)


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="the prepared-data folder")
    p.add_argument("--adapter", required=True, help="the LoRA adapter folder, or `none` for the base model")
    p.add_argument("--out", type=Path, required=True, help="the records file to write (JSON lines)")
    p.add_argument("--metrics", type=Path, required=True, help="the summary file to write")
    run(main, p.parse_args())
