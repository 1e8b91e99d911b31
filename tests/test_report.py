import math

import pytest

from tradeoff.report import build, markdown, mcnemar_exact, paired_bootstrap


def test_mcnemar_exact_by_hand():
    assert mcnemar_exact(0, 0) == 1.0
    # b=1, c=5: n=6, P(X<=1) = (1 + 6) / 64, two-sided 14/64
    assert mcnemar_exact(1, 5) == pytest.approx(14 / 64)
    assert mcnemar_exact(5, 1) == pytest.approx(14 / 64)
    # b=0, c=10: 2 / 1024
    assert mcnemar_exact(0, 10) == pytest.approx(2 / 1024)
    assert mcnemar_exact(3, 3) == 1.0
    # b=2, c=8: n=10, P(X<=2) = (1 + 10 + 45) / 1024
    assert mcnemar_exact(2, 8) == pytest.approx(2 * 56 / 1024)


def test_paired_bootstrap_degenerate_and_seeded():
    same = paired_bootstrap([1, 0, 1, 0], [1, 0, 1, 0], n_boot=200, seed=1)
    assert same["delta"] == (0.0, 0.0)
    all_better = paired_bootstrap([0] * 10, [1] * 10, n_boot=200)
    assert all_better["delta"] == (1.0, 1.0) and all_better["arm"] == (1.0, 1.0)
    a = paired_bootstrap([0, 1, 1, 0, 1], [1, 1, 1, 0, 0], n_boot=500, seed=7)
    b = paired_bootstrap([0, 1, 1, 0, 1], [1, 1, 1, 0, 0], n_boot=500, seed=7)
    assert a == b


def test_paired_bootstrap_interval_covers_the_normal_approximation():
    base = [1] * 50 + [0] * 50
    arm = [1] * 70 + [0] * 30  # arm right on 20 more questions, never worse
    ci = paired_bootstrap(base, arm, n_boot=2000, seed=0)
    # delta = 0.2; the discordant indicator has sd sqrt(0.2 * 0.8), se = 0.04
    lo, hi = ci["delta"]
    assert lo == pytest.approx(0.2 - 1.96 * 0.04, abs=0.025) and hi == pytest.approx(0.2 + 1.96 * 0.04, abs=0.025)


def _sql(verdicts):
    return [{"index": i, "verdict": v, "left_out": None} for i, v in enumerate(verdicts)]


def _mmlu(hits, subject="astronomy"):
    return [{"subject": subject, "index": i, "gold": "A", "pred": "A" if h else "B"} for i, h in enumerate(hits)]


def test_table_marks_deltas_that_cover_zero():
    cats = {"astronomy": "STEM", "philosophy": "humanities", "sociology": "social sciences"}
    sql = {"base": _sql([0] * 20), "exp1": _sql([1] * 15 + [0] * 5)}
    mm = {m: _mmlu([1, 0] * 10) + _mmlu([1] * 4, "philosophy") + _mmlu([0] * 4, "sociology") for m in ("base", "exp1")}
    result = build(sql, mm, cats, n_boot=300)
    ex = result["models"]["exp1"]["EX"]
    assert ex["delta"] == pytest.approx(0.75) and not ex["delta_covers_zero"]
    assert ex["mcnemar_p"] == pytest.approx(2 / 2**15)
    assert result["models"]["exp1"]["STEM"]["delta_covers_zero"]
    assert math.isclose(result["models"]["base"]["average"]["score"], (0.5 + 1 + 0) / 3)
    text = markdown(result)
    assert "+75.0" in text and "†" in text
