"""The learning-forgetting curve: each arm's path through the trade-off plane.

With `curve.checkpoints: N` in params.yaml, training saves the LoRA adapter at N evenly spaced
steps (`curves/<arm>/step-NNNNN/`), and the `curve@<arm>` stage scores EX and MMLU at each of
them exactly as the evaluation stages do, giving points (ΔMMLU, ΔEX) against the base model,
with 95% paired-bootstrap intervals, from step 0 (the base model, at the origin) to the end.
"""

from __future__ import annotations

from pathlib import Path

from . import report


def curve_steps(max_steps: int, n: int) -> list[int]:
    """N evenly spaced steps ending at the last one (fewer when there are fewer steps)."""
    if n <= 0 or max_steps <= 0:
        return []
    return sorted({max(1, round(k * max_steps / n)) for k in range(1, n + 1)})


def saved_steps(folder: Path) -> list[tuple[int, Path]]:
    """(step, adapter folder) of every saved step, in order."""
    return sorted((int(p.name.split("-")[1]), p) for p in folder.glob("step-*") if (p / "adapter_config.json").is_file())


def point(arm: str, step: int, base_sql: list[dict], sql: list[dict], base_mmlu: list[dict], mmlu: list[dict],
          categories: dict[str, str], lr: float | None = None) -> dict:
    """One point of the path, computed like the report's trade-off plane."""
    result = report.build({"base": base_sql, arm: sql}, {"base": base_mmlu, arm: mmlu}, categories)
    (row,) = report.tradeoff_points(result, {arm: lr})
    return {**row, "step": step}


def origin(arm: str, lr: float | None = None) -> dict:
    """Step 0: the base model itself."""
    zero = {k: 0.0 for k in ("d_ex", "d_ex_lo", "d_ex_hi", "d_mmlu", "d_mmlu_lo", "d_mmlu_hi")}
    return {"arm": arm, "label": f"{arm} (lr {lr:g})" if lr is not None else arm, **zero, "step": 0}


def write_steps_file(folder: Path) -> None:
    """An index of the saved steps; it also keeps the DVC output folder non-empty when the curve is off."""
    from . import atomic

    atomic.write_json(folder / "steps.json", [s for s, _ in saved_steps(folder)])
