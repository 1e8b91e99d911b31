"""Statistics of paired per-question scores: a seeded paired bootstrap for intervals and the
exact McNemar test for base against an arm. Pure functions."""

from __future__ import annotations

import functools
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


@functools.lru_cache(maxsize=None)
def _resamples(n: int, n_boot: int, seed: int):
    """The bootstrap's resampled question indices, (n_boot, n): drawn once per (n, n_boot, seed),
    in the order and with the generator the per-call loop used, and shared by every paired
    bootstrap over n questions (each model, each format, base and arm alike)."""
    import numpy as np

    rng = random.Random(seed)
    out = np.empty((n_boot, n), dtype=np.int32)
    for b in range(n_boot):
        out[b] = [rng.randrange(n) for _ in range(n)]
    return out


def _resampled_means(values: list, idx) -> list[float]:
    """Each resample's mean, summed left to right as Python's sum() does (cumsum is sequential,
    so float scores give the same bits as the plain loop), in row blocks to bound the memory."""
    import numpy as np

    v = np.asarray(values, dtype=np.int64 if all(type(x) is int for x in values) else np.float64)
    n = len(values)
    means = []
    for start in range(0, len(idx), 256):
        picked = v[idx[start:start + 256]]
        sums = picked.sum(axis=1) if v.dtype == np.int64 else np.cumsum(picked, axis=1)[:, -1]
        means.extend((sums / n).tolist())
    return means


def paired_bootstrap(base: list, arm: list, n_boot: int = 2000, seed: int = 0) -> dict:
    """95% percentile intervals for base's mean, the arm's mean and their difference, resampling
    question indices (the same ones for both models)."""
    if len(base) != len(arm):
        raise ValueError("paired bootstrap needs the same questions for both models")
    n = len(base)
    if n == 0:
        return {"base": (None, None), "arm": (None, None), "delta": (None, None)}
    idx = _resamples(n, n_boot, seed)
    means_b, means_a = _resampled_means(base, idx), _resampled_means(arm, idx)
    deltas = [ma - mb for mb, ma in zip(means_b, means_a)]

    def interval(xs):
        xs = sorted(xs)
        return xs[int(0.025 * (len(xs) - 1))], xs[int(math.ceil(0.975 * (len(xs) - 1)))]

    return {"base": interval(means_b), "arm": interval(means_a), "delta": interval(deltas)}


def discordant(base: list[int], arm: list[int]) -> tuple[int, int]:
    b = sum(1 for x, y in zip(base, arm) if x and not y)
    c = sum(1 for x, y in zip(base, arm) if y and not x)
    return b, c
