"""The fine forgetting measures against hand-computed values, and zero for an arm equal to base."""

import math

import pytest

from tradeoff.report import forgetting


def rec(subject, index, gold, loglik):
    pred = "ABCD"[max(range(4), key=lambda j: loglik[j])]
    return {"subject": subject, "index": index, "gold": gold, "pred": pred, "loglik": loglik}


L = math.log
BASE = [rec("astronomy", 0, "A", [L(0.7), L(0.1), L(0.1), L(0.1)]),
        rec("astronomy", 1, "B", [L(0.25)] * 4),
        rec("law", 0, "C", [L(0.1), L(0.1), L(0.4), L(0.4)])]
ARM = [rec("astronomy", 0, "A", [L(0.4), L(0.4), L(0.1), L(0.1)]),
       rec("astronomy", 1, "B", [L(0.1), L(0.7), L(0.1), L(0.1)]),
       rec("law", 0, "C", [L(0.1), L(0.1), L(0.4), L(0.4)])]


def test_hand_computed_values():
    m = forgetting.measures(BASE, ARM, n_boot=200)
    assert m["n"] == 3
    assert m["gold_prob_base"] == pytest.approx((0.7 + 0.25 + 0.4) / 3)
    assert m["gold_prob"] == pytest.approx((0.4 + 0.7 + 0.4) / 3)
    assert m["gold_prob_delta"] == pytest.approx((-0.3 + 0.45 + 0.0) / 3)
    # predicted letters: base A, A (a four-way tie goes to A), C; arm A (0.4 tie, first), B, C
    assert m["answers_changed"] == pytest.approx(1 / 3)
    kl0 = 0.7 * L(0.7 / 0.4) + 0.1 * L(0.1 / 0.4) + 0.1 * L(1) + 0.1 * L(1)
    kl1 = 0.25 * (L(0.25 / 0.1) + L(0.25 / 0.7) + L(0.25 / 0.1) + L(0.25 / 0.1))
    assert m["kl"] == pytest.approx((kl0 + kl1 + 0) / 3)
    lo, hi = m["gold_prob_delta_ci"]
    assert lo <= m["gold_prob_delta"] <= hi


def test_an_arm_identical_to_base_changes_nothing():
    m = forgetting.measures(BASE, [dict(r) for r in BASE], n_boot=200)
    assert m["gold_prob_delta"] == 0 and m["answers_changed"] == 0 and m["kl"] == pytest.approx(0, abs=1e-12)
    assert m["gold_prob_delta_ci"] == (0, 0)
    drops = forgetting.subject_drops(BASE, BASE, n_boot=50)
    assert all(d["delta"] == 0 and d["mcnemar_p"] == 1.0 and not d["holm_significant"] for d in drops)


def test_per_category_and_holm():
    cats = {"astronomy": "STEM", "law": "humanities"}
    out = forgetting.by_category(BASE, ARM, cats, n_boot=50)
    assert set(out) == {"overall", "STEM", "humanities"}
    assert out["humanities"]["kl"] == 0 and out["STEM"]["n"] == 2
    # Holm at 0.05 over three: 0.01 <= 0.05/3 rejected, 0.02 <= 0.05/2 rejected, 0.04 <= 0.05 rejected
    assert forgetting.holm({"a": 0.01, "b": 0.02, "c": 0.04}) == {"a", "b", "c"}
    # 0.03 > 0.05/2 stops the procedure: only the first survives
    assert forgetting.holm({"a": 0.01, "b": 0.03, "c": 0.04}) == {"a"}
    assert forgetting.holm({"a": 0.03, "b": 0.5}) == set()  # 0.03 > 0.05/2


def test_sql_error_classes():
    from tradeoff.report.table import sql_error_classes

    recs = [{"left_out": None, "verdict": 1, "error": None},
            {"left_out": None, "verdict": 0, "error": None},
            {"left_out": None, "verdict": 0, "error": "OperationalError: no such column: T1.name"},
            {"left_out": None, "verdict": 0, "error": "OperationalError: no such table: singers"},
            {"left_out": None, "verdict": 0, "error": 'OperationalError: near "FROM": syntax error'},
            {"left_out": None, "verdict": 0, "error": "timeout"},
            {"left_out": None, "verdict": 0, "error": "too many rows"},
            {"left_out": "missing_database", "verdict": None, "error": None}]
    assert sql_error_classes(recs) == {"n_scored": 7, "unknown column": 1, "unknown table": 1, "syntax": 1,
                                       "timeout": 1, "other error": 1, "wrong result": 1}


def test_the_plane_draws_the_forgetting_measure_params_pick():
    from tradeoff.mmlu.question import category_map
    from tradeoff.report.charts import tradeoff_points
    from tradeoff.report.table import build

    sql = [{"index": i, "db_id": "d", "hardness": "easy", "verdict": v, "left_out": None, "reply": f"r{i}"}
           for i, v in enumerate([1, 0, 1])]
    result = build({"base": sql, "exp1": sql}, {"base": BASE, "exp1": ARM}, category_map("original"), n_boot=50)
    by_axis = {axis: tradeoff_points(result, {"exp1": 2e-4}, axis)[0]
               for axis in ("mmlu", "gold_prob", "answers_changed", "kl")}
    assert by_axis["mmlu"]["forgetting"] == by_axis["mmlu"]["d_mmlu"]
    assert by_axis["gold_prob"]["forgetting"] == pytest.approx(100 * (-0.3 + 0.45) / 3, abs=0.01)
    row = by_axis["answers_changed"]
    assert row["forgetting"] == row["forgetting_lo"] == row["forgetting_hi"] == pytest.approx(33.33, abs=0.01)
    assert by_axis["kl"]["forgetting"] == by_axis["kl"]["kl"] > 0
    assert all(r["answers_changed"] == row["answers_changed"] for r in by_axis.values())  # every measure in every row
