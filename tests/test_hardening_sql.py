"""Issue 31, the SQL scorer: the column-permutation search is bounded and counted in the query's
budget, and no more workers start than there are queries."""

import itertools
import os
import random
import sqlite3
import time
from collections import Counter

import pytest

from test_hardening import run_module
from tradeoff.spider import metric
from tradeoff.spider.metric import results_match, score
from tradeoff.spider.sandbox import MAX_WORKERS_PER_CPU, Executor, pool_size


def sql_eval(repo, folder, *args):
    return run_module(repo, folder, "tradeoff.sql_eval", "--gold", "gold.sql", "--pred", "pred.sql",
                      "--db", "database", "--workers", "1", *args)


def add_table(db_file, name, rows):
    con = sqlite3.connect(db_file)
    con.execute(f"CREATE TABLE {name} ({', '.join(f'c{i}' for i in range(len(rows[0])))})")
    con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    con.commit()
    con.close()


# --------------------------------------------------------------------------- 1. the permutation search


def official_result_eq(gold, pred, ordered):
    """What the official `result_eq` decides, by its definition: the rows' sorted values agree
    (`quick_rej`), and some column permutation of pred equals gold (as lists if ordered, else as
    multisets). Its pruning of permutations never drops one that matches, so every one is tried here."""
    if not gold or not pred:
        return len(gold) == len(pred)
    if len(gold) != len(pred) or len(gold[0]) != len(pred[0]):
        return False
    if not metric._quick_reject(gold, pred, ordered):
        return False
    for perm in itertools.permutations(range(len(gold[0]))):
        permuted = [tuple(row[i] for i in perm) for row in pred]
        if (gold == permuted) if ordered else Counter(gold) == Counter(permuted):
            return True
    return False


def parity_rows(n, twice):
    """Every 0/1 row of n columns, and those whose count of ones has parity `twice` once more: the
    two tables agree on every n-1 columns, so a search only fails at the last of n! orders."""
    rows = list(itertools.product((0, 1), repeat=n))
    return rows + [r for r in rows if sum(r) % 2 == twice]


def test_all_zero_columns_compare_at_once(repo, tmp_path):
    """12 equal columns: hours before (about n^(n-1) candidate permutations, none pruned)."""
    rows = [(0,) * 12]
    start = time.monotonic()
    assert results_match(rows, rows, False) and results_match(rows * 3, rows * 3, True)
    assert not results_match(rows, [(0,) * 11 + (1,)], False)
    assert time.monotonic() - start < 1
    db = tmp_path / "database" / "z"
    db.mkdir(parents=True)
    add_table(db / "z.sqlite", "t", rows)
    (tmp_path / "gold.sql").write_text("SELECT * FROM t\tz\n")
    (tmp_path / "pred.sql").write_text("SELECT * FROM t\n")
    start = time.monotonic()
    proc = sql_eval(repo, tmp_path, "--timeout", "2")
    assert proc.returncode == 0 and "all      100.00      1" in proc.stdout, proc.stderr[-2000:]
    assert time.monotonic() - start < 30  # the interpreter and one worker starting, on a busy machine


def test_a_genuine_permutation_gets_the_official_verdict():
    rng = random.Random(31)
    values = [0, 1, 1.0, 2, None, "a", "1", b"a"]
    verdicts = set()
    for _ in range(3000):
        n, pool = rng.randint(1, 5), rng.sample(values, rng.randint(1, 3))
        gold = [tuple(rng.choice(pool) for _ in range(n)) for _ in range(rng.randint(1, 5))]
        perm = rng.sample(range(n), n)
        pred = [tuple(row[i] for i in perm) for row in gold]
        if rng.random() < 0.5:
            pred = rng.sample(pred, len(pred))
        if rng.random() < 0.5:  # one value changed: mostly no permutation fits any more
            i, c = rng.randrange(len(pred)), rng.randrange(n)
            pred[i] = pred[i][:c] + (rng.choice(pool),) + pred[i][c + 1:]
        ordered = rng.random() < 0.3
        expected = official_result_eq(gold, pred, ordered)
        assert results_match(gold, pred, ordered) is expected, (gold, pred, ordered)
        verdicts.add(expected)
    assert verdicts == {True, False}
    # rows whose sorted values agree, columns whose values agree, and still no permutation fits
    assert not official_result_eq(parity_rows(4, 0), parity_rows(4, 1), False)
    assert not results_match(parity_rows(4, 0), parity_rows(4, 1), False)
    swapped = [(b, c, a, d) for a, b, c, d in parity_rows(4, 0)]
    assert official_result_eq(parity_rows(4, 0), swapped, True) is results_match(parity_rows(4, 0), swapped, True)
    assert results_match(parity_rows(4, 0), swapped, False)


def test_a_comparison_past_the_budget_is_a_timeout(tmp_path):
    db = tmp_path / "database" / "p"
    db.mkdir(parents=True)
    add_table(db / "p.sqlite", "even", parity_rows(8, 0))
    add_table(db / "p.sqlite", "odd", parity_rows(8, 1))
    start = time.monotonic()
    records = score([{"db_id": "p", "query": "SELECT * FROM even"}], ["SELECT * FROM odd"], tmp_path / "database",
                    timeout_s=1.0, workers=1)
    assert (records[0]["verdict"], records[0]["error"]) == (0, "timeout")
    assert time.monotonic() - start < 20  # the official search would try 8^8 candidates; its verdict is 0 too
    with pytest.raises(TimeoutError):
        results_match(parity_rows(8, 0), parity_rows(8, 1), False, time.monotonic() + 0.2)


# --------------------------------------------------------------------------- 2. workers


def test_no_more_workers_than_queries_or_the_cap(monkeypatch, tmp_path):
    cap = MAX_WORKERS_PER_CPU * (os.cpu_count() or 1)
    assert pool_size(1000) == cap and pool_size(1000, jobs=1) == 1 and pool_size(None, jobs=0) == 0
    assert pool_size(2, jobs=10) == 2
    started = []

    class Recording(Executor):
        def __enter__(self):
            started.append(self.workers)
            return super().__enter__()

    monkeypatch.setattr(metric, "Executor", Recording)
    db = tmp_path / "database" / "shop"
    db.mkdir(parents=True)
    add_table(db / "shop.sqlite", "item", [(1,)])
    records = score([{"db_id": "shop", "query": "SELECT * FROM item"}], ["SELECT * FROM item"],
                    tmp_path / "database", workers=1000)
    assert records[0]["verdict"] == 1 and started == [1]  # one distinct query: one worker
