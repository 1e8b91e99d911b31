"""MMLU's cloze formulation as lm-evaluation-harness's `mmlu_continuation` task scores it: the
log-likelihood of each choice's text as the continuation of the question (no letters shown), the
prediction the choice with the highest sum (`acc`) or the highest sum per character (`acc_norm`).

Tokens exactly as lm-eval's `_encode_pair`: the context is tokenized alone, the continuation is
what tokenizing context + continuation adds after it. Speed without changing a score: a subject's
header and shots are run once (their cache reused, as for letters), and each question's context
and its four continuations are packed as a small tree (the continuations as branches that see
the context, not each other) with the other questions, without padding (model/packing.py; on a
GPU the padded path of padded.py).
"""

from __future__ import annotations

from ..model import kv_cache, packing
from . import padded
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


def score_contexts(model, tokenizer, contexts: list[str], choices: list[tuple[str, ...]], batch_size: int = 16,
                   add_bos: bool = False, progress=None) -> list[list[float]]:
    """Log-likelihood of each of the four continuations ' {choice}' after each context. The
    contexts' shared prefix (a subject's header and shots) runs once; each context and its four
    continuations, as branches, are packed without padding (model/packing.py) on a CPU, and
    left-padded in batches of `batch_size` on a GPU (padded.py; packing.wanted says why)."""
    import torch

    with phase("tokenize"):
        ctx, conts = encode_pairs(tokenizer, contexts, choices, add_bos)
    p_len = min(kv_cache.common_prefix_len(ctx), min(len(e) for e in ctx) - 1)
    device = next(model.parameters()).device
    max_tokens, multiple = packing.row_shape(device)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    with torch.inference_mode(), phase("forward"):
        if not packing.wanted(device):
            return padded.continuation_logliks(model, ctx, conts, p_len, batch_size, pad, progress)
        return packing.loglikelihoods(model, ctx[0][:p_len], [c[p_len:] for c in ctx], conts, max_tokens, multiple,
                                      pad, progress)


def predictions(lls: list[float], choices: tuple[str, ...]) -> tuple[str, str]:
    """lm-eval's two cloze answers: the highest log-likelihood (acc), and the highest per
    character of the choice's text (acc_norm); the first on a tie, as numpy's argmax."""
    norm = [ll / max(len(c), 1) for ll, c in zip(lls, choices)]
    best = max(range(4), key=lambda j: lls[j])
    best_norm = max(range(4), key=lambda j: norm[j])
    return LETTERS[best], LETTERS[best_norm]

