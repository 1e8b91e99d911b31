"""Key/value caches shared by both tasks' scorers: run a prompt prefix once, reuse it for every
prompt that starts with it (MMLU's few-shot header, Spider's system message and schema)."""

from __future__ import annotations

import inspect


def common_prefix_len(seqs: list[list[int]]) -> int:
    """How many leading tokens all of `seqs` share: those the lexicographically first and last
    share (any sequence between them agrees with both there). Comparing every sequence token by
    token cost 3 s of host time per 14,042 MMLU prompts."""
    lo, hi = min(seqs), max(seqs)
    n = min(len(lo), len(hi))
    return next((i for i in range(n) if lo[i] != hi[i]), n)


def cache_kwarg(model) -> str:
    """transformers renamed `past_key_values` to `cache` (5.2x); accept both."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # look through PEFT
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def returned_cache(output):
    return output.cache if getattr(output, "cache", None) is not None else output.past_key_values


def expand(cache, batch: int):
    """A batch of `batch` copies of a one-row cache."""
    from transformers import DynamicCache

    out = DynamicCache()
    for i, layer in enumerate(cache.layers):
        # views, not copies: the model's forward concatenates onto them into new tensors
        out.update(layer.keys.expand(batch, -1, -1, -1),
                   layer.values.expand(batch, -1, -1, -1), i)
    return out


def to_device(tensors, device):
    """Host tensors on `device`; to a GPU through pinned memory without waiting (a plain `.to()`
    synchronises the stream on every batch: the MMLU forward was host-bound, GPU busy a third of
    the time, in bench/recorded/2026-12-05-gpu-eval-speed/)."""
    if getattr(device, "type", str(device)) != "cuda":
        return tuple(t.to(device) for t in tensors)
    return tuple(t.pin_memory().to(device, non_blocking=True) for t in tensors)
