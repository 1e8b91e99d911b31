"""Execution accuracy (EX) with the official Spider test-suite evaluation's semantics.

Ported rule for rule from `exec_eval.py` of the test-suite evaluation (Zhong et al. 2020), with its
defaults: DISTINCT removed from both queries, `> =`-style operators joined, `YEAR(CURDATE())`
read as 2020, row order compared only when the gold query says `order by`, columns matched up to
permutation, rows as multisets, values with Python `==`. A prediction is right only if it matches
on every `.sqlite` file of the database folder. The column-permutation search gives the official
verdict without trying every permutation, and its time counts in the prediction's budget.

On predictions made anywhere: `python -m tradeoff.sql_eval` (tradeoff/sql_eval.py).
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time
from collections import Counter
from pathlib import Path

import sqlparse

from .. import TradeoffError
from .hardness import LEVELS, classify
from .sandbox import DEFAULT_TIMEOUT_S, Executor, Outcome, execute_in_worker

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- query rewriting

_CUR_YEAR = re.compile(r"YEAR\s*\(\s*CURDATE\s*\(\s*\)\s*\)\s*", re.IGNORECASE)


def join_split_operators(sql: str) -> str:
    return sql.replace("> =", ">=").replace("< =", "<=").replace("! =", "!=")


def remove_distinct(sql: str) -> str:
    """Drop every DISTINCT keyword token (not the word inside a string literal)."""
    tokens = [t.value for t in sqlparse.parse(sql)[0].flatten()] if sql.strip() else []
    return "".join(t for t in tokens if t.lower() != "distinct")


def replace_cur_year(sql: str) -> str:
    return _CUR_YEAR.sub("2020", sql)


def prepare_query(sql: str, keep_distinct: bool = False) -> str:
    """The query as the official evaluation executes it."""
    sql = join_split_operators(sql)
    if not keep_distinct:
        sql = remove_distinct(sql)
    return replace_cur_year(sql)


@functools.lru_cache(maxsize=8192)
def _prepared(sql: str, keep_distinct: bool) -> str:
    return prepare_query(sql, keep_distinct)


def execute_official(args) -> "Outcome":
    """Worker task: rewrite a raw query as the official evaluation does, then run it sandboxed.
    Rewriting here spreads sqlparse's cost over the workers."""
    db, sql, timeout_s, max_rows, keep_distinct = args
    return execute_in_worker(db, _prepared(sql, keep_distinct), timeout_s, max_rows)


def order_matters(gold_sql: str) -> bool:
    return "order by" in gold_sql.lower()


# --------------------------------------------------------------------------- result comparison


def _unorder_row(row: tuple) -> tuple:
    return tuple(sorted(row, key=lambda x: str(x) + str(type(x))))


def _quick_reject(r1: list[tuple], r2: list[tuple], ordered: bool) -> bool:
    """True when the results may still be equal (the official `quick_rej`)."""
    s1 = [_unorder_row(r) for r in r1]
    s2 = [_unorder_row(r) for r in r2]
    return s1 == s2 if ordered else set(s1) == set(s2)


def _column_classes(rows: list[tuple], n: int) -> list[tuple[int, tuple]]:
    """Each distinct column (its values top to bottom) once: identical columns are
    interchangeable in any permutation, so a permutation need only map classes onto classes."""
    classes: dict[tuple, int] = {}
    for c in range(n):
        column = tuple(row[c] for row in rows)
        classes[column] = classes.get(column, 0) + 1
    return [(size, column) for column, size in classes.items()]


def _signature(size: int, column: tuple, ordered: bool):
    """What a column must share with the column it maps onto: its class size, and its values
    (in order when row order counts, as a multiset otherwise)."""
    return size, (column if ordered else frozenset(Counter(column).items()))


def _refine(keys: tuple[list, list], gold_col: tuple, pred_col: tuple, ordered: bool):
    """Row ids of both results after one more column pair, or None where that pair already makes
    the projected rows differ (as a list when ordered, as a multiset otherwise)."""
    ids: dict = {}
    gold = [ids.setdefault(kv, len(ids)) for kv in zip(keys[0], gold_col)]
    pred = [ids.get(kv, -1) for kv in zip(keys[1], pred_col)]
    same = gold == pred if ordered else Counter(gold) == Counter(pred)
    return (gold, pred) if same else None


def _permutation_exists(gold: list[tuple], pred: list[tuple], ordered: bool, deadline: float) -> bool:
    """Is there a column permutation of `pred` equal to `gold` (row order kept when ordered, as
    multisets otherwise)? Exactly the official enumeration's answer (its pruning only drops
    permutations that cannot match), by a depth-first search over classes of identical columns
    that checks the projected rows after each column: equal-valued columns cost one step, not
    n^n. Raises TimeoutError past `deadline` (time.monotonic())."""
    n = len(gold[0])
    gold_classes, pred_classes = _column_classes(gold, n), _column_classes(pred, n)
    if len(gold_classes) != len(pred_classes):
        return False
    by_signature: dict = {}
    for j, (size, column) in enumerate(pred_classes):
        by_signature.setdefault(_signature(size, column, ordered), []).append(j)
    candidates = [by_signature.get(_signature(size, column, ordered), []) for size, column in gold_classes]
    order = sorted(range(len(gold_classes)), key=lambda i: len(candidates[i]))  # most constrained first
    zeros = [0] * len(gold)
    keys, used, options = [(zeros, zeros)], [], [iter(candidates[order[0]])]
    while options:
        depth = len(used)
        for j in options[-1]:
            if j in used:
                continue
            if time.monotonic() > deadline:
                raise TimeoutError("column permutation search")
            refined = _refine(keys[-1], gold_classes[order[depth]][1], pred_classes[j][1], ordered)
            if refined is not None:
                if depth + 1 == len(order):
                    return True
                keys.append(refined)
                used.append(j)
                options.append(iter(candidates[order[depth + 1]]))
                break
        else:  # every candidate at this depth failed: back up one column
            options.pop()
            if used:
                used.pop()
                keys.pop()
    return False


def results_match(gold: list[tuple], pred: list[tuple], ordered: bool, deadline: float = math.inf) -> bool:
    """The official `result_eq`: does the predicted result denote the gold one? Raises
    TimeoutError if the column permutation search runs past `deadline` (time.monotonic())."""
    if len(gold) == 0 and len(pred) == 0:
        return True
    if len(gold) != len(pred):
        return False
    n = len(gold[0])
    if len(pred[0]) != n:
        return False
    if not _quick_reject(gold, pred, ordered):
        return False
    return _permutation_exists(gold, pred, ordered, deadline)


# --------------------------------------------------------------------------- scoring a set


def is_database_name(db_id: str) -> bool:
    """A db_id names a folder directly under the database folder, never a path out of it."""
    return db_id not in ("", ".", "..") and Path(db_id).name == db_id


def database_files(db_dir: Path, db_id: str) -> list[Path]:
    """Every .sqlite file of a database folder (the distilled test-suite databases add more)."""
    if not is_database_name(db_id):
        raise TradeoffError(f"db_id {db_id!r} is not a folder name; databases are <db_id>/ folders in {db_dir}")
    folder = Path(db_dir) / db_id
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if ".sqlite" in p.name and p.is_file())


def score(examples: list[dict], predictions: list[str], db_dir: Path, keep_distinct: bool = False,
          timeout_s: float = DEFAULT_TIMEOUT_S, workers: int | None = None) -> list[dict]:
    """One verdict record per example: verdict 1/0, or `left_out` with a reason.

    `examples` carry db_id and query (the gold); `db_dir` holds `<db_id>/*.sqlite`.
    """
    records, jobs = [], []
    for i, (ex, pred) in enumerate(zip(examples, predictions, strict=True)):
        files = database_files(db_dir, ex["db_id"])
        rec = {"index": i, "db_id": ex["db_id"], "hardness": classify(ex["query"]), "verdict": None,
               "error": None, "left_out": None}
        records.append(rec)
        if not files:
            rec["left_out"] = "missing_database"
            continue
        for f in files:
            jobs.append((i, "gold", f, ex["query"]))
            jobs.append((i, "pred", f, pred))
    # a read-only query's result depends only on (database, text): run each distinct pair once
    unique = list(dict.fromkeys((str(f), q) for _, _, f, q in jobs))
    from tqdm.auto import tqdm

    with Executor(workers=workers, timeout_s=timeout_s, task=execute_official, jobs=len(unique)) as executor, \
            tqdm(total=len(unique), desc="run SQL", unit="query", disable=not unique) as bar:
        done = dict(zip(unique, executor.map(unique, keep_distinct, progress=bar)))
    outcomes = [done[(str(f), q)] for _, _, f, q in jobs]
    by_example: dict[int, list] = {}
    for (i, role, f, _), out in zip(jobs, outcomes):
        by_example.setdefault(i, []).append((role, f, out))
    for i, runs in by_example.items():
        rec, ex = records[i], examples[i]
        gold_runs = [o for role, _, o in runs if role == "gold"]
        pred_runs = [o for role, _, o in runs if role == "pred"]
        if not all(o.ok for o in gold_runs):
            rec["left_out"] = "gold_error"
            rec["error"] = next(o.error for o in gold_runs if not o.ok)
            continue
        ordered = order_matters(ex["query"])  # the rewrites never touch "order by"
        rec["verdict"], rec["error"] = _judge(gold_runs, pred_runs, ordered, timeout_s)
    return records


def _judge(gold_runs: list[Outcome], pred_runs: list[Outcome], ordered: bool, timeout_s: float):
    """(verdict, error) of one prediction over every database file. Comparing the results counts
    in the prediction's time budget: a comparison that would outlast it is a timeout."""
    for g, p in zip(gold_runs, pred_runs):
        if not p.ok:
            return 0, p.error
        deadline = time.monotonic() + max(0.0, timeout_s - p.seconds)
        try:
            if not results_match(g.rows, p.rows, ordered, deadline):
                return 0, None
        except TimeoutError:
            return 0, "timeout"
    return 1, None


def summarize(records: list[dict]) -> dict:
    """EX overall and per hardness, with counts; left-out examples counted by reason."""
    scored = [r for r in records if r["left_out"] is None]
    left_out = Counter(r["left_out"] for r in records if r["left_out"] is not None)
    errors = [r for r in scored if r["verdict"] == 0 and r["error"]]
    summary = {
        "ex": sum(r["verdict"] for r in scored) / len(scored) if scored else None,
        "n_total": len(records),
        "n_scored": len(scored),
        "n_correct": sum(r["verdict"] for r in scored),
        "left_out": {"missing_database": left_out.get("missing_database", 0),
                     "gold_error": left_out.get("gold_error", 0)},
        "execution_error_rate": len(errors) / len(scored) if scored else None,
        "timeouts": sum(1 for r in errors if r["error"] == "timeout"),
        "by_hardness": {},
    }
    for level in LEVELS:
        group = [r for r in scored if r["hardness"] == level]
        summary["by_hardness"][level] = {
            "ex": sum(r["verdict"] for r in group) / len(group) if group else None, "n": len(group)}
    return summary


def log_left_out(summary: dict) -> None:
    lo = summary["left_out"]
    if lo["missing_database"] or lo["gold_error"]:
        log.warning("left out of EX: %d of %d examples (%d whose database is missing, %d whose gold query "
                    "fails to execute); EX is over the %d scored", lo["missing_database"] + lo["gold_error"],
                    summary["n_total"], lo["missing_database"], lo["gold_error"], summary["n_scored"])


def format_summary(summary: dict) -> str:
    def pct(x):
        return "   n/a" if x is None else f"{100 * x:6.2f}"
    lines = [f"{'':8} {'EX %':>6} {'n':>6}"]
    for level, s in summary["by_hardness"].items():
        lines.append(f"{level:8} {pct(s['ex'])} {s['n']:6d}")
    lines.append(f"{'all':8} {pct(summary['ex'])} {summary['n_scored']:6d}")
    lo = summary["left_out"]
    lines.append(f"left out: {lo['missing_database']} missing database, {lo['gold_error']} gold error "
                 f"(of {summary['n_total']})")
    return "\n".join(lines)
