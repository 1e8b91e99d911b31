"""MMLU's cloze formulation as lm-evaluation-harness's `mmlu_continuation` task scores it: the
log-likelihood of each choice's text as the continuation of the question (no letters shown), the
prediction the choice with the highest sum (`acc`) or the highest sum per character (`acc_norm`).

Tokens exactly as lm-eval's `_encode_pair`: the context is tokenized alone, the continuation is
what tokenizing context + continuation adds after it. Speed without changing a score: a subject's
header and shots are run once (their cache reused, as for letters), each question's context once
more, and its four continuations then read that cache together in one forward pass.
"""

from __future__ import annotations

from ..model import kv_cache
from ..timing import phase
from .prompt import build_cloze_prompt, fit_shots
from .question import LETTERS, Question


def fit_cloze(tokenizer, q: Question, shots: list[Question], k: int, max_tokens: int | None,
              chat: bool = False) -> tuple[str, int]:
    """The cloze context with as many shots as leave room for its longest continuation."""
    longest = " " + max(q.choices, key=len)
    full, used = fit_shots(tokenizer, q, shots, k, max_tokens, chat,
                           build=lambda q_, s, n: build_cloze_prompt(q_, s, n) + longest)
    return full[: len(full) - len(longest)], used


def encode_pairs(tokenizer, contexts: list[str], choices: list[tuple[str, ...]],
                 add_bos: bool = False) -> tuple[list[list[int]], list[list[list[int]]]]:
    """Each context's tokens and its choices' continuation tokens, by lm-eval's rule: the
    continuation ' {choice}' is whatever tokenizing context + continuation adds after the
    context's own tokens."""
    bos = [tokenizer.bos_token_id] if add_bos and tokenizer.bos_token_id is not None else []
    ctx = [bos + e for e in tokenizer(contexts, add_special_tokens=False)["input_ids"]]
    wholes = tokenizer([c + " " + choice for c, cs in zip(contexts, choices) for choice in cs],
                       add_special_tokens=False)["input_ids"]
    conts = []
    for i, c in enumerate(ctx):
        conts.append([(bos + wholes[4 * i + j])[len(c):] for j in range(4)])
    return ctx, conts


def _question_pass(model, ids_rows: list[list[int]], p_len: int, prefix_cache, pad: int):
    """Run each question's context after the shared prefix (left-padded, explicit positions);
    return the last position's log-probabilities, the cache, the attention mask and each row's
    next position."""
    import torch

    device = next(model.parameters()).device
    n = len(ids_rows)
    ids, mask, pos = kv_cache.left_padded(ids_rows, p_len, pad)
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
    kwargs = {kv_cache.cache_kwarg(model): kv_cache.repeat_rows(cache, 4, rows_of)}
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


def predictions(lls: list[float], choices: tuple[str, ...]) -> tuple[str, str]:
    """lm-eval's two cloze answers: the highest log-likelihood (acc), and the highest per
    character of the choice's text (acc_norm); the first on a tie, as numpy's argmax."""
    norm = [ll / max(len(c), 1) for ll, c in zip(lls, choices)]
    best = max(range(4), key=lambda j: lls[j])
    best_norm = max(range(4), key=lambda j: norm[j])
    return LETTERS[best], LETTERS[best_norm]

