"""Execution accuracy (EX) with the official Spider test-suite evaluation's semantics.

Ported rule for rule from `exec_eval.py` of the test-suite evaluation (Zhong et al. 2020), with its
defaults: DISTINCT removed from both queries, `> =`-style operators joined, `YEAR(CURDATE())`
read as 2020, row order compared only when the gold query says `order by`, columns matched up to
permutation, rows as multisets, values with Python `==`. A prediction is right only if it matches
on every `.sqlite` file of the database folder.

On predictions made anywhere: `python -m tradeoff.sql_eval` (tradeoff/sql_eval.py).
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
from collections import Counter
from pathlib import Path

import sqlparse

from .hardness import LEVELS, classify
from .sandbox import Executor, Outcome, execute_in_worker

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


def _multiset_eq(l1: list, l2: list) -> bool:
    return len(l1) == len(l2) and Counter(l1) == Counter(l2)


def _candidate_permutations(r1: list[tuple], r2: list[tuple]):
    """Column permutations of r2 that could map onto r1. Pruning only removes mappings that a
    value of r2 rules out, so the verdict does not depend on which rows are inspected."""
    n = len(r2[0])
    allowed = [set(range(n)) for _ in range(n)]
    if n > 3:
        values_by_column = [{row[i] for row in r1} for i in range(n)]
        for row in r2[:20]:
            for c1 in range(n):
                for c2 in list(allowed[c1]):
                    if row[c2] not in values_by_column[c1]:
                        allowed[c1].discard(c2)
    return itertools.product(*allowed)


def results_match(gold: list[tuple], pred: list[tuple], ordered: bool) -> bool:
    """The official `result_eq`: does the predicted result denote the gold one?"""
    if len(gold) == 0 and len(pred) == 0:
        return True
    if len(gold) != len(pred):
        return False
    n = len(gold[0])
    if len(pred[0]) != n:
        return False
    if not _quick_reject(gold, pred, ordered):
        return False
    for perm in _candidate_permutations(gold, pred):
        if len(perm) != len(set(perm)):
            continue
        permuted = pred if n == 1 else [tuple(row[i] for i in perm) for row in pred]
        if ordered:
            if gold == permuted:
                return True
        elif set(gold) == set(permuted) and _multiset_eq(gold, permuted):
            return True
    return False


# --------------------------------------------------------------------------- scoring a set


def database_files(db_dir: Path, db_id: str) -> list[Path]:
    """Every .sqlite file of a database folder (the distilled test-suite databases add more)."""
    folder = Path(db_dir) / db_id
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if ".sqlite" in p.name and p.is_file())


def score(examples: list[dict], predictions: list[str], db_dir: Path, keep_distinct: bool = False,
          timeout_s: float = 30.0, workers: int | None = None) -> list[dict]:
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

    with Executor(workers=workers, timeout_s=timeout_s, task=execute_official) as executor, \
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
        verdict = 1
        ordered = order_matters(ex["query"])  # the rewrites never touch "order by"
        for g, p in zip(gold_runs, pred_runs):
            if not p.ok:
                verdict, rec["error"] = 0, p.error
                break
            if not results_match(g.rows, p.rows, ordered):
                verdict = 0
                break
        rec["verdict"] = verdict
    return records


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
