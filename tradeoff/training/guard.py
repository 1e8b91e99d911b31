"""The divergence guard: a run whose loss or gradient norm stops being finite stops at once and
publishes nothing."""

from __future__ import annotations

from .. import TradeoffError


class Diverged(TradeoffError):
    """Training met a loss or gradient norm that is not finite; nothing was published."""


def guarded_trainer(arm: str, **kwargs):
    """TRL's SFTTrainer that stops at the first optimizer step whose loss or gradient norm is not
    finite, with one line naming the step, before the optimizer applies it (so no NaN reaches the
    weights, and no adapter is written). transformers' Trainer would otherwise carry on: it filters
    non-finite losses out of its logged averages (`logging_nan_inf_filter`), so a diverged run
    logs a loss of 0.0 and ends "successfully"."""
    import math

    import torch
    from transformers import TrainerCallback
    from trl import SFTTrainer

    class GuardedSFTTrainer(SFTTrainer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.step_losses = []  # this optimizer step's micro-batch losses, checked before the update

        def training_step(self, *args, **kw):
            loss = super().training_step(*args, **kw)
            self.step_losses.append(loss.detach())
            return loss

    class StopOnNonFinite(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, model=None, **kw):
            loss = torch.stack(trainer.step_losses).sum()
            trainer.step_losses = []
            grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads])) \
                if grads else torch.zeros(())
            loss_v, norm_v = loss.item(), norm.item()  # one sync per optimizer step: negligible
            if not (math.isfinite(loss_v) and math.isfinite(norm_v)):
                raise Diverged(f"training {arm} diverged at step {state.global_step + 1} of {state.max_steps}: "
                               f"loss {loss_v}, grad norm {norm_v}; stopped before the update, no adapter written")

    trainer = GuardedSFTTrainer(**kwargs)
    trainer.add_callback(StopOnNonFinite())
    return trainer
