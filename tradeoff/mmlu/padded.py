"""MMLU's padded scorers, the path on a GPU: the shared prefix (a subject's header and shots) cached
once, each batch of questions left-padded with explicit positions, reading that cache expanded per
batch. On a CPU the packed scorers (model/packing.py) replace them, 2.93x faster with the same
letters; on a GPU packing was slower as a stage (model/packing.py, `wanted`), so there these run.
"""

from __future__ import annotations

from ..model import kv_cache


def letter_logprobs(model, enc: list[list[int]], p_len: int, letters: list[int], batch_size: int, pad: int,
                    progress=None) -> list[list[float]]:
    """Log-probability of each letter token after each prompt (token ids sharing their first
    `p_len`). Call under inference_mode."""
    import torch

    device = next(model.parameters()).device
    letters_t = torch.tensor(letters, device=device)
    order = sorted(range(len(enc)), key=lambda i: -len(enc[i]))
    batches = []  # letter log-probs stay on the device: one read-back at the end, no sync per batch
    cache_kw = kv_cache.cache_kwarg(model)
    prefix_cache = kv_cache.returned_cache(model(torch.tensor([enc[0][:p_len]], device=device), use_cache=True)) \
        if p_len else None
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        ids, mask, pos = kv_cache.to_device(left_padded([enc[i][p_len:] for i in idx], p_len, pad), device)
        kwargs = {cache_kw: kv_cache.expand(prefix_cache, len(idx))} if prefix_cache is not None else {}
        logits = model(input_ids=ids, attention_mask=mask, position_ids=pos,
                       use_cache=prefix_cache is not None, logits_to_keep=1, **kwargs).logits[:, -1, :]
        batches.append(torch.log_softmax(logits.float(), dim=-1)[:, letters_t])
        if progress is not None:
            progress.update(len(idx))
    logprobs = torch.cat(batches).cpu().tolist() if batches else []
    out: list[list[float] | None] = [None] * len(enc)
    for i, lp in zip(order, logprobs):
        out[i] = lp
    return out  # type: ignore[return-value]


def _question_pass(model, ids_rows: list[list[int]], p_len: int, prefix_cache, pad: int):
    """Run each question's context after the shared prefix (left-padded, explicit positions);
    return the last position's log-probabilities, the cache, the attention mask and each row's
    next position."""
    import torch

    device = next(model.parameters()).device
    n = len(ids_rows)
    ids, mask, pos = left_padded(ids_rows, p_len, pad)
    kwargs = {kv_cache.cache_kwarg(model): kv_cache.expand(prefix_cache, n)} if prefix_cache is not None else {}
    out = model(input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=pos.to(device),
                use_cache=True, logits_to_keep=1, **kwargs)
    last = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1).cpu()
    nxt = [p_len + len(s) for s in ids_rows]
    return last, kv_cache.returned_cache(out), mask, nxt


_FLOAT_BUDGET = 2 ** 28  # float32 logits per chunk of rows (1 GiB)


def _continuation_pass(model, conts: list[list[int]], cache, mask, nxt: list[int], pad: int,
                       rows_of: list[int]) -> list[float]:
    """Sum of log-probabilities of every continuation token after the first (the question pass
    scored the first), all four continuations of each question in one batch on its cache; the
    questions are the rows `rows_of` of the question pass (`conts` holds their four each)."""
    import torch

    device = next(model.parameters()).device
    rows = [c[:-1] for c in conts]  # the last token is predicted, never fed
    width = max(len(r) for r in rows)
    if width == 0:
        return [0.0] * len(conts)
    n = len(rows)
    ids = torch.full((n, width), pad, dtype=torch.long)
    cmask = torch.zeros((n, width), dtype=torch.long)
    pos = torch.zeros((n, width), dtype=torch.long)
    for r, toks in enumerate(rows):
        ids[r, :len(toks)] = torch.tensor(toks, dtype=torch.long)
        cmask[r, :len(toks)] = 1
        pos[r] = torch.arange(nxt[rows_of[r // 4]], nxt[rows_of[r // 4]] + width)
    full_mask = torch.cat([mask[rows_of].repeat_interleave(4, dim=0), cmask], dim=1)
    kwargs = {kv_cache.cache_kwarg(model): repeat_rows(cache, 4, rows_of)}
    logits = model(input_ids=ids.to(device), attention_mask=full_mask.to(device), position_ids=pos.to(device),
                   use_cache=True, **kwargs).logits
    targets = torch.zeros((n, width), dtype=torch.long)
    for r, c in enumerate(conts):
        targets[r, :len(c) - 1] = torch.tensor(c[1:], dtype=torch.long)
    targets, keep = targets.to(device), cmask.bool().to(device)
    sums = torch.zeros(n, dtype=torch.float32, device=device)
    step = max(1, _FLOAT_BUDGET // (width * logits.shape[-1]))  # a float32 copy of all rows' logits can be gigabytes
    for r in range(0, n, step):
        lp = torch.log_softmax(logits[r:r + step].float(), dim=-1).gather(2, targets[r:r + step, :, None])[..., 0]
        sums[r:r + step] = torch.where(keep[r:r + step], lp, 0.0).sum(dim=1)
    return sums.cpu().tolist()  # one copy to the host: a sync per row kept the GPU idle


def continuation_logliks(model, ctx: list[list[int]], conts: list[list[list[int]]], p_len: int, batch_size: int,
                         pad: int, progress=None) -> list[list[float]]:
    """Log-likelihood of each of the four continuations after each context (token ids sharing
    their first `p_len`). Call under inference_mode."""
    import torch

    device = next(model.parameters()).device
    out: list[list[float] | None] = [None] * len(ctx)
    order = sorted(range(len(ctx)), key=lambda i: -len(ctx[i]))
    prefix_cache = kv_cache.returned_cache(model(torch.tensor([ctx[0][:p_len]], device=device),
                                                 use_cache=True)) if p_len else None
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        last, cache, mask, nxt = _question_pass(model, [ctx[i][p_len:] for i in idx], p_len, prefix_cache, pad)
        rest = []
        group = max(1, batch_size // 4)  # four rows a question: the continuation batch stays batch_size rows
        for g in range(0, len(idx), group):
            rows_of = list(range(g, min(g + group, len(idx))))
            flat = [conts[idx[row]][j] for row in rows_of for j in range(4)]
            rest += _continuation_pass(model, flat, cache, mask, nxt, pad, rows_of)
        for row, i in enumerate(idx):
            out[i] = [(last[row, conts[i][j][0]].item() if conts[i][j] else 0.0) + rest[4 * row + j]
                      for j in range(4)]
        if progress is not None:
            progress.update(len(idx))
    return out  # type: ignore[return-value]


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
