"""Statistics of paired per-question scores: a seeded paired bootstrap for intervals and the
exact McNemar test for base against an arm. Pure functions."""

from __future__ import annotations

import math
import random


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts b (only base right) and c
    (only the arm right): a binomial test of b against n = b + c at p = 1/2."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_bootstrap(base: list[int], arm: list[int], n_boot: int = 2000, seed: int = 0) -> dict:
    """95% percentile intervals for base's mean, the arm's mean and their difference, resampling
    question indices (the same ones for both models)."""
    if len(base) != len(arm):
        raise ValueError("paired bootstrap needs the same questions for both models")
    n = len(base)
    if n == 0:
        return {"base": (None, None), "arm": (None, None), "delta": (None, None)}
    rng = random.Random(seed)
    means_b, means_a, deltas = [], [], []
    for _ in range(n_boot):
        idx = [rng.randrange(n) for _ in range(n)]
        mb = sum(base[i] for i in idx) / n
        ma = sum(arm[i] for i in idx) / n
        means_b.append(mb)
        means_a.append(ma)
        deltas.append(ma - mb)

    def interval(xs):
        xs = sorted(xs)
        return xs[int(0.025 * (len(xs) - 1))], xs[int(math.ceil(0.975 * (len(xs) - 1)))]

    return {"base": interval(means_b), "arm": interval(means_a), "delta": interval(deltas)}


def discordant(base: list[int], arm: list[int]) -> tuple[int, int]:
    b = sum(1 for x, y in zip(base, arm) if x and not y)
    c = sum(1 for x, y in zip(base, arm) if y and not x)
    return b, c
