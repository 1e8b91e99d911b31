"""Score Spider predictions made anywhere with execution accuracy (EX), the official semantics.

    python -m tradeoff.sql_eval --gold dev_gold.sql --pred pred.sql --db spider/database [--verdicts out.jsonl]

--gold: one `SQL<TAB>db_id` per line; --pred: one SQL per line. Prints EX overall and per
hardness with counts. The scoring itself is tradeoff/spider/score.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import TradeoffError, atomic, cli, read_text
from .spider.score import format_summary, is_database_name, log_left_out, score, summarize
from .spider.sandbox import DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S


def read_lines(path: Path) -> list[str]:
    """A text file's lines, split on newlines only (a form feed or U+2028 is a character of the
    SQL, not a line break), without a UTF-8 byte order mark or each line's trailing CR."""
    lines = read_text(path).removeprefix("\ufeff").split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_gold_file(path: Path) -> list[dict]:
    """Gold examples with the line each came from."""
    examples = []
    for n, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise TradeoffError(f"{path}: line {n} is not 'SQL<TAB>db_id'")
        if "\0" in line:
            raise TradeoffError(f"{path}: line {n} holds a NUL byte (0x00); no SQL query contains one")
        sql, db_id = (part.strip() for part in line.rsplit("\t", 1))
        if not is_database_name(db_id):
            raise TradeoffError(f"{path}: line {n}: db_id {db_id!r} is not a folder name; databases are "
                                "<db_id>/ folders directly in --db")
        examples.append({"query": sql, "db_id": db_id, "line": n})
    return examples


def read_pred_file(path: Path) -> list[str]:
    return [line.strip() for line in read_lines(path)]


def timeout_seconds(text: str) -> float:
    """An argparse type: seconds > 0, at most a day."""
    value = cli.positive_float(text)
    if value > MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(f"{text!r} is more than a day ({MAX_TIMEOUT_S:g} s)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(prog="python -m tradeoff.sql_eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, required=True, help="gold file: one 'SQL<TAB>db_id' per line")
    parser.add_argument("--pred", type=Path, required=True, help="predictions: one SQL per line")
    parser.add_argument("--db", type=Path, required=True, help="database folder holding <db_id>/*.sqlite")
    parser.add_argument("--verdicts", type=Path, help="write one JSON line per example here")
    parser.add_argument("--keep-distinct", action="store_true", help="do not remove DISTINCT before execution")
    parser.add_argument("--timeout", type=timeout_seconds, default=DEFAULT_TIMEOUT_S,
                        help=f"seconds per query (default {DEFAULT_TIMEOUT_S:g}, the pipeline's eval_sql.timeout_s)")
    parser.add_argument("--workers", type=cli.positive_int, default=None, help="worker processes (default: all cores)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cli.setup_logging("%(levelname)s %(message)s")
    return cli.exit_status(lambda: _score_files(args))


def _score_files(args) -> None:
    for p in (args.gold, args.pred):
        if not p.is_file():
            raise TradeoffError(f"{p}: file not found")
    if not args.db.is_dir():
        raise TradeoffError(f"{args.db}: database folder not found")
    if args.verdicts:
        atomic.check_writable(args.verdicts)
    gold = read_gold_file(args.gold)
    pred = read_pred_file(args.pred)
    if len(pred) != len(gold):
        raise TradeoffError(f"{args.pred}: {len(pred)} predictions for {len(gold)} gold queries in {args.gold}")
    records = score(gold, pred, args.db, keep_distinct=args.keep_distinct, timeout_s=args.timeout,
                    workers=args.workers)
    summary = summarize(records)
    if not summary["n_scored"]:
        raise TradeoffError(_why_nothing_scored(records, gold, args))
    log_left_out(summary)
    print(format_summary(summary))
    if args.verdicts:
        atomic.write_jsonl(args.verdicts, records)


def _why_nothing_scored(records: list[dict], gold: list[dict], args) -> str:
    """The cause, from the first gold query that failed; else no database was found."""
    failed = next((r for r in records if r["left_out"] == "gold_error"), None)
    if failed is None:
        return (f"{args.db}: no question could be scored: none of the {len(gold)} databases named in "
                f"{args.gold} is there as <db_id>/<db_id>.sqlite (is --db the folder that holds them?)")
    where = f"{args.gold}: line {gold[failed['index']]['line']}: no question could be scored"
    folder = args.db / failed["db_id"]
    if failed["error"] == "timeout":
        return f"{where}: its gold query timed out on {folder} after {args.timeout:g} s (raise --timeout)"
    if failed["error"].startswith("cannot open database"):
        return f"{where}: a database file in {folder} is unreadable ({failed['error']})"
    return f"{where}: its gold query fails on {folder}: {failed['error']}"


if __name__ == "__main__":
    sys.exit(main())
