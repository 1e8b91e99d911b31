"""Stage `report`: the study's results table (EX, MMLU per category, deltas against base with
95% intervals and McNemar p-values), printed and written to --reports (results.md, results.json).

Reads predictions/{sql,mmlu}_<model>.jsonl under --predictions for the base model and every arm
of params.yaml's `arms` (any number of them, in the file's order); also writes the DVC
metrics (--metrics: each arm's EX, MMLU and deltas, narrow enough for `dvc metrics show` and
`dvc exp show`), every number per model in one flat file (--summary: intervals, p-values, the finer
forgetting measures; what `python -m tradeoff.sweep` reads) and the data of the charts that dvc.yaml
declares, <reports>/plots/{ex_by_hardness,mmlu_by_category,tradeoff}.json.
"""

import logging
from pathlib import Path

from tradeoff import atomic
from tradeoff.cli import parser, read_jsonl, run
from tradeoff.mmlu.question import category_map
from tradeoff.report import charts, table


def main(args, params):
    atomic.check_writable(args.reports / "results.md", args.metrics, args.summary)
    models = ("base", *params.arms)
    sql = {m: read_jsonl(args.predictions / f"sql_{m}.jsonl") for m in models}
    mm = {m: read_jsonl(args.predictions / f"mmlu_{m}.jsonl") for m in models}
    result = table.build(sql, mm, category_map(params.eval_mmlu.category_map))
    lrs = {arm: params.arm(arm).lr for arm in params.arms}
    atomic.write_json(args.reports / "results.json", result)
    atomic.write_text(args.reports / "results.md", table.markdown(result))
    summary = table.summary(result, lrs)
    atomic.write_json(args.summary, summary)
    atomic.write_json(args.metrics, table.headline(summary))
    atomic.write_json(args.reports / "plots" / "ex_by_hardness.json", charts.ex_by_hardness(result))
    atomic.write_json(args.reports / "plots" / "mmlu_by_category.json", charts.mmlu_by_category(result))
    atomic.write_json(args.reports / "plots" / "tradeoff.json", charts.tradeoff_points(result, lrs, params.report.forgetting_axis))
    logging.getLogger("report").info("results (also in %s):\n%s", args.reports / "results.md",
                                     table.plain_table(result))


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--predictions", type=Path, required=True, help="the folder of prediction files")
    p.add_argument("--reports", type=Path, required=True, help="the folder of reports to write")
    p.add_argument("--metrics", type=Path, required=True, help="the DVC metrics file to write (metrics/arms.json)")
    p.add_argument("--summary", type=Path, required=True, help="the full per-model summary to write (metrics/report.json)")
    run(main, p.parse_args())
