"""Scoring one model on the prepared data with the params' settings: what the eval_sql,
eval_mmlu and curve stages share, so a checkpoint on the curve is scored exactly like an arm."""

from __future__ import annotations

import json
from pathlib import Path

from . import mmlu, spider_data, text_to_sql
from .models import load_for_eval

PREPARED = Path("data/prepared")


def load(params: dict, adapter: str | Path | None = None):
    """(model, tokenizer) of the prepared base model, with the adapter when given."""
    identity = json.loads((PREPARED / "model.json").read_text())
    return load_for_eval(identity, params["model"]["dtype"], adapter)


def score_sql(model, tokenizer, params: dict) -> tuple[list[dict], dict]:
    """Spider dev EX: prediction records and summary."""
    root, p = PREPARED / "spider", params["eval_sql"]
    examples = spider_data.load_split(root, "dev")[: p["limit"] or None]
    return text_to_sql.evaluate(model, tokenizer, examples, root, params["prompt"]["sample_rows"],
                                params["prompt"]["max_prompt_tokens"], p["batch_size"], p["max_new_tokens"],
                                p["timeout_s"], p["keep_distinct"], p["workers"])


def score_mmlu(model, tokenizer, params: dict) -> tuple[list[dict], dict]:
    """MMLU: per-question records and summary, for the categories and limit in params."""
    p = params["eval_mmlu"]
    categories = mmlu.category_map(p["category_map"])
    questions, shots = mmlu.load_csv_dir(PREPARED / "mmlu", "test")
    keep = None if p["categories"] == "all" else p["categories"]
    questions = mmlu.select(questions, categories, keep, p["limit_per_subject"])
    return mmlu.score(model, tokenizer, questions, shots, p["shots"], categories, p["batch_size"],
                      p["chat_template"])
