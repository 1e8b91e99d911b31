"""Shared-prefix packing: score many short prompts that share one prefix (MMLU's header and shots)
without padding. The prefix runs once into a one-row key/value cache; the prompts' remaining
tokens are laid end to end in rows of at most a few thousand tokens, and an attention mask lets
each token see the prefix and the earlier tokens of its own prompt only. With explicit positions
(each prompt restarts right after the prefix) every token sees exactly what it sees when its
prompt is run alone, so the scores are those of the padded batches this replaced, minus the
padding, the per-batch copies of the prefix cache and the dense padded masks.

A prompt may end in branches (cloze's four continuations): a branch token sees the prefix, its
prompt's context and the earlier tokens of its own branch, and its positions continue the
context's, as if context + branch were run alone.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from . import kv_cache

PAD_SEGMENT = -1  # padding tokens: they see only the prefix and each other, and no real token sees them


@dataclass
class Row:
    """One packed row: tokens, positions, segment (which prompt, from 0) and branch (0 for a
    prompt's context, j + 1 for its j-th branch) per token; `prompts` lists the prompts packed
    here; `last[k]` is the row index of prompt k's last context token and `branches[k][j]` the row
    index where its branch j starts."""
    ids: list[int] = field(default_factory=list)
    pos: list[int] = field(default_factory=list)
    seg: list[int] = field(default_factory=list)
    branch: list[int] = field(default_factory=list)
    prompts: list[int] = field(default_factory=list)
    last: list[int] = field(default_factory=list)
    branches: list[list[int]] = field(default_factory=list)


def _size(context: list[int], branches: list[list[int]]) -> int:
    return len(context) + sum(len(b) for b in branches)


def _append(row: Row, prompt: int, context: list[int], branches: list[list[int]], p_len: int) -> None:
    seg = len(row.prompts)
    row.prompts.append(prompt)
    row.ids += context
    row.pos += range(p_len, p_len + len(context))
    row.seg += [seg] * len(context)
    row.branch += [0] * len(context)
    row.last.append(len(row.ids) - 1)
    starts, nxt = [], p_len + len(context)
    for j, b in enumerate(branches):
        starts.append(len(row.ids))
        row.ids += b
        row.pos += range(nxt, nxt + len(b))  # every branch continues the context's positions
        row.seg += [seg] * len(b)
        row.branch += [j + 1] * len(b)
    row.branches.append(starts)


def pad_row(row: Row, multiple: int, pad: int) -> None:
    """Pad `row` to a multiple of `multiple` tokens: a compiled attention kernel then sees a few
    shapes, not one per row."""
    extra = -len(row.ids) % multiple
    row.ids += [pad] * extra
    row.pos += [0] * extra
    row.seg += [PAD_SEGMENT] * extra
    row.branch += [0] * extra


def pack(prompts: list[tuple[list[int], list[list[int]]]], p_len: int, max_tokens: int,
         multiple: int = 1, pad: int = 0) -> list[Row]:
    """Rows of at most `max_tokens` tokens (a longer prompt gets a row of its own) holding the
    prompts (context tokens after the prefix, branches) in order; positions start at `p_len`."""
    rows: list[Row] = []
    for i, (context, branches) in enumerate(prompts):
        if not context:
            raise ValueError(f"prompt {i} has no token after the shared prefix; its score needs one")
        if not rows or (rows[-1].ids and len(rows[-1].ids) + _size(context, branches) > max_tokens):
            rows.append(Row())
        _append(rows[-1], i, context, branches, p_len)
    for row in rows:
        pad_row(row, multiple, pad)
    return rows


PREFIX_SEGMENT = -2  # the cached prefix's keys: every token sees them


def mask_rule(seg, branch, p_len):
    """The attention rule as flex_attention's mask_mod (b, h, q_idx, kv_idx) -> bool; keys are
    the `p_len` cached prefix tokens, then the row. Elementwise, so broadcast index tensors give
    the dense mask too (the CPU path and the tests check the very rule the GPU runs). Key-side
    copies of seg/branch spare the rule index arithmetic (kv_idx - p_len, clamped), which
    inductor's CPU flex kernel failed to compile."""
    import torch

    key_seg = torch.cat([torch.full((p_len,), PREFIX_SEGMENT, dtype=seg.dtype, device=seg.device), seg])
    key_branch = torch.cat([torch.zeros(p_len, dtype=branch.dtype, device=branch.device), branch])
    order = torch.arange(seg.shape[0], device=seg.device) + p_len  # a query's own index among the keys

    def rule(b, h, q_idx, kv_idx):
        own = (key_seg[kv_idx] == seg[q_idx]) & (kv_idx <= order[q_idx])
        same_branch = (key_branch[kv_idx] == 0) | (key_branch[kv_idx] == branch[q_idx])
        return (key_seg[kv_idx] == PREFIX_SEGMENT) | (own & same_branch)

    return rule


def dense_mask(seg, branch, p_len: int):
    """The rule as a boolean (1, 1, row, p_len + row) mask, True where a query may attend."""
    import torch

    n = seg.shape[0]
    q = torch.arange(n, device=seg.device)[:, None]
    kv = torch.arange(p_len + n, device=seg.device)[None, :]
    return mask_rule(seg, branch, p_len)(0, 0, q, kv)[None, None]


def block_mask(seg, branch, p_len: int):
    """The rule as a flex_attention BlockMask (only blocks that someone attends to are computed)."""
    from torch.nn.attention.flex_attention import create_block_mask

    n = seg.shape[0]
    return create_block_mask(mask_rule(seg, branch, p_len), None, None, n, p_len + n, device=seg.device)


def uses_flex(model) -> bool:
    return getattr(model.config, "_attn_implementation", None) == "flex_attention"


@contextlib.contextmanager
def flex_on_cuda(model):
    """On CUDA, run `model` with flex_attention (a block-sparse mask skips the blocks no one
    attends to) and restore its attention afterwards; elsewhere leave it as it is."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # look through PEFT
    was = getattr(base.config, "_attn_implementation", None)
    if next(base.parameters()).device.type != "cuda" or was == "flex_attention":
        yield
        return
    base.set_attn_implementation("flex_attention")
    try:
        yield
    finally:
        base.set_attn_implementation(was)


def forward_row(model, row: Row, p_len: int, prefix_cache, keep):
    """Logits at row indices `keep` (a 1-D tensor on the model's device) for one packed row after
    the cached prefix; only those positions reach the output layer (logits_to_keep)."""
    import torch

    device = next(model.parameters()).device
    ids, pos, seg, branch = kv_cache.to_device(
        tuple(torch.tensor(x, dtype=torch.long) for x in (row.ids, row.pos, row.seg, row.branch)), device)
    if uses_flex(model):
        mask = block_mask(seg, branch, p_len)
    else:  # additive, as eager attention adds it to the scores (it would add a boolean one as 0/1); sdpa takes either
        dtype = next(model.parameters()).dtype
        mask = torch.zeros((), dtype=dtype, device=device).masked_fill(~dense_mask(seg, branch, p_len),
                                                                         torch.finfo(dtype).min)
    kwargs = {kv_cache.cache_kwarg(model): kv_cache.expand(prefix_cache, 1)} if prefix_cache is not None else {}
    out = model(input_ids=ids[None], position_ids=pos[None], attention_mask=mask,
                use_cache=prefix_cache is not None, logits_to_keep=keep, **kwargs)
    return out.logits[0]


_FLOAT_BUDGET = 2 ** 28  # float32 logits at a time (1 GiB) when reducing a row's kept logits


def _picks(row: Row, continuations: list[list[list[int]]]):
    """What one row must read: the row indices to keep, and per continuation token (kept index,
    token id, prompt, choice). A continuation's first token is predicted at its context's last
    token, each later one at the branch token before it."""
    keep, picks = [], []
    for k, prompt in enumerate(row.prompts):
        at = len(keep)
        keep.append(row.last[k])
        for j, cont in enumerate(continuations[prompt]):
            if cont:
                picks.append((at, cont[0], prompt, j))
            for t, tok in enumerate(cont[1:]):
                picks.append((len(keep), tok, prompt, j))
                keep.append(row.branches[k][j] + t)
    return keep, picks


def _row_logprobs(logits, picks):
    """log p(token) of every pick: its logit minus its position's log-sum-exp in float32, a few
    positions at a time (a float32 copy of every kept position's logits can be gigabytes)."""
    import torch

    step = max(1, _FLOAT_BUDGET // logits.shape[-1])
    lse = torch.cat([torch.logsumexp(logits[r:r + step].float(), dim=-1) for r in range(0, logits.shape[0], step)])
    at = torch.tensor([p[0] for p in picks], dtype=torch.long, device=logits.device)
    tok = torch.tensor([p[1] for p in picks], dtype=torch.long, device=logits.device)
    return logits[at, tok].float() - lse[at]


def loglikelihoods(model, prefix: list[int], contexts: list[list[int]], continuations: list[list[list[int]]],
                   max_tokens: int, multiple: int = 1, pad: int = 0, progress=None) -> list[list[float]]:
    """Per context, the log-likelihood of each of its continuations (the sum over its tokens),
    the contexts being the prompts' tokens after the shared `prefix`. Call under inference_mode."""
    import torch

    with flex_on_cuda(model):
        return _loglikelihoods(model, prefix, contexts, continuations, max_tokens, multiple, pad, progress)


def _loglikelihoods(model, prefix, contexts, continuations, max_tokens, multiple, pad, progress):
    import torch

    device = next(model.parameters()).device
    p_len = len(prefix)
    rows = pack([(c, [cont[:-1] for cont in conts]) for c, conts in zip(contexts, continuations)],
                p_len, max_tokens, multiple, pad)  # a continuation's last token is predicted, never fed
    cache = kv_cache.returned_cache(model(torch.tensor([prefix], device=device), use_cache=True)) if p_len else None
    read = []  # log-probs stay on the device: one read-back at the end, no sync per row
    for row in rows:
        keep, picks = _picks(row, continuations)
        keep_t = kv_cache.to_device((torch.tensor(keep, dtype=torch.long),), device)[0]
        if picks:
            read.append((picks, _row_logprobs(forward_row(model, row, p_len, cache, keep_t), picks)))
        if progress is not None:
            progress.update(len(row.prompts))
    out = [[0.0] * len(conts) for conts in continuations]  # an empty continuation scores 0, as in lm-eval
    if read:
        values = torch.cat([lp for _, lp in read]).cpu().tolist()
        for (_, _, prompt, j), x in zip([p for picks, _ in read for p in picks], values):
            out[prompt][j] += x
    return out


def wanted(device) -> bool:
    """Whether MMLU scores by packing on this device. On a CPU it is 2.93x the padded scorers'
    speed with the same letters (SmolLM2, BENCHMARKS.md). On an H100 the packed eval_mmlu stage
    of Qwen-0.5B (letters, 14,042 questions) took 55.4 s (forward 32.8 s, compiling flex_attention
    for each row shape) against 33 s (forward 21.7 s) for the padded one, so a GPU keeps that."""
    return getattr(device, "type", str(device)) != "cuda"


def row_shape(device) -> tuple[int, int]:
    """Tokens per packed row and the multiple rows are padded to. On a GPU long rows keep it busy
    (flex_attention skips the blocks no one attends to; building the BlockMask evaluates the rule
    over row x (prefix + row), hence not longer) and a multiple of 1024 keeps the compiled kernel
    to a few shapes; on a CPU the dense mask's attention cost grows with the row's square."""
    if getattr(device, "type", str(device)) == "cuda":
        return ROW_TOKENS_GPU, 1024
    return ROW_TOKENS_CPU, 1


ROW_TOKENS_GPU = 8192
ROW_TOKENS_CPU = 1024
