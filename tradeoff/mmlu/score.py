"""MMLU's metric: accuracy per subject, per category and overall, from the records a model's
scoring left (mmlu/task.py); pure functions, no model."""

from __future__ import annotations

import math

from .. import TradeoffError
from .question import Question


def _accuracy(records: list[dict], categories: dict[str, str], pred_key: str) -> dict:
    by_subject: dict[str, list[int]] = {}
    for r in records:
        by_subject.setdefault(r["subject"], []).append(int(r[pred_key] == r["gold"]))
    subjects = {s: {"acc": sum(v) / len(v), "n": len(v), "category": categories.get(s, "other")}
                for s, v in sorted(by_subject.items())}
    cats: dict[str, list[int]] = {}
    for s, v in by_subject.items():
        cats.setdefault(categories.get(s, "other"), []).extend(v)
    n = sum(len(v) for v in by_subject.values())
    return {
        "acc": sum(sum(v) for v in by_subject.values()) / n if n else None,
        # fsum: the exactly rounded sum; Python 3.12's sum() rounds differently from 3.11's
        "macro_acc": math.fsum(x["acc"] for x in subjects.values()) / len(subjects) if subjects else None,
        "n": n,
        "categories": {c: {"acc": sum(v) / len(v), "n": len(v)} for c, v in sorted(cats.items())},
        "subjects": subjects,
    }


def summarize(records: list[dict], categories: dict[str, str]) -> dict:
    """Accuracy per subject, per category (question-weighted, as lm-eval aggregates), the macro
    average over subjects and overall, with question counts: of the letters at the top level when
    they were scored, and of the cloze formulation under `cloze` (acc) and `cloze_norm` (acc_norm);
    a cloze-only run has cloze's acc at the top level."""
    letters = bool(records) and "pred" in records[0]
    has_cloze = bool(records) and "cloze_pred" in records[0]
    top = _accuracy(records, categories, "pred" if letters or not has_cloze else "cloze_pred")
    dropped = "shots_dropped" if letters or not has_cloze else "cloze_shots_dropped"
    summary = {**{k: top[k] for k in ("acc", "macro_acc", "n")},
               "shots_dropped": sum(r.get(dropped, 0) > 0 for r in records),
               "categories": top["categories"], "subjects": top["subjects"]}
    if has_cloze:
        if not letters:
            summary["format"] = "cloze"
        for name, key in (("cloze", "cloze_pred"), ("cloze_norm", "cloze_norm_pred")):
            acc = _accuracy(records, categories, key)
            summary[name] = {k: acc[k] for k in ("acc", "macro_acc", "n", "categories")}
    return summary


def check_shots(questions: dict[str, list[Question]], shots: dict[str, list[Question]], k: int) -> None:
    """Refuse to score k-shot when a subject has fewer than k dev questions: it would silently
    run with fewer shots (0 without a dev/ folder) under a k-shot label."""
    short = sorted(s for s in questions if len(shots.get(s, [])) < k)
    if short:
        raise TradeoffError(f"MMLU {k}-shot: {len(short)} subjects have fewer than {k} dev questions to take shots "
                            f"from (first: {short[0]}; is the dev/ folder there?); score with fewer shots")
