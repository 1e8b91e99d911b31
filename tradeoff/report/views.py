"""The ways the report reads a model's MMLU answers, from the records eval_mmlu writes. Pure functions.

- `letters`: the letter with the highest log-likelihood after "Answer:" (lm-eval's `mmlu`);
- `letters_calibrated`: the same after removing the model's own preference among the letters.
  Contextual calibration (Zhao et al., 2021) divides each letter's probability by the
  probability the model gives it with no question; we estimate that bias as the mean letter
  distribution over all the questions the model answered (batch calibration, Zhou et al., 2024),
  which needs no extra forward pass. A model that answers "C" to most questions because it leans
  to C, not because it knows, loses that lean here: a drop of letter accuracy that calibration
  removes is a collapse onto a letter, not lost knowledge;
- `cloze`, `cloze_norm`: lm-eval's `mmlu_continuation` (each choice's text as the continuation;
  the highest sum, and the highest sum per character), when eval_mmlu.format scored it.
Each view is a list of records with subject, index, gold, pred and (where the view has one) the
four log-scores `loglik` whose softmax is the view's distribution over the choices.
"""

from __future__ import annotations

import math

from .forgetting import LETTERS, letter_probs

VIEWS = ("letters", "letters_calibrated", "cloze", "cloze_norm")
TITLES = {"letters": "letters", "letters_calibrated": "letters, calibrated", "cloze": "cloze (acc)",
          "cloze_norm": "cloze (acc_norm)"}


def available(records: list[dict]) -> list[str]:
    """The views these records support, in VIEWS order."""
    if not records:
        return []
    first = records[0]
    out = []
    if "pred" in first:
        out += ["letters", "letters_calibrated"] if "loglik" in first else ["letters"]
    if "cloze_pred" in first:
        out += ["cloze", "cloze_norm"]
    return out


def lead(records: list[dict]) -> str:
    """The view the report's main MMLU columns show: the letters when they were scored, else cloze."""
    return "letters" if "letters" in available(records) else "cloze"


def letter_prior(records: list[dict]) -> list[float]:
    """The model's mean distribution over the four letters across all its questions."""
    sums = [0.0] * 4
    for r in records:
        for j, p in enumerate(letter_probs(r["loglik"])):
            sums[j] += p
    return [s / len(records) for s in sums]


def _slim(r: dict, pred: str, loglik: list[float] | None) -> dict:
    out = {"subject": r["subject"], "index": r["index"], "gold": r["gold"], "pred": pred}
    if loglik is not None:
        out["loglik"] = loglik
    return out


def view(records: list[dict], name: str) -> list[dict]:
    """`records` read as the view `name` (see the module doc)."""
    if name == "letters":
        return [_slim(r, r["pred"], r.get("loglik")) for r in records]
    if name == "letters_calibrated":
        log_prior = [math.log(p) for p in letter_prior(records)]
        out = []
        for r in records:
            scores = [math.log(p) - lp for p, lp in zip(letter_probs(r["loglik"]), log_prior)]
            out.append(_slim(r, LETTERS[max(range(4), key=lambda j: scores[j])], scores))
        return out
    if name == "cloze":
        return [_slim(r, r["cloze_pred"], r["cloze_loglik"]) for r in records]
    if name == "cloze_norm":
        return [_slim(r, r["cloze_norm_pred"], None) for r in records]
    raise ValueError(f"unknown view {name!r}; one of {VIEWS}")


def answer_distribution(records: list[dict]) -> dict:
    """How the predictions spread over A-D: each letter's share, the entropy in bits (2 = even,
    0 = one letter always), the most chosen letter and its share, and the gold letters' shares."""
    n = len(records)
    shares = {x: sum(r["pred"] == x for r in records) / n for x in LETTERS}
    gold = {x: sum(r["gold"] == x for r in records) / n for x in LETTERS}
    entropy = -sum(p * math.log2(p) for p in shares.values() if p > 0)
    top = max(LETTERS, key=lambda x: shares[x])
    return {"shares": shares, "entropy_bits": entropy + 0.0, "top": top, "top_share": shares[top], "gold_shares": gold}
