"""Stage `eval_sql@<model>`: Spider dev execution accuracy of the base model or an arm.

Reads the prepared data (--data) and the arm's adapter (--adapter; `none` for the base model);
writes the prediction records (--out: question, gold, raw reply, extracted SQL, verdict, error,
hardness, seconds) and the summary (--metrics: EX overall and per hardness, with counts).
"""

from tradeoff.scoring_stage import evaluation_stage
from tradeoff.spider.task import evaluate

if __name__ == "__main__":
    evaluation_stage(__doc__, evaluate, "spider")
