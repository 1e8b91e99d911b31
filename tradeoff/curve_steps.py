"""The steps at which training saves a LoRA adapter (or a `full` arm's model) for the learning-forgetting curve, and reading
them back: `train` writes `<curve>/step-NNNNN/` folders and `steps.json`, the `curve` stage scores
them. Its own small module, so that the curve stage imports this and not the training package."""

from __future__ import annotations

from pathlib import Path

from . import atomic


def curve_steps(max_steps: int, n: int) -> list[int]:
    """N evenly spaced steps ending at the last one (fewer when there are fewer steps)."""
    if n <= 0 or max_steps <= 0:
        return []
    return sorted({max(1, round(k * max_steps / n)) for k in range(1, n + 1)})


def saved_steps(folder: Path) -> list[tuple[int, Path]]:
    """(step, adapter folder) of every saved step, in order (a `full` arm saves the whole model)."""
    return sorted((int(p.name.split("-")[1]), p) for p in folder.glob("step-*")
                  if (p / "adapter_config.json").is_file() or (p / "config.json").is_file())


def write_steps_file(folder: Path) -> None:
    """An index of the saved steps; it also keeps the DVC output folder non-empty when the curve is off."""
    atomic.write_json(folder / "steps.json", [s for s, _ in saved_steps(folder)])
