"""Score Spider predictions made anywhere with execution accuracy (EX), the official semantics.

    python -m tradeoff.sql_eval --gold dev_gold.sql --pred pred.sql --db spider/database [--verdicts out.jsonl]

--gold: one `SQL<TAB>db_id` per line; --pred: one SQL per line. Prints EX overall and per
hardness with counts. The scoring itself is tradeoff/spider/metric.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import TradeoffError, atomic, cli, read_text
from .spider.metric import format_summary, log_left_out, score, summarize


def read_gold_file(path: Path) -> list[dict]:
    examples = []
    for n, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise TradeoffError(f"{path}: line {n} is not 'SQL<TAB>db_id'")
        sql, db_id = line.rsplit("\t", 1)
        examples.append({"query": sql.strip(), "db_id": db_id.strip()})
    return examples


def read_pred_file(path: Path) -> list[str]:
    lines = read_text(path).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.strip() for line in lines]


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(prog="python -m tradeoff.sql_eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, required=True, help="gold file: one 'SQL<TAB>db_id' per line")
    parser.add_argument("--pred", type=Path, required=True, help="predictions: one SQL per line")
    parser.add_argument("--db", type=Path, required=True, help="database folder holding <db_id>/*.sqlite")
    parser.add_argument("--verdicts", type=Path, help="write one JSON line per example here")
    parser.add_argument("--keep-distinct", action="store_true", help="do not remove DISTINCT before execution")
    parser.add_argument("--timeout", type=cli.positive_float, default=30.0, help="seconds per query (default 30)")
    parser.add_argument("--workers", type=cli.positive_int, default=None, help="worker processes (default: all cores)")
    args = parser.parse_args(argv)
    cli.setup_logging("%(levelname)s %(message)s")
    return cli.exit_status(lambda: _score_files(args))


def _score_files(args) -> None:
    for p in (args.gold, args.pred):
        if not p.is_file():
            raise TradeoffError(f"{p}: file not found")
    if not args.db.is_dir():
        raise TradeoffError(f"{args.db}: database folder not found")
    gold = read_gold_file(args.gold)
    pred = read_pred_file(args.pred)
    if len(pred) != len(gold):
        raise TradeoffError(f"{args.pred}: {len(pred)} predictions for {len(gold)} gold queries in {args.gold}")
    records = score(gold, pred, args.db, keep_distinct=args.keep_distinct, timeout_s=args.timeout,
                    workers=args.workers)
    summary = summarize(records)
    if not summary["n_scored"]:
        raise TradeoffError(f"{args.db}: no question could be scored: none of the {len(gold)} databases named in "
                            f"{args.gold} is there as <db_id>/<db_id>.sqlite (is --db the folder that holds them?)")
    log_left_out(summary)
    print(format_summary(summary))
    if args.verdicts:
        atomic.write_jsonl(args.verdicts, records)


if __name__ == "__main__":
    sys.exit(main())
