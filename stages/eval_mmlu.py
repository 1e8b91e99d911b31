"""Stage `eval_mmlu@<model>`: MMLU accuracy of the base model or an arm (lm-eval's format).

Reads the prepared data (--data) and the arm's adapter (--adapter; `none` for the base model);
writes the per-question records (--out: subject, index, gold, predicted letter, four
log-likelihoods) and the summary (--metrics: accuracy per category and subject, with counts).
"""

from tradeoff.scoring_stage import evaluation_stage
from tradeoff.mmlu.task import evaluate

if __name__ == "__main__":
    evaluation_stage(__doc__, evaluate, "mmlu")
