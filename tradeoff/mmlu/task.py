"""Scoring one model on MMLU as lm-evaluation-harness's `mmlu` task scores it, with one forward pass
per question: prompts (prompt.py, cloze.py) -> the model's log-likelihoods -> accuracy (score.py).
`evaluate` is the entry the eval_mmlu and curve stages call, with the same signature as
spider/task.py's.

Prompt (lm-eval's original MMLU format): a header naming the subject, k shots taken from the
first rows of the subject's dev split, then the question; the prediction is the letter whose
continuation (" A" ... " D") has the highest log-likelihood after "Answer:".

Speed without changing a score: all prompts of a subject share their header and shots, so that
common token prefix is run once and its key/value cache reused for every question; the rest
of each prompt is, on a CPU, packed end to end with the others, with explicit position ids and a
mask that lets a token see only the prefix and its own question (model/packing.py), or, on a GPU,
left-padded in batches (padded.py), and only each question's last position reaches the output
layer. A question therefore sees exactly the tokens it would see alone.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from .. import TradeoffError
from ..config import Params
from ..timing import phase
from .data import load_csv_dir, select
from ..model import kv_cache, packing
from ..model.load import merged_where_exact
from . import cloze, padded
from .score import check_shots, summarize
from .prompt import fit_shots
from .question import LETTERS, Question, category_map

log = logging.getLogger(__name__)


def wants_bos(config) -> bool:
    """lm-eval prepends BOS only for Gemma models, whose outputs degrade without it."""
    return "gemma" in str(getattr(config, "model_type", "")).lower()


def letter_token_ids(tokenizer) -> list[int]:
    """Token ids of " A" ... " D"; each must be one token for the one-pass scoring."""
    ids = []
    for letter in LETTERS:
        enc = tokenizer(f" {letter}", add_special_tokens=False)["input_ids"]
        if len(enc) != 1:
            raise TradeoffError(f"tokenizer splits ' {letter}' into {len(enc)} tokens; one-pass scoring needs one")
        ids.append(enc[0])
    return ids


def score_prompts(model, tokenizer, prompts: list[str], batch_size: int = 16, add_bos: bool = False,
                  progress=None) -> list[list[float]]:
    """Log-likelihood of " A".." D" after each prompt. The prompts' shared prefix (a subject's
    header and shots) runs once; on a CPU their remaining tokens are packed without padding
    (model/packing.py), on a GPU left-padded in batches of `batch_size` (padded.py; packing.wanted
    says why)."""
    import torch

    device = next(model.parameters()).device
    letters = [[t] for t in letter_token_ids(tokenizer)]
    with phase("tokenize"):
        enc = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    if add_bos and tokenizer.bos_token_id is not None:
        enc = [[tokenizer.bos_token_id] + e for e in enc]
    # lm-eval scores the continuation as whole[len(context):]; check that " A" is one token there
    p_len = min(kv_cache.common_prefix_len(enc), min(len(e) for e in enc) - 1)
    max_tokens, multiple = packing.row_shape(device)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    with torch.inference_mode(), phase("forward"):
        if not packing.wanted(device):
            return padded.letter_logprobs(model, enc, p_len, [t for [t] in letters], batch_size, pad, progress)
        return packing.loglikelihoods(model, enc[0][:p_len], [e[p_len:] for e in enc], [letters] * len(enc),
                                      max_tokens, multiple, pad, progress)


def _checked(lls: list[float], subject: str, q: Question) -> list[float]:
    if not all(math.isfinite(x) for x in lls):
        # max() over four NaNs would answer A every time: a broken model, not a result
        raise TradeoffError(f"MMLU {subject} question {q.index}: the model's log-likelihoods are not "
                            f"finite ({lls}); its weights or its arithmetic are broken")
    return lls


def _letters(model, tokenizer, subject, qs, shots, k, batch_size, chat, max_tokens, add_bos, bar) -> list[dict]:
    with phase("prompts"):
        fitted = [fit_shots(tokenizer, q, shots, k, max_tokens, chat) for q in qs]
    scores = score_prompts(model, tokenizer, [p for p, _ in fitted], batch_size, add_bos, progress=bar)
    return [{"pred": LETTERS[max(range(4), key=lambda j: lls[j])], "loglik": [round(x, 6) for x in lls],
             "shots_dropped": k - used}
            for q, (_, used), lls in zip(qs, fitted, (_checked(x, subject, q) for x, q in zip(scores, qs)))]


def _cloze(model, tokenizer, subject, qs, shots, k, batch_size, chat, max_tokens, add_bos, bar) -> list[dict]:
    with phase("prompts"):
        fitted = [cloze.fit_cloze(tokenizer, q, shots, k, max_tokens, chat) for q in qs]
    scores = cloze.score_contexts(model, tokenizer, [p for p, _ in fitted], [q.choices for q in qs], batch_size,
                                  add_bos, progress=bar)
    out = []
    for q, (_, used), lls in zip(qs, fitted, scores):
        pred, pred_norm = cloze.predictions(_checked(lls, subject, q), q.choices)
        out.append({"cloze_pred": pred, "cloze_norm_pred": pred_norm, "cloze_loglik": [round(x, 6) for x in lls],
                    "cloze_shots_dropped": k - used})
    return out


def score_questions(model, tokenizer, questions: dict[str, list[Question]], shots: dict[str, list[Question]], k: int,
                    batch_size: int = 16, chat: bool = False, max_tokens: int | None = None,
                    add_bos: bool = False, fmt: str = "letters") -> list[dict]:
    """One record per question: subject, index, gold, and per format scored (`fmt`: letters,
    cloze or both) the predicted letter(s), the four log-likelihoods and how many shots were
    dropped to fit the context. Letters: pred, loglik, shots_dropped; cloze: cloze_pred (acc),
    cloze_norm_pred (acc_norm), cloze_loglik, cloze_shots_dropped."""
    from tqdm.auto import tqdm

    scorers = {"letters": [_letters], "cloze": [_cloze], "both": [_letters, _cloze]}[fmt]
    records = []
    total = sum(len(v) for v in questions.values()) * len(scorers)
    with tqdm(total=total, desc=f"MMLU ({fmt})", unit="q") as bar:
        for subject, qs in questions.items():
            parts = [scorer(model, tokenizer, subject, qs, shots.get(subject, []), k, batch_size, chat, max_tokens,
                            add_bos, bar) for scorer in scorers]
            for q, *fields in zip(qs, *parts):
                record = {"subject": subject, "index": q.index, "gold": q.answer}
                for f in fields:
                    record.update(f)
                records.append(record)
    return records


def score_model(model, tokenizer, questions: dict[str, list[Question]], shots: dict[str, list[Question]], k: int,
                categories: dict[str, str], batch_size: int = 16, chat: bool = False,
                fmt: str = "letters") -> tuple[list[dict], dict]:
    """Records and summary of one model, with lm-eval's settings for this model (context
    length, BOS for Gemma)."""
    check_shots(questions, shots, k)
    with phase("merge adapter"):
        model = merged_where_exact(model)
    records = score_questions(model, tokenizer, questions, shots, k, batch_size, chat,
                       max_tokens=getattr(model.config, "max_position_embeddings", None),
                       add_bos=wants_bos(model.config), fmt=fmt)
    summary = summarize(records, categories)
    summary["shots"] = k
    return records, summary


def evaluate(model, tokenizer, mmlu_root: Path, params: Params) -> tuple[list[dict], dict]:
    """Records and summary for the test questions under `mmlu_root` (the CSV layout), with the
    categories, limit, shots and batch of params.eval_mmlu (as the eval_mmlu and curve stages score)."""
    p = params.eval_mmlu
    categories = category_map(p.category_map)
    with phase("read data"):
        questions, shots = load_csv_dir(mmlu_root, "test")
    keep = None if p.categories == "all" else list(p.categories)  # a list, as select's message shows it
    questions = select(questions, categories, keep, p.limit_per_subject)
    return score_model(model, tokenizer, questions, shots, p.shots, categories, batch_size=p.batch_size,
                       chat=p.chat_template, fmt=p.format)
