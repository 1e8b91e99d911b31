"""Scoring one model on Spider: build the prompts, generate SQL greedily, extract it, score EX."""

from __future__ import annotations

import logging
from pathlib import Path

from .. import TradeoffError
from ..timing import phase
from . import metric, prompt
from .data import database_path, load_split
from ..model.load import merged_where_exact
from .generate import generate

log = logging.getLogger(__name__)


def prompts(tokenizer, examples: list[dict], spider_root: Path, sample_rows: int,
            max_prompt_tokens: int) -> list[str | None]:
    """Each example's prompt, or None where its database is missing."""
    out = []
    for ex in examples:
        db = database_path(spider_root, ex["db_id"])
        out.append(prompt.build_prompt(tokenizer, db, ex["question"], sample_rows, max_prompt_tokens)[0]
                   if db.is_file() else None)
    return out


def score_model(model, tokenizer, examples: list[dict], spider_root: Path, sample_rows: int, max_prompt_tokens: int,
             batch_size: int, max_new_tokens: int, timeout_s: float, keep_distinct: bool,
             workers: int | None, engine: str = "cached") -> tuple[list[dict], dict]:
    """Prediction records (one per example) and the EX summary."""
    with phase("prompts"):
        texts = prompts(tokenizer, examples, spider_root, sample_rows, max_prompt_tokens)
    runnable = [i for i, t in enumerate(texts) if t is not None]
    if examples and not runnable:
        raise TradeoffError(f"{spider_root / 'database'}: none of the {len(examples)} questions' databases is there; "
                            "nothing could be scored")
    if engine == "cached":
        with phase("merge adapter"):
            model = merged_where_exact(model)
    with phase("generate"):
        replies = generate(model, tokenizer, [texts[i] for i in runnable], batch_size, max_new_tokens,
                           engine, groups=[examples[i]["db_id"] for i in runnable])
    raw = dict(zip(runnable, replies))
    predicted = [prompt.extract_sql(raw[i]) if i in raw else "" for i in range(len(examples))]
    with phase("execute SQL"):
        verdicts = metric.score(examples, predicted, spider_root / "database", keep_distinct=keep_distinct,
                                timeout_s=timeout_s, workers=workers)
    records = []
    for i, (ex, v) in enumerate(zip(examples, verdicts)):
        records.append({"index": i, "db_id": ex["db_id"], "question": ex["question"], "gold": ex["query"],
                        "reply": raw.get(i, ""), "sql": predicted[i], "verdict": v["verdict"],
                        "error": v["error"], "left_out": v["left_out"], "hardness": v["hardness"]})
    summary = metric.summarize(verdicts)
    metric.log_left_out(summary)
    return records, summary


def score_with_params(model, tokenizer, spider_root: Path, params: dict) -> tuple[list[dict], dict]:
    """Spider dev EX of the prepared data under `spider_root`, with the prompt and eval_sql
    settings of `params` (as the eval_sql and curve stages score): records and summary."""
    p = params["eval_sql"]
    examples = load_split(spider_root, "dev")[: p["limit"] or None]
    return score_model(model, tokenizer, examples, spider_root, params["prompt"]["sample_rows"],
                       params["prompt"]["max_prompt_tokens"], p["batch_size"], p["max_new_tokens"],
                       p["timeout_s"], p["keep_distinct"], p["workers"], p["engine"])
