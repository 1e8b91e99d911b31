"""Benchmark: scoring Spider dev (1034 pairs) with tradeoff's evaluator (worker pool, reused
read-only connections, each distinct query run once) beside a single-process sequential executor
(the same sandbox, every query run in turn, as the official script does), in one run. Two
workloads: gold as its own prediction, and gold plus a trailing space (different text, so no
query is shared between gold and prediction).

    python bench/sql_eval_speed.py --spider /data/spider_data.zip [--repeat 3]   # your Spider download
"""

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from tradeoff import atomic
from tradeoff.spider import score as spider_score
from tradeoff.spider.data import extract_spider_zip, find_spider_root, load_split
from tradeoff.spider.sandbox import execute


def sequential(examples, preds, db_dir, timeout_s=30.0):
    """The peer: one process, each gold and prediction executed in turn on every database file."""
    verdicts = []
    for ex, pred in zip(examples, preds):
        files = spider_score.database_files(db_dir, ex["db_id"])
        if not files:
            verdicts.append(None)
            continue
        g_sql, p_sql = spider_score.prepare_query(ex["query"]), spider_score.prepare_query(pred)
        ordered = spider_score.order_matters(g_sql)
        ok = 1
        for f in files:
            g, p = execute(f, g_sql, timeout_s), execute(f, p_sql, timeout_s)
            if not g.ok:
                ok = None
                break
            if not p.ok or not spider_score.results_match(g.rows, p.rows, ordered):
                ok = 0
                break
        verdicts.append(ok)
    return verdicts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spider", type=Path, required=True, help="your spider_data.zip (or unpacked Spider folder)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", help="also write the figures to this JSON file")
    args = ap.parse_args()
    figures = {"hardware": f"CPU, {os.cpu_count()} cores", "workloads": {}}
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        root = find_spider_root(extract_spider_zip(args.spider, tmp))
        dev = load_split(root, "dev")
        print(f"Spider dev, {len(dev)} pairs, {os.cpu_count()} cores, median of {args.repeat} alternating runs")
        print(f"{'workload':22} {'executor':34} {'seconds':>8} {'pairs/s':>8}")
        for workload, preds in (("gold as prediction", [e["query"] for e in dev]),
                                ("gold + ' '", [e["query"] + " " for e in dev])):
            ours_t, peer_t = [], []
            for _ in range(args.repeat):  # alternate, so both see the same machine noise
                t = time.perf_counter()
                ours = spider_score.score(dev, preds, root / "database")
                ours_t.append(time.perf_counter() - t)
                t = time.perf_counter()
                peer = sequential(dev, preds, root / "database")
                peer_t.append(time.perf_counter() - t)
            same = [r["verdict"] for r in ours] == peer
            o, p = statistics.median(ours_t), statistics.median(peer_t)
            print(f"{workload:22} {'tradeoff (pool, distinct queries)':34} {o:8.2f} {len(dev) / o:8.0f}")
            print(f"{workload:22} {'sequential, single process':34} {p:8.2f} {len(dev) / p:8.0f}")
            print(f"{workload:22} speed-up {p / o:.2f}x; identical verdicts: {same}; "
                  f"EX {sum(v for v in peer if v) / sum(v is not None for v in peer):.4f}")
            figures["workloads"][workload] = {"ours_s": o, "peer_s": p, "pairs": len(dev), "speedup": p / o,
                                              "identical": same}
    if args.out:
        atomic.write_json(args.out, figures)

if __name__ == "__main__":
    main()
