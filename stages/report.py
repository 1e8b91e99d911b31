"""Stage `report`: the study's results table (EX, MMLU per category, deltas against base with
95% intervals and McNemar p-values), as reports/results.md and reports/results.json; printed too.

Also writes metrics/report.json (a flat summary for `dvc exp show`) and the data of the
charts that dvc.yaml declares: reports/plots/{ex_by_hardness,mmlu_by_category,tradeoff}.json.
"""

import logging

from tradeoff import atomic, mmlu, report
from tradeoff.config import arm_lr
from tradeoff.stage import parser, read_jsonl, run

MODELS = ("base", "exp1", "exp2")


def main(args, params):
    sql = {m: read_jsonl(f"predictions/sql_{m}.jsonl") for m in MODELS}
    mm = {m: read_jsonl(f"predictions/mmlu_{m}.jsonl") for m in MODELS}
    result = report.build(sql, mm, mmlu.category_map(params["eval_mmlu"]["category_map"]))
    lrs = {arm: arm_lr(params, arm) for arm in ("exp1", "exp2")}
    atomic.write_json("reports/results.json", result)
    atomic.write_text("reports/results.md", report.markdown(result))
    atomic.write_json("metrics/report.json", report.summary(result, lrs))
    atomic.write_json("reports/plots/ex_by_hardness.json", report.ex_by_hardness(result))
    atomic.write_json("reports/plots/mmlu_by_category.json", report.mmlu_by_category(result))
    atomic.write_json("reports/plots/tradeoff.json", report.tradeoff_points(result, lrs))
    logging.getLogger("report").info("results (also in reports/results.md):\n%s", report.plain_table(result))


if __name__ == "__main__":
    run(main, parser(__doc__.split("\n\n")[0]).parse_args())
