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


def repeat_rows(cache, times: int, rows: list[int] | None = None):
    """A new cache of the chosen `rows` of `cache` (all by default), each repeated `times` times in
    place (the k-th chosen row becomes rows k*times .. k*times+times-1); `cache` is left as it is."""
    import torch
    from transformers import DynamicCache

    out = DynamicCache()
    for i, layer in enumerate(cache.layers):
        keys, values = layer.keys, layer.values
        if rows is not None:
            pick = torch.tensor(rows, device=keys.device)
            keys, values = keys.index_select(0, pick), values.index_select(0, pick)
        out.update(keys.repeat_interleave(times, dim=0), values.repeat_interleave(times, dim=0), i)
    return out


def left_padded(rows: list[list[int]], p_len: int, pad: int):
    """A batch of token rows that continue a `p_len`-token cached prefix, left-padded so every row
    ends at the last column: (input_ids, attention_mask over prefix + rows, position_ids). The
    explicit positions make a padded row score as if it were alone."""
    import torch

    n, width = len(rows), max(len(r) for r in rows)
    ids = torch.full((n, width), pad, dtype=torch.long)
    mask = torch.zeros((n, p_len + width), dtype=torch.long)
    mask[:, :p_len] = 1
    pos = torch.full((n, width), p_len, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
        mask[i, p_len + width - len(r):] = 1
        pos[i, width - len(r):] = torch.arange(p_len, p_len + len(r))
    return ids, mask, pos
