"""The learning-forgetting curve: each arm's path through the trade-off plane.

With `curve.checkpoints: N` in params.yaml, training saves the LoRA adapter at N evenly spaced
steps (`curves/<arm>/step-NNNNN/`), and the `curve@<arm>` stage scores EX and MMLU at each of
them exactly as the evaluation stages do, giving points (ΔMMLU, ΔEX) against the base model,
with 95% paired-bootstrap intervals, from step 0 (the base model, at the origin) to the end.
"""

from __future__ import annotations

from .charts import tradeoff_points, with_forgetting_axis
from .table import build


def point(arm: str, step: int, base_sql: list[dict], sql: list[dict], base_mmlu: list[dict], mmlu: list[dict],
          categories: dict[str, str], lr: float | None = None, axis: str = "mmlu") -> dict:
    """One point of the path, computed like the report's trade-off plane."""
    result = build({"base": base_sql, arm: sql}, {"base": base_mmlu, arm: mmlu}, categories)
    (row,) = tradeoff_points(result, {arm: lr}, axis)
    return {**row, "step": step}


def origin(arm: str, lr: float | None = None, axis: str = "mmlu") -> dict:
    """Step 0: the base model itself."""
    zero = {k: 0.0 for k in ("d_ex", "d_ex_lo", "d_ex_hi", "d_mmlu", "d_mmlu_lo", "d_mmlu_hi", "d_gold_prob",
                             "d_gold_prob_lo", "d_gold_prob_hi", "answers_changed", "kl")}
    return with_forgetting_axis({"arm": arm, "label": f"{arm} (lr {lr:g})" if lr is not None else arm, **zero,
                                 "step": 0}, axis)
