"""The rows of the charts that dvc.yaml declares: EX by hardness, MMLU by category (bars with
95% intervals) and the trade-off plane (one point per arm), in percent."""

from __future__ import annotations

from ..config import CATEGORIES
from ..spider.hardness import LEVELS as HARDNESS
from .table import as_percent


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


def tradeoff_points(result: dict, lrs: dict[str, float]) -> list[dict]:
    """One point per arm in the trade-off plane: ΔMMLU (overall) against ΔEX, with intervals."""
    rows = []
    for m, row in result["models"].items():
        if m == "base":
            continue
        ex, mm = row["EX"], row["overall"]
        rows.append({"arm": m, "label": f"{m} (lr {lrs.get(m):g})" if lrs.get(m) is not None else m,
                     "d_ex": as_percent(ex["delta"]), "d_ex_lo": as_percent(ex["delta_ci"][0]),
                     "d_ex_hi": as_percent(ex["delta_ci"][1]), "d_mmlu": as_percent(mm["delta"]),
                     "d_mmlu_lo": as_percent(mm["delta_ci"][0]), "d_mmlu_hi": as_percent(mm["delta_ci"][1])})
    return rows
