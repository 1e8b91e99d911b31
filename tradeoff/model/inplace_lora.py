"""An arm evaluated in half precision with its LoRA adapter kept apart (a merge into half-precision
weights rounds most of the update away: docs/scoring.md), with fewer passes over memory than PEFT
and the same numbers.

PEFT's LoRA linear, for a base model in bfloat16 and its adapter in float32 (PEFT's default on
loading), computes x·Aᵀ·Bᵀ in float32, multiplies it by the scale into a new float32 tensor, adds it
to the base output into another and rounds that back: four passes over a [tokens, out_features]
tensor, mostly in float32, beside the base product. An arm's MMLU forward took 1.6x the base model's
(1.5B on an H100: 194-199 s against 121 s; bench/recorded/2026-12-07-gpu-study, session 5). Here the
same float32 update is added into the base output in place, scaled on the way (`add_` with `alpha`:
computed in float32, rounded once to the output's precision): with LoRA's usual scale alpha/r a power
of two (ours: 2), every logit equals PEFT's bit for bit. Evaluation only: dropout is not applied.
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F

HALF = (torch.bfloat16, torch.float16)


def use_inplace_lora(model) -> int:
    """Replace, in place, the forward of every plain LoRA linear of a PEFT `model` whose base layer is
    in half precision (one active adapter, no DoRA or other variant, no LoRA bias, not merged) with
    the in-place add above; the model's weights and its saved adapter are untouched. Returns how many."""
    from peft.tuners.lora.layer import Linear as LoraLinear

    replaced = 0
    for module in model.modules():
        if not isinstance(module, LoraLinear) or module.merged or module.disable_adapters:
            continue
        active = [name for name in module.active_adapters if name in module.lora_A]
        base = module.get_base_layer()
        if (len(active) != 1 or active[0] in module.lora_variant or module.lora_bias.get(active[0])
                or not isinstance(base, torch.nn.Linear) or base.weight.dtype not in HALF):
            continue
        module.forward = types.MethodType(_inplace_forward, module)  # a bound method: a deepcopy rebinds it
        replaced += 1
    return replaced


def _inplace_forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    if self.disable_adapters or self.merged:  # PEFT's `disable_adapter()`, a merge made later: PEFT's own path
        return type(self).forward(self, x, *args, **kwargs)
    name = next(n for n in self.active_adapters if n in self.lora_A)
    a, b = self.lora_A[name].weight, self.lora_B[name].weight
    out = self.base_layer(x, *args, **kwargs)
    # in LoRA's own precision, as PEFT computes it; the scaled add in place, in the wider precision
    return out.add_(F.linear(F.linear(x.to(a.dtype), a), b), alpha=self.scaling[name])
