import math

import pytest

from tradeoff.report.stats import mcnemar_exact, paired_bootstrap
from tradeoff.report.table import build, markdown


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
    return [{"index": i, "verdict": v, "left_out": None, "reply": f"SELECT {i}"} for i, v in enumerate(verdicts)]


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


def _result():
    from tradeoff.report import table

    sql = {m: [{"index": i, "verdict": v, "left_out": None, "reply": f"SELECT {i}", "hardness": "easy" if i < 2 else "hard"}
               for i, v in enumerate(vs)] for m, vs in {"base": [1, 0, 0, 0], "exp1": [1, 1, 1, 0],
                                                         "exp2": [1, 0, 1, 0]}.items()}
    mm = {m: [{"subject": "astronomy", "index": i, "gold": "A", "pred": p} for i, p in enumerate(ps)]
          for m, ps in {"base": "AAAB", "exp1": "ABBB", "exp2": "AABB"}.items()}
    return sql, table.build(sql, mm, {"astronomy": "STEM"}, n_boot=200)


def test_summary_and_plot_rows_carry_the_numbers_of_the_table():
    from tradeoff.report import charts, table

    sql, result = _result()
    s = table.summary(result, {"exp1": 2e-4, "exp2": 5e-5})
    # records with letters but no log-likelihoods: no calibrated view, the spread of the answers only
    assert s["base"] == {"ex": 25.0, "mmlu": 75.0, "top_letter": "A", "top_letter_share": 75.0, "letter_entropy": 0.8113}
    assert s["exp1"]["d_ex"] == 50.0 and s["exp1"]["d_mmlu"] == -50.0 and s["exp1"]["lr"] == 2e-4
    assert s["exp1"]["d_ex_lo"] <= 50.0 <= s["exp1"]["d_ex_hi"]
    rows = {(r["model"], r["group"]): r for r in charts.ex_by_hardness(result)}
    assert rows[("exp1", "easy")]["value"] == 100.0 and rows[("exp1", "hard")]["value"] == 50.0
    assert rows[("base", "all")]["n"] == 4 and ("base", "medium") not in rows
    cats = {(r["model"], r["group"]): r["value"] for r in charts.mmlu_by_category(result)}
    assert cats[("exp2", "STEM")] == 50.0 and cats[("base", "overall")] == 75.0
    points = {p["arm"]: p for p in charts.tradeoff_points(result, {"exp1": 2e-4, "exp2": 5e-5})}
    assert set(points) == {"exp1", "exp2"} and points["exp2"]["d_ex"] == 25.0 and points["exp2"]["label"] == "exp2 (lr 5e-05)"


def test_the_dvc_metrics_are_each_arms_headline_in_points():
    from tradeoff.report import table

    _, result = _result()
    summary = table.summary(result, {"exp1": 2e-4, "exp2": 5e-5})
    head = table.headline(summary)
    assert set(head) == {"exp1", "exp2"} and set(head["exp1"]) == {"ex", "mmlu", "d_ex", "d_mmlu"}
    for arm in head:  # base is recoverable: value - delta
        assert head[arm]["ex"] - head[arm]["d_ex"] == summary["base"]["ex"]
        assert round(head[arm]["mmlu"] - head[arm]["d_mmlu"], 2) == summary["base"]["mmlu"]


def test_curve_steps_are_evenly_spaced_and_end_at_the_last_step():
    from tradeoff.curve_steps import curve_steps

    assert curve_steps(40, 4) == [10, 20, 30, 40]
    assert curve_steps(2, 2) == [1, 2]
    assert curve_steps(3, 5) == [1, 2, 3]
    assert curve_steps(40, 0) == [] and curve_steps(0, 3) == []


def test_table_shows_ex_per_hardness_with_deltas_and_other_only_when_scored():
    from tradeoff.report import table

    sql, result = _result()
    text = table.markdown(result)
    assert "MMLU other" not in text
    by_level = text.split("Spider EX by hardness")[1]
    # exp1 solves both easy questions (base one) and one of two hard ones (base none)
    assert "| easy (2) | hard (2) |" in by_level and "medium" not in by_level
    assert "100.0 [100.0, 100.0]<br>Δ +50.0" in by_level
    assert result["models"]["exp1"]["EX hard"]["delta"] == 0.5
    mm = {m: [{"subject": "astronomy", "index": 0, "gold": "A", "pred": "A"},
              {"subject": "marketing", "index": 0, "gold": "A", "pred": p}] for m, p in (("base", "B"), ("exp1", "A"))}
    two = table.build({m: sql[m] for m in ("base", "exp1")}, mm, {"astronomy": "STEM", "marketing": "other"},
                       n_boot=50)
    assert "| MMLU other |" in table.markdown(two) and two["models"]["exp1"]["other"]["delta"] == 1.0
    assert two["models"]["exp1"]["overall"]["n"] == 2


def test_vectorised_bootstrap_gives_the_plain_loops_bits():
    """The resampled indices are drawn once per size and the means summed as Python's sum() does:
    every interval equal, bit for bit, to the per-call loop the report used before (ints and floats)."""
    import random

    from tradeoff.report.stats import paired_bootstrap

    def plain(base, arm, n_boot, seed):
        rng, n = random.Random(seed), len(base)
        mb, ma = [], []
        for _ in range(n_boot):
            idx = [rng.randrange(n) for _ in range(n)]
            mb.append(sum(base[i] for i in idx) / n)
            ma.append(sum(arm[i] for i in idx) / n)
        iv = lambda xs: (sorted(xs)[int(0.025 * (n_boot - 1))], sorted(xs)[int(math.ceil(0.975 * (n_boot - 1)))])  # noqa: E731
        return {"base": iv(mb), "arm": iv(ma), "delta": iv([a - b for b, a in zip(mb, ma)])}

    rng = random.Random(5)
    for n in (1, 3, 250):
        ints = [rng.randrange(2) for _ in range(n)], [rng.randrange(2) for _ in range(n)]
        floats = [rng.random() for _ in range(n)], [rng.random() / 3 for _ in range(n)]
        for base, arm in (ints, floats):
            assert paired_bootstrap(base, arm, 300, 7) == plain(base, arm, 300, 7)


def test_the_largest_drops_list_only_subjects_that_dropped():
    """subject_drops gives the five lowest deltas, unchanged subjects included; the report names drops only."""
    from tradeoff.report.table import _forgetting_lines

    def row(subject, delta):
        return {"subject": subject, "n": 10, "delta": delta, "delta_ci": (delta - 0.1, delta + 0.1),
                "mcnemar_p": 0.5, "holm_significant": False}

    lines = _forgetting_lines({"forgetting": {"exp1": {}}, "subject_drops": {
        "exp1": [row("chemistry", -0.2), row("astronomy", 0.0)], "exp2": [row("astronomy", 0.0)]}})
    assert "- exp1: chemistry (10) -20.0" in "\n".join(lines) and "astronomy" not in "\n".join(lines)
    assert "- exp2: no subject dropped" in lines
