"""Scoring one model on Spider: build the prompts (prompt.py), generate SQL greedily (generate.py),
extract it, score EX (score.py). `evaluate` is the entry the eval_sql and curve stages call, with
the same signature as mmlu/task.py's."""

from __future__ import annotations

import logging
from pathlib import Path

from .. import TradeoffError
from ..config import EvalSqlParams, Params, PromptParams
from ..timing import phase
from . import prompt, score
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


def score_model(model, tokenizer, examples: list[dict], spider_root: Path, prompt_params: PromptParams,
                eval_params: EvalSqlParams) -> tuple[list[dict], dict]:
    """Prediction records (one per example) and the EX summary; eval_params.limit is the caller's."""
    with phase("prompts"):
        texts = prompts(tokenizer, examples, spider_root, prompt_params.sample_rows, prompt_params.max_prompt_tokens)
    runnable = [i for i, t in enumerate(texts) if t is not None]
    if examples and not runnable:
        raise TradeoffError(f"{spider_root / 'database'}: none of the {len(examples)} questions' databases is there; "
                            "nothing could be scored")
    if eval_params.engine == "cached":
        with phase("merge adapter"):
            model = merged_where_exact(model)
    with phase("generate"):
        replies = generate(model, tokenizer, [texts[i] for i in runnable], eval_params.batch_size,
                           eval_params.max_new_tokens, eval_params.engine, groups=[examples[i]["db_id"] for i in runnable])
    raw = dict(zip(runnable, replies))
    predicted = [prompt.extract_sql(raw[i]) if i in raw else "" for i in range(len(examples))]
    with phase("execute SQL"):
        verdicts = score.score(examples, predicted, spider_root / "database", keep_distinct=eval_params.keep_distinct,
                               timeout_s=eval_params.timeout_s, workers=eval_params.workers)
    records = []
    for i, (ex, v) in enumerate(zip(examples, verdicts)):
        records.append({"index": i, "db_id": ex["db_id"], "question": ex["question"], "gold": ex["query"],
                        "reply": raw.get(i, ""), "sql": predicted[i], "verdict": v["verdict"],
                        "error": v["error"], "left_out": v["left_out"], "hardness": v["hardness"]})
    summary = score.summarize(verdicts)
    score.log_left_out(summary)
    return records, summary


def evaluate(model, tokenizer, spider_root: Path, params: Params) -> tuple[list[dict], dict]:
    """Spider dev EX of the prepared data under `spider_root`, with the prompt and eval_sql
    settings of `params` (as the eval_sql and curve stages score): records and summary."""
    examples = load_split(spider_root, "dev")[: params.eval_sql.limit or None]
    return score_model(model, tokenizer, examples, spider_root, params.prompt, params.eval_sql)
