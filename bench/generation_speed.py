"""Benchmark: generating the Spider dev replies with the cached engine (each database's schema
prefix run once, each row dropped once its SQL is final, a LoRA adapter merged in memory in float32) beside
transformers' `generate` (the plain engine, the reference), on the same prompts in one run, and
what the replies of each score: EX, how many extracted SQL differ, and for each difference the
logit margin between the two best tokens where the replies part (a near-tie, or a real change).

    python bench/generation_speed.py --data data/prepared [--adapter adapters/exp1]
        [--params params.yaml] [--plain-batch 16] [--cached-batch 64] [--max-new-tokens 64] [--out F]

Each engine first runs once on a few prompts (warm-up), then is timed on all of them.
"""

import argparse
import json
import logging
import os
import time
from pathlib import Path

import torch

from tradeoff.config import load_params
from tradeoff.model.load import merged_where_exact, load_prepared
from tradeoff.spider import prompt, score as spider_score, task
from tradeoff.spider.data import examples_with_database
from tradeoff.spider.generate import generate, generate_cached


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn):
    sync()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    t0 = time.monotonic()
    out = fn()
    sync()
    return out, time.monotonic() - t0


def peak_gb() -> float | None:
    """The GPU memory the last timed call peaked at (weights included), in GB."""
    return torch.cuda.max_memory_allocated() / 1e9 if torch.cuda.is_available() else None


def reply_tokens(tokenizer, replies):
    return sum(len(tokenizer(r, add_special_tokens=False)["input_ids"]) for r in replies)


def parting_margin(model, tokenizer, text: str, a: str, b: str) -> dict:
    """Where replies a (plain) and b (cached) part, token by token: the common head, each side's next
    characters, and under `model` after prompt + the common tokens, the logit of a's next token minus
    b's (how near a tie the choice was; 0 is an exact tie) and the gap between the two best tokens.
    When one reply ends there (end of turn, or the SQL stop rule), there is no token to compare."""
    ta = tokenizer(a, add_special_tokens=False)["input_ids"]
    tb = tokenizer(b, add_special_tokens=False)["input_ids"]
    k = next((i for i, (x, y) in enumerate(zip(ta, tb)) if x != y), min(len(ta), len(tb)))
    ids = tokenizer(text, add_special_tokens=False)["input_ids"] + ta[:k]
    with torch.inference_mode():
        logits = model(torch.tensor([ids], device=model.device)).logits[0, -1].float()
    top = logits.topk(2).values.tolist()
    ended = k >= len(ta) or k >= len(tb)
    return {"head": tokenizer.decode(ta[:k])[-60:], "plain_next": tokenizer.decode(ta[k:k + 5]),
            "cached_next": tokenizer.decode(tb[k:k + 5]), "token": k,
            "margin": None if ended else float(logits[ta[k]] - logits[tb[k]]), "top2_gap": top[0] - top[1]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--data", type=Path, required=True, help="the prepared-data folder (model.json, spider/)")
    ap.add_argument("--adapter", help="an arm's LoRA adapter folder (default: the base model)")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"), help="prompt and eval_sql settings")
    ap.add_argument("--plain-batch", type=int, default=None, help="plain engine batch (default: eval_sql.batch_size)")
    ap.add_argument("--cached-batch", type=int, default=None, help="cached engine batch (default: eval_sql.batch_size)")
    ap.add_argument("--max-new-tokens", type=int, default=None, help="default: eval_sql.max_new_tokens")
    ap.add_argument("--limit", type=int, default=None, help="first N dev questions with a database")
    ap.add_argument("--eager", action="store_true",
                    help="on a GPU, also time the cached engine with each decode step run eagerly (no CUDA graph)")
    ap.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    params = load_params(args.params)
    es = params.eval_sql
    max_new = args.max_new_tokens or es.max_new_tokens
    plain_batch, cached_batch = args.plain_batch or es.batch_size, args.cached_batch or es.batch_size
    model, tokenizer = load_prepared(args.data / "model.json", params.model.dtype, args.adapter)
    root = args.data / "spider"
    examples = examples_with_database(root, "dev")[: args.limit]
    texts = task.prompts(tokenizer, examples, root, params.prompt.sample_rows,
                         params.prompt.max_prompt_tokens)
    groups = [e["db_id"] for e in examples]

    generate(model, tokenizer, texts[:8], plain_batch, 8, "plain")  # warm-up
    plain, plain_s = timed(lambda: generate(model, tokenizer, texts, plain_batch, max_new, "plain"))
    plain_gb = peak_gb()
    fast_model, merge_s = timed(lambda: merged_where_exact(model))
    generate(fast_model, tokenizer, texts[:8], cached_batch, 8, "cached", groups[:8])  # warm-up
    fast, fast_s = timed(lambda: generate(fast_model, tokenizer, texts, cached_batch, max_new, "cached", groups))
    fast_gb = peak_gb()
    eager = None
    if args.eager and torch.cuda.is_available():
        replies, eager_s = timed(lambda: generate_cached(fast_model, tokenizer, texts, groups, cached_batch, max_new,
                                                         graphs=False))
        eager = {"seconds": eager_s, "replies_equal_to_graphs": sum(a == b for a, b in zip(replies, fast))}

    sql_plain = [prompt.extract_sql(r) for r in plain]
    sql_fast = [prompt.extract_sql(r) for r in fast]
    db_dir = root / "database"
    # one scoring pass for both engines: the scorer runs each distinct (database, query) once, so
    # every gold query and every reply the engines share is executed once
    records = spider_score.score(examples + examples, sql_plain + sql_fast, db_dir, timeout_s=es.timeout_s)
    v_plain, v_fast = spider_score.summarize(records[:len(examples)]), spider_score.summarize(records[len(examples):])
    differ = [i for i in range(len(texts)) if sql_plain[i] != sql_fast[i]]
    device = str(next(model.parameters()).device)
    figures = {
        "hardware": torch.cuda.get_device_name() if device.startswith("cuda") else f"CPU, {os.cpu_count()} cores",
        "model": json.loads((args.data / "model.json").read_text())["name"], "adapter": args.adapter,
        "dtype": str(next(model.parameters()).dtype).replace("torch.", ""), "questions": len(texts),
        "max_new_tokens": max_new,
        "plain": {"batch": plain_batch, "seconds": plain_s, "peak_gpu_gb": plain_gb, "questions_per_s": len(texts) / plain_s,
                  "reply_tokens_per_s": reply_tokens(tokenizer, plain) / plain_s,
                  "ex": v_plain["ex"], "n_correct": v_plain["n_correct"], "n_scored": v_plain["n_scored"]},
        "cached": {"batch": cached_batch, "seconds": fast_s, "merge_seconds": merge_s, "peak_gpu_gb": fast_gb,
                   "questions_per_s": len(texts) / fast_s, "reply_tokens_per_s": reply_tokens(tokenizer, fast) / fast_s,
                   "ex": v_fast["ex"], "n_correct": v_fast["n_correct"], "n_scored": v_fast["n_scored"]},
        "cached_eager": eager,
        "ratio": plain_s / fast_s,
        "replies_shortened": sum(len(f) < len(p) for p, f in zip(plain, fast)),
        "sql_differs": len(differ),
        "differences": [{"index": i, **parting_margin(model, tokenizer, texts[i], plain[i], fast[i])}
                        for i in differ[:20]],
    }
    print(f"{figures['model']} {figures['adapter'] or 'base'} on {figures['hardware']} ({figures['dtype']}), "
          f"{len(texts)} questions, max {max_new} new tokens")
    for name in ("plain", "cached"):
        f = figures[name]
        print(f"  {name:7} batch {f['batch']:4}  {f['seconds']:8.2f} s  {f['questions_per_s']:7.1f} q/s  "
              f"{f['reply_tokens_per_s']:8.0f} reply tokens/s  EX {100 * f['ex']:.1f}% ({f['n_correct']}/{f['n_scored']})"
              + (f"  peak GPU memory {f['peak_gpu_gb']:.1f} GB" if f["peak_gpu_gb"] is not None else ""))
    if eager:
        print(f"  cached, decode steps run eagerly: {eager['seconds']:.2f} s ({eager['seconds'] / fast_s:.2f}x the "
              f"graphs' time); {eager['replies_equal_to_graphs']} of {len(texts)} replies equal to the graphs'")
    print(f"  cached vs plain: {figures['ratio']:.2f}x; extracted SQL differs on {len(differ)} of {len(texts)}; "
          f"{figures['replies_shortened']} replies stopped early")
    for d in figures["differences"]:
        margin = "one reply ends here" if d["margin"] is None else f"margin {d['margin']:.2e}"
        print(f"    #{d['index']}: token {d['token']}, {margin} after ...{d['head'][-30:]!r}: "
              f"plain {d['plain_next']!r} vs cached {d['cached_next']!r}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
