"""An arm evaluated in half precision with its LoRA adapter kept apart (a merge into half-precision
weights rounds most of the update away: docs/scoring.md), with fewer passes over memory than PEFT
and the same numbers.

PEFT's LoRA linear, for a base model in bfloat16 and its adapter in float32 (PEFT's default on
loading), computes x·Aᵀ·Bᵀ in float32, multiplies it by the scale into a new float32 tensor, adds it
to the base output into another and rounds that back: four passes over a [tokens, out_features]
tensor, mostly in float32, beside the base product. An arm's MMLU forward took 1.6x the base model's
(1.5B on an H100: 194-199 s against 121 s; bench/recorded/2026-12-07-gpu-study, session 5). Here the
same float32 update is added into the base output in place (computed in float32, rounded once to the
output's precision), scaled on the way where the scale is a power of two (LoRA's alpha/r; ours: 2),
else scaled in place first, as PEFT rounds it: every logit equals PEFT's bit for bit. A layer in any
other state (training, several adapters, a LoRA bias, DoRA, half-precision LoRA weights, merged or
disabled, extra arguments) runs PEFT's own forward. A model so changed cannot be pickled whole.
"""

from __future__ import annotations

import math
import types

import torch
import torch.nn.functional as F

HALF = (torch.bfloat16, torch.float16)


def use_inplace_lora(model, enable: bool = True) -> int:
    """Give every plain LoRA linear of a PEFT `model` whose base layer is a half-precision
    `nn.Linear` the in-place add above (enable=False: PEFT's forward back); the weights and the
    saved adapter are untouched. Returns how many layers were changed."""
    from peft.tuners.lora.layer import Linear as LoraLinear

    changed = 0
    for module in model.modules():
        if not isinstance(module, LoraLinear):
            continue
        if not enable:
            changed += module.__dict__.pop("forward", None) is not None
            continue
        base = module.get_base_layer()
        if (type(base) is torch.nn.Linear and base.weight.dtype in HALF and not base._forward_hooks
                and _plain_adapter(module)):
            module.forward = types.MethodType(_inplace_forward, module)  # a bound method: a deepcopy rebinds it
            changed += 1
    return changed


def _plain_adapter(layer) -> str | None:
    """The name of the layer's one active adapter where the in-place add computes exactly what PEFT
    would now (eval mode, float32 LoRA weights, no variant or bias, not merged or disabled), else None."""
    if layer.training or layer.merged or layer.disable_adapters or not getattr(layer, "cast_input_dtype_enabled", True):
        return None
    active = [name for name in layer.active_adapters if name in layer.lora_A]
    if len(active) != 1:
        return None
    name = active[0]
    if name in layer.lora_variant or layer.lora_bias.get(name) or layer.lora_A[name].weight.dtype != torch.float32:
        return None
    return name


def _inplace_forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    name = None if kwargs else _plain_adapter(self)  # kwargs: PEFT's own (adapter_names, ...)
    if name is None:
        return type(self).forward(self, x, *args, **kwargs)
    a, b, scale = self.lora_A[name].weight, self.lora_B[name].weight, self.scaling[name]
    out = self.base_layer(x, *args)  # a fresh product: nobody else holds it
    update = F.linear(F.linear(x.to(a.dtype), a), b)
    if math.frexp(scale)[0] != 0.5:  # not a power of two: round update·scale to float32 first, as PEFT does
        update.mul_(scale)
        scale = 1.0
    return out.add_(update, alpha=scale)
