"""lm-evaluation-harness as the reference for our MMLU scores (a development-only dependency).

Runs lm-eval's `mmlu` task definition (same template, first-n shots from dev, log-likelihood of
" A".." D") or its `mmlu_continuation` (cloze: each choice's text as the continuation; acc and
acc_norm) on MMLU CSVs from a local folder, with no hub: the CSVs are read by pandas here,
independently of our own loader, and handed to lm-eval as a custom dataset. Returns records in
the same form as `mmlu.task.score_questions`, so the two can be compared question by question.
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


def _task(name: str, data_dir: str | Path, subject: str, description: str, doc_to_text: str, doc_to_choice,
          metrics: tuple[str, ...]) -> dict:
    """An lm-eval multiple-choice task over one subject's CSVs: first-n shots from dev, gold from the letter."""
    return {
        "task": f"{name}_{subject}",
        "custom_dataset": partial(_read_subject, str(Path(data_dir).resolve()), subject),
        "test_split": "test",
        "fewshot_split": "dev",
        "fewshot_config": {"sampler": "first_n"},
        "output_type": "multiple_choice",
        "description": description,
        "doc_to_text": doc_to_text,
        "doc_to_choice": doc_to_choice,
        "doc_to_target": "{{['A', 'B', 'C', 'D'].index(answer.strip())}}",
        "metric_list": [{"metric": m, "aggregation": "mean", "higher_is_better": True} for m in metrics],
        "metadata": {"version": 1.0},
    }


def task_config(data_dir: str | Path, subject: str) -> dict:
    """lm-eval's default mmlu task (tasks/mmlu/default/_default_template_yaml) for one subject."""
    return _task("tradeoff_mmlu", data_dir, subject,
                 f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n",
                 "{{question.strip()}}\nA. {{A}}\nB. {{B}}\nC. {{C}}\nD. {{D}}\nAnswer:", list(LETTERS), ("acc",))


def cloze_task_config(data_dir: str | Path, subject: str) -> dict:
    """lm-eval's mmlu_continuation task (tasks/mmlu/continuation/_continuation_template_yaml) for one
    subject, with the metrics lm-eval gives a multiple-choice task (acc, acc_norm)."""
    return _task("tradeoff_mmlu_cloze", data_dir, subject,
                 f"The following are questions (with answers) about {subject.replace('_', ' ')}.\n\n",
                 "Question: {{question.strip()}}\nAnswer:", "{{[A, B, C, D]}}", ("acc", "acc_norm"))


def _letters_record(subject: str, sample: dict) -> dict:
    lls = [float(r[0]) for r in sample["filtered_resps"]]
    return {"subject": subject, "index": sample["doc_id"], "gold": LETTERS[int(sample["target"])],
            "pred": LETTERS[max(range(4), key=lambda j: lls[j])], "loglik": lls}


def _cloze_record(subject: str, sample: dict) -> dict:
    """lm-eval's own verdicts (acc, acc_norm) turned back into the letters they chose."""
    lls = [float(r[0]) for r in sample["filtered_resps"]]
    gold = int(sample["target"])
    pred = max(range(4), key=lambda j: lls[j])
    assert (pred == gold) == bool(sample["acc"])
    return {"subject": subject, "index": sample["doc_id"], "gold": LETTERS[gold], "cloze_pred": LETTERS[pred],
            "cloze_norm_correct": bool(sample["acc_norm"]), "cloze_loglik": lls}


def evaluate(model_path: str, data_dir: str | Path, subjects: list[str], shots: int, limit: int | None = None,
             batch_size: int = 16, dtype: str = "float32", device: str = "cpu",
             adapter: str | None = None, fmt: str = "letters") -> list[dict]:
    """One record per question scored by lm-eval: subject, index, gold, and for `fmt` letters the
    pred and loglik, for cloze the cloze_pred, cloze_loglik and whether acc_norm counted it right."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    model_args = {"pretrained": model_path, "dtype": dtype}
    if adapter:
        model_args["peft"] = adapter
    results = lm_eval.simple_evaluate(
        model="hf", model_args=model_args, num_fewshot=shots,
        tasks=[(task_config if fmt == "letters" else cloze_task_config)(data_dir, s) for s in subjects],
        batch_size=batch_size, device=device, limit=limit, log_samples=True, task_manager=TaskManager(),
        bootstrap_iters=0)
    prefix, record = ("tradeoff_mmlu", _letters_record) if fmt == "letters" else ("tradeoff_mmlu_cloze", _cloze_record)
    return [record(subject, sample) for subject in subjects
            for sample in sorted(results["samples"][f"{prefix}_{subject}"], key=lambda s: s["doc_id"])]
