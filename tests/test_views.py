"""The report's ways of reading MMLU answers: calibration removes a model's lean to one letter (a
collapse is not counted as lost knowledge), the spread of the answers and its entropy, and the
table and summary that carry them."""

import math

import pytest

from tradeoff.report import table, views

L = math.log


def rec(index, gold, probs, subject="astronomy"):
    loglik = [L(p) for p in probs]
    return {"subject": subject, "index": index, "gold": gold, "pred": "ABCD"[max(range(4), key=lambda j: probs[j])],
            "loglik": loglik}


# A model that knows every answer (its gold letter gets a bump) but leans hard to C: C wins wherever
# the gold is not C. Calibration divides out the lean, and the knowledge shows.
def leaning(index, gold):
    probs = [0.1, 0.1, 0.6, 0.2]
    probs[" ABCD".index(gold) - 1] += 0.3
    total = sum(probs)
    return rec(index, gold, [p / total for p in probs])


GOLDS = "ABCD" * 5
COLLAPSED = [leaning(i, g) for i, g in enumerate(GOLDS)]


def test_calibration_removes_a_lean_to_one_letter():
    letters = views.view(COLLAPSED, "letters")
    assert sum(r["pred"] == r["gold"] for r in letters) == 5  # only the questions whose answer is C
    assert views.answer_distribution(letters)["top"] == "C"
    calibrated = views.view(COLLAPSED, "letters_calibrated")
    assert all(r["pred"] == r["gold"] for r in calibrated)
    prior = views.letter_prior(COLLAPSED)
    assert sum(prior) == pytest.approx(1) and max(range(4), key=prior.__getitem__) == 2


def test_answer_distribution_and_entropy():
    even = [rec(i, g, [0.7 if j == "ABCD".index(g) else 0.1 for j in range(4)])
            for i, g in enumerate(GOLDS)]
    d = views.answer_distribution(views.view(even, "letters"))
    assert d["shares"] == {x: 0.25 for x in "ABCD"} and d["entropy_bits"] == pytest.approx(2.0)
    one = views.answer_distribution([{**r, "pred": "C"} for r in even])
    assert one["entropy_bits"] == 0.0 and one["top"] == "C" and one["top_share"] == 1.0
    assert one["gold_shares"] == {x: 0.25 for x in "ABCD"}


def test_the_table_reports_a_collapse_as_a_collapse():
    knows = [rec(i, g, [0.7 if j == "ABCD".index(g) else 0.1 for j in range(4)]) for i, g in enumerate(GOLDS)]
    sql = {m: [{"index": 0, "verdict": 1, "left_out": None, "reply": "SELECT 1", "hardness": "easy"}]
           for m in ("base", "exp1")}
    result = table.build(sql, {"base": knows, "exp1": COLLAPSED}, {"astronomy": "STEM"}, n_boot=200)
    letters, calibrated = result["formats"]["letters"], result["formats"]["letters_calibrated"]
    assert letters["accuracy"]["exp1"]["delta"] == pytest.approx(-0.75)  # looks like forgetting
    assert calibrated["accuracy"]["exp1"]["delta"] == pytest.approx(0.0)  # but the knowledge is all there
    assert letters["answers"]["exp1"]["top_share"] == 1.0 and letters["answers"]["base"]["entropy_bits"] == 2.0
    s = table.summary(result, {"exp1": 1e-3})
    assert s["exp1"]["d_mmlu"] == -75.0 and s["exp1"]["d_mmlu_calibrated"] == 0.0
    assert s["exp1"]["top_letter"] == "C" and s["exp1"]["top_letter_share"] == 100.0
    text = table.markdown(result)
    assert "letters, calibrated" in text and "How the answers spread over A-D" in text


def test_cloze_records_give_the_cloze_views_and_axes():
    from tradeoff.report import charts

    def both(r, shift):
        cl = [x + shift for x in r["loglik"]]
        return {**r, "cloze_pred": r["pred"], "cloze_norm_pred": "A", "cloze_loglik": cl}

    base = [both(r, 0.0) for r in COLLAPSED]
    arm = [both({**r, "pred": "D"}, -1.0) for r in COLLAPSED]
    sql = {m: [{"index": 0, "verdict": 1, "left_out": None, "reply": "SELECT 1", "hardness": "easy"}]
           for m in ("base", "exp1")}
    result = table.build(sql, {"base": base, "exp1": arm}, {"astronomy": "STEM"}, n_boot=100)
    assert list(result["formats"]) == ["letters", "letters_calibrated", "cloze", "cloze_norm"]
    (point,) = charts.tradeoff_points(result, {"exp1": 1e-3}, "cloze_norm")
    assert point["forgetting"] == point["d_cloze_norm"] == 0.0
    (point,) = charts.tradeoff_points(result, {"exp1": 1e-3}, "cloze_kl")
    assert point["forgetting"] == point["cloze_kl"] == pytest.approx(0.0, abs=1e-12)
