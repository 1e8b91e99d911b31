"""Key/value caches shared by both tasks' scorers: run a prompt prefix once, reuse it for every
prompt that starts with it (MMLU's few-shot header, Spider's system message and schema)."""

from __future__ import annotations

import inspect


def common_prefix_len(seqs: list[list[int]]) -> int:
    """How many leading tokens all of `seqs` share."""
    first = seqs[0]
    n = min(len(s) for s in seqs)
    for i in range(n):
        t = first[i]
        if any(s[i] != t for s in seqs):
            return i
    return n


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
        out.update(layer.keys.expand(batch, -1, -1, -1).contiguous(),
                   layer.values.expand(batch, -1, -1, -1).contiguous(), i)
    return out


def stack_right_aligned(caches: list, width: int):
    """One batch cache from one-row caches of different lengths (None: no prefix), each
    right-aligned in `width` slots; the caller's attention mask hides the empty slots."""
    from transformers import DynamicCache

    some = next(c for c in caches if c is not None)
    out = DynamicCache()
    for i in range(len(some.layers)):
        k0 = some.layers[i].keys
        keys = k0.new_zeros((len(caches), k0.shape[1], width, k0.shape[3]))
        values = keys.clone()
        for row, c in enumerate(caches):
            if c is not None:
                n = c.layers[i].keys.shape[2]
                keys[row, :, width - n:] = c.layers[i].keys[0]
                values[row, :, width - n:] = c.layers[i].values[0]
        out.update(keys, values, i)
    return out


def select_rows(cache, rows):
    """The cache of the batch rows `rows` (a tensor of indices), e.g. once the others finished."""
    from transformers import DynamicCache

    out = DynamicCache()
    for i, layer in enumerate(cache.layers):
        out.update(layer.keys.index_select(0, rows), layer.values.index_select(0, rows), i)
    return out
