"""The training rows: each Spider example as a prompt-completion pair. The prompt comes from the
same builder the evaluation uses (schema + question in the model's chat template), the completion
is the gold SQL. Packing the rows into sequences is TRL's (`train.packing`, trainer.py)."""

from __future__ import annotations

from pathlib import Path

from ..spider import prompt
from ..spider.data import database_path


def sft_rows(tokenizer, examples: list[dict], spider_root: Path, sample_rows: int, max_prompt_tokens: int) -> list[dict]:
    rows = []
    for ex in examples:
        text, _ = prompt.build_prompt(tokenizer, database_path(spider_root, ex["db_id"]), ex["question"],
                                      sample_rows, max_prompt_tokens)
        rows.append({"prompt": text, "completion": ex["query"]})
    return rows
