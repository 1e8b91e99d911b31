"""What a run records as it trains: DVCLive curves of the loss, learning rate and gradient norm,
and the LoRA adapters the curve stage scores (curve.checkpoints)."""

from __future__ import annotations

from pathlib import Path

from .. import atomic
from ..compat import dvclive_callback_per_optimizer_step
from ..curve_steps import curve_steps

WALL_CLOCK_KEYS = ("runtime", "per_second")  # the Trainer's train_runtime, train_tokens_per_second, ...


def save_for_curve(folder: Path, n: int):
    """A callback that saves the LoRA adapter at n evenly spaced steps (for the curve stage)."""
    from transformers import TrainerCallback

    class SaveForCurve(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.steps = curve_steps(state.max_steps, n)

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step in self.steps and state.is_world_process_zero:
                with atomic.output_dir(folder / f"step-{state.global_step:05d}") as tmp:
                    model.save_pretrained(tmp)

    return SaveForCurve()


def train_callbacks(live_dir: Path | None, resume: str | None, curve_dir: Path | None, curve_points: int, process):
    """DVCLive curves (main process only) and the curve's adapter saves; and the Live handle to end."""
    callbacks, live = [], None
    if live_dir is not None and process.is_main_process:
        from dvclive import Live

        live = Live(dir=str(live_dir), save_dvc_exp=False, dvcyaml=None, resume=bool(resume))
        # wall-clock figures differ on every run: they go to --speed, not to tracked curves
        callbacks.append(dvclive_callback_per_optimizer_step(live, drop_keys=WALL_CLOCK_KEYS))
    if curve_dir is not None and curve_points > 0:
        callbacks.append(save_for_curve(curve_dir, curve_points))
    return callbacks, live
