"""Stage `report`: the study's results table (EX, MMLU per category, deltas against base with
95% intervals and McNemar p-values), as reports/results.md and metrics/report.json; printed too.
"""

import json
import logging
from pathlib import Path

from tradeoff import atomic, mmlu, report
from tradeoff.stage import parser, run

MODELS = ("base", "exp1", "exp2")


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def main(args, params):
    sql = {m: read_jsonl(f"predictions/sql_{m}.jsonl") for m in MODELS}
    mm = {m: read_jsonl(f"predictions/mmlu_{m}.jsonl") for m in MODELS}
    result = report.build(sql, mm, mmlu.category_map(params["eval_mmlu"]["category_map"]))
    atomic.write_json("metrics/report.json", result)
    atomic.write_text("reports/results.md", report.markdown(result))
    logging.getLogger("report").info("results (also in reports/results.md):\n%s", report.plain_table(result))


if __name__ == "__main__":
    run(main, parser(__doc__.split("\n\n")[0]).parse_args())
