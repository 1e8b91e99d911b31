"""The rows of the charts that dvc.yaml declares: EX by hardness, MMLU by category (bars with
95% intervals) and the trade-off plane (one point per arm), in percent. The plane's x is the
forgetting measure that `report.forgetting_axis` in params.yaml picks (fields `forgetting*`)."""

from __future__ import annotations

from ..config import CATEGORIES, FORGETTING_AXES
from ..spider.hardness import LEVELS as HARDNESS
from .table import as_percent, format_fields


def _chart_rows(result: dict, groups: dict[str, str]) -> list[dict]:
    """Rows (model, group, value, lo, hi, n) in % for a bar chart; `groups` maps each group's
    label to its metric in `result`; metrics without questions are left out."""
    return [{"model": m, "group": group, "value": as_percent(e["score"]), "lo": as_percent(e["ci"][0]),
             "hi": as_percent(e["ci"][1]), "n": e["n"]}
            for m, row in result["models"].items() for group, metric in groups.items()
            for e in [row[metric]] if e["n"]]


def ex_by_hardness(result: dict) -> list[dict]:
    """Rows for the EX-by-hardness chart: each level, then all scored questions."""
    return _chart_rows(result, {**{h: f"EX {h}" for h in HARDNESS}, "all": "EX"})


def mmlu_by_category(result: dict) -> list[dict]:
    """Rows for the MMLU-per-category chart: each category scored, then overall."""
    return _chart_rows(result, {c: c for c in (*CATEGORIES, "overall")})


# report.forgetting_axis -> (the row's field, what the plane's x then shows)
AXIS_FIELDS = {
    "mmlu": ("d_mmlu", "Δ MMLU accuracy vs base (points; left = forgetting)"),
    "gold_prob": ("d_gold_prob", "Δ MMLU gold-letter probability vs base (points; left = forgetting)"),
    "answers_changed": ("answers_changed", "MMLU answers changed vs base (% of questions; right = more moved)"),
    "kl": ("kl", "KL(base‖arm) of the MMLU letter distributions (nats; right = more moved)"),
    "mmlu_calibrated": ("d_mmlu_calibrated", "Δ MMLU accuracy, letters calibrated, vs base (points; left = forgetting)"),
    "cloze": ("d_cloze", "Δ MMLU cloze accuracy vs base (points; left = forgetting)"),
    "cloze_norm": ("d_cloze_norm", "Δ MMLU cloze accuracy per character vs base (points; left = forgetting)"),
    "cloze_gold_prob": ("d_cloze_gold_prob", "Δ MMLU cloze gold-choice probability vs base (points; left = forgetting)"),
    "cloze_answers_changed": ("cloze_answers_changed", "MMLU cloze answers changed vs base (% of questions)"),
    "cloze_kl": ("cloze_kl", "KL(base‖arm) of the MMLU cloze choice distributions (nats; right = more moved)"),
}
assert tuple(AXIS_FIELDS) == FORGETTING_AXES, "every forgetting axis params allows has a field here"


def with_forgetting_axis(row: dict, axis: str) -> dict:
    """`row` with the fields the plane draws on x: forgetting, forgetting_lo/hi (the value itself
    where the measure has no interval) and forgetting_measure (what they are)."""
    key, what = AXIS_FIELDS[axis]
    value = row.get(key)
    return {**row, "forgetting": value, "forgetting_lo": row.get(f"{key}_lo", value),
            "forgetting_hi": row.get(f"{key}_hi", value), "forgetting_measure": what}


def tradeoff_points(result: dict, lrs: dict[str, float], axis: str = "mmlu") -> list[dict]:
    """One point per arm in the trade-off plane: ΔEX against the forgetting measure `axis`, with
    intervals; every measure is in the row (ΔMMLU, Δ gold-letter probability, answers changed, KL)."""
    rows = []
    for m, row in result["models"].items():
        if m == "base":
            continue
        ex, mm = row["EX"], row["overall"]
        fg = result.get("forgetting", {}).get(m, {}).get("overall") or {"n": 0}
        fine = {"d_gold_prob": None, "d_gold_prob_lo": None, "d_gold_prob_hi": None, "answers_changed": None,
                "kl": None}
        if fg["n"]:
            fine = {"d_gold_prob": as_percent(fg["gold_prob_delta"]),
                    "d_gold_prob_lo": as_percent(fg["gold_prob_delta_ci"][0]),
                    "d_gold_prob_hi": as_percent(fg["gold_prob_delta_ci"][1]),
                    "answers_changed": as_percent(fg["answers_changed"]), "kl": round(fg["kl"], 5)}
        rows.append(with_forgetting_axis(
            {"arm": m, "label": f"{m} (lr {lrs.get(m):g})" if lrs.get(m) is not None else m,
             "d_ex": as_percent(ex["delta"]), "d_ex_lo": as_percent(ex["delta_ci"][0]),
             "d_ex_hi": as_percent(ex["delta_ci"][1]), "d_mmlu": as_percent(mm["delta"]),
             "d_mmlu_lo": as_percent(mm["delta_ci"][0]), "d_mmlu_hi": as_percent(mm["delta_ci"][1]), **fine,
             **format_fields(result, m)}, axis))
    return rows
