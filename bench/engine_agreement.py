"""Benchmark: how far apart two generation engines score, measured against how far one engine
moves against itself. Greedy replies in bf16 depend on the batch shape (a near-tie between two
tokens falls either way when the matmuls are tiled differently), so EX differs a little between
plain `generate` at two batch sizes as well as between plain and cached. This runs each engine at
several batch sizes on the same prompts, scores every run in one pass, and prints each run's EX
and, for every pair of runs, how many extracted SQL differ, the questions only one of the two gets
right (b, c) and the exact McNemar p of that split.

    python bench/engine_agreement.py --data data/prepared [--adapter adapters/exp1]
        [--params params.yaml] [--plain 128 256 512] [--cached 256 512 1024] [--cached-merged 1024] [--cached-apart 1024]
        [--out F]
"""

import argparse
import itertools
import json
import logging
import os
import time
from pathlib import Path

import torch

from tradeoff.config import load_params
from tradeoff.model.load import merged_where_exact, load_prepared, merged_copy
from tradeoff.report.stats import discordant, mcnemar_exact
from tradeoff.spider import prompt, score as spider_score, task
from tradeoff.spider.data import examples_with_database
from tradeoff.spider.generate import generate

log = logging.getLogger("engine_agreement")

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--data", type=Path, required=True, help="the prepared-data folder (model.json, spider/)")
    ap.add_argument("--adapter", help="an arm's LoRA adapter folder (default: the base model)")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"), help="prompt and eval_sql settings")
    ap.add_argument("--plain", type=int, nargs="+", default=[], help="batch sizes of the plain engine")
    ap.add_argument("--cached", type=int, nargs="+", default=[], help="batch sizes of the cached engine")
    ap.add_argument("--cached-merged", type=int, nargs="+", default=[],
                    help="batch sizes of the cached engine with the adapter merged into the weights, whatever the dtype")
    ap.add_argument("--cached-apart", type=int, nargs="+", default=[],
                    help="batch sizes of the cached engine with the adapter kept apart, whatever the dtype")
    ap.add_argument("--limit", type=int, default=None, help="first N dev questions with a database")
    ap.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    log.setLevel(logging.INFO)
    params = load_params(args.params)
    es = params.eval_sql
    model, tokenizer = load_prepared(args.data / "model.json", params.model.dtype, args.adapter)
    root = args.data / "spider"
    examples = examples_with_database(root, "dev")[: args.limit]
    texts = task.prompts(tokenizer, examples, root, params.prompt.sample_rows,
                         params.prompt.max_prompt_tokens)
    groups = [e["db_id"] for e in examples]
    runs = {}  # "plain@128" -> extracted SQL of every question
    seconds = {}
    for label, sizes, make in (("plain", args.plain, lambda: model), ("cached", args.cached, lambda: merged_where_exact(model)),
                               ("cached-merged", args.cached_merged, lambda: merged_copy(model)),
                               ("cached-apart", args.cached_apart, lambda: model)):
        m = make() if sizes else None
        for batch in sizes:
            name = f"{label}@{batch}"
            t0 = time.monotonic()
            replies = generate(m, tokenizer, texts, batch, es.max_new_tokens, label.split("-")[0], groups)
            seconds[name] = time.monotonic() - t0
            runs[name] = [prompt.extract_sql(r) for r in replies]
            log.info("%s generated in %.1f s", name, seconds[name])

    names = list(runs)
    # one scoring pass: the scorer executes each distinct (database, query) once
    records = spider_score.score(examples * len(names), [s for n in names for s in runs[n]], root / "database",
                           timeout_s=es.timeout_s)
    n = len(examples)
    verdicts = {name: records[k * n:(k + 1) * n] for k, name in enumerate(names)}
    scored = [i for i in range(n) if all(verdicts[name][i]["left_out"] is None for name in names)]
    right = {name: [verdicts[name][i]["verdict"] for i in scored] for name in names}
    figures = {
        "hardware": torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU, {os.cpu_count()} cores",
        "model": json.loads((args.data / "model.json").read_text())["name"], "adapter": args.adapter,
        "dtype": str(next(model.parameters()).dtype).replace("torch.", ""), "questions": n, "scored": len(scored),
        "max_new_tokens": es.max_new_tokens,
        "runs": {name: {"ex": sum(right[name]) / len(scored), "n_correct": sum(right[name]),
                        "seconds": seconds[name]} for name in names},
        "pairs": [],
    }
    for a, b in itertools.combinations(names, 2):
        only_a, only_b = discordant(right[a], right[b])
        figures["pairs"].append({
            "a": a, "b": b, "sql_differs": sum(x != y for x, y in zip(runs[a], runs[b])),
            "only_a_right": only_a, "only_b_right": only_b, "mcnemar_p": mcnemar_exact(only_a, only_b),
            "ex_points": 100 * (sum(right[b]) - sum(right[a])) / len(scored)})

    print(f"{figures['model']} {figures['adapter'] or 'base'} on {figures['hardware']} ({figures['dtype']}), "
          f"{len(scored)} scored questions, max {es.max_new_tokens} new tokens")
    for name, r in figures["runs"].items():
        print(f"  {name:20} EX {100 * r['ex']:5.1f}% ({r['n_correct']}/{len(scored)})  {r['seconds']:7.1f} s")
    spread = [100 * r["ex"] for r in figures["runs"].values()]
    print(f"  EX spread over all runs: {min(spread):.1f} to {max(spread):.1f}")
    for p in figures["pairs"]:
        print(f"  {p['a']:>18} vs {p['b']:<18} SQL differs {p['sql_differs']:4}  only one right "
              f"{p['only_a_right']:3} / {p['only_b_right']:<3} ΔEX {p['ex_points']:+.2f}  McNemar p {p['mcnemar_p']:.2f}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
