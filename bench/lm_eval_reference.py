"""lm-evaluation-harness as the reference for our MMLU scores (a development-only dependency).

Runs lm-eval's `mmlu` task definition (same template, first-n shots from dev, log-likelihood of
" A".." D") on MMLU CSVs from a local folder, with no hub: the CSVs are read by pandas here,
independently of our own loader, and handed to lm-eval as a custom dataset. Returns records in
the same form as `mmlu.evaluate`, so the two can be compared question by question.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from tradeoff.mmlu.question import LETTERS

COLUMNS = ["question", "A", "B", "C", "D", "answer"]


def _read_subject(data_dir: str, subject: str, **_):
    import datasets
    import pandas as pd

    def read(split):
        # dtype=str and no NA parsing: choices such as "None" or "1.0" stay the text they are
        frame = pd.read_csv(Path(data_dir) / split / f"{subject}_{split}.csv", header=None, names=COLUMNS,
                            dtype=str, keep_default_na=False, encoding="utf-8")
        return datasets.Dataset.from_pandas(frame, preserve_index=False)

    return datasets.DatasetDict({"test": read("test"), "dev": read("dev")})


def task_config(data_dir: str | Path, subject: str) -> dict:
    """lm-eval's default mmlu task (tasks/mmlu/default/_default_template_yaml) for one subject."""
    return {
        "task": f"tradeoff_mmlu_{subject}",
        "custom_dataset": partial(_read_subject, str(Path(data_dir).resolve()), subject),
        "test_split": "test",
        "fewshot_split": "dev",
        "fewshot_config": {"sampler": "first_n"},
        "output_type": "multiple_choice",
        "description": f"The following are multiple choice questions (with answers) about "
                       f"{subject.replace('_', ' ')}.\n\n",
        "doc_to_text": "{{question.strip()}}\nA. {{A}}\nB. {{B}}\nC. {{C}}\nD. {{D}}\nAnswer:",
        "doc_to_choice": list(LETTERS),
        "doc_to_target": "{{['A', 'B', 'C', 'D'].index(answer.strip())}}",
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
        "metadata": {"version": 1.0},
    }


def evaluate(model_path: str, data_dir: str | Path, subjects: list[str], shots: int, limit: int | None = None,
             batch_size: int = 16, dtype: str = "float32", device: str = "cpu",
             adapter: str | None = None) -> list[dict]:
    """One record per question (subject, index, gold, pred, loglik), scored by lm-eval."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    model_args = {"pretrained": model_path, "dtype": dtype}
    if adapter:
        model_args["peft"] = adapter
    results = lm_eval.simple_evaluate(
        model="hf", model_args=model_args, tasks=[task_config(data_dir, s) for s in subjects], num_fewshot=shots,
        batch_size=batch_size, device=device, limit=limit, log_samples=True, task_manager=TaskManager(),
        bootstrap_iters=0)
    records = []
    for subject in subjects:
        for sample in sorted(results["samples"][f"tradeoff_mmlu_{subject}"], key=lambda s: s["doc_id"]):
            lls = [float(r[0]) for r in sample["filtered_resps"]]
            records.append({"subject": subject, "index": sample["doc_id"], "gold": LETTERS[int(sample["target"])],
                            "pred": LETTERS[max(range(4), key=lambda j: lls[j])], "loglik": lls})
    return records
