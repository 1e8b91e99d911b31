"""Model-generated SQL is hostile: it must not change a database, escape, or hang the evaluator."""

import hashlib
import sqlite3
import time

import pytest

from tradeoff.spider.sandbox import Executor, execute

HOSTILE = [
    "DROP TABLE item",
    "DELETE FROM item",
    "UPDATE item SET price = 0",
    "INSERT INTO item VALUES (9, 'x', 1)",
    "CREATE TABLE evil (x)",
    "CREATE INDEX evil_ix ON item(name)",
    "ALTER TABLE item ADD COLUMN evil TEXT",
    "ATTACH DATABASE '{tmp}/evil.db' AS evil",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA user_version = 7",
    "PRAGMA query_only = 0",
    "SELECT load_extension('/tmp/evil')",
    "VACUUM",
    "VACUUM INTO '{tmp}/copy.db'",
    "REPLACE INTO item VALUES (1, 'x', 1)",
    "BEGIN IMMEDIATE",
    "SAVEPOINT s1",
    "SELECT name FROM item; DROP TABLE item",
    "WITH x AS (SELECT 1) DELETE FROM item",
]

RUNAWAY = [
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    "SELECT count(*) FROM item a, item b, item c, item d, item e, item f, item g, item h, item i, item j",
]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "shop.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE item (id INTEGER, name TEXT, price REAL)")
    con.executemany("INSERT INTO item VALUES (?, ?, ?)", [(i, f"n{i}", i * 1.5) for i in range(30)])
    con.commit()
    con.close()
    return path


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("sql", HOSTILE)
def test_hostile_statements_are_refused_and_change_nothing(db, tmp_path, sql):
    before = sha(db)
    out = execute(db, sql.format(tmp=tmp_path), timeout_s=5)
    assert not out.ok, sql
    assert sha(db) == before
    assert not (tmp_path / "copy.db").exists() and not (tmp_path / "evil.db").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop.sqlite"]  # no journal or WAL left behind


@pytest.mark.parametrize("sql", RUNAWAY)
def test_runaway_queries_stop_within_budget(db, sql):
    start = time.monotonic()
    out = execute(db, sql, timeout_s=1.0)
    assert time.monotonic() - start < 2.0
    assert out.error == "timeout"


def test_huge_results_and_long_strings_are_capped(db):
    out = execute(db, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 200000) SELECT x FROM c",
                  timeout_s=10, max_rows=1000)
    assert not out.ok and "too many rows" in out.error
    out = execute(db, "SELECT length(hex(zeroblob(60000000)))", timeout_s=10)  # 120 MB of text
    assert not out.ok and "too big" in out.error
    out = execute(db, "SELECT zeroblob(2000000000)", timeout_s=10)
    assert not out.ok


def test_reading_still_works(db):
    out = execute(db, "SELECT count(*), max(price) FROM item WHERE name LIKE 'n1%'")
    assert out.ok and out.rows == [(11, 28.5)]


def test_pool_survives_everything_and_keeps_order(db, tmp_path):
    before = sha(db)
    jobs = [(db, s.format(tmp=tmp_path)) for s in HOSTILE + RUNAWAY] + [(db, "SELECT count(*) FROM item")]
    start = time.monotonic()
    with Executor(workers=2, timeout_s=1.0) as ex:
        outcomes = ex.map(jobs)
        again = ex.map([(db, "SELECT 1")])  # the pool still serves after all that
    assert time.monotonic() - start < 30
    assert all(not o.ok for o in outcomes[:-1])
    assert outcomes[-1].rows == [(30,)]
    assert again[0].rows == [(1,)]
    assert sha(db) == before


def crash_on_marker(args):
    """Runs in a worker: dies like a segfault on the marker query, else executes normally."""
    import os

    from tradeoff.spider.sandbox import execute

    if args[1] == "SELECT 'CRASH'":
        os._exit(139)
    return execute(*args)


def test_a_crashing_worker_costs_one_query(db):
    with Executor(workers=2, timeout_s=2.0, task=crash_on_marker) as ex:
        outcomes = ex.map([(db, "SELECT 1"), (db, "SELECT 'CRASH'"), (db, "SELECT 2")])
        after = ex.map([(db, "SELECT 3")])
    assert outcomes[0].rows == [(1,)] and outcomes[2].rows == [(2,)]
    assert outcomes[1].error == "worker process crashed"
    assert after[0].rows == [(3,)]


def test_a_query_the_rewrite_cannot_parse_fails_alone(db):
    """Seen in the real run: a generated query nested 100+ parentheses deep makes sqlparse (the
    official DISTINCT rewrite) raise; that prediction is wrong, the others are still scored."""
    from tradeoff.spider import score as spider_score

    db_dir = db.parent / "database"
    (db_dir / "shop").mkdir(parents=True)
    db.rename(db_dir / "shop" / "shop.sqlite")
    gold = {"db_id": "shop", "query": "SELECT count(*) FROM item"}
    deep = "SELECT " + "(" * 150 + "count(*)" + ")" * 150 + " FROM item"
    records = spider_score.score([gold, gold], [deep, "SELECT count(*) FROM item"], db_dir, workers=1)
    assert records[0]["verdict"] == 0 and "grouping depth" in records[0]["error"]
    assert records[1]["verdict"] == 1


def test_a_result_heavy_in_bytes_costs_one_query(db):
    """Few rows, many megabytes: the worker stops counting at the byte cap instead of shipping
    1.5 GB to the scorer (which ran out of memory and lost every verdict)."""
    from tradeoff.spider.sandbox import MAX_RESULT_BYTES

    heavy = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 300) SELECT zeroblob(5000000) FROM c"
    before = sha(db)
    start = time.monotonic()
    with Executor(workers=2, timeout_s=10.0) as ex:
        outcomes = ex.map([(db, "SELECT count(*) FROM item"), (db, heavy), (db, "SELECT max(id) FROM item")])
    assert time.monotonic() - start < 20
    assert outcomes[1].error == f"result too large (> {MAX_RESULT_BYTES} bytes)"
    assert outcomes[0].rows == [(30,)] and outcomes[2].rows == [(29,)]
    assert sha(db) == before


def stall_on_marker(args):
    """Runs in a worker: a query stuck where SQLite's progress handler cannot interrupt it (one
    long native call), else executes normally."""
    from tradeoff.spider.sandbox import execute

    if args[1] == "SELECT 'STALL'":
        time.sleep(3600)
    return execute(*args)


def test_a_query_that_ignores_the_time_budget_is_killed_within_a_second(db):
    from tradeoff.spider.sandbox import KILL_MARGIN_S

    limit = 1.0
    jobs = [(db, "SELECT 1"), (db, "SELECT 'STALL'"), (db, "SELECT 'STALL'"), (db, "SELECT 2")]
    with Executor(workers=2, timeout_s=limit, task=stall_on_marker) as ex:
        start = time.monotonic()
        outcomes = ex.map(jobs)
        took = time.monotonic() - start
        after = ex.map([(db, "SELECT 3")])
    assert [o.error for o in outcomes] == [None, "timeout", "timeout", None]
    assert all(o.seconds < limit + KILL_MARGIN_S + 0.5 for o in outcomes)
    assert outcomes[0].rows == [(1,)] and outcomes[3].rows == [(2,)] and after[0].rows == [(3,)]
    assert took < len(jobs) * limit + 2  # queries x limit + a small constant, whatever they do


def test_workers_die_with_the_scorer(db, tmp_path):
    """kill -9 of the scoring process leaves no worker behind."""
    import os
    import signal
    import subprocess
    import sys

    script = tmp_path / "scorer.py"
    script.write_text(f"""
import sys, time
sys.path.insert(0, {str(tmp_path)!r})
from tradeoff.spider.sandbox import Executor
import test_stall
with Executor(workers=2, timeout_s=600, task=test_stall.stall) as ex:
    print(" ".join(str(w.process.pid) for w in ex._idle), flush=True)
    ex.map([({str(db)!r}, "x"), ({str(db)!r}, "y")])
""")
    (tmp_path / "test_stall.py").write_text("import time\n\ndef stall(args):\n    time.sleep(3600)\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) == 2
    time.sleep(1.0)  # both busy with a query that would run an hour
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in pids if _running(p)]
    assert not alive, f"workers {alive} outlived the scorer"


def _running(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:  # a zombie waiting for its reaper has ended
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_refused_statement_reads_the_same_every_time(db):
    """sqlite3 raises the authorizer's refusal as OperationalError or DatabaseError from run to
    run; the prediction records must not change with it (dvc.lock would)."""
    errors = {execute(db, "CREATE TABLE t2 (a INTEGER)").error for _ in range(5)}
    assert errors == {"not authorized: refused by the sandbox"}
