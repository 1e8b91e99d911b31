"""MMLU as lm-evaluation-harness's `mmlu` task scores it, with one forward pass per question.

Prompt (lm-eval's original MMLU format): a header naming the subject, k shots taken from the
first rows of the subject's dev split, then the question; the prediction is the letter whose
continuation (" A" ... " D") has the highest log-likelihood after "Answer:".

Speed without changing a score: all prompts of a subject share their header and shots, so that
common token prefix is run once and its key/value cache reused for every question; the rest
of each prompt is left-padded with explicit position ids, and only the last position's logits
are computed. A question therefore sees exactly the tokens it would see alone.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from . import TradeoffError, atomic

log = logging.getLogger(__name__)

LETTERS = "ABCD"

# The original MMLU release's subject -> category map (Hendrycks et al., categories.py).
CATEGORY_MAP = {
    "abstract_algebra": "STEM", "anatomy": "other", "astronomy": "STEM", "business_ethics": "other",
    "clinical_knowledge": "other", "college_biology": "STEM", "college_chemistry": "STEM",
    "college_computer_science": "STEM", "college_mathematics": "STEM", "college_medicine": "other",
    "college_physics": "STEM", "computer_security": "STEM", "conceptual_physics": "STEM",
    "econometrics": "social sciences", "electrical_engineering": "STEM", "elementary_mathematics": "STEM",
    "formal_logic": "humanities", "global_facts": "other", "high_school_biology": "STEM",
    "high_school_chemistry": "STEM", "high_school_computer_science": "STEM",
    "high_school_european_history": "humanities", "high_school_geography": "social sciences",
    "high_school_government_and_politics": "social sciences", "high_school_macroeconomics": "social sciences",
    "high_school_mathematics": "STEM", "high_school_microeconomics": "social sciences",
    "high_school_physics": "STEM", "high_school_psychology": "social sciences", "high_school_statistics": "STEM",
    "high_school_us_history": "humanities", "high_school_world_history": "humanities", "human_aging": "other",
    "human_sexuality": "social sciences", "international_law": "humanities", "jurisprudence": "humanities",
    "logical_fallacies": "humanities", "machine_learning": "STEM", "management": "other", "marketing": "other",
    "medical_genetics": "other", "miscellaneous": "other", "moral_disputes": "humanities",
    "moral_scenarios": "humanities", "nutrition": "other", "philosophy": "humanities", "prehistory": "humanities",
    "professional_accounting": "other", "professional_law": "humanities", "professional_medicine": "other",
    "professional_psychology": "social sciences", "public_relations": "social sciences",
    "security_studies": "social sciences", "sociology": "social sciences", "us_foreign_policy": "social sciences",
    "virology": "other", "world_religions": "humanities",
}
# lm-evaluation-harness differs in one place: anatomy counts as STEM there.
CATEGORY_MAP_LM_EVAL = {**CATEGORY_MAP, "anatomy": "STEM"}


def category_map(variant: str = "original") -> dict[str, str]:
    return CATEGORY_MAP_LM_EVAL if variant == "lm_eval" else CATEGORY_MAP


@dataclass(frozen=True)
class Question:
    subject: str
    index: int  # row in the subject's test file
    question: str
    choices: tuple[str, str, str, str]
    answer: str  # A-D


# --------------------------------------------------------------------------- loading


def read_csv(path: Path, subject: str) -> list[Question]:
    """One MMLU CSV: no header, question, A, B, C, D, answer letter. Read with the csv module and
    newline='' so that quoted line breaks, CRLF endings and U+0085 stay inside their fields."""
    rows = []
    try:
        with open(path, encoding="utf-8", newline="") as f:
            for i, row in enumerate(csv.reader(f)):
                if len(row) != 6:
                    raise TradeoffError(f"{path}: row {i + 1} has {len(row)} columns; MMLU rows have 6 "
                                        "(question, A, B, C, D, answer)")
                answer = row[5].strip()
                if answer not in LETTERS:
                    raise TradeoffError(f"{path}: row {i + 1} has answer {row[5]!r}; expected one of A, B, C, D")
                rows.append(Question(subject, i, row[0], tuple(row[1:5]), answer))
    except UnicodeDecodeError as e:
        raise TradeoffError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    return rows


def load_csv_dir(root: str | Path, split: str = "test") -> tuple[dict[str, list[Question]], dict[str, list[Question]]]:
    """(questions of `split`, dev few-shot pool) by subject, from the original CSV layout."""
    root = Path(root)
    folder = root / split
    if not folder.is_dir():
        raise TradeoffError(f"{root}: no {split}/ folder; expected MMLU's layout dev/, val/, test/ of CSV files")
    questions, shots = {}, {}
    suffix = f"_{split}.csv"
    for path in sorted(folder.glob(f"*{suffix}")):
        subject = path.name[: -len(suffix)]
        rows = read_csv(path, subject)
        if not rows:
            raise TradeoffError(f"{path}: subject {subject} has no questions")
        questions[subject] = rows
        dev = root / "dev" / f"{subject}_dev.csv"
        shots[subject] = read_csv(dev, subject) if dev.is_file() else []
    if not questions:
        raise TradeoffError(f"{folder}: no *{suffix} files")
    return questions, shots


def load_hf(name: str = "cais/mmlu") -> tuple[dict[str, list[Question]], dict[str, list[Question]]]:
    """The same from a Hugging Face dataset with question / subject / choices / answer (0-3) columns."""
    import datasets

    try:
        ds = datasets.load_dataset(name, "all")
    except Exception as e:  # the hub client raises many kinds; all mean "not reachable here"
        raise TradeoffError(f"params.yaml: data.mmlu=hf:{name}: cannot load the dataset ({type(e).__name__}); "
                            "offline? point data.mmlu at a folder of MMLU CSVs instead") from None

    def split(rows) -> dict[str, list[Question]]:
        out: dict[str, list[Question]] = {}
        for r in rows:
            qs = out.setdefault(r["subject"], [])
            qs.append(Question(r["subject"], len(qs), r["question"], tuple(r["choices"]), LETTERS[int(r["answer"])]))
        return out

    return split(ds["test"]), split(ds["dev"])


def write_csv_dir(questions: dict[str, list[Question]], shots: dict[str, list[Question]], out: Path) -> None:
    """Write the CSV layout (test/ and dev/), the form the pipeline's later stages read."""
    def text(rows):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        for q in rows:
            w.writerow([q.question, *q.choices, q.answer])
        return buf.getvalue()

    for subject, rows in questions.items():
        atomic.write_text(out / "test" / f"{subject}_test.csv", text(rows))
        atomic.write_text(out / "dev" / f"{subject}_dev.csv", text(shots.get(subject, [])))


def load_source(source: str | Path, seed: int = 0, split: str = "test"):
    """(questions, dev shots) from `sample` (the project's own questions), `hf:<dataset>` or a
    folder of MMLU CSVs."""
    import tempfile

    source = str(source)
    if source == "sample":
        from .sample_mmlu import write_sample_mmlu

        with tempfile.TemporaryDirectory() as tmp:
            write_sample_mmlu(tmp, seed)
            return load_csv_dir(tmp, split)
    if source.startswith("hf:"):
        return load_hf(source[3:])
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise TradeoffError(f"{source}: no such folder; MMLU data is `sample`, hf:cais/mmlu or a folder of CSVs")
    return load_csv_dir(folder, split)


def select(questions: dict[str, list[Question]], categories: dict[str, str], keep: list[str] | None = None,
           limit: int | None = None) -> dict[str, list[Question]]:
    """The subjects of the categories in `keep` (all when None), first `limit` questions of each."""
    return {s: qs[:limit] if limit else qs for s, qs in questions.items()
            if keep is None or categories.get(s, "other") in keep}


# --------------------------------------------------------------------------- prompts


def header(subject: str) -> str:
    return f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n"


def question_text(q: Question) -> str:
    options = "".join(f"\n{letter}. {choice}" for letter, choice in zip(LETTERS, q.choices))
    return f"{q.question.strip()}{options}\nAnswer:"


def build_prompt(q: Question, shots: list[Question], k: int) -> str:
    """lm-eval's context: header, then k shots each followed by ' {answer}\\n\\n', then the question."""
    return header(q.subject) + "".join(f"{question_text(s)} {s.answer}\n\n" for s in shots[:k]) + question_text(q)


def apply_chat(tokenizer, prompt: str) -> str:
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)


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


# --------------------------------------------------------------------------- scoring


def _common_prefix_len(seqs: list[list[int]]) -> int:
    first = seqs[0]
    n = min(len(s) for s in seqs)
    for i in range(n):
        t = first[i]
        if any(s[i] != t for s in seqs):
            return i
    return n


def _cache_kwarg(model) -> str:
    """transformers renamed `past_key_values` to `cache` (5.2x); accept both."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # look through PEFT
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def _returned_cache(output):
    return output.cache if getattr(output, "cache", None) is not None else output.past_key_values


def _expand_cache(cache, batch: int):
    from transformers import DynamicCache

    out = DynamicCache()
    for i, layer in enumerate(cache.layers):
        out.update(layer.keys.expand(batch, -1, -1, -1).contiguous(),
                   layer.values.expand(batch, -1, -1, -1).contiguous(), i)
    return out


def score_prompts(model, tokenizer, prompts: list[str], batch_size: int = 16, add_bos: bool = False,
                  progress=None) -> list[list[float]]:
    """Log-likelihood of " A".." D" after each prompt. Prompts that share a prefix (a subject's
    header and shots) reuse its key/value cache."""
    import torch

    letters = torch.tensor(letter_token_ids(tokenizer))
    enc = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    if add_bos and tokenizer.bos_token_id is not None:
        enc = [[tokenizer.bos_token_id] + e for e in enc]
    # lm-eval scores the continuation as whole[len(context):]; check that " A" is one token there
    p_len = min(_common_prefix_len(enc), min(len(e) for e in enc) - 1)
    device = next(model.parameters()).device
    prefix = torch.tensor([enc[0][:p_len]], device=device)
    out: list[list[float] | None] = [None] * len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: -len(enc[i]))
    with torch.inference_mode():
        cache_kw = _cache_kwarg(model)
        prefix_cache = _returned_cache(model(prefix, use_cache=True)) if p_len else None
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            suffixes = [enc[i][p_len:] for i in idx]
            width = max(len(s) for s in suffixes)
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), p_len + width), dtype=torch.long)
            mask[:, :p_len] = 1
            pos = torch.full((len(idx), width), p_len, dtype=torch.long)
            for row, s in enumerate(suffixes):  # left padding: every prompt ends at the last column
                ids[row, width - len(s):] = torch.tensor(s)
                mask[row, p_len + width - len(s):] = 1
                pos[row, width - len(s):] = torch.arange(p_len, p_len + len(s))
            kwargs = {}
            if prefix_cache is not None:
                kwargs[cache_kw] = _expand_cache(prefix_cache, len(idx))
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=pos.to(device),
                           use_cache=prefix_cache is not None, logits_to_keep=1, **kwargs).logits[:, -1, :]
            logprobs = torch.log_softmax(logits.float(), dim=-1)[:, letters.to(device)].cpu().tolist()
            for i, lp in zip(idx, logprobs):
                out[i] = lp
            if progress is not None:
                progress.update(len(idx))
    return out  # type: ignore[return-value]


def fit_shots(tokenizer, q: Question, shots: list[Question], k: int, max_tokens: int | None,
              chat: bool = False) -> tuple[str, int]:
    """The prompt with as many of the k shots as fit the model's context, and that number."""
    for n in range(k, -1, -1):
        prompt = build_prompt(q, shots, n)
        if chat:
            prompt = apply_chat(tokenizer, prompt)
        # a token holds at least one byte, so a prompt shorter in bytes than the context fits
        # without tokenizing it (the common case; saves most of the tokenizer's time)
        if max_tokens is None or n == 0 or len(prompt.encode()) < max_tokens - 1 or \
                len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) < max_tokens:
            return prompt, n
    raise AssertionError("unreachable")


def evaluate(model, tokenizer, questions: dict[str, list[Question]], shots: dict[str, list[Question]], k: int,
             batch_size: int = 16, chat: bool = False, max_tokens: int | None = None,
             add_bos: bool = False) -> list[dict]:
    """One record per question: subject, index, gold, predicted letter, the four log-likelihoods,
    and how many shots were dropped to fit the context."""
    from tqdm.auto import tqdm

    records = []
    total = sum(len(v) for v in questions.values())
    with tqdm(total=total, desc="MMLU", unit="q") as bar:
        for subject, qs in questions.items():
            fitted = [fit_shots(tokenizer, q, shots.get(subject, []), k, max_tokens, chat) for q in qs]
            scores = score_prompts(model, tokenizer, [p for p, _ in fitted], batch_size, add_bos, progress=bar)
            for q, (_, used), lls in zip(qs, fitted, scores):
                if not all(math.isfinite(x) for x in lls):
                    # max() over four NaNs would answer A every time: a broken model, not a result
                    raise TradeoffError(f"MMLU {subject} question {q.index}: the model's log-likelihoods are not "
                                        f"finite ({lls}); its weights or its arithmetic are broken")
                pred = LETTERS[max(range(4), key=lambda j: lls[j])]
                records.append({"subject": subject, "index": q.index, "gold": q.answer, "pred": pred,
                                "loglik": [round(x, 6) for x in lls], "shots_dropped": k - used})
    return records


def summarize(records: list[dict], categories: dict[str, str]) -> dict:
    """Accuracy per subject, per category (question-weighted, as lm-eval aggregates), the macro
    average over subjects and overall, with question counts."""
    by_subject: dict[str, list[int]] = {}
    for r in records:
        by_subject.setdefault(r["subject"], []).append(int(r["pred"] == r["gold"]))
    subjects = {s: {"acc": sum(v) / len(v), "n": len(v), "category": categories.get(s, "other")}
                for s, v in sorted(by_subject.items())}
    cats: dict[str, list[int]] = {}
    for s, v in by_subject.items():
        cats.setdefault(categories.get(s, "other"), []).extend(v)
    n = sum(len(v) for v in by_subject.values())
    return {
        "acc": sum(sum(v) for v in by_subject.values()) / n if n else None,
        "macro_acc": sum(x["acc"] for x in subjects.values()) / len(subjects) if subjects else None,
        "n": n,
        "shots_dropped": sum(r.get("shots_dropped", 0) > 0 for r in records),
        "categories": {c: {"acc": sum(v) / len(v), "n": len(v)} for c, v in sorted(cats.items())},
        "subjects": subjects,
    }


def score(model, tokenizer, questions: dict[str, list[Question]], shots: dict[str, list[Question]], k: int,
          categories: dict[str, str], batch_size: int = 16, chat: bool = False) -> tuple[list[dict], dict]:
    """Records and summary of one model, with lm-eval's settings for this model (context
    length, BOS for Gemma)."""
    records = evaluate(model, tokenizer, questions, shots, k, batch_size, chat,
                       max_tokens=getattr(model.config, "max_position_embeddings", None),
                       add_bos=wants_bos(model.config))
    summary = summarize(records, categories)
    summary["shots"] = k
    return records, summary
