"""Forgetting measured finely, from the four letter log-likelihoods MMLU records per question.

Accuracy moves in whole questions; these see the model's belief move before an answer flips:
- gold probability: the probability the model gives the gold letter (softmax over A-D), its mean,
  and its paired change against base with a bootstrap interval;
- answers moved: the share of questions whose predicted letter differs from base's;
- KL: the mean KL divergence from base's letter distribution to the arm's (nats).
And per subject: the accuracy drops with intervals and exact McNemar p-values, and which of them
survive Holm's correction for testing every subject at once. Pure functions.
"""

from __future__ import annotations

import math

from .stats import discordant, mcnemar_exact, paired_bootstrap

LETTERS = "ABCD"


def letter_probs(loglik: list[float]) -> list[float]:
    """Softmax over the four letters' log-likelihoods."""
    top = max(loglik)
    e = [math.exp(x - top) for x in loglik]
    total = sum(e)
    return [x / total for x in e]


def kl(p: list[float], q: list[float]) -> float:
    """KL(p || q) in nats."""
    return sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q) if pi > 0)


def _paired(base: list[dict], arm: list[dict], keep=None) -> list[tuple[dict, dict]]:
    by_key = {(r["subject"], r["index"]): r for r in arm}
    return [(b, by_key[(b["subject"], b["index"])]) for b in base
            if (b["subject"], b["index"]) in by_key and (keep is None or keep(b))]


def measures(base: list[dict], arm: list[dict], keep=None, n_boot: int = 2000, seed: int = 0) -> dict:
    """The three measures of `arm` against `base` on their shared questions (those `keep` accepts
    whose records carry log-likelihoods)."""
    pairs = [(b, a) for b, a in _paired(base, arm, keep) if "loglik" in b and "loglik" in a]
    if not pairs:
        return {"n": 0, "gold_prob": None, "gold_prob_base": None, "gold_prob_delta": None,
                "gold_prob_delta_ci": (None, None), "answers_changed": None, "kl": None}
    pb = [letter_probs(b["loglik"]) for b, _ in pairs]
    pa = [letter_probs(a["loglik"]) for _, a in pairs]
    gold_b = [p[LETTERS.index(b["gold"])] for p, (b, _) in zip(pb, pairs)]
    gold_a = [p[LETTERS.index(b["gold"])] for p, (b, _) in zip(pa, pairs)]
    n = len(pairs)
    ci = paired_bootstrap(gold_b, gold_a, n_boot, seed)
    return {"n": n, "gold_prob": sum(gold_a) / n, "gold_prob_base": sum(gold_b) / n,
            "gold_prob_delta": (sum(gold_a) - sum(gold_b)) / n, "gold_prob_delta_ci": ci["delta"],
            "answers_changed": sum(b["pred"] != a["pred"] for b, a in pairs) / n,
            "kl": sum(kl(p, q) for p, q in zip(pb, pa)) / n}


def by_category(base: list[dict], arm: list[dict], categories: dict[str, str], n_boot: int = 2000,
                seed: int = 0) -> dict:
    """The measures overall and per category."""
    cats = sorted({categories.get(r["subject"], "other") for r in base})
    out = {"overall": measures(base, arm, None, n_boot, seed)}
    for c in cats:
        out[c] = measures(base, arm, lambda r, c=c: categories.get(r["subject"], "other") == c, n_boot, seed)
    return out


def holm(pvalues: dict[str, float], alpha: float = 0.05) -> set[str]:
    """The hypotheses Holm's step-down procedure rejects at family-wise error `alpha`."""
    ordered = sorted(pvalues.items(), key=lambda kv: kv[1])
    rejected = set()
    for i, (name, p) in enumerate(ordered):
        if p > alpha / (len(ordered) - i):
            break
        rejected.add(name)
    return rejected


def subject_drops(base: list[dict], arm: list[dict], top: int = 5, n_boot: int = 2000, seed: int = 0) -> list[dict]:
    """Per subject: accuracy change with its interval and McNemar p, whether it survives Holm's
    correction over all subjects; the `top` largest drops first."""
    subjects = sorted({r["subject"] for r in base})
    rows, pvals = [], {}
    for s in subjects:
        pairs = _paired(base, arm, lambda r, s=s: r["subject"] == s)
        vb = [int(b["pred"] == b["gold"]) for b, _ in pairs]
        va = [int(a["pred"] == b["gold"]) for b, a in pairs]
        if not pairs:
            continue
        b, c = discordant(vb, va)
        pvals[s] = mcnemar_exact(b, c)
        rows.append({"subject": s, "n": len(pairs), "acc_base": sum(vb) / len(vb), "acc": sum(va) / len(va),
                     "delta": (sum(va) - sum(vb)) / len(vb), "delta_ci": paired_bootstrap(vb, va, n_boot, seed)["delta"],
                     "mcnemar_p": pvals[s]})
    survivors = holm(pvals)
    for r in rows:
        r["holm_significant"] = r["subject"] in survivors
    rows.sort(key=lambda r: (r["delta"], r["subject"]))
    return rows[:top]
