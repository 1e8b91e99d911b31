"""Today's MMLU scorers before shared-prefix packing (tradeoff/model/packing.py), kept verbatim
as the reference that tests/test_mmlu_packed.py and bench/mmlu_packed_speed.py compare the packed
scorers against: the shared prefix cached once, each batch of questions left-padded with
explicit positions, reading that cache expanded per batch. Not used by the pipeline.

    with padded_scorers():   # task.score_questions then scores through this path
        records = task.score_questions(...)
"""

from __future__ import annotations

import contextlib

from tradeoff.mmlu import cloze, task
from tradeoff.mmlu.cloze import encode_pairs
from tradeoff.mmlu.task import letter_token_ids
from tradeoff.model import kv_cache
from tradeoff.timing import phase


@contextlib.contextmanager
def padded_scorers():
    """Swap the packed scorers of task.py and cloze.py for these while the block runs."""
    saved = task.score_prompts, cloze.score_contexts
    task.score_prompts, cloze.score_contexts = score_prompts, score_contexts
    try:
        yield
    finally:
        task.score_prompts, cloze.score_contexts = saved


def score_prompts(model, tokenizer, prompts: list[str], batch_size: int = 16, add_bos: bool = False,
                  progress=None) -> list[list[float]]:
    """Log-likelihood of " A".." D" after each prompt. Prompts that share a prefix (a subject's
    header and shots) reuse its key/value cache."""
    import torch

    device = next(model.parameters()).device
    letters = torch.tensor(letter_token_ids(tokenizer), device=device)
    with phase("tokenize"):
        enc = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    if add_bos and tokenizer.bos_token_id is not None:
        enc = [[tokenizer.bos_token_id] + e for e in enc]
    # lm-eval scores the continuation as whole[len(context):]; check that " A" is one token there
    p_len = min(kv_cache.common_prefix_len(enc), min(len(e) for e in enc) - 1)
    prefix = torch.tensor([enc[0][:p_len]], device=device)
    order = sorted(range(len(prompts)), key=lambda i: -len(enc[i]))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    batches = []  # letter log-probs stay on the device: one read-back at the end, no sync per batch
    with torch.inference_mode(), phase("forward"):
        cache_kw = kv_cache.cache_kwarg(model)
        prefix_cache = kv_cache.returned_cache(model(prefix, use_cache=True)) if p_len else None
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            ids, mask, pos = kv_cache.to_device(left_padded([enc[i][p_len:] for i in idx], p_len, pad),
                                                device)
            kwargs = {}
            if prefix_cache is not None:
                kwargs[cache_kw] = kv_cache.expand(prefix_cache, len(idx))
            logits = model(input_ids=ids, attention_mask=mask, position_ids=pos,
                           use_cache=prefix_cache is not None, logits_to_keep=1, **kwargs).logits[:, -1, :]
            batches.append(torch.log_softmax(logits.float(), dim=-1)[:, letters])
            if progress is not None:
                progress.update(len(idx))
        logprobs = torch.cat(batches).cpu().tolist() if batches else []
    out: list[list[float] | None] = [None] * len(prompts)
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


def score_contexts(model, tokenizer, contexts: list[str], choices: list[tuple[str, ...]], batch_size: int = 16,
                   add_bos: bool = False, progress=None) -> list[list[float]]:
    """Log-likelihood of each of the four continuations ' {choice}' after each context. Contexts
    that share a prefix (a subject's header and shots) reuse its key/value cache."""
    import torch

    with phase("tokenize"):
        ctx, conts = encode_pairs(tokenizer, contexts, choices, add_bos)
    p_len = min(kv_cache.common_prefix_len(ctx), min(len(e) for e in ctx) - 1)
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out: list[list[float] | None] = [None] * len(contexts)
    order = sorted(range(len(contexts)), key=lambda i: -len(ctx[i]))
    with torch.inference_mode(), phase("forward"):
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
