"""Spider evaluation of one model: build prompts, generate SQL greedily, extract it, score EX."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from . import prompts, sql_eval
from .spider_data import database_path

log = logging.getLogger(__name__)


def generate(model, tokenizer, texts: list[str], batch_size: int, max_new_tokens: int) -> tuple[list[str], list[float]]:
    """Greedy replies (special tokens stripped) and seconds per example, batched by prompt length."""
    import torch
    from tqdm.auto import tqdm

    tokenizer.padding_side = "left"  # decoder-only generation continues from the right edge
    device = next(model.parameters()).device
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    replies: list[str] = [""] * len(texts)
    seconds: list[float] = [0.0] * len(texts)
    stop_ids = [i for i in {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")}
                if isinstance(i, int) and i >= 0 and i != tokenizer.unk_token_id]
    with torch.inference_mode(), tqdm(total=len(texts), desc="generate SQL", unit="q") as bar:
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True,
                              add_special_tokens=False).to(device)
            t0 = time.monotonic()
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                 eos_token_id=stop_ids, pad_token_id=tokenizer.pad_token_id)
            dt = time.monotonic() - t0
            new = out[:, batch["input_ids"].shape[1]:]
            for row, i in enumerate(idx):
                replies[i] = tokenizer.decode(new[row], skip_special_tokens=True)
                seconds[i] = dt / len(idx)
            bar.update(len(idx))
    return replies, seconds


def evaluate(model, tokenizer, examples: list[dict], spider_root: Path, sample_rows: int, max_prompt_tokens: int,
             batch_size: int, max_new_tokens: int, timeout_s: float, keep_distinct: bool,
             workers: int | None) -> tuple[list[dict], dict]:
    """Prediction records (one per example) and the EX summary."""
    texts = []
    for ex in examples:
        db = database_path(spider_root, ex["db_id"])
        texts.append(prompts.build_prompt(tokenizer, db, ex["question"], sample_rows, max_prompt_tokens)[0]
                     if db.is_file() else None)
    runnable = [i for i, t in enumerate(texts) if t is not None]
    replies, seconds = generate(model, tokenizer, [texts[i] for i in runnable], batch_size, max_new_tokens)
    raw = {i: (r, s) for i, r, s in zip(runnable, replies, seconds)}
    predicted = [prompts.extract_sql(raw[i][0]) if i in raw else "" for i in range(len(examples))]
    verdicts = sql_eval.score(examples, predicted, spider_root / "database", keep_distinct=keep_distinct,
                              timeout_s=timeout_s, workers=workers)
    records = []
    for i, (ex, v) in enumerate(zip(examples, verdicts)):
        records.append({"index": i, "db_id": ex["db_id"], "question": ex["question"], "gold": ex["query"],
                        "reply": raw.get(i, ("", 0.0))[0], "sql": predicted[i], "verdict": v["verdict"],
                        "error": v["error"], "left_out": v["left_out"], "hardness": v["hardness"],
                        "seconds": round(raw.get(i, ("", 0.0))[1], 4)})
    summary = sql_eval.summarize(verdicts)
    sql_eval.log_left_out(summary)
    return records, summary
